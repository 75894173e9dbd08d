//! Everything a command needs: properties, global flags, the HTTP client, credentials, and the
//! output streams (stdout for resources, stderr for progress and prompts, as gcloud splits them).

use std::io::{BufRead, Write};

use serde_json::Value;

use crate::cli::{Global, ListArgs};
use crate::config::{DEFAULT_ENDPOINT, Env, Properties};
use crate::error::{CliError, Result};
use crate::filter::Filter;
use crate::format::{self, Format, Keys};
use crate::http::{Body, Http};

pub struct Ctx<'a> {
    pub env: &'a Env,
    pub props: Properties,
    pub global: Global,
    pub http: Http,
    /// `kumo` or `gcloud`: used in hints such as `$ kumo config set project PROJECT_ID`.
    pub prog: String,
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
    pub input: &'a mut dyn BufRead,
    /// The list command's `--filter`, `--limit`, `--sort-by`, `--page-size`, `--uri`.
    pub list: ListArgs,
    /// The bearer token for this invocation, fetched once.
    token: Option<String>,
}

/// A default table for list commands: header and how to compute each cell.
pub type Columns = &'static [(&'static str, fn(&Value) -> String)];

/// How a list command displays: its default table, the keys its format and filter may use
/// (the table's labels, the wrapper attributes), the resource URI for `--uri` (a path on the
/// API endpoint) and gcloud's `table[title=…]`.
pub struct Listing {
    pub columns: Columns,
    pub keys: Keys,
    pub uri: Option<fn(&Value) -> Option<String>>,
    pub title: Option<&'static str>,
}

impl Listing {
    pub const fn plain(columns: Columns) -> Listing {
        Listing {
            columns,
            keys: Keys::NONE,
            uri: None,
            title: None,
        }
    }
}

/// `--sort-by` order: gcloud compares `str()` of each value (Python 3 cannot order `None`
/// against anything else, so its `_GetKey` falls back to text for every value).
fn sort_text(v: &Value) -> String {
    match v {
        Value::Null => "None".to_owned(),
        Value::Array(_) | Value::Object(_) => v.to_string(),
        other => format::render_scalar(other),
    }
}

impl<'a> Ctx<'a> {
    pub fn new(
        env: &'a Env,
        global: Global,
        prog: String,
        out: &'a mut dyn Write,
        err: &'a mut dyn Write,
        input: &'a mut dyn BufRead,
    ) -> Result<Ctx<'a>> {
        // A bad --format is a usage error before anything is sent.
        if let Some(f) = &global.format {
            Format::parse(f)?;
        }
        let props = Properties::load(env)?;
        let endpoint = env
            .endpoint
            .clone()
            .or_else(|| props.get("core/api_endpoint"))
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
        let debug = global.verbosity.as_deref() == Some("debug");
        Ok(Ctx {
            env,
            props,
            global,
            http: Http::new(&endpoint, debug),
            prog,
            out,
            err,
            input,
            list: ListArgs::default(),
            token: None,
        })
    }

    /// `--project` or `core/project`.
    pub fn project(&self) -> Result<String> {
        self.global.project.clone().or_else(|| self.props.get("core/project")).ok_or_else(|| {
            CliError::Msg(format!(
                "The required property [project] is not currently set.\nYou may set it for your current workspace by running:\n\n  $ {} config set project VALUE\n\nor it can be set temporarily by the environment variable [CLOUDSDK_CORE_PROJECT]",
                self.prog
            ))
        })
    }

    /// `--region`, else `run/region`, else (stdin a terminal, prompts allowed) gcloud's region
    /// prompt; the answer is kept for the rest of the invocation, as gcloud sets `args.region`.
    pub fn region(&mut self) -> Result<String> {
        if let Some(r) = self
            .global
            .region
            .clone()
            .or_else(|| self.props.get("run/region"))
        {
            return Ok(r);
        }
        if !self.can_prompt() {
            return Err(crate::prompt::missing_region());
        }
        let region = crate::prompt::region(self)?;
        self.global.region = Some(region.clone());
        Ok(region)
    }

    /// gcloud's `console_io.CanPrompt()`: an interactive stdin and prompts not disabled.
    pub fn can_prompt(&self) -> bool {
        self.env.stdin_is_tty && !self.quiet()
    }

    pub fn account(&self) -> Option<String> {
        self.global
            .account
            .clone()
            .or_else(|| self.props.get("core/account"))
    }

    pub fn quiet(&self) -> bool {
        self.global.quiet || self.props.get("core/disable_prompts").as_deref() == Some("true")
    }

    pub fn impersonated(&self) -> Option<String> {
        self.global
            .impersonate_service_account
            .clone()
            .or_else(|| self.props.get("auth/impersonate_service_account"))
    }

    /// The bearer token for API calls (refreshed or impersonated as needed).
    pub fn token(&mut self) -> Result<String> {
        if let Some(t) = &self.token {
            return Ok(t.clone());
        }
        let t = crate::creds::api_token(self)?;
        self.token = Some(t.clone());
        Ok(t)
    }

    /// An API call; a 401/403/404 error carries gcloud's note on the credentials used.
    pub fn call(
        &mut self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value> {
        match self.call_raw(method, path, query, body) {
            Err(CliError::Api {
                http: http @ (401 | 403 | 404),
                status,
                message,
            }) if !message.is_empty() => Err(CliError::Api {
                http,
                status,
                message: with_credential_info(&message, &self.credential_info()),
            }),
            other => other,
        }
    }

    /// gcloud's `CredentialInfo.GetInfoString()`: which credentials made the call.
    pub fn credential_info(&self) -> String {
        let mut info = match crate::creds::source(self) {
            crate::creds::Source::AccessToken(_) => "This command is authenticated with an access token from the CLOUDSDK_AUTH_ACCESS_TOKEN environment variable.".to_owned(),
            crate::creds::Source::AccessTokenFile(f) => format!(
                "This command is authenticated with an access token from {f} specified by the [auth/access_token_file] property."
            ),
            crate::creds::Source::CredentialFile(f) => {
                let account = crate::creds::read_credential_file(&f)
                    .ok()
                    .and_then(|v| v["client_email"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| "None".to_owned());
                format!(
                    "This command is authenticated as {account} using the credentials in {f}, specified by the [auth/credential_file_override] property."
                )
            }
            crate::creds::Source::Account => format!(
                "This command is authenticated as {} which is the active account specified by the [core/account] property.",
                self.account().unwrap_or_else(|| "None".to_owned())
            ),
        };
        if let Some(sa) = self.impersonated() {
            let mut chain = sa.split(',').map(str::trim);
            let target = chain.next_back().unwrap_or_default().to_owned();
            let delegates: Vec<&str> = chain.collect();
            info.push_str(&format!(" Impersonation is used to impersonate {target}"));
            if !delegates.is_empty() {
                info.push_str(&format!(" via delegate chain: {}", delegates.join(", ")));
            }
            info.push('.');
        }
        info
    }

    fn call_raw(
        &mut self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value> {
        let token = self.token()?;
        let wrap = || body.map_or(Body::None, Body::Json);
        match self.http.call(method, path, query, Some(&token), wrap()) {
            // A cached token the server no longer honours (revoked, server restarted with a new
            // key): refresh once and retry, as gcloud does.
            Err(CliError::Api { http: 401, .. })
                if matches!(crate::creds::source(self), crate::creds::Source::Account) =>
            {
                crate::creds::forget_cached(self)?;
                self.token = None;
                let token = self.token()?;
                self.http.call(method, path, query, Some(&token), wrap())
            }
            other => other,
        }
    }

    pub fn get(&mut self, path: &str) -> Result<Value> {
        self.call("GET", path, &[], None)
    }

    pub fn post(&mut self, path: &str, body: &Value) -> Result<Value> {
        self.call("POST", path, &[], Some(body))
    }

    /// Lists every page of a Google list method, collecting the `field` arrays.
    pub fn list_all(
        &mut self,
        path: &str,
        query: &[(&str, &str)],
        field: &str,
    ) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut token = String::new();
        loop {
            let mut q: Vec<(&str, &str)> = query.to_vec();
            if !token.is_empty() {
                q.push(("pageToken", &token));
            }
            let page = self.call("GET", path, &q, None)?;
            if let Some(a) = page[field].as_array() {
                items.extend(a.iter().cloned());
            }
            match page["nextPageToken"]
                .as_str()
                .or(page["metadata"]["continue"].as_str())
            {
                Some(t) if !t.is_empty() && t != token => token = t.to_owned(),
                _ => break,
            }
        }
        Ok(items)
    }

    /// Progress and messages for people: stderr.
    pub fn status(&mut self, line: &str) {
        let _ = writeln!(self.err, "{line}");
    }

    pub fn stdout(&mut self, text: &str) {
        let _ = write!(self.out, "{text}");
    }

    fn user_format(&self) -> Result<Option<Format>> {
        self.global.format.as_deref().map(Format::parse).transpose()
    }

    /// Prints one resource, YAML unless `--format` says otherwise.
    pub fn print_one(&mut self, value: &Value) -> Result<()> {
        self.print_one_with(value, &Keys::NONE)
    }

    /// [`Ctx::print_one`] for a resource whose format keys include wrapper attributes.
    pub fn print_one_with(&mut self, value: &Value, keys: &Keys) -> Result<()> {
        let f = self.user_format()?.unwrap_or(Format::YAML);
        let text = format::render_with(&f, std::slice::from_ref(value), false, keys)?;
        self.stdout(&text);
        Ok(())
    }

    /// Prints a list: the command's default table, or the user's `--format`.
    pub fn print_list(&mut self, items: &[Value], columns: Columns) -> Result<()> {
        self.print_listing(items, &Listing::plain(columns))
    }

    /// gcloud's display taps in its order: `--filter`, `--sort-by`, `--limit`, then `--uri`
    /// (each resource replaced by its URI; resources without one are dropped).
    fn display_taps(&self, items: &[Value], listing: &Listing) -> Result<Vec<Value>> {
        let mut items: Vec<Value> = match &self.list.filter {
            Some(f) => {
                let filter = Filter::parse(f)?;
                items
                    .iter()
                    .filter(|i| filter.matches(i, &listing.keys))
                    .cloned()
                    .collect()
            }
            None => items.to_vec(),
        };
        if !self.list.sort_by.is_empty() {
            // Groups of keys with the same direction, applied lowest precedence first.
            let mut keys = Vec::new();
            for name in &self.list.sort_by {
                let (name, reverse) = match name.strip_prefix('~') {
                    Some(n) => (n, true),
                    None => (name.as_str(), false),
                };
                let column = format::parse_column(&name.replace("[]", "[0]"))
                    .map_err(|m| CliError::Usage(format!("argument --sort-by: {m}")))?;
                keys.push((column, reverse));
            }
            let mut groups: Vec<(Vec<&format::Column>, bool)> = Vec::new();
            for (column, reverse) in &keys {
                match groups.last_mut() {
                    Some((g, r)) if r == reverse => g.push(column),
                    _ => groups.push((vec![column], *reverse)),
                }
            }
            for (group, reverse) in groups.iter().rev() {
                let mut keyed: Vec<(Vec<String>, Value)> = items
                    .into_iter()
                    .map(|i| {
                        let k = group
                            .iter()
                            .map(|c| sort_text(&listing.keys.eval(c, &i, false)))
                            .collect();
                        (k, i)
                    })
                    .collect();
                keyed.sort_by(|a, b| {
                    if *reverse {
                        b.0.cmp(&a.0)
                    } else {
                        a.0.cmp(&b.0)
                    }
                });
                items = keyed.into_iter().map(|(_, i)| i).collect();
            }
        }
        if let Some(limit) = self.list.limit {
            items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        if self.list.uri {
            let base = self.http.base().trim_end_matches('/').to_owned();
            items = items
                .iter()
                .filter_map(|i| {
                    let path = listing
                        .uri
                        .and_then(|u| u(i))
                        .or_else(|| i["selfLink"].as_str().map(str::to_owned))?;
                    Some(Value::String(if path.starts_with("http") {
                        path
                    } else {
                        format!("{base}/{}", path.trim_start_matches('/'))
                    }))
                })
                .collect();
        }
        Ok(items)
    }

    /// Prints a list through the display taps: the default table, or the user's `--format`.
    pub fn print_listing(&mut self, items: &[Value], listing: &Listing) -> Result<()> {
        let items = self.display_taps(items, listing)?;
        let user = match self.user_format()? {
            Some(f) => Some(f),
            None if self.list.uri => Some(Format::Value(vec![
                format::parse_column(".").map_err(CliError::Msg)?,
            ])),
            None => None,
        };
        let text = match &user {
            Some(f) => format::render_with(f, &items, true, &listing.keys)?,
            None => {
                if items.is_empty() {
                    String::new()
                } else {
                    let header: Vec<String> = listing
                        .columns
                        .iter()
                        .map(|(h, _)| (*h).to_owned())
                        .collect();
                    let rows: Vec<Vec<String>> = items
                        .iter()
                        .map(|i| listing.columns.iter().map(|(_, f)| f(i)).collect())
                        .collect();
                    let table = format::layout_table(Some(&header), &rows);
                    match listing.title {
                        Some(title) => {
                            let width = table.lines().map(|l| l.chars().count()).max().unwrap_or(0);
                            let pad = width.saturating_sub(title.chars().count()) / 2;
                            format!("{}{title}\n{table}", " ".repeat(pad))
                        }
                        None => table,
                    }
                }
            }
        };
        if items.is_empty() && self.global.format.is_none() {
            self.status("Listed 0 items.");
        }
        self.stdout(&text);
        Ok(())
    }

    /// gcloud's confirmation prompt; `--quiet` or a non-terminal stdin takes the default.
    pub fn confirm(&mut self, message: &str, default: bool) -> Result<bool> {
        if self.quiet() || !self.env.stdin_is_tty {
            return Ok(default);
        }
        let _ = write!(
            self.err,
            "{message}\n\nDo you want to continue ({})?  ",
            if default { "Y/n" } else { "y/N" }
        );
        let _ = self.err.flush();
        let answer = self.read_line()?;
        let yes = match answer.trim().to_lowercase().as_str() {
            "" => default,
            a => a.starts_with('y'),
        };
        if !yes {
            return Err(CliError::Msg("Aborted by user.".to_owned()));
        }
        Ok(true)
    }

    pub fn read_line(&mut self) -> Result<String> {
        let mut line = String::new();
        self.input
            .read_line(&mut line)
            .map_err(|e| CliError::Msg(format!("cannot read from stdin: {e}")))?;
        Ok(line)
    }
}

/// gcloud's `_AppendCredentialInfoToErrorMessage`: `message. info` when the message has no
/// final period (the info then loses its own), `message info` otherwise.
pub fn with_credential_info(message: &str, info: &str) -> String {
    if message.ends_with('.') {
        format!("{message} {info}")
    } else {
        format!("{message}. {}", info.strip_suffix('.').unwrap_or(info))
    }
}

/// A string field by dotted path, empty when absent.
pub fn s(v: &Value, path: &str) -> String {
    let mut cur = v;
    for k in path.split('.') {
        cur = &cur[k];
    }
    format::render_scalar(cur)
}

/// Prints a list whose gcloud default is YAML documents (`---`-separated), or the user's
/// format, after the list flags.
pub fn print_items(ctx: &mut Ctx<'_>, items: &[Value]) -> Result<()> {
    let items = ctx.display_taps(items, &Listing::plain(&[]))?;
    let f = ctx.user_format()?.unwrap_or(Format::YAML);
    let text = format::render_many(&f, &items, true)?;
    ctx.stdout(&text);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::with_credential_info;

    /// gcloud's `_AppendCredentialInfoToErrorMessage`, both message endings.
    #[test]
    fn credential_info_joins_like_gcloud() {
        let info = "This command is authenticated as a@example.com which is the active account specified by the [core/account] property.";
        let cases = [
            (
                "Permission 'x' denied (or it may not exist).",
                "Permission 'x' denied (or it may not exist). This command is authenticated as a@example.com which is the active account specified by the [core/account] property.",
            ),
            (
                "Permission 'x' denied",
                "Permission 'x' denied. This command is authenticated as a@example.com which is the active account specified by the [core/account] property",
            ),
        ];
        for (message, want) in cases {
            assert_eq!(with_credential_info(message, info), want, "{message}");
        }
    }
}
