//! `auth login` opens a browser the way gcloud decides to (a display and a usable browser),
//! and otherwise prints the link; either way the sign-in completes through the loopback
//! redirect.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a broken fixture must fail the test loudly"
)]

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

/// A stdin whose lines the test sends while the command is running.
struct Typed {
    rx: std::sync::mpsc::Receiver<String>,
    pending: std::io::Cursor<Vec<u8>>,
}

impl std::io::Read for Typed {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pending.position() as usize >= self.pending.get_ref().len() {
            match self.rx.recv() {
                Ok(line) => self.pending = std::io::Cursor::new(line.into_bytes()),
                Err(_) => return Ok(0),
            }
        }
        std::io::Read::read(&mut self.pending, buf)
    }
}

#[test]
fn no_browser_and_remote_bootstrap_complete_a_sign_in_together() {
    let fake = Fake::start();
    routes(&fake);
    // The machine without a browser.
    let headless = Cli::new(&fake);
    let err = Shared::default();
    let seen = err.clone();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let handle = std::thread::spawn(move || {
        let mut input = std::io::BufReader::new(Typed {
            rx,
            pending: std::io::Cursor::new(Vec::new()),
        });
        let mut out = Vec::new();
        let mut err = err;
        let argv = ["kumo", "auth", "login", "--no-browser"]
            .map(str::to_owned)
            .to_vec();
        kumo_cli::run(argv, &headless.env, &mut out, &mut err, &mut input)
    });
    let printed = loop {
        let text = String::from_utf8(seen.0.lock().unwrap().clone()).unwrap();
        if text.ends_with("Enter the output of the above command: ") {
            break text;
        }
        assert!(!handle.is_finished(), "{text}");
        std::thread::yield_now();
    };
    assert!(
        printed.starts_with("You are authorizing kumo CLI without access to a web browser. Please run the following command on a machine with a web browser and copy its output back here.\n\nkumo auth login --remote-bootstrap=\""),
        "{printed}"
    );
    let partial = printed
        .split("--remote-bootstrap=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    assert!(!partial.contains("redirect_uri"), "{partial}");
    assert!(partial.contains("token_usage=remote"), "{partial}");

    // The machine with a browser: confirms, lets its browser sign in, prints the redirect.
    let mut helper = Cli::new(&fake);
    helper.env.stdin_is_tty = true;
    helper.env.browser = Some("curl -s -L -o /dev/null".to_owned());
    let o = helper.run_with(&format!("auth login --remote-bootstrap '{partial}'"), "y\n");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.starts_with("DO NOT PROCEED UNLESS YOU ARE BOOTSTRAPPING GCLOUD ON A TRUSTED MACHINE WITHOUT A WEB BROWSER AND THE ABOVE COMMAND WAS THE OUTPUT OF `kumo auth login --no-browser` FROM THE TRUSTED MACHINE.\n\nProceed (y/N)?  \nYour browser has been opened to visit:\n\n    "), "{}", o.stderr);
    let (_, tail) = o
        .stderr
        .split_once("Copy the following line back to the gcloud CLI waiting to continue the login flow. WARNING: The following line enables access to your Google Cloud resources. Only copy it to the trusted machine that you ran the `kumo auth login --no-browser` command on earlier.\n\n")
        .unwrap();
    assert!(tail.starts_with("https://localhost:"), "{tail}");
    assert!(tail.contains("code=4%2Fbrowser"), "{tail}");

    tx.send(tail.to_owned()).unwrap();
    let code = handle.join().unwrap();
    let text = String::from_utf8(seen.0.lock().unwrap().clone()).unwrap();
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("You are now logged in as [carol@example.com]."),
        "{text}"
    );
    // The code went back with the helper's redirect URI and the headless side's verifier.
    let token = form(&fake.find("POST", "/token").body);
    let authorize = fake
        .requests()
        .into_iter()
        .find(|r| r.path() == "/o/oauth2/v2/auth")
        .unwrap();
    let q = form(authorize.target.split_once('?').unwrap().1);
    assert_eq!(token["redirect_uri"], q["redirect_uri"]);
    assert!(token["redirect_uri"].starts_with("http://localhost:"));
    use sha2::Digest as _;
    assert_eq!(
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            sha2::Sha256::digest(token["code_verifier"].as_bytes())
        ),
        q["code_challenge"]
    );
}

#[test]
fn remote_bootstrap_needs_a_yes_and_a_pasted_response_needs_state_and_code() {
    let fake = Fake::start();
    routes(&fake);
    let helper = Cli::new(&fake);
    let o = helper.run(&format!(
        "auth login --remote-bootstrap {}/o/oauth2/v2/auth?client_id=kumo-cli",
        fake.base
    ));
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .ends_with("ERROR: (kumo.auth.login) Aborted by user.\n"),
        "{}",
        o.stderr
    );

    let o = Cli::new(&fake).run_with(
        "auth application-default login --no-browser",
        "http://localhost:8085/?state=x\n",
    );
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .starts_with("You are authorizing client libraries without access to a web browser."),
        "{}",
        o.stderr
    );
    assert!(o.stderr.ends_with("Enter the output of the above command: ERROR: (kumo.auth.application-default.login) The provided authorization response is invalid. Expect a url with query parameters of [state, code].\n"), "{}", o.stderr);
    let o = Cli::new(&fake).run("auth login --no-browser --no-launch-browser");
    assert_eq!(o.code, 2);
}
