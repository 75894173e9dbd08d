//! Credentials that bypass the credential store, in gcloud's order (`store._Load`):
//! `CLOUDSDK_AUTH_ACCESS_TOKEN`, `--access-token-file`, `auth/credential_file_override`; and
//! `GOOGLE_APPLICATION_CREDENTIALS`, which only the `auth application-default` commands read.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a broken fixture must fail the test loudly"
)]

mod fake;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fake::{Cli, Fake, err, form, ok};
use serde_json::{Value, json};

const PROJECT: &str = "/v3/projects/demo-project";

fn cli_with_project(fake: &Fake) -> Cli {
    fake.on(
        "GET",
        PROJECT,
        vec![ok(
            json!({"projectId": "demo-project", "projectNumber": "123456789012"}),
        )],
    );
    Cli::new(fake)
}

fn bearer(fake: &Fake) -> Option<String> {
    fake.find("GET", PROJECT).auth
}

#[test]
fn cloudsdk_auth_access_token_is_used_as_is() {
    let fake = Fake::start();
    let mut cli = cli_with_project(&fake);
    cli.env
        .overrides
        .insert("auth/access_token".to_owned(), " ya29.env\n".to_owned());
    let o = cli.run("projects describe demo-project --format json");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(bearer(&fake).as_deref(), Some("Bearer ya29.env"));
    let o = cli.run("auth print-access-token");
    assert_eq!(o.stdout, "ya29.env\n");
    // Not a property: `config list` never shows the token.
    let o = cli.run("config list");
    assert!(!o.stdout.contains("ya29.env"), "{}", o.stdout);
    assert!(o.stdout.contains("project = demo-project"), "{}", o.stdout);
    // No token endpoint, no store: the stored account's token is never consulted.
    assert!(!fake.lines().iter().any(|l| l.contains("/token")));

    // A bare access token has no identity for an ID token; gcloud says so.
    let o = cli.run("auth print-identity-token");
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        "ERROR: (kumo.auth.print-identity-token) No identity token can be obtained from the current credentials.\n"
    );
}

#[test]
fn access_token_file_flag_and_property() {
    let fake = Fake::start();
    let cli = cli_with_project(&fake);
    let file = cli.env.config_dir.join("token.txt");
    std::fs::write(&file, "ya29.file\n").unwrap();
    let o = cli.run(&format!(
        "projects describe demo-project --format json --access-token-file {}",
        file.display()
    ));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(bearer(&fake).as_deref(), Some("Bearer ya29.file"));

    // The property works the same, and the environment token wins over it (gcloud's order).
    let o = cli.run(&format!(
        "config set auth/access_token_file {}",
        file.display()
    ));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(cli.run("auth print-access-token").stdout, "ya29.file\n");
    let mut env_cli = Cli::with_dir(&fake, cli.env.config_dir.clone());
    env_cli
        .env
        .overrides
        .insert("auth/access_token".to_owned(), "ya29.env".to_owned());
    assert_eq!(env_cli.run("auth print-access-token").stdout, "ya29.env\n");

    let o = cli.run("auth print-access-token --access-token-file /nonexistent/token");
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.starts_with(
            "ERROR: (kumo.auth.print-access-token) Unable to read file [/nonexistent/token]: "
        ),
        "{}",
        o.stderr
    );
}

#[test]
fn a_401_with_a_given_token_is_reported_not_retried() {
    let fake = Fake::start();
    fake.on(
        "GET",
        PROJECT,
        vec![err(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        )],
    );
    let mut cli = Cli::new(&fake);
    cli.env
        .overrides
        .insert("auth/access_token".to_owned(), "ya29.stale".to_owned());
    let o = cli.run("projects describe demo-project");
    assert_eq!(o.code, 1);
    // gcloud appends which credentials it used to a 401/403/404 (`CredentialInfo`).
    assert_eq!(
        o.stderr,
        "ERROR: (kumo.projects.describe) UNAUTHENTICATED: Request had invalid authentication credentials. This command is authenticated with an access token from the CLOUDSDK_AUTH_ACCESS_TOKEN environment variable.\n"
    );
    assert_eq!(fake.lines(), [format!("GET {PROJECT}")]);
}

fn service_account_key(fake: &Fake) -> Value {
    use rsa::pkcs8::EncodePrivateKey as _;
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let pem = key
        .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap()
        .to_string();
    json!({
        "type": "service_account", "project_id": "demo-project", "private_key_id": "k1",
        "private_key": pem, "client_email": "ci@demo-project.iam.gserviceaccount.com",
        "token_uri": format!("{}/token", fake.base)
    })
}

fn claims(assertion: &str) -> Value {
    let payload = assertion.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[test]
fn credential_file_override_with_a_service_account_key() {
    let fake = Fake::start();
    let mut cli = cli_with_project(&fake);
    let path = cli.env.config_dir.join("sa.json");
    std::fs::write(&path, service_account_key(&fake).to_string()).unwrap();
    cli.env.overrides.insert(
        "auth/credential_file_override".to_owned(),
        path.display().to_string(),
    );
    fake.on(
        "POST",
        "/token",
        vec![ok(json!({"access_token": "ya29.sa", "expires_in": 3600}))],
    );
    let o = cli.run("projects describe demo-project --format json");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(bearer(&fake).as_deref(), Some("Bearer ya29.sa"));
    let grant = form(&fake.find("POST", "/token").body);
    assert_eq!(
        grant["grant_type"],
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    let c = claims(&grant["assertion"]);
    assert_eq!(c["iss"], "ci@demo-project.iam.gserviceaccount.com");
    assert_eq!(c["scope"], "https://www.googleapis.com/auth/cloud-platform");

    // Its ID token: the same grant with target_audience.
    fake.on("POST", "/token", vec![ok(json!({"id_token": "eyJ.sa"}))]);
    let o = cli.run("auth print-identity-token --audiences https://svc.example");
    assert_eq!(o.stdout, "eyJ.sa\n", "{}", o.stderr);
    let last = fake.requests().pop().unwrap();
    assert_eq!(
        claims(&form(&last.body)["assertion"])["target_audience"],
        "https://svc.example"
    );
}

#[test]
fn credential_file_override_with_an_authorized_user_file_and_bad_files() {
    let fake = Fake::start();
    let cli = cli_with_project(&fake);
    let path = cli.env.config_dir.join("user.json");
    std::fs::write(
        &path,
        json!({"type": "authorized_user", "client_id": "other-client", "client_secret": "s",
               "refresh_token": "1//carol", "token_uri": format!("{}/token", fake.base)})
        .to_string(),
    )
    .unwrap();
    // Set through `config set`, as gcloud documents the property.
    let o = cli.run(&format!(
        "config set auth/credential_file_override {}",
        path.display()
    ));
    assert_eq!(o.code, 0, "{}", o.stderr);
    fake.on(
        "POST",
        "/token",
        vec![ok(
            json!({"access_token": "ya29.carol", "expires_in": 3600}),
        )],
    );
    assert_eq!(cli.run("auth print-access-token").stdout, "ya29.carol\n");
    let grant = form(&fake.find("POST", "/token").body);
    assert_eq!(grant["grant_type"], "refresh_token");
    assert_eq!(grant["refresh_token"], "1//carol");
    assert_eq!(grant["client_id"], "other-client");

    std::fs::write(&path, r#"{"type": "external_account"}"#).unwrap();
    let o = cli.run("auth print-access-token");
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        format!(
            "ERROR: (kumo.auth.print-access-token) Failed to load credential file: [{}].  The credential type [external_account] is not supported; use a service_account key or an authorized_user file.\n",
            path.display()
        )
    );
}

#[test]
fn google_application_credentials_is_read_by_application_default_only() {
    let fake = Fake::start();
    let mut cli = Cli::new(&fake);
    let path = cli.env.config_dir.join("adc-sa.json");
    std::fs::write(&path, service_account_key(&fake).to_string()).unwrap();
    cli.env.adc_file = Some(path.clone());
    fake.on(
        "POST",
        "/token",
        vec![ok(json!({"access_token": "ya29.adc", "expires_in": 3600}))],
    );
    let o = cli.run("auth application-default print-access-token");
    assert_eq!(o.stdout, "ya29.adc\n", "{}", o.stderr);
    // gcloud's own credentials ignore it: the active account's cached token is used.
    assert_eq!(cli.run("auth print-access-token").stdout, "ya29.alice\n");

    cli.env.adc_file = Some(cli.env.config_dir.join("missing.json"));
    let o = cli.run("auth application-default print-access-token");
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        format!(
            "ERROR: (kumo.auth.application-default.print-access-token) File {} was not found.\n",
            cli.env.config_dir.join("missing.json").display()
        )
    );
}
