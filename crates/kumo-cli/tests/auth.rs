//! `auth …` and `config …`: sign-in, tokens, impersonation, credential storage.

mod fake;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fake::{Cli, Fake, Reply, err, form, ok};
use serde_json::{Value, json};

fn jwt(claims: Value) -> String {
    format!(
        "{}.{}.sig",
        URL_SAFE_NO_PAD.encode(b"{\"alg\":\"RS256\"}"),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn login_routes(fake: &Fake) {
    fake.on(
        "GET",
        "/o/oauth2/v2/auth",
        vec![Reply {
            status: 302,
            body: String::new(),
            headers: vec![(
                "Location".to_owned(),
                "{redirect_uri}?code=4%2Fcode&state={state}".to_owned(),
            )],
        }],
    );
    fake.on(
        "POST",
        "/token",
        vec![ok(json!({
            "access_token": "ya29.bob", "expires_in": 3599, "refresh_token": "1//bob", "token_type": "Bearer",
            "id_token": jwt(json!({"email": "bob@example.com", "aud": "kumo-cli", "exp": 4_102_444_800i64}))
        }))],
    );
}

#[test]
fn login_with_account_uses_pkce_without_a_browser() {
    let fake = Fake::start();
    login_routes(&fake);
    let cli = Cli::new(&fake);
    let o = cli.run("auth login --account bob@example.com");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stderr,
        "\nYou are now logged in as [bob@example.com].\nYour current project is [demo-project].  You can change this setting by running:\n  $ kumo config set project PROJECT_ID\n\n"
    );
    let auth = fake.find("GET", "/o/oauth2/v2/auth");
    let q = form(auth.target.split_once('?').unwrap().1);
    assert_eq!(q["client_id"], "kumo-cli");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["login_hint"], "bob@example.com");
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["scope"].contains("openid"));
    assert!(q["redirect_uri"].starts_with("http://localhost:"));
    let token = form(&fake.find("POST", "/token").body);
    assert_eq!(token["grant_type"], "authorization_code");
    assert_eq!(token["code"], "4/code");
    assert_eq!(token["redirect_uri"], q["redirect_uri"]);
    use sha2::Digest as _;
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(token["code_verifier"].as_bytes()));
    assert_eq!(
        challenge, q["code_challenge"],
        "S256(code_verifier) must equal the challenge"
    );
    // The account is stored and active.
    let o = cli.run("config get-value account");
    assert_eq!(o.stdout, "bob@example.com\n");
    let o = cli.run("auth print-access-token");
    assert_eq!(o.stdout, "ya29.bob\n");
    let o = cli.run("auth list");
    assert_eq!(
        o.stdout,
        "  Credentialed Accounts\nACTIVE  ACCOUNT\n        alice@example.com\n*       bob@example.com\n"
    );
}

#[test]
fn print_identity_token_for_a_user_refreshes_for_an_id_token() {
    let fake = Fake::start();
    let id = jwt(json!({"email": "alice@example.com", "aud": "kumo-cli", "exp": 4_102_444_800i64}));
    fake.on(
        "POST",
        "/token",
        vec![ok(
            json!({"access_token": "ya29.new", "expires_in": 3600, "id_token": id}),
        )],
    );
    let cli = Cli::new(&fake);
    let o = cli.run("auth print-identity-token");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, format!("{id}\n"));
    let f = form(&fake.find("POST", "/token").body);
    assert_eq!(f["grant_type"], "refresh_token");
    assert_eq!(f["refresh_token"], "1//refresh");
    assert_eq!(f["client_id"], "kumo-cli");
    // Cached: a second call does not hit the token endpoint again.
    let o = cli.run("auth print-identity-token");
    assert_eq!(o.stdout, format!("{id}\n"));
    assert_eq!(fake.requests().len(), 1);
    // --audiences needs a service account, as in gcloud.
    let o = cli.run("auth print-identity-token --audiences http://x");
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        "ERROR: (kumo.auth.print-identity-token) Invalid account type for `--audiences`. Requires valid service account.\n"
    );
}

#[test]
fn print_identity_token_impersonating_a_service_account_seed_002() {
    let fake = Fake::start();
    let sa = "invoker@demo-project.iam.gserviceaccount.com";
    let path = format!("/v1/projects/-/serviceAccounts/{sa}:generateIdToken");
    fake.on("POST", &path, vec![ok(json!({"token": "eyJ.sa.token"}))]);
    let o = Cli::new(&fake).run(&format!(
        "auth print-identity-token --impersonate-service-account {sa} --audiences http://hello-123.asia-northeast1.run.localhost:8081"
    ));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "eyJ.sa.token\n");
    // gcloud warns whenever it loads impersonated credentials.
    assert_eq!(
        o.stderr,
        format!(
            "WARNING: This command is using service account impersonation. All API calls will be executed as [{sa}].\n"
        )
    );
    let req = fake.find("POST", &path);
    assert_eq!(req.auth.as_deref(), Some("Bearer ya29.alice"));
    assert_eq!(
        req.json(),
        json!({"audience": "http://hello-123.asia-northeast1.run.localhost:8081", "includeEmail": false})
    );

    // Without TokenCreator the server refuses; the error names the command.
    fake.on("POST", &path, vec![err(403, "PERMISSION_DENIED", "Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource (or it may not exist).")]);
    let o = Cli::new(&fake).run(&format!(
        "auth print-identity-token --impersonate-service-account {sa} --audiences http://x"
    ));
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        format!(
            "WARNING: This command is using service account impersonation. All API calls will be executed as [{sa}].\nERROR: (kumo.auth.print-identity-token) PERMISSION_DENIED: Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource (or it may not exist).\n"
        )
    );
}

#[test]
fn api_calls_with_impersonation_use_generate_access_token() {
    let fake = Fake::start();
    let sa = "deployer@demo-project.iam.gserviceaccount.com";
    fake.on(
        "POST",
        &format!("/v1/projects/-/serviceAccounts/{sa}:generateAccessToken"),
        vec![ok(
            json!({"accessToken": "ya29.sa", "expireTime": "2030-01-01T00:00:00Z"}),
        )],
    );
    fake.on(
        "GET",
        "/v3/projects/demo-project",
        vec![ok(
            json!({"projectId": "demo-project", "projectNumber": "123"}),
        )],
    );
    let o = Cli::new(&fake).run(&format!(
        "projects describe demo-project --impersonate-service-account {sa}"
    ));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stderr,
        format!(
            "WARNING: This command is using service account impersonation. All API calls will be executed as [{sa}].\n"
        )
    );
    assert_eq!(
        fake.find("GET", "/v3/projects/demo-project")
            .auth
            .as_deref(),
        Some("Bearer ya29.sa")
    );
    assert_eq!(
        fake.find(
            "POST",
            &format!("/v1/projects/-/serviceAccounts/{sa}:generateAccessToken")
        )
        .json()["scope"],
        json!(["https://www.googleapis.com/auth/cloud-platform"])
    );
}

#[test]
fn expired_access_token_is_refreshed_and_invalid_grant_explained() {
    let fake = Fake::start();
    let dir = fake::config_dir(fake::default_props());
    let creds = json!({"accounts": {"alice@example.com": {"type": "authorized_user", "refresh_token": "1//r", "access_token": "old", "access_token_expiry": 1}}});
    std::fs::write(dir.join("credentials.json"), creds.to_string()).unwrap();
    fake.on("POST", "/token", vec![err(400, "x", "x")]);
    fake.on(
        "POST",
        "/token",
        vec![Reply { status: 400, body: json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}).to_string(), headers: vec![] }],
    );
    let o = Cli::with_dir(&fake, dir.clone()).run("auth print-access-token");
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        "ERROR: (kumo.auth.print-access-token) There was a problem refreshing your current auth tokens: Token has been expired or revoked.\nPlease run:\n\n  $ kumo auth login\n\nto obtain new credentials.\n"
    );
    fake.on(
        "POST",
        "/token",
        vec![ok(
            json!({"access_token": "ya29.fresh", "expires_in": 3600}),
        )],
    );
    let o = Cli::with_dir(&fake, dir).run("auth print-access-token");
    assert_eq!(o.stdout, "ya29.fresh\n");
}

#[test]
fn activate_service_account_signs_a_jwt_bearer_assertion() {
    use rsa::pkcs8::EncodePrivateKey as _;
    use rsa::signature::Verifier as _;
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let pem = key
        .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap()
        .to_string();
    let fake = Fake::start();
    let key_file = json!({
        "type": "service_account", "project_id": "demo-project", "private_key_id": "k1",
        "private_key": pem, "client_email": "ci@demo-project.iam.gserviceaccount.com",
        "token_uri": format!("{}/token", fake.base)
    });
    let cli = Cli::new(&fake);
    let path = cli.env.config_dir.join("key.json");
    std::fs::write(&path, key_file.to_string()).unwrap();
    fake.on(
        "POST",
        "/token",
        vec![ok(json!({"access_token": "ya29.ci", "expires_in": 3600}))],
    );
    let o = cli.run(&format!(
        "auth activate-service-account --key-file {}",
        path.display()
    ));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stderr,
        "Activated service account credentials for: [ci@demo-project.iam.gserviceaccount.com]\n"
    );
    let f = form(&fake.find("POST", "/token").body);
    assert_eq!(
        f["grant_type"],
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    let parts: Vec<&str> = f["assertion"].split('.').collect();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(header, json!({"alg": "RS256", "typ": "JWT", "kid": "k1"}));
    assert_eq!(claims["iss"], "ci@demo-project.iam.gserviceaccount.com");
    assert_eq!(claims["aud"], format!("{}/token", fake.base));
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/cloud-platform"
    );
    let verifier = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key.to_public_key());
    let sig =
        rsa::pkcs1v15::Signature::try_from(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().as_slice())
            .unwrap();
    verifier
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
        .unwrap();
    assert_eq!(
        cli.run("config get-value account").stdout,
        "ci@demo-project.iam.gserviceaccount.com\n"
    );

    // Its ID token comes from the same grant with target_audience.
    fake.on("POST", "/token", vec![ok(json!({"id_token": "eyJ.ci"}))]);
    let o = cli.run("auth print-identity-token --audiences http://svc");
    assert_eq!(o.stdout, "eyJ.ci\n", "{}", o.stderr);
    let last = fake.requests().pop().unwrap();
    let parts: Vec<String> = form(&last.body)["assertion"]
        .split('.')
        .map(str::to_owned)
        .collect();
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    assert_eq!(claims["target_audience"], "http://svc");
}

/// gcloud's `auth login --cred-file=KEY.json` activates a service account key (audit s8 finding 12).
#[test]
fn login_cred_file_activates_a_service_account_key() {
    use rsa::pkcs8::EncodePrivateKey as _;
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let pem = key
        .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap()
        .to_string();
    let fake = Fake::start();
    let key_file = json!({
        "type": "service_account", "project_id": "demo-project", "private_key_id": "k1",
        "private_key": pem, "client_email": "ci@demo-project.iam.gserviceaccount.com",
        "token_uri": format!("{}/token", fake.base)
    });
    let cli = Cli::new(&fake);
    let path = cli.env.config_dir.join("key.json");
    std::fs::write(&path, key_file.to_string()).unwrap();
    fake.on(
        "POST",
        "/token",
        vec![ok(json!({"access_token": "ya29.ci", "expires_in": 3600}))],
    );
    let o = cli.run(&format!("auth login --cred-file={}", path.display()));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stderr,
        "\nAuthenticated with service account credentials for: [ci@demo-project.iam.gserviceaccount.com].\n\
         Your current project is [demo-project].  You can change this setting by running:\n  $ kumo config set project PROJECT_ID\n\n"
    );
    assert_eq!(
        cli.run("config get-value account").stdout,
        "ci@demo-project.iam.gserviceaccount.com\n"
    );
    assert_eq!(cli.run("auth print-access-token").stdout, "ya29.ci\n");

    // A wrong ACCOUNT, a user credential file, an external account file: refused.
    let o = cli.run(&format!(
        "auth login other@example.com --cred-file {}",
        path.display()
    ));
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("Invalid value for [ACCOUNT]"),
        "{}",
        o.stderr
    );
    for (kind, text) in [
        (
            "authorized_user",
            "Only external account or service account JSON credential file types are supported.",
        ),
        ("external_account", "external account credential files"),
    ] {
        std::fs::write(&path, json!({"type": kind}).to_string()).unwrap();
        let o = cli.run(&format!("auth login --cred-file={}", path.display()));
        assert_eq!(o.code, 1, "{kind}");
        assert!(o.stderr.contains(text), "{kind}: {}", o.stderr);
    }
}

#[test]
fn application_default_login_writes_authorized_user_file() {
    let fake = Fake::start();
    login_routes(&fake);
    let cli = Cli::new(&fake);
    let o = cli.run("auth application-default login --account bob@example.com");
    assert_eq!(o.code, 0, "{}", o.stderr);
    let path = cli
        .env
        .config_dir
        .join("application_default_credentials.json");
    assert_eq!(
        o.stderr,
        format!(
            "\nCredentials saved to file: [{}]\n\nThese credentials will be used by any library that requests Application Default Credentials (ADC).\n",
            path.display()
        )
    );
    let adc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        adc,
        json!({"client_id": "kumo-cli", "client_secret": "kumo-cli-secret", "refresh_token": "1//bob",
               "token_uri": format!("{}/token", fake.base), "type": "authorized_user"})
    );
    let o = cli.run("auth application-default print-access-token");
    assert_eq!(o.stdout, "ya29.bob\n");
}

#[test]
fn revoke_forgets_the_account() {
    let fake = Fake::start();
    fake.on("POST", "/revoke", vec![ok(json!({}))]);
    let cli = Cli::new(&fake);
    let o = cli.run("auth revoke");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stderr, "Revoked credentials:\n - alice@example.com\n");
    assert_eq!(
        fake.find("POST", "/revoke").target,
        "/revoke?token=1%2F%2Frefresh"
    );
    let o = cli.run("auth print-access-token");
    assert_eq!(o.code, 1);
    assert!(o.stderr.starts_with("ERROR: (kumo.auth.print-access-token) You do not currently have an active account selected."), "{}", o.stderr);
}

#[test]
fn config_set_get_list() {
    let fake = Fake::start();
    let dir = fake::config_dir(json!({}));
    let cli = Cli::with_dir(&fake, dir);
    let o = cli.run("config get-value project");
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (0, "", "(unset)\n")
    );
    let o = cli.run("config set project demo-project");
    assert_eq!(o.stderr, "Updated property [core/project].\n");
    cli.run("config set run/region asia-northeast1");
    assert_eq!(cli.run("config get-value project").stdout, "demo-project\n");
    assert_eq!(cli.run("config get run/region").stdout, "asia-northeast1\n");
    let o = cli.run("config list");
    assert_eq!(
        o.stdout,
        "[core]\nproject = demo-project\n[run]\nregion = asia-northeast1\n"
    );
    let o = cli.run("config set run/colour red");
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (
            2,
            "ERROR: (kumo.config.set) Section [run] has no property [colour].\n"
        )
    );
    // A missing project names the fix.
    let o = Cli::with_dir(
        &fake,
        fake::config_dir(json!({"core/account": "alice@example.com"})),
    )
    .run("run services describe x --region r");
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("The required property [project] is not currently set."),
        "{}",
        o.stderr
    );
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let fake = Fake::start();
    let cli = Cli::new(&fake);
    let o = cli.run("run deploy");
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.starts_with("ERROR: (kumo.run.deploy) the following required arguments were not provided:\n  <SERVICE>\n"),
        "{}",
        o.stderr
    );
    let o = cli.run("run");
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("Usage: kumo run"), "{}", o.stderr);
    let o = cli.run("gcloud alpha run services frobnicate");
    assert_eq!(o.code, 2);
    assert!(
        o.stderr
            .starts_with("ERROR: (gcloud.alpha.run.services) unrecognized subcommand 'frobnicate'"),
        "{}",
        o.stderr
    );
    let o = cli.run("run services describe x --format xml");
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.starts_with(
            "ERROR: (kumo.run.services.describe) argument --format: invalid format `xml`"
        ),
        "{}",
        o.stderr
    );
    let o = cli.run("run --help");
    assert_eq!(o.code, 0);
    assert!(o.stdout.contains("deploy"), "{}", o.stdout);
    let o = cli.run("gcloud run --help");
    assert!(o.stdout.contains("Usage: gcloud run"), "{}", o.stdout);
    assert!(fake.requests().is_empty());
}

#[test]
fn completion_scripts_and_troubleshoot_alias() {
    let fake = Fake::start();
    let cli = Cli::new(&fake);
    for shell in ["bash", "zsh", "fish"] {
        let o = cli.run(&format!("completion {shell}"));
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert!(o.stdout.contains("kumo"), "{shell}");
        assert!(o.stdout.contains("deploy"), "{shell}");
    }
    fake.on(
        "POST",
        "/v3/iam:troubleshoot",
        vec![ok(json!({"overallAccessState": "CANNOT_ACCESS"}))],
    );
    let o = cli.run("policy-intelligence troubleshoot-policy iam //cloudresourcemanager.googleapis.com/projects/p --principal-email bob@example.com --permission run.services.get");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "bob@example.com DOES NOT HAVE permission run.services.get on //cloudresourcemanager.googleapis.com/projects/p.\n\nNo allow policy on the resource or its ancestors grants anything relevant.\n"
    );
}

#[test]
fn a_401_refreshes_the_token_once_and_retries() {
    let fake = Fake::start();
    fake.on(
        "GET",
        "/v3/projects/demo-project",
        vec![
            err(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials.",
            ),
            ok(json!({"projectId": "demo-project"})),
        ],
    );
    fake.on(
        "POST",
        "/token",
        vec![ok(
            json!({"access_token": "ya29.renewed", "expires_in": 3600}),
        )],
    );
    let o = Cli::new(&fake).run("projects describe demo-project --format 'value(projectId)'");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "demo-project\n");
    let auths: Vec<Option<String>> = fake
        .requests()
        .iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.auth.clone())
        .collect();
    assert_eq!(
        auths,
        [
            Some("Bearer ya29.alice".to_owned()),
            Some("Bearer ya29.renewed".to_owned())
        ]
    );
}
