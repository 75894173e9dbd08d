//! `kumo-cli`: Kumo's gcloud-shaped command line. A client of Kumo's Google-shaped HTTP API only
//! (it never links the control plane): the same REST paths gcloud calls, the same grammar,
//! prompts, progress lines, output formats and `ERROR: (kumo.GROUP.CMD) STATUS: message` errors.
//! Invoked through a symlink named `gcloud`, it calls itself gcloud.

mod browser;
mod cli;
mod cmd;
mod config;
mod context;
mod creds;
mod error;
mod filter;
mod format;
mod http;
mod policy;
mod printer;
mod prompt;
mod remote_login;

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal as _, Write};
use std::path::PathBuf;

use clap::{CommandFactory as _, FromArgMatches as _};

pub use config::Env;

/// Entry point used by the `kumo` binary: reads the process environment once, then [`run`].
pub fn main(args: Vec<String>) -> u8 {
    let env = env_from_process();
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    run(
        args,
        &env,
        &mut std::io::stdout(),
        &mut std::io::stderr(),
        &mut input,
    )
}

fn env_from_process() -> Env {
    let config_dir = std::env::var_os("KUMO_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let base = std::env::var_os("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
                .unwrap_or_else(|| PathBuf::from("."));
            base.join("kumo")
        });
    // CLOUDSDK_SECTION_PROPERTY, as gcloud reads them (CLOUDSDK_CORE_PROJECT, CLOUDSDK_RUN_REGION).
    let overrides: BTreeMap<String, String> = std::env::vars()
        .filter_map(|(k, v)| {
            let rest = k.strip_prefix("CLOUDSDK_")?;
            let (section, prop) = rest.split_once('_')?;
            Some((
                format!("{}/{}", section.to_lowercase(), prop.to_lowercase()),
                v,
            ))
        })
        .collect();
    Env {
        config_dir,
        endpoint: std::env::var("KUMO_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty()),
        overrides,
        stdin_is_tty: std::io::stdin().is_terminal(),
        stderr_is_tty: std::io::stderr().is_terminal(),
        adc_file: std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from),
        display: ["DISPLAY", "WAYLAND_DISPLAY", "MIR_SOCKET"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty())),
        browser: std::env::var("BROWSER").ok().filter(|b| !b.is_empty()),
    }
}

/// The deepest command named by `args` (flags skipped), for the error prefix of a usage error.
fn usage_label(root: &clap::Command, args: &[String], mut path: Vec<String>) -> String {
    let mut cmd = root;
    for arg in args.iter().skip(1).filter(|a| !a.starts_with('-')) {
        match cmd.find_subcommand(arg) {
            Some(sub) => {
                path.push(arg.clone());
                cmd = sub;
            }
            None => break,
        }
    }
    path.join(".")
}

/// Runs one invocation against explicit streams; returns the exit code (0 ok, 1 error, 2 usage).
pub fn run(
    args: Vec<String>,
    env: &Env,
    out: &mut dyn Write,
    err: &mut dyn Write,
    input: &mut dyn BufRead,
) -> u8 {
    let prog = args
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a))
        .filter(|a| *a == "gcloud")
        .unwrap_or("kumo")
        .to_owned();
    // `gcloud alpha|beta GROUP …` runs the same command; the track stays in the error prefix.
    let mut args = args;
    let track = match args.get(1).map(String::as_str) {
        Some(t @ ("alpha" | "beta")) => {
            let t = t.to_owned();
            args.remove(1);
            Some(t)
        }
        _ => None,
    };
    let name: &'static str = if prog == "gcloud" { "gcloud" } else { "kumo" };
    let command = cli::Cli::command().name(name).bin_name(name);
    let mut path = vec![prog.clone()];
    path.extend(track);
    let matches = match command.clone().try_get_matches_from(&args) {
        Ok(m) => m,
        // `kumo run` alone: the group's help, on stderr, as a usage error.
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = write!(err, "{}", e.render());
            return 2;
        }
        Err(e) if e.use_stderr() => {
            // gcloud's shape: `ERROR: (kumo.run.deploy) <what is wrong>`, then the usage.
            let text = e.render().to_string();
            let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
            let label = usage_label(&command, &args, path.clone());
            let first = first.strip_prefix("error: ").unwrap_or(first);
            let _ = write!(err, "ERROR: ({label}) {first}\n{rest}");
            return u8::try_from(e.exit_code()).unwrap_or(2);
        }
        Err(e) => {
            // --help and friends.
            let _ = write!(out, "{}", e.render());
            return u8::try_from(e.exit_code()).unwrap_or(0);
        }
    };
    let mut m = &matches;
    while let Some((name, sub)) = m.subcommand() {
        path.push(name.to_owned());
        m = sub;
    }
    let label = path.join(".");
    let parsed = match cli::Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => {
            let _ = write!(err, "{}", e.render());
            return 2;
        }
    };
    let result =
        match context::Ctx::new(env, parsed.global, prog, &mut *out, &mut *err, &mut *input) {
            Ok(mut ctx) => cmd::dispatch(&mut ctx, parsed.cmd),
            Err(e) => Err(e),
        };
    match result {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(err, "ERROR: ({label}) {e}");
            e.exit_code()
        }
    }
}
