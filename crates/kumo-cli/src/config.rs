//! The config dir (`$KUMO_CONFIG` or `~/.config/kumo`) and its properties file, gcloud's
//! `section/property` model: `project` means `core/project`, `run/region` is `run/region`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{CliError, Result};

/// What the process environment contributes, read once in `main` so the rest is testable.
pub struct Env {
    pub config_dir: PathBuf,
    /// `KUMO_ENDPOINT`.
    pub endpoint: Option<String>,
    /// `CLOUDSDK_SECTION_PROPERTY` overrides, as gcloud honours them (e.g. `CLOUDSDK_CORE_PROJECT`).
    pub overrides: BTreeMap<String, String>,
    pub stdin_is_tty: bool,
    /// Spinners are drawn only on a terminal.
    pub stderr_is_tty: bool,
    /// `GOOGLE_APPLICATION_CREDENTIALS`: read only where gcloud reads it, by the
    /// `auth application-default` commands (google-auth's ADC lookup), never for gcloud's own
    /// credentials.
    pub adc_file: Option<PathBuf>,
    /// A graphical display is available (`DISPLAY`, `WAYLAND_DISPLAY` or `MIR_SOCKET`).
    pub display: bool,
    /// `$BROWSER`.
    pub browser: Option<String>,
}

pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:8080";

/// Properties Kumo knows, as `section/name`.
const KNOWN: &[&str] = &[
    "core/project",
    "core/account",
    "core/api_endpoint",
    "core/disable_prompts",
    "core/verbosity",
    "core/disable_usage_reporting",
    "core/log_http",
    "core/custom_ca_certs_file",
    "core/user_output_enabled",
    "artifacts/location",
    "artifacts/repository",
    "run/region",
    "run/platform",
    "compute/region",
    "compute/zone",
    "auth/impersonate_service_account",
    "auth/access_token_file",
    "auth/credential_file_override",
];

/// `project` → `core/project`; `run/region` stays; unknown names are refused as gcloud does.
pub fn qualify(name: &str) -> Result<String> {
    let full = if name.contains('/') {
        name.to_owned()
    } else {
        format!("core/{name}")
    };
    if KNOWN.contains(&full.as_str()) {
        Ok(full)
    } else {
        let (section, prop) = full.split_once('/').unwrap_or(("core", name));
        Err(CliError::Usage(format!(
            "Section [{section}] has no property [{prop}]."
        )))
    }
}

#[derive(Default, Clone)]
pub struct Properties {
    values: BTreeMap<String, String>,
    overrides: BTreeMap<String, String>,
}

impl Properties {
    fn file(dir: &Path) -> PathBuf {
        dir.join("properties.json")
    }

    pub fn load(env: &Env) -> Result<Properties> {
        let path = Self::file(&env.config_dir);
        let values = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| CliError::Msg(format!("cannot parse {}: {e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => {
                return Err(CliError::Msg(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        Ok(Properties {
            values,
            overrides: env.overrides.clone(),
        })
    }

    pub fn save(&self, env: &Env) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.values)
            .map_err(|e| CliError::Msg(format!("cannot encode properties: {e}")))?;
        write_private(&Self::file(&env.config_dir), &text)
    }

    /// The effective value: environment override first, then the file.
    pub fn get(&self, full: &str) -> Option<String> {
        self.overrides
            .get(full)
            .or_else(|| self.values.get(full))
            .filter(|v| !v.is_empty())
            .cloned()
    }

    pub fn set(&mut self, full: &str, value: &str) {
        self.values.insert(full.to_owned(), value.to_owned());
    }

    pub fn unset(&mut self, full: &str) {
        self.values.remove(full);
    }

    /// Stored values grouped by section, for `config list`.
    pub fn sections(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        // Only properties: CLOUDSDK_AUTH_ACCESS_TOKEN arrives as an override but is not one
        // (and a token must not be listed).
        let properties = self
            .values
            .iter()
            .chain(self.overrides.iter())
            .filter(|(k, _)| KNOWN.contains(&k.as_str()));
        for (k, v) in properties {
            if let Some((s, p)) = k.split_once('/') {
                out.entry(s.to_owned())
                    .or_default()
                    .insert(p.to_owned(), v.clone());
            }
        }
        out
    }
}

/// Writes a file readable only by its owner (it may hold refresh tokens or keys).
pub fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::Msg(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .map_err(|e| CliError::Msg(format!("cannot write {}: {e}", path.display())))?;
    f.write_all(text.as_bytes())
        .map_err(|e| CliError::Msg(format!("cannot write {}: {e}", path.display())))
}
