//! gcloud's sign-in for a machine without a browser (`--no-browser`, googlecloudsdk
//! `NoBrowserFlow`) and its helper on a machine with one (`--remote-bootstrap=URL`,
//! `NoBrowserHelperFlow`): the first prints a partial authorization URL (no `redirect_uri`,
//! `token_usage=remote`), the second adds its own loopback redirect, opens the browser and
//! prints the redirect it received, which the user pastes back into the first to finish the
//! PKCE code exchange.

use crate::context::Ctx;
use crate::creds::{self, CLIENT_ID, LOGIN_SCOPES, Login, parse_query};
use crate::error::{CliError, Result};
use crate::http::enc;

/// Which command runs the flow: the texts name it.
#[derive(Clone, Copy)]
pub enum Target {
    Login,
    ApplicationDefault,
}

impl Target {
    fn command(self, prog: &str) -> String {
        match self {
            Target::Login => format!("{prog} auth login"),
            Target::ApplicationDefault => format!("{prog} auth application-default login"),
        }
    }

    fn who(self, prog: &str) -> String {
        match self {
            Target::Login => format!("{prog} CLI"),
            Target::ApplicationDefault => "client libraries".to_owned(),
        }
    }
}

fn query_string(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `NoBrowserFlow`: print the bootstrap command, read the pasted redirect, exchange its code.
pub fn no_browser(ctx: &mut Ctx<'_>, target: Target) -> Result<Login> {
    let (verifier, challenge) = creds::pkce_pair();
    let state = creds::random_state();
    let partial = format!(
        "{}/o/oauth2/v2/auth?{}",
        ctx.http.base(),
        query_string(&[
            ("response_type", "code".to_owned()),
            ("client_id", CLIENT_ID.to_owned()),
            ("scope", LOGIN_SCOPES.to_owned()),
            ("state", state.clone()),
            ("access_type", "offline".to_owned()),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256".to_owned()),
            ("token_usage", "remote".to_owned()),
        ])
    );
    // gcloud adds "Make sure the installed gcloud version is 372.0.0 or newer."; Kumo's helper
    // is any Kumo build, so the sentence is left out.
    let _ = write!(
        ctx.err,
        "You are authorizing {} without access to a web browser. Please run the following command on a machine with a web browser and copy its output back here.\n\n{} --remote-bootstrap=\"{partial}\"\n\n\nEnter the output of the above command: ",
        target.who(&ctx.prog),
        target.command(&ctx.prog)
    );
    let _ = ctx.err.flush();
    let response = ctx.read_line()?;
    let response = response.trim();
    let (base, query) = response.split_once('?').unwrap_or((response, ""));
    let params = parse_query(query);
    if !params.contains_key("state") || !params.contains_key("code") {
        return Err(CliError::Msg(
            "The provided authorization response is invalid. Expect a url with query parameters of [state, code]."
                .to_owned(),
        ));
    }
    // The helper redirected to localhost on its own port; the code is bound to that URI.
    let port = base
        .trim_end_matches('/')
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .ok_or_else(|| {
            CliError::Msg(format!(
                "The provided authorization response [{response}] names no localhost port."
            ))
        })?;
    let redirect_uri = format!("http://localhost:{port}/");
    creds::exchange(ctx, &params, &state, &redirect_uri, &verifier)
}

/// `NoBrowserHelperFlow`: confirm, authorize in this machine's browser through a loopback
/// redirect, and print that redirect for the machine without a browser.
pub fn bootstrap(ctx: &mut Ctx<'_>, partial_url: &str, target: Target) -> Result<()> {
    let command = target.command(&ctx.prog);
    let (base, query) = partial_url.split_once('?').ok_or_else(|| {
        CliError::Usage(format!(
            "--remote-bootstrap: [{partial_url}] is not the URL `{command} --no-browser` printed."
        ))
    })?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| {
        CliError::Msg(format!(
            "cannot open a loopback port for the sign-in redirect: {e}"
        ))
    })?;
    let port = listener
        .local_addr()
        .map_err(|e| CliError::Msg(format!("cannot read the loopback port: {e}")))?
        .port();
    // UrlManager.UpdateQueryParams: drop any redirect_uri, append ours.
    let mut pairs: Vec<(String, String)> = parse_query(query)
        .into_iter()
        .filter(|(k, _)| k != "redirect_uri")
        .collect();
    pairs.push((
        "redirect_uri".to_owned(),
        format!("http://localhost:{port}/"),
    ));
    let auth_url = format!(
        "{base}?{}",
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", enc(v)))
            .collect::<Vec<_>>()
            .join("&")
    );
    let proceed = ctx.can_prompt()
        && {
            let _ = write!(
                ctx.err,
                "DO NOT PROCEED UNLESS YOU ARE BOOTSTRAPPING GCLOUD ON A TRUSTED MACHINE WITHOUT A WEB BROWSER AND THE ABOVE COMMAND WAS THE OUTPUT OF `{command} --no-browser` FROM THE TRUSTED MACHINE.\n\nProceed (y/N)?  "
            );
            let _ = ctx.err.flush();
            ctx.read_line()?.trim().to_lowercase().starts_with('y')
        };
    if !proceed {
        return Err(CliError::Msg("Aborted by user.".to_owned()));
    }
    // The helper opens the browser unconditionally, as gcloud's does (webbrowser.open).
    crate::browser::open(ctx.env, &auth_url);
    ctx.status(&format!(
        "\nYour browser has been opened to visit:\n\n    {auth_url}\n"
    ));
    let (target_path, _) = creds::wait_for_redirect(&listener)?;
    // gcloud prints the redirect with https (oauthlib insists on it); the other side only
    // reads its port and query.
    let response = format!("https://localhost:{port}{target_path}");
    ctx.status(&format!(
        "Copy the following line back to the gcloud CLI waiting to continue the login flow. WARNING: The following line enables access to your Google Cloud resources. Only copy it to the trusted machine that you ran the `{command} --no-browser` command on earlier.\n\n{response}"
    ));
    Ok(())
}
