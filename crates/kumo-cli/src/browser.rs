//! Opening the sign-in page in a browser, as gcloud decides it (`core/util/check_browser.py`
//! and Python's `webbrowser`): on Linux only with a display (`DISPLAY`, `WAYLAND_DISPLAY` or
//! `MIR_SOCKET`), with `$BROWSER` if set (a `:`-separated list of commands, `%s` standing for
//! the URL, else the URL appended), otherwise `xdg-open`; a text-mode browser counts as none.

use std::process::{Command, Stdio};

use crate::config::Env;

/// `_WEBBROWSER_NAMES_BLOCKLIST`, plus the console browsers Python's `webbrowser` knows.
const TEXT_BROWSERS: [&str; 5] = ["www-browser", "lynx", "links", "elinks", "w3m"];

/// `check_browser.ShouldLaunchBrowser`.
pub fn should_launch(env: &Env, attempt: bool) -> bool {
    attempt && (env.display || !cfg!(target_os = "linux")) && commands(env).next().is_some()
}

/// The browser commands to try, in order.
fn commands(env: &Env) -> impl Iterator<Item = String> + '_ {
    let from_env: Vec<String> = env
        .browser
        .as_deref()
        .map(|b| {
            b.split(':')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let fallback = if env.browser.is_none() {
        vec!["xdg-open".to_owned()]
    } else {
        vec![]
    };
    from_env.into_iter().chain(fallback).filter(|c| {
        let program = c.split_whitespace().next().unwrap_or("");
        let name = program.rsplit('/').next().unwrap_or(program);
        !TEXT_BROWSERS.contains(&name)
    })
}

/// Starts the first browser command that can be spawned; `false` when none could.
pub fn open(env: &Env, url: &str) -> bool {
    for command in commands(env) {
        let mut words: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
        if words.iter().any(|w| w.contains("%s")) {
            for w in &mut words {
                *w = w.replace("%s", url);
            }
        } else {
            words.push(url.to_owned());
        }
        let Some((program, args)) = words.split_first() else {
            continue;
        };
        let spawned = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if let Ok(mut child) = spawned {
            // Reap it whenever it exits; the sign-in waits for the redirect, not the browser.
            std::thread::spawn(move || child.wait());
            return true;
        }
    }
    false
}
