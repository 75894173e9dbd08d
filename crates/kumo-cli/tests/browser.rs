//! `auth login` opens a browser the way gcloud decides to (a display and a usable browser),
//! and otherwise prints the link; either way the sign-in completes through the loopback
//! redirect.

mod fake;

use std::sync::{Arc, Mutex};

use fake::{Cli, Fake, Reply, form, ok};
use serde_json::json;

fn routes(fake: &Fake) {
    fake.on(
        "GET",
        "/o/oauth2/v2/auth",
        vec![Reply {
            status: 302,
            body: String::new(),
            headers: vec![(
                "Location".to_owned(),
                "{redirect_uri}?code=4%2Fbrowser&state={state}".to_owned(),
            )],
        }],
    );
    let claims = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        json!({"email": "carol@example.com", "aud": "kumo-cli", "exp": 4_102_444_800i64})
            .to_string(),
    );
    fake.on(
        "POST",
        "/token",
        vec![ok(json!({
            "access_token": "ya29.carol", "expires_in": 3599, "refresh_token": "1//carol",
            "id_token": format!("e30.{claims}.sig")
        }))],
    );
}

#[test]
fn login_opens_the_browser_with_a_display() {
    let fake = Fake::start();
    routes(&fake);
    let mut cli = Cli::new(&fake);
    cli.env.display = true;
    // The "browser" follows the authorize redirect back to the CLI's loopback listener.
    cli.env.browser = Some("curl -s -L -o /dev/null".to_owned());
    let o = cli.run("auth login");
    assert_eq!(o.code, 0, "{}", o.stderr);
    let prefix = format!(
        "Your browser has been opened to visit:\n\n    {}/o/oauth2/v2/auth?client_id=kumo-cli&redirect_uri=http%3A%2F%2Flocalhost%3A",
        fake.base
    );
    assert!(o.stderr.starts_with(&prefix), "{}", o.stderr);
    assert!(
        o.stderr
            .ends_with("\n\n\nYou are now logged in as [carol@example.com].\nYour current project is [demo-project].  You can change this setting by running:\n  $ kumo config set project PROJECT_ID\n\n"),
        "{}",
        o.stderr
    );
    let token = form(&fake.find("POST", "/token").body);
    assert_eq!(token["code"], "4/browser");
}

/// stderr shared with the test while the command runs in another thread.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `kumo ARGS` in a thread; once the printed link appears, plays the user's browser by
/// fetching it and following the redirect; returns the exit code and stderr.
fn sign_in_by_hand(cli: Cli, args: &'static str) -> (u8, String) {
    let err = Shared::default();
    let seen = err.clone();
    let handle = std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut err = err;
        let argv: Vec<String> = std::iter::once("kumo")
            .chain(args.split(' '))
            .map(str::to_owned)
            .collect();
        kumo_cli::run(argv, &cli.env, &mut out, &mut err, &mut std::io::empty())
    });
    let url = loop {
        let text = String::from_utf8(seen.0.lock().unwrap().clone()).unwrap();
        if let Some(line) = text.lines().find(|l| l.starts_with("    http")) {
            break line.trim().to_owned();
        }
        assert!(!handle.is_finished(), "the command ended early: {text}");
        std::thread::yield_now();
    };
    let status = std::process::Command::new("curl")
        .args(["-s", "-L", "-o", "/dev/null", &url])
        .status()
        .unwrap();
    assert!(status.success());
    let code = handle.join().unwrap();
    let text = String::from_utf8(seen.0.lock().unwrap().clone()).unwrap();
    (code, text)
}

#[test]
fn no_launch_browser_prints_the_link() {
    let fake = Fake::start();
    routes(&fake);
    let mut cli = Cli::new(&fake);
    cli.env.display = true;
    cli.env.browser = Some("/nonexistent/browser-that-must-not-run".to_owned());
    let (code, stderr) = sign_in_by_hand(cli, "auth login --no-launch-browser");
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.starts_with(
            "Go to the following link in your browser, and complete the sign-in prompts:\n\n    "
        ),
        "{stderr}"
    );
    assert!(stderr.contains("You are now logged in as [carol@example.com]."));
}

#[test]
fn without_a_display_or_with_a_text_browser_the_link_is_printed() {
    for (display, browser) in [
        (false, Some("curl -s -L -o /dev/null")),
        (true, Some("w3m")),
    ] {
        let fake = Fake::start();
        routes(&fake);
        let mut cli = Cli::new(&fake);
        cli.env.display = display;
        cli.env.browser = browser.map(str::to_owned);
        let (code, stderr) = sign_in_by_hand(cli, "auth application-default login");
        assert_eq!(code, 0, "{stderr}");
        assert!(
            stderr.starts_with("Go to the following link in your browser"),
            "{display} {browser:?}: {stderr}"
        );
        assert!(stderr.contains("Credentials saved to file: ["), "{stderr}");
    }
}
