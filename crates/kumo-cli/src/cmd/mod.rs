//! One module per command group; each takes the parsed command and a [`Ctx`].

pub mod auth;
pub mod config;
pub mod iam;
pub mod misc;
pub mod rm;
pub mod run;

use serde_json::Value;

use crate::cli::Top;
use crate::context::Ctx;
use crate::error::{CliError, Result};

pub fn dispatch(ctx: &mut Ctx<'_>, cmd: Top) -> Result<()> {
    match cmd {
        Top::Run(r) => run::run(ctx, r.cmd),
        Top::Iam(i) => iam::iam(ctx, i.cmd),
        Top::Projects(p) => rm::projects(ctx, p.cmd),
        Top::Organizations(o) => rm::organizations(ctx, o.cmd),
        Top::ResourceManager(r) => rm::resource_manager(ctx, r.cmd),
        Top::OrgPolicies(o) => rm::org_policies(ctx, o.cmd),
        Top::Iap(i) => misc::iap(ctx, i.cmd),
        Top::Services(s) => misc::services(ctx, s.cmd),
        Top::Artifacts(a) => misc::artifacts(ctx, a.cmd),
        Top::Logging(l) => misc::logging(ctx, l.cmd),
        Top::Identity(i) => misc::identity(ctx, i.cmd),
        Top::Auth(a) => auth::auth(ctx, a.cmd),
        Top::Config(c) => config::config(ctx, c.cmd),
        Top::PolicyIntelligence(p) => {
            let crate::cli::PolicyIntelligenceCmd::TroubleshootPolicy(t) = p.cmd;
            let crate::cli::TroubleshootPolicyCmd::Iam(t) = t.cmd;
            iam::troubleshoot(ctx, &t)
        }
        Top::Completion { shell } => {
            use clap::CommandFactory as _;
            let mut command = crate::cli::Cli::command();
            clap_complete::generate(shell, &mut command, ctx.prog.clone(), &mut ctx.out);
            Ok(())
        }
    }
}

/// Files given to `replace`/`set-policy`/`set-iam-policy` may be YAML or JSON (JSON is YAML).
pub fn parse_yaml_or_json(text: &str, path: &str) -> Result<Value> {
    serde_yaml::from_str::<Value>(text)
        .map_err(|e| CliError::Msg(format!("Failed to parse YAML from [{path}]: {e}")))
}

/// The last path segment of a resource name (`projects/p/serviceAccounts/x/keys/K` → `K`).
pub fn basename(name: &str) -> String {
    name.rsplit('/').next().unwrap_or(name).to_owned()
}

/// Polls a `google.longrunning.Operation` at `GET /{prefix}/{name}` until done; returns its
/// `response`, or its `error` as an API error.
pub fn wait_operation(ctx: &mut Ctx<'_>, prefix: &str, mut op: Value) -> Result<Value> {
    let mut delay = std::time::Duration::from_millis(200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    while op["done"] != true {
        if std::time::Instant::now() > deadline {
            return Err(CliError::Msg(format!(
                "Timed out waiting for operation [{}].",
                op["name"].as_str().unwrap_or("")
            )));
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(std::time::Duration::from_secs(2));
        let name = op["name"].as_str().unwrap_or_default().to_owned();
        if name.is_empty() {
            return Err(CliError::Msg(
                "the server returned an unfinished operation without a name".to_owned(),
            ));
        }
        op = ctx.get(&format!("{prefix}/{name}"))?;
    }
    if op["error"].is_object() {
        let code = op["error"]["code"].as_i64().unwrap_or(2);
        return Err(CliError::Api {
            http: 0,
            status: grpc_code_name(code).to_owned(),
            message: op["error"]["message"].as_str().unwrap_or("").to_owned(),
        });
    }
    Ok(op["response"].clone())
}

/// google.rpc.Code numbers (as LRO errors carry them) to names.
fn grpc_code_name(code: i64) -> &'static str {
    match code {
        1 => "CANCELLED",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        16 => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}
