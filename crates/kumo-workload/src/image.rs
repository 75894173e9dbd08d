//! Image reference → local command mapping.
//!
//! File format (JSON):
//! ```json
//! { "images": {
//!     "us-docker.pkg.dev/p/r/app:v1": { "entrypoint": ["python3", "app.py"], "args": [], "workdir": "/srv", "env": {"A": "1"} },
//!     "gcr.io/p/tools/*": { "entrypoint": ["/usr/local/bin/tool"] } } }
//! ```
//! Keys match an image as: the exact reference, the reference without tag/digest, or a prefix
//! wildcard `REPO/*` (any image under `REPO/`). Exact beats untagged beats the longest wildcard.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The local command an image runs as. `entrypoint` plays ENTRYPOINT and `args` plays CMD, so
/// Cloud Run's `command` replaces `entrypoint` and its `args` replace `args`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageCommand {
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub workdir: Option<PathBuf>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

impl ImageCommand {
    /// Final argv after applying the container spec's `command`/`args` overrides (empty = keep).
    pub fn argv(&self, command: &[String], args: &[String]) -> Vec<String> {
        // Cloud Run/Kubernetes semantics: a `command` override also drops the image's CMD.
        let (entry, default_args) = if command.is_empty() {
            (self.entrypoint.as_slice(), self.args.as_slice())
        } else {
            (command, &[][..])
        };
        let tail = if args.is_empty() { default_args } else { args };
        entry.iter().chain(tail).cloned().collect()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImageError {
    /// Cloud Run's deploy failure text for an image that does not exist.
    #[error("Image '{0}' not found.")]
    NotFound(String),
    #[error("invalid image map {path}: {reason}")]
    InvalidFile { path: String, reason: String },
    #[error("image map entry {0:?} has an empty entrypoint")]
    EmptyEntrypoint(String),
}

#[derive(Debug, Clone, Default)]
pub struct ImageMap {
    entries: BTreeMap<String, ImageCommand>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageFile {
    images: BTreeMap<String, ImageCommand>,
}

/// Strips `@digest` and then a `:tag` that follows the last `/` (a `:` before it is a registry port).
pub fn strip_tag(image: &str) -> &str {
    let no_digest = image.split_once('@').map_or(image, |(n, _)| n);
    let last_slash = no_digest.rfind('/').map_or(0, |i| i + 1);
    match no_digest[last_slash..].find(':') {
        Some(i) => &no_digest[..last_slash + i],
        None => no_digest,
    }
}

impl ImageMap {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an entry (built-ins and file entries alike); a later insert for the same key wins.
    pub fn insert(&mut self, key: impl Into<String>, cmd: ImageCommand) -> Result<(), ImageError> {
        let key = key.into();
        if cmd.entrypoint.is_empty() {
            return Err(ImageError::EmptyEntrypoint(key));
        }
        self.entries.insert(key, cmd);
        Ok(())
    }

    pub fn load_json_str(&mut self, text: &str, origin: &str) -> Result<(), ImageError> {
        let file: ImageFile = serde_json::from_str(text).map_err(|e| ImageError::InvalidFile {
            path: origin.to_owned(),
            reason: e.to_string(),
        })?;
        for (k, v) in file.images {
            self.insert(k, v)?;
        }
        Ok(())
    }

    pub fn load_file(&mut self, path: &Path) -> Result<(), ImageError> {
        let text = std::fs::read_to_string(path).map_err(|e| ImageError::InvalidFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        self.load_json_str(&text, &path.display().to_string())
    }

    pub fn resolve(&self, image: &str) -> Result<&ImageCommand, ImageError> {
        if let Some(c) = self.entries.get(image) {
            return Ok(c);
        }
        let bare = strip_tag(image);
        if let Some(c) = self.entries.get(bare) {
            return Ok(c);
        }
        self.entries
            .iter()
            .filter_map(|(k, c)| {
                let prefix = k.strip_suffix("/*")?;
                let rest = bare.strip_prefix(prefix)?.strip_prefix('/')?;
                (!rest.is_empty()).then_some((prefix.len(), c))
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, c)| c)
            .ok_or_else(|| ImageError::NotFound(image.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(e: &str) -> ImageCommand {
        ImageCommand {
            entrypoint: vec![e.into()],
            ..Default::default()
        }
    }

    #[test]
    fn strip_tag_table() {
        for (i, o) in [
            ("gcr.io/p/a:v1", "gcr.io/p/a"),
            ("gcr.io/p/a", "gcr.io/p/a"),
            ("gcr.io/p/a@sha256:abc", "gcr.io/p/a"),
            ("gcr.io/p/a:v1@sha256:abc", "gcr.io/p/a"),
            ("localhost:5000/a:v", "localhost:5000/a"),
            ("localhost:5000/a", "localhost:5000/a"),
        ] {
            assert_eq!(strip_tag(i), o, "{i}");
        }
    }

    #[test]
    fn resolve_rules() {
        let mut m = ImageMap::new();
        m.insert("us-docker.pkg.dev/p/r/app:v1", cmd("exact"))
            .unwrap();
        m.insert("us-docker.pkg.dev/p/r/app", cmd("bare")).unwrap();
        m.insert("us-docker.pkg.dev/p/r/*", cmd("wild")).unwrap();
        m.insert("us-docker.pkg.dev/p/*", cmd("wider")).unwrap();
        let r = |i: &str| m.resolve(i).map(|c| c.entrypoint[0].clone());
        assert_eq!(r("us-docker.pkg.dev/p/r/app:v1").unwrap(), "exact");
        assert_eq!(r("us-docker.pkg.dev/p/r/app:v2").unwrap(), "bare");
        assert_eq!(r("us-docker.pkg.dev/p/r/app@sha256:00").unwrap(), "bare");
        assert_eq!(r("us-docker.pkg.dev/p/r/other:x").unwrap(), "wild");
        assert_eq!(r("us-docker.pkg.dev/p/q/other").unwrap(), "wider");
        let e = r("gcr.io/x/y:z").unwrap_err();
        assert_eq!(e.to_string(), "Image 'gcr.io/x/y:z' not found.");
    }

    #[test]
    fn json_file_and_argv_overrides() {
        let mut m = ImageMap::new();
        m.load_json_str(
            r#"{"images":{"gcr.io/p/a":{"entrypoint":["py","app.py"],"args":["--x"],"env":{"K":"V"}}}}"#,
            "t",
        )
        .unwrap();
        let c = m.resolve("gcr.io/p/a:latest").unwrap();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(c.argv(&[], &[]), s(&["py", "app.py", "--x"]));
        assert_eq!(c.argv(&[], &s(&["--y"])), s(&["py", "app.py", "--y"]));
        assert_eq!(c.argv(&s(&["sh"]), &[]), s(&["sh"]));
        assert_eq!(c.argv(&s(&["sh"]), &s(&["-c", "x"])), s(&["sh", "-c", "x"]));
        assert!(
            m.load_json_str(r#"{"images":{"a":{"entrypoint":[]}}}"#, "t")
                .is_err()
        );
        assert!(m.load_json_str(r#"{"imgs":{}}"#, "t").is_err());
    }
}
