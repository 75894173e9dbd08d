//! The HTTP client: JSON calls against Kumo's Google-shaped REST API, errors decoded from
//! `google.rpc.Status` (`{"error":{"code","message","status"}}`) or OAuth2's `{"error","error_description"}`.

use std::io::Write as _;

use serde_json::Value;

use crate::error::{CliError, Result};

pub struct Http {
    agent: ureq::Agent,
    base: String,
    /// `--verbosity debug` logs each request to stderr, like gcloud's `--log-http` in brief.
    debug: bool,
}

/// Canonical status name for an HTTP code, for bodies that carry none (google.rpc.Code mapping).
fn status_for(code: u16) -> &'static str {
    match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ALREADY_EXISTS",
        412 => "FAILED_PRECONDITION",
        429 => "RESOURCE_EXHAUSTED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    }
}

pub fn decode_error(code: u16, body: &str) -> CliError {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let (status, message) = match &parsed {
        Some(v) if v["error"].is_object() => (
            v["error"]["status"]
                .as_str()
                .unwrap_or(status_for(code))
                .to_owned(),
            v["error"]["message"].as_str().unwrap_or("").to_owned(),
        ),
        // OAuth2 token-endpoint errors.
        Some(v) if v["error"].is_string() => (
            v["error"].as_str().unwrap_or_default().to_owned(),
            v["error_description"].as_str().unwrap_or("").to_owned(),
        ),
        _ => (status_for(code).to_owned(), body.trim().to_owned()),
    };
    CliError::Api {
        http: code,
        status,
        message,
    }
}

pub enum Body<'a> {
    None,
    Json(&'a Value),
    Form(&'a [(&'a str, &'a str)]),
}

impl Http {
    pub fn new(base: &str, debug: bool) -> Http {
        let agent = ureq::AgentBuilder::new()
            .redirects(0)
            .timeout(std::time::Duration::from_secs(120))
            .build();
        Http {
            agent,
            base: base.trim_end_matches('/').to_owned(),
            debug,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request; `path` starts with `/` and may carry a query string already.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        token: Option<&str>,
        body: Body<'_>,
    ) -> Result<Value> {
        let resp = self.send(method, path, query, token, body)?;
        let text = resp.into_string().map_err(|e| {
            CliError::Msg(format!("cannot read the response from {}: {e}", self.base))
        })?;
        if text.trim().is_empty() {
            return Ok(Value::Object(Default::default()));
        }
        serde_json::from_str(&text)
            .map_err(|e| CliError::Msg(format!("the server sent a response that is not JSON: {e}")))
    }

    /// Sends a request and returns the raw response (redirects are not followed).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        token: Option<&str>,
        body: Body<'_>,
    ) -> Result<ureq::Response> {
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{}", self.base, path)
        };
        let mut req = self.agent.request(method, &url);
        for (k, v) in query {
            req = req.query(k, v);
        }
        if let Some(t) = token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        req = req.set("User-Agent", "kumo-cli");
        if self.debug {
            let _ = writeln!(std::io::stderr(), "DEBUG: {method} {url} {query:?}");
        }
        let result = match body {
            Body::None => req.call(),
            Body::Json(v) => req.send_json(v.clone()),
            Body::Form(pairs) => req.send_form(pairs),
        };
        match result {
            Ok(r) => Ok(r),
            Err(ureq::Error::Status(code, r)) => {
                let text = r.into_string().unwrap_or_default();
                Err(decode_error(code, &text))
            }
            Err(ureq::Error::Transport(t)) => Err(CliError::Msg(format!(
                "cannot reach Kumo at {}: {t}. Is `kumo up` running? (set the endpoint with `kumo config set api_endpoint URL` or KUMO_ENDPOINT)",
                self.base
            ))),
        }
    }
}

/// Percent-encodes a path segment or query value (RFC 3986 unreserved set kept).
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
