//! Golden transcripts of the CLI's human output (issue 5): one real `kumo up --demo`, every command
//! the issue lists run as a signed-in user would type it, and each transcript (stdout, stderr,
//! exit code) compared with `tests/golden/cli/<command>.txt` after replacing what changes from
//! run to run (ports, timestamps, project numbers, etags, revision suffixes, key ids, tokens)
//! with placeholders. `UPDATE_GOLDEN=1 cargo test -p kumo --test cli_golden` rewrites the files.

#![expect(clippy::unwrap_used, reason = "test set-up fails loudly")]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use common::{KUMO, Server, Start, http};

const IMAGE: &str = "us-docker.pkg.dev/cloudrun/container/hello";
const JOB_IMAGE: &str = "us-docker.pkg.dev/cloudrun/container/job";
/// A fixed digest for the pushed image, so `docker images list` is stable.
const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// `kumo up --demo` on a fresh data dir, its output kept in `server.log`.
fn start() -> Server {
    common::start(
        "cli-golden",
        Start {
            demo: true,
            log: true,
            ..Start::default()
        },
    )
}

// ------------------------------------------------------------------------------ normalising

/// One step of a pattern: a literal character, or a run of characters of a class.
#[derive(Clone, Copy)]
enum Tok {
    Lit(char),
    Run(fn(char) -> bool, usize, usize),
}

fn digit(c: char) -> bool {
    c.is_ascii_digit()
}
fn hex(c: char) -> bool {
    c.is_ascii_hexdigit()
}
fn lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}
fn b64url(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Length (in chars) of a greedy match of `pat` at `chars[at..]`, if any.
fn match_at(chars: &[char], at: usize, pat: &[Tok]) -> Option<usize> {
    let mut i = at;
    for tok in pat {
        match *tok {
            Tok::Lit(c) => {
                if chars.get(i) != Some(&c) {
                    return None;
                }
                i += 1;
            }
            Tok::Run(class, min, max) => {
                let start = i;
                while i < chars.len() && i - start < max && class(chars[i]) {
                    i += 1;
                }
                if i - start < min {
                    return None;
                }
            }
        }
    }
    Some(i - at)
}

/// Replaces every match of `pat` that is not glued to a word character on either side.
fn replace_pattern(text: &str, pat: &[Tok], with: &dyn Fn(&str) -> String) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let boundary_before = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        if boundary_before
            && let Some(n) = match_at(&chars, i, pat)
            && n > 0
            && chars.get(i + n).is_none_or(|c| !c.is_ascii_alphanumeric())
        {
            let found: String = chars[i..i + n].iter().collect();
            out.push_str(&with(&found));
            i += n;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

fn lits(s: &str) -> Vec<Tok> {
    s.chars().map(Tok::Lit).collect()
}

fn fixed(s: &'static str) -> impl Fn(&str) -> String {
    move |_| s.to_owned()
}

/// The value after `key` up to the end of its line (`etag: X`, `"etag": "X",`), which may be
/// quoted in any style; a JSON line's trailing comma stays.
fn replace_after(text: &str, key: &str, placeholder: &str) -> String {
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let (body, newline) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        match body.find(key) {
            Some(at) if body.len() > at + key.len() => {
                out.push_str(&body[..at + key.len()]);
                out.push_str(placeholder);
                if body.ends_with(',') {
                    out.push(',');
                }
            }
            _ => out.push_str(body),
        }
        out.push_str(newline);
    }
    out
}

struct Normaliser {
    /// Literal values known for this run (project number, organization id, temp dir, ...).
    literals: Vec<(String, String)>,
    /// Job names, whose executions are named `JOB-xxxxx`.
    jobs: Vec<String>,
}

impl Normaliser {
    fn apply(&self, text: &str) -> String {
        let mut t = text.to_owned();
        let mut literals = self.literals.clone();
        literals.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
        for (k, v) in &literals {
            if !k.is_empty() {
                t = t.replace(k, v);
            }
        }
        // JWTs (ID tokens, access tokens, OAuth codes).
        let jwt = [
            Tok::Lit('e'),
            Tok::Lit('y'),
            Tok::Lit('J'),
            Tok::Run(b64url, 1, usize::MAX),
            Tok::Lit('.'),
            Tok::Run(b64url, 1, usize::MAX),
            Tok::Lit('.'),
            Tok::Run(b64url, 0, usize::MAX),
        ];
        t = replace_pattern(&t, &jwt, &fixed("<JWT>"));
        t = replace_timestamps(&t);
        // UUIDs.
        let h = |n| Tok::Run(hex, n, n);
        let uuid = [
            h(8),
            Tok::Lit('-'),
            h(4),
            Tok::Lit('-'),
            h(4),
            Tok::Lit('-'),
            h(4),
            Tok::Lit('-'),
            h(12),
        ];
        t = replace_pattern(&t, &uuid, &fixed("<UUID>"));
        // Key ids, digests and other long hex strings.
        t = replace_pattern(&t, &[Tok::Run(hex, 32, usize::MAX)], &|found: &str| {
            if found.chars().all(|c| c.is_ascii_digit()) {
                found.to_owned()
            } else {
                "<HEX>".to_owned()
            }
        });
        // Unique ids and OAuth client ids (long digit runs).
        t = replace_pattern(&t, &[Tok::Run(digit, 15, usize::MAX)], &fixed("<ID>"));
        // Ports on loopback and on `*.localhost` hosts.
        for host in ["127.0.0.1:", "localhost:"] {
            let mut p = lits(host);
            p.push(Tok::Run(digit, 2, 5));
            let placeholder = format!("{host}<PORT>");
            t = replace_pattern(&t, &p, &|_| placeholder.clone());
        }
        // Revision names `SERVICE-00001-abc`: the suffix is random.
        let rev = [
            Tok::Lit('-'),
            Tok::Run(digit, 5, 5),
            Tok::Lit('-'),
            Tok::Run(lower_alnum, 3, 3),
        ];
        t = replace_revision_suffixes(&t, &rev);
        // Executions `JOB-abcde` (also inside URL-encoded filters, so no boundary before).
        for job in &self.jobs {
            let prefix = format!("{job}-");
            let mut out = String::new();
            let mut rest = t.as_str();
            while let Some(at) = rest.find(&prefix) {
                let after = &rest[at + prefix.len()..];
                let suffix: String = after.chars().take(6).collect();
                let is_exec = suffix.chars().take(5).filter(|c| lower_alnum(*c)).count() == 5
                    && suffix
                        .chars()
                        .nth(5)
                        .is_none_or(|c| !c.is_ascii_alphanumeric());
                out.push_str(&rest[..at + prefix.len()]);
                if is_exec {
                    out.push_str("<EXEC>");
                    rest = &after[5..];
                } else {
                    rest = after;
                }
            }
            out.push_str(rest);
            t = out;
        }
        // How long an execution took depends on the machine's load.
        t = replace_after(&t, "Elapsed time: ", "<ELAPSED>");
        // Policy etags in tables (`BwYh…`), folder numbers.
        let b64 = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '=';
        t = replace_pattern(
            &t,
            &[Tok::Lit('B'), Tok::Lit('w'), Tok::Run(b64, 6, usize::MAX)],
            &fixed("<ETAG>"),
        );
        let mut folder = lits("folders/");
        folder.push(Tok::Run(digit, 1, usize::MAX));
        t = replace_pattern(&t, &folder, &fixed("folders/<FOLDER_ID>"));
        for key in ["etag: ", "\"etag\": ", "insertId: ", "\"insertId\": "] {
            let placeholder = if key.starts_with("insert") || key.starts_with("\"insert") {
                "<INSERT_ID>"
            } else {
                "<ETAG>"
            };
            t = replace_after(&t, key, placeholder);
        }
        t
    }
}

/// RFC 3339 timestamps (`2026-12-02T07:07:05[.123456][Z|+00:00]`) → `<TIME>`.
fn replace_timestamps(text: &str) -> String {
    let d = |n| Tok::Run(digit, n, n);
    let base = [
        d(4),
        Tok::Lit('-'),
        d(2),
        Tok::Lit('-'),
        d(2),
        Tok::Run(|c| c == 'T' || c == ' ', 1, 1),
        d(2),
        Tok::Lit(':'),
        d(2),
        Tok::Lit(':'),
        d(2),
    ];
    let frac = [Tok::Lit('.'), Tok::Run(digit, 1, 9)];
    let offset = [
        Tok::Run(|c| c == '+' || c == '-', 1, 1),
        d(2),
        Tok::Lit(':'),
        d(2),
    ];
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if (i == 0 || !chars[i - 1].is_ascii_alphanumeric())
            && let Some(n) = match_at(&chars, i, &base)
        {
            let mut j = i + n;
            j += match_at(&chars, j, &frac).unwrap_or(0);
            if chars.get(j) == Some(&'Z') {
                j += 1;
            } else if chars[j..].starts_with(&[' ', 'U', 'T', 'C']) {
                j += 4;
            } else {
                j += match_at(&chars, j, &offset).unwrap_or(0);
            }
            out.push_str("<TIME>");
            i = j;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// `-NNNNN-abc` preceded by a name: keep the number, hide the suffix.
fn replace_revision_suffixes(text: &str, rev: &[Tok]) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if i > 0
            && chars[i - 1].is_ascii_alphanumeric()
            && let Some(n) = match_at(&chars, i, rev)
            && chars.get(i + n).is_none_or(|c| !c.is_ascii_alphanumeric())
        {
            let found: String = chars[i..i + 7].iter().collect();
            out.push_str(&found);
            out.push_str("<SFX>");
            i += n;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

// ------------------------------------------------------------------------------------ suite

struct Suite {
    server: Server,
    norm: Normaliser,
    /// Golden file name → transcript so far.
    goldens: BTreeMap<String, String>,
}

struct Out {
    stdout: String,
    stderr: String,
    code: i32,
}

impl Suite {
    fn config_dir(&self, user: &str) -> PathBuf {
        self.server.dir.join(format!("cfg-{user}"))
    }

    fn work(&self) -> PathBuf {
        self.server.dir.join("work")
    }

    /// Runs `kumo ARGS` as `user` without recording it.
    fn exec(&self, user: &str, args: &[&str]) -> Out {
        let mut command = Command::new(KUMO);
        // gcloud-style property overrides from this machine's environment would leak in.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("CLOUDSDK_") {
                command.env_remove(&key);
            }
        }
        let out = command
            .args(args)
            .current_dir(self.work())
            .env("KUMO_CONFIG", self.config_dir(user))
            .env(
                "KUMO_ENDPOINT",
                format!("http://127.0.0.1:{}", self.server.port),
            )
            .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
            .env("COLUMNS", "200")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Out {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code().unwrap_or(-1),
        }
    }

    /// Runs `kumo ARGS` without recording it, asserting success; returns stdout.
    fn quiet(&self, user: &str, args: &[&str]) -> String {
        let out = self.exec(user, args);
        assert_eq!(
            out.code, 0,
            "kumo {args:?} as {user}: {}{}",
            out.stdout, out.stderr
        );
        out.stdout
    }

    /// Runs `kumo ARGS` as `user` and appends its normalised transcript to `golden`; asserts the
    /// exit code so a broken step fails where it happens rather than in a diff.
    fn step(&mut self, golden: &str, user: &str, args: &[&str], code: i32) -> Out {
        let out = self.exec(user, args);
        assert_eq!(
            out.code, code,
            "kumo {args:?} as {user}: exit {}\n{}{}",
            out.code, out.stdout, out.stderr
        );
        let shown: Vec<String> = args
            .iter()
            .map(|a| {
                if a.is_empty() || a.contains([' ', '"', '\'', '(', ')', '<', '>', '$', '*']) {
                    format!("'{a}'")
                } else {
                    (*a).to_owned()
                }
            })
            .collect();
        let mut t = format!("# as {user}\n$ kumo {}\n", shown.join(" "));
        t.push_str("--- stdout\n");
        t.push_str(&out.stdout);
        if !out.stdout.is_empty() && !out.stdout.ends_with('\n') {
            t.push_str("\\ no newline at end\n");
        }
        t.push_str("--- stderr\n");
        t.push_str(&out.stderr);
        if !out.stderr.is_empty() && !out.stderr.ends_with('\n') {
            t.push_str("\\ no newline at end\n");
        }
        t.push_str(&format!("--- exit {}\n\n", out.code));
        let t = self.norm.apply(&t);
        self.goldens
            .entry(golden.to_owned())
            .or_default()
            .push_str(&t);
        out
    }

    fn ok(&mut self, golden: &str, user: &str, args: &[&str]) -> Out {
        self.step(golden, user, args, 0)
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.work().join(name);
        std::fs::write(&path, text).unwrap();
        name.to_owned()
    }
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/cli")
}

/// First differing line of two texts, for a readable failure.
fn first_difference(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    for i in 0..e.len().max(a.len()) {
        if e.get(i) != a.get(i) {
            return format!(
                "line {}:\n  golden: {:?}\n  actual: {:?}",
                i + 1,
                e.get(i).copied().unwrap_or("<end>"),
                a.get(i).copied().unwrap_or("<end>")
            );
        }
    }
    "(trailing whitespace)".to_owned()
}

/// Runs of two or more spaces as two: table columns are sized by the real values (a timestamp's
/// fraction has 0 to 9 digits), which the placeholders hide. kumo-cli's own tests pin layouts.
fn squeeze(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut spaces = 0;
        for c in line.chars() {
            if c == ' ' {
                spaces += 1;
                continue;
            }
            out.push_str(match spaces {
                0 => "",
                1 => " ",
                _ => "  ",
            });
            spaces = 0;
            out.push(c);
        }
        out.push('\n');
    }
    out
}

fn check(goldens: &BTreeMap<String, String>) {
    let dir = golden_dir();
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in goldens {
            std::fs::write(dir.join(format!("{name}.txt")), text).unwrap();
        }
        return;
    }
    let mut failures = Vec::new();
    for (name, text) in goldens {
        let path = dir.join(format!("{name}.txt"));
        match std::fs::read_to_string(&path) {
            Ok(expected) if squeeze(&expected) == squeeze(text) => {}
            Ok(expected) => failures.push(format!(
                "{name}.txt differs at {}",
                first_difference(&expected, text)
            )),
            Err(_) => failures.push(format!("{name}.txt is missing")),
        }
    }
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if let Some(name) = file.strip_suffix(".txt")
            && !goldens.contains_key(name)
        {
            failures.push(format!("{file} is stale: no step produces it"));
        }
    }
    assert!(
        failures.is_empty(),
        "CLI output differs from the golden files (UPDATE_GOLDEN=1 rewrites them after review):\n{}",
        failures.join("\n")
    );
}

/// The commands issue 5 lists: each must have a golden file.
const REQUIRED: &[&str] = &[
    "run_deploy",
    "run_services_list",
    "run_services_describe",
    "run_services_update",
    "run_services_delete",
    "run_services_replace",
    "run_services_get-iam-policy",
    "run_services_set-iam-policy",
    "run_services_add-iam-policy-binding",
    "run_services_remove-iam-policy-binding",
    "run_jobs_create",
    "run_jobs_update",
    "run_jobs_describe",
    "run_jobs_list",
    "run_jobs_delete",
    "run_jobs_execute",
    "run_jobs_replace",
    "run_jobs_executions_list",
    "run_jobs_executions_describe",
    "run_jobs_executions_cancel",
    "run_revisions_list",
    "run_revisions_describe",
    "iam_service-accounts_create",
    "iam_service-accounts_list",
    "iam_service-accounts_describe",
    "iam_service-accounts_delete",
    "iam_service-accounts_disable",
    "iam_service-accounts_enable",
    "iam_service-accounts_add-iam-policy-binding",
    "iam_service-accounts_remove-iam-policy-binding",
    "iam_service-accounts_get-iam-policy",
    "iam_service-accounts_keys_create",
    "iam_service-accounts_keys_list",
    "iam_service-accounts_keys_delete",
    "iam_roles_describe",
    "iam_roles_list",
    "iam_roles_create",
    "iam_roles_update",
    "iam_roles_delete",
    "iam_troubleshoot",
    "projects_create",
    "projects_list",
    "projects_describe",
    "projects_add-iam-policy-binding",
    "projects_remove-iam-policy-binding",
    "projects_get-iam-policy",
    "organizations_list",
    "organizations_add-iam-policy-binding",
    "resource-manager_folders_create",
    "resource-manager_org-policies_enable-enforce",
    "resource-manager_org-policies_disable-enforce",
    "resource-manager_org-policies_describe",
    "resource-manager_org-policies_list",
    "org-policies_set-policy",
    "org-policies_describe",
    "org-policies_reset",
    "org-policies_list",
    "iap_web_add-iam-policy-binding",
    "iap_web_remove-iam-policy-binding",
    "iap_web_get-iam-policy",
    "beta_services_identity_create",
    "artifacts_repositories_create",
    "artifacts_repositories_list",
    "artifacts_repositories_add-iam-policy-binding",
    "artifacts_docker_images_list",
    "logging_read",
    "auth_login",
    "auth_list",
    "auth_print-access-token",
    "auth_print-identity-token",
    "auth_activate-service-account",
    "auth_revoke",
    "config_set",
    "config_get",
    "config_list",
];

#[test]
fn cli_golden_transcripts() {
    let server = start();
    std::fs::create_dir_all(server.dir.join("work")).unwrap();
    let literals = vec![(server.dir.display().to_string(), "<TMP>".to_owned())];
    let mut s = Suite {
        server,
        norm: Normaliser {
            literals,
            jobs: vec!["job1".to_owned(), "job2".to_owned()],
        },
        goldens: BTreeMap::new(),
    };
    let started = Instant::now();

    // --- auth and config: alice (project owner), bob (no roles), admin (organization admin).
    s.ok(
        "auth_login",
        "alice",
        &["auth", "login", "--account", "alice@example.com"],
    );
    s.ok(
        "config_set",
        "alice",
        &["config", "set", "project", "demo-project"],
    );
    s.ok(
        "config_set",
        "alice",
        &["config", "set", "run/region", "us-central1"],
    );
    s.ok("config_get", "alice", &["config", "get", "project"]);
    s.ok("config_get", "alice", &["config", "get", "compute/zone"]);
    s.ok(
        "config_get-value",
        "alice",
        &["config", "get-value", "run/region"],
    );
    s.ok("config_list", "alice", &["config", "list"]);
    for user in ["bob", "admin"] {
        s.quiet(
            user,
            &["auth", "login", "--account", &format!("{user}@example.com")],
        );
        s.quiet(user, &["config", "set", "project", "demo-project"]);
        s.quiet(user, &["config", "set", "run/region", "us-central1"]);
    }
    // Values that differ per run, learnt once and replaced everywhere.
    let number = s.quiet(
        "alice",
        &[
            "projects",
            "describe",
            "demo-project",
            "--format",
            "value(projectNumber)",
        ],
    );
    let org = s.quiet(
        "admin",
        &["organizations", "list", "--format", "value(name)"],
    );
    let org_id = org.trim().trim_start_matches("organizations/").to_owned();
    let customer = s.quiet(
        "admin",
        &[
            "organizations",
            "list",
            "--format",
            "value(owner.directoryCustomerId)",
        ],
    );
    s.norm
        .literals
        .push((number.trim().to_owned(), "<PROJECT_NUMBER>".to_owned()));
    s.norm
        .literals
        .push((org_id.clone(), "<ORG_ID>".to_owned()));
    s.norm
        .literals
        .push((customer.trim().to_owned(), "<CUSTOMER_ID>".to_owned()));
    // The organization's administrator may grant, not set org policies: it grants itself that.
    s.ok(
        "organizations_add-iam-policy-binding",
        "admin",
        &[
            "organizations",
            "add-iam-policy-binding",
            &org_id,
            "--member",
            "user:admin@example.com",
            "--role",
            "roles/orgpolicy.policyAdmin",
        ],
    );
    s.ok("auth_list", "alice", &["auth", "list"]);
    let token = s.ok(
        "auth_print-access-token",
        "alice",
        &["auth", "print-access-token"],
    );
    let token = token.stdout.trim().to_owned();
    s.norm
        .literals
        .push((token.clone(), "<ACCESS_TOKEN>".to_owned()));
    s.ok(
        "auth_print-identity-token",
        "alice",
        &["auth", "print-identity-token"],
    );

    // --- run services (the demo's `hello`, then `web`).
    s.ok("run_services_list", "alice", &["run", "services", "list"]);
    s.ok(
        "run_services_describe",
        "alice",
        &["run", "services", "describe", "hello"],
    );
    s.step(
        "run_services_describe",
        "bob",
        &["run", "services", "describe", "hello"],
        1,
    );
    s.step(
        "run_services_describe",
        "alice",
        &["run", "services", "describe", "nope"],
        1,
    );
    s.ok(
        "run_deploy",
        "alice",
        &[
            "run",
            "deploy",
            "web",
            "--image",
            IMAGE,
            "--allow-unauthenticated",
            "--quiet",
        ],
    );
    s.ok(
        "run_deploy",
        "alice",
        &[
            "run",
            "deploy",
            "web",
            "--image",
            IMAGE,
            "--set-env-vars",
            "MODE=golden",
            "--quiet",
        ],
    );
    s.step(
        "run_deploy",
        "alice",
        &["run", "deploy", "nameless", "--quiet"],
        2,
    );
    s.ok(
        "run_services_update",
        "alice",
        &["run", "services", "update", "web", "--max-instances", "3"],
    );
    s.ok(
        "run_services_get-iam-policy",
        "alice",
        &["run", "services", "get-iam-policy", "web"],
    );
    s.ok(
        "run_services_add-iam-policy-binding",
        "alice",
        &[
            "run",
            "services",
            "add-iam-policy-binding",
            "web",
            "--member",
            "user:bob@example.com",
            "--role",
            "roles/run.invoker",
        ],
    );
    s.step(
        "run_services_add-iam-policy-binding",
        "bob",
        &[
            "run",
            "services",
            "add-iam-policy-binding",
            "web",
            "--member",
            "user:bob@example.com",
            "--role",
            "roles/run.admin",
        ],
        1,
    );
    s.ok(
        "run_services_remove-iam-policy-binding",
        "alice",
        &[
            "run",
            "services",
            "remove-iam-policy-binding",
            "web",
            "--member",
            "allUsers",
            "--role",
            "roles/run.invoker",
        ],
    );
    s.step(
        "run_services_remove-iam-policy-binding",
        "alice",
        &[
            "run",
            "services",
            "remove-iam-policy-binding",
            "web",
            "--member",
            "allUsers",
            "--role",
            "roles/run.invoker",
        ],
        1,
    );
    let policy = s.write(
        "policy.yaml",
        "bindings:\n- members:\n  - user:carol@example.com\n  role: roles/run.invoker\n",
    );
    s.ok(
        "run_services_set-iam-policy",
        "alice",
        &["run", "services", "set-iam-policy", "web", &policy],
    );
    let yaml = s.write(
        "replaced.yaml",
        &format!(
            "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: replaced\n  annotations:\n    run.googleapis.com/invoker-iam-disabled: true\nspec:\n  template:\n    spec:\n      containers:\n      - image: {IMAGE}\n"
        ),
    );
    s.ok(
        "run_services_replace",
        "alice",
        &["run", "services", "replace", &yaml],
    );
    s.ok(
        "run_services_replace",
        "alice",
        &["run", "services", "replace", &yaml],
    );
    s.ok("run_services_list", "alice", &["run", "services", "list"]);
    s.ok(
        "run_services_delete",
        "alice",
        &["run", "services", "delete", "replaced", "--quiet"],
    );
    s.step(
        "run_services_delete",
        "alice",
        &["run", "services", "delete", "replaced", "--quiet"],
        1,
    );

    // A FAILED_PRECONDITION: run.managed.requireInvokerIam refuses --no-invoker-iam-check (seed 000).
    // A project owner may not set organization policies (roles/orgpolicy.policyAdmin may).
    s.step(
        "resource-manager_org-policies_enable-enforce",
        "alice",
        &[
            "resource-manager",
            "org-policies",
            "enable-enforce",
            "run.managed.requireInvokerIam",
            "--project",
            "demo-project",
        ],
        1,
    );
    s.ok(
        "resource-manager_org-policies_enable-enforce",
        "admin",
        &[
            "resource-manager",
            "org-policies",
            "enable-enforce",
            "run.managed.requireInvokerIam",
            "--project",
            "demo-project",
        ],
    );
    s.step(
        "run_services_update",
        "alice",
        &["run", "services", "update", "web", "--no-invoker-iam-check"],
        1,
    );
    s.ok(
        "resource-manager_org-policies_describe",
        "alice",
        &[
            "resource-manager",
            "org-policies",
            "describe",
            "run.managed.requireInvokerIam",
            "--project",
            "demo-project",
        ],
    );
    s.ok(
        "resource-manager_org-policies_list",
        "alice",
        &[
            "resource-manager",
            "org-policies",
            "list",
            "--project",
            "demo-project",
        ],
    );
    s.ok(
        "resource-manager_org-policies_disable-enforce",
        "admin",
        &[
            "resource-manager",
            "org-policies",
            "disable-enforce",
            "run.managed.requireInvokerIam",
            "--project",
            "demo-project",
        ],
    );
    s.ok(
        "run_services_update",
        "alice",
        &["run", "services", "update", "web", "--no-invoker-iam-check"],
    );

    // --- revisions.
    s.ok(
        "run_revisions_list",
        "alice",
        &["run", "revisions", "list", "--service", "web"],
    );
    let revision = s.quiet(
        "alice",
        &[
            "run",
            "revisions",
            "list",
            "--service",
            "web",
            "--format",
            "value(name)",
        ],
    );
    let revision = revision
        .lines()
        .next()
        .unwrap_or_default()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    s.ok(
        "run_revisions_describe",
        "alice",
        &["run", "revisions", "describe", &revision],
    );

    // --- jobs and executions.
    s.ok(
        "run_jobs_create",
        "alice",
        &[
            "run", "jobs", "create", "job1", "--image", JOB_IMAGE, "--tasks", "1",
        ],
    );
    s.ok(
        "run_jobs_update",
        "alice",
        &[
            "run",
            "jobs",
            "update",
            "job1",
            "--update-env-vars",
            "MODE=golden",
        ],
    );
    s.ok(
        "run_jobs_describe",
        "alice",
        &["run", "jobs", "describe", "job1"],
    );
    s.ok(
        "run_jobs_describe",
        "alice",
        &["run", "jobs", "describe", "job1", "--format", "export"],
    );
    s.ok("run_jobs_list", "alice", &["run", "jobs", "list"]);
    s.ok(
        "run_jobs_execute",
        "alice",
        &["run", "jobs", "execute", "job1", "--wait"],
    );
    s.ok(
        "run_jobs_executions_list",
        "alice",
        &["run", "jobs", "executions", "list", "--job", "job1"],
    );
    let executions = s.quiet(
        "alice",
        &[
            "run",
            "jobs",
            "executions",
            "list",
            "--job",
            "job1",
            "--format",
            "value(name)",
        ],
    );
    let mut executions: Vec<String> = executions
        .lines()
        .map(|l| l.rsplit('/').next().unwrap_or_default().to_owned())
        .collect();
    executions.sort();
    let first = executions.first().cloned().unwrap_or_default();
    s.ok(
        "run_jobs_executions_describe",
        "alice",
        &["run", "jobs", "executions", "describe", &first],
    );
    s.step(
        "run_jobs_executions_cancel",
        "alice",
        &["run", "jobs", "executions", "cancel", &first, "--quiet"],
        1,
    );
    // Last: an execution that is left running (its state would race the listing above).
    s.ok(
        "run_jobs_execute",
        "alice",
        &["run", "jobs", "execute", "job1"],
    );
    let job_yaml = s.write(
        "job2.yaml",
        &format!(
            "apiVersion: run.googleapis.com/v1\nkind: Job\nmetadata:\n  name: job2\nspec:\n  template:\n    spec:\n      taskCount: 1\n      template:\n        spec:\n          containers:\n          - image: {JOB_IMAGE}\n"
        ),
    );
    s.ok(
        "run_jobs_replace",
        "alice",
        &["run", "jobs", "replace", &job_yaml],
    );
    s.ok(
        "run_jobs_delete",
        "alice",
        &["run", "jobs", "delete", "job2", "--quiet"],
    );

    // --- IAM: service accounts, keys, roles, troubleshoot.
    s.step(
        "iam_service-accounts_create",
        "alice",
        &[
            "iam",
            "service-accounts",
            "create",
            "robot",
            "--display-name",
            "Robot",
        ],
        1,
    );
    s.ok(
        "iam_service-accounts_create",
        "alice",
        &[
            "iam",
            "service-accounts",
            "create",
            "robot-sa",
            "--display-name",
            "Robot",
        ],
    );
    let robot = "robot-sa@demo-project.iam.gserviceaccount.com";
    s.ok(
        "iam_service-accounts_list",
        "alice",
        &["iam", "service-accounts", "list"],
    );
    s.ok(
        "iam_service-accounts_describe",
        "alice",
        &["iam", "service-accounts", "describe", robot],
    );
    s.ok(
        "iam_service-accounts_disable",
        "alice",
        &["iam", "service-accounts", "disable", robot],
    );
    s.ok(
        "iam_service-accounts_enable",
        "alice",
        &["iam", "service-accounts", "enable", robot],
    );
    s.ok(
        "iam_service-accounts_add-iam-policy-binding",
        "alice",
        &[
            "iam",
            "service-accounts",
            "add-iam-policy-binding",
            robot,
            "--member",
            "user:bob@example.com",
            "--role",
            "roles/iam.serviceAccountTokenCreator",
        ],
    );
    s.ok(
        "iam_service-accounts_get-iam-policy",
        "alice",
        &["iam", "service-accounts", "get-iam-policy", robot],
    );
    s.ok(
        "iam_service-accounts_remove-iam-policy-binding",
        "alice",
        &[
            "iam",
            "service-accounts",
            "remove-iam-policy-binding",
            robot,
            "--member",
            "user:bob@example.com",
            "--role",
            "roles/iam.serviceAccountTokenCreator",
        ],
    );
    let created = s.ok(
        "iam_service-accounts_keys_create",
        "alice",
        &[
            "iam",
            "service-accounts",
            "keys",
            "create",
            "robot-sa.json",
            "--iam-account",
            robot,
        ],
    );
    let key = created
        .stderr
        .split_once("created key [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(k, _)| k.to_owned())
        .unwrap();
    s.ok(
        "iam_service-accounts_keys_list",
        "alice",
        &[
            "iam",
            "service-accounts",
            "keys",
            "list",
            "--iam-account",
            robot,
        ],
    );
    s.ok(
        "auth_activate-service-account",
        "robot",
        &[
            "auth",
            "activate-service-account",
            "--key-file",
            &s.work().join("robot-sa.json").display().to_string(),
        ],
    );
    s.step(
        "run_services_list",
        "robot",
        &[
            "run",
            "services",
            "list",
            "--project",
            "demo-project",
            "--region",
            "us-central1",
        ],
        1,
    );
    s.ok(
        "iam_service-accounts_keys_delete",
        "alice",
        &[
            "iam",
            "service-accounts",
            "keys",
            "delete",
            &key,
            "--iam-account",
            robot,
            "--quiet",
        ],
    );
    s.ok(
        "iam_service-accounts_delete",
        "alice",
        &["iam", "service-accounts", "delete", robot, "--quiet"],
    );
    s.ok(
        "iam_roles_describe",
        "alice",
        &["iam", "roles", "describe", "roles/run.invoker"],
    );
    s.ok(
        "iam_roles_create",
        "alice",
        &[
            "iam",
            "roles",
            "create",
            "invokerLite",
            "--project",
            "demo-project",
            "--title",
            "Invoker lite",
            "--permissions",
            "run.routes.invoke",
            "--stage",
            "GA",
        ],
    );
    s.ok(
        "iam_roles_update",
        "alice",
        &[
            "iam",
            "roles",
            "update",
            "invokerLite",
            "--project",
            "demo-project",
            "--add-permissions",
            "run.services.get",
        ],
    );
    s.ok(
        "iam_roles_list",
        "alice",
        &["iam", "roles", "list", "--project", "demo-project"],
    );
    s.ok(
        "iam_roles_delete",
        "alice",
        &[
            "iam",
            "roles",
            "delete",
            "invokerLite",
            "--project",
            "demo-project",
        ],
    );
    s.ok(
        "iam_troubleshoot",
        "alice",
        &[
            "iam",
            "troubleshoot",
            "--principal",
            "bob@example.com",
            "--permission",
            "run.routes.invoke",
            "--service",
            "hello",
        ],
    );
    s.ok(
        "iam_troubleshoot",
        "alice",
        &[
            "iam",
            "troubleshoot",
            "--principal",
            "alice@example.com",
            "--permission",
            "run.services.get",
            "--service",
            "hello",
        ],
    );

    s.ok(
        "policy-intelligence_troubleshoot-policy_iam",
        "alice",
        &[
            "policy-intelligence",
            "troubleshoot-policy",
            "iam",
            "//cloudresourcemanager.googleapis.com/projects/demo-project",
            "--principal-email=carol@example.com",
            "--permission=run.services.get",
        ],
    );

    // --- Resource Manager.
    s.ok("projects_list", "alice", &["projects", "list"]);
    s.ok(
        "projects_describe",
        "alice",
        &["projects", "describe", "demo-project"],
    );
    s.ok(
        "projects_get-iam-policy",
        "alice",
        &["projects", "get-iam-policy", "demo-project"],
    );
    s.ok(
        "projects_add-iam-policy-binding",
        "alice",
        &[
            "projects",
            "add-iam-policy-binding",
            "demo-project",
            "--member",
            "group:devs@example.com",
            "--role",
            "roles/run.developer",
        ],
    );
    s.step(
        "projects_add-iam-policy-binding",
        "alice",
        &[
            "projects",
            "add-iam-policy-binding",
            "demo-project",
            "--member",
            "user:someone@elsewhere.test",
            "--role",
            "roles/bogus",
        ],
        1,
    );
    s.ok(
        "projects_remove-iam-policy-binding",
        "alice",
        &[
            "projects",
            "remove-iam-policy-binding",
            "demo-project",
            "--member",
            "group:devs@example.com",
            "--role",
            "roles/run.developer",
        ],
    );
    s.ok(
        "projects_create",
        "admin",
        &[
            "projects",
            "create",
            "golden-two",
            "--organization",
            &org_id,
        ],
    );
    s.ok("organizations_list", "admin", &["organizations", "list"]);
    s.ok(
        "organizations_describe",
        "admin",
        &["organizations", "describe", &org_id],
    );
    s.step(
        "organizations_get-iam-policy",
        "bob",
        &["organizations", "get-iam-policy", &org_id],
        1,
    );
    s.ok(
        "organizations_get-iam-policy",
        "admin",
        &["organizations", "get-iam-policy", &org_id],
    );
    s.quiet(
        "admin",
        &[
            "organizations",
            "add-iam-policy-binding",
            &org_id,
            "--member",
            "user:admin@example.com",
            "--role",
            "roles/resourcemanager.folderCreator",
        ],
    );
    s.ok(
        "resource-manager_folders_create",
        "admin",
        &[
            "resource-manager",
            "folders",
            "create",
            "--display-name",
            "Team",
            "--organization",
            &org_id,
        ],
    );

    // --- Org Policy v2.
    let org_policy = s.write(
        "orgpolicy.yaml",
        "name: projects/demo-project/policies/iam.allowedPolicyMemberDomains\nspec:\n  rules:\n  - values:\n      allowedValues:\n      - C0xxxxxxx\n",
    );
    let org_policy_text = std::fs::read_to_string(s.work().join(&org_policy))
        .unwrap()
        .replace("C0xxxxxxx", customer.trim());
    std::fs::write(s.work().join(&org_policy), org_policy_text).unwrap();
    s.ok(
        "org-policies_set-policy",
        "admin",
        &["org-policies", "set-policy", &org_policy],
    );
    s.ok(
        "org-policies_describe",
        "alice",
        &[
            "org-policies",
            "describe",
            "iam.allowedPolicyMemberDomains",
            "--project",
            "demo-project",
        ],
    );
    s.ok(
        "org-policies_describe",
        "alice",
        &[
            "org-policies",
            "describe",
            "iam.allowedPolicyMemberDomains",
            "--project",
            "demo-project",
            "--effective",
        ],
    );
    s.ok(
        "org-policies_list",
        "alice",
        &["org-policies", "list", "--project", "demo-project"],
    );
    s.ok(
        "org-policies_reset",
        "admin",
        &[
            "org-policies",
            "reset",
            "iam.allowedPolicyMemberDomains",
            "--project",
            "demo-project",
        ],
    );

    // --- IAP on `web` (seed 003).
    s.ok(
        "run_services_update",
        "alice",
        &["run", "services", "update", "web", "--iap"],
    );
    s.ok(
        "iap_web_add-iam-policy-binding",
        "alice",
        &[
            "iap",
            "web",
            "add-iam-policy-binding",
            "--resource-type=cloud-run",
            "--region",
            "us-central1",
            "--service",
            "web",
            "--member",
            "user:bob@example.com",
            "--role",
            "roles/iap.httpsResourceAccessor",
        ],
    );
    s.ok(
        "iap_web_get-iam-policy",
        "alice",
        &[
            "iap",
            "web",
            "get-iam-policy",
            "--resource-type=cloud-run",
            "--region",
            "us-central1",
            "--service",
            "web",
        ],
    );
    s.ok(
        "iap_web_remove-iam-policy-binding",
        "alice",
        &[
            "iap",
            "web",
            "remove-iam-policy-binding",
            "--resource-type=cloud-run",
            "--region",
            "us-central1",
            "--service",
            "web",
            "--member",
            "user:bob@example.com",
            "--role",
            "roles/iap.httpsResourceAccessor",
        ],
    );
    s.ok(
        "beta_services_identity_create",
        "alice",
        &[
            "beta",
            "services",
            "identity",
            "create",
            "--service=iap.googleapis.com",
        ],
    );

    // --- Artifact Registry.
    s.ok(
        "artifacts_repositories_create",
        "alice",
        &[
            "artifacts",
            "repositories",
            "create",
            "docker-repo",
            "--repository-format=docker",
            "--location=us-central1",
            "--description=Golden images",
        ],
    );
    s.ok(
        "artifacts_repositories_list",
        "alice",
        &[
            "artifacts",
            "repositories",
            "list",
            "--location=us-central1",
        ],
    );
    s.ok(
        "artifacts_repositories_add-iam-policy-binding",
        "alice",
        &[
            "artifacts",
            "repositories",
            "add-iam-policy-binding",
            "docker-repo",
            "--location=us-central1",
            "--member",
            "user:bob@example.com",
            "--role",
            "roles/artifactregistry.reader",
        ],
    );
    // `docker push` stands in as Kumo's push extension.
    let (status, body) = http(
        s.server.port,
        "POST",
        "/kumo/v1/projects/demo-project/locations/us-central1/repositories/docker-repo/dockerImages",
        Some(&token),
        &format!(
            r#"{{"uri": "us-central1-docker.pkg.dev/demo-project/docker-repo/app@{DIGEST}", "tags": ["latest", "v1"], "imageSizeBytes": "1024"}}"#
        ),
    );
    assert_eq!(status, 200, "push: {body}");
    s.ok(
        "artifacts_docker_images_list",
        "alice",
        &[
            "artifacts",
            "docker",
            "images",
            "list",
            "us-central1-docker.pkg.dev/demo-project/docker-repo",
        ],
    );

    // --- Logging: the audit entry of web's first IAM change.
    s.ok(
        "logging_read",
        "alice",
        &[
            "logging",
            "read",
            "protoPayload.methodName=\"google.cloud.run.v1.Services.SetIamPolicy\" AND protoPayload.resourceName:\"services/web\"",
            "--limit",
            "1",
            "--order",
            "asc",
        ],
    );

    // --- Application Default Credentials (in the config dir, as KUMO_CONFIG places them).
    s.ok(
        "auth_application-default_login",
        "carol",
        &[
            "auth",
            "application-default",
            "login",
            "--account",
            "carol@example.com",
        ],
    );
    s.ok(
        "auth_application-default_print-access-token",
        "carol",
        &["auth", "application-default", "print-access-token"],
    );
    s.ok(
        "auth_application-default_revoke",
        "carol",
        &["auth", "application-default", "revoke"],
    );
    s.step(
        "auth_application-default_print-access-token",
        "carol",
        &["auth", "application-default", "print-access-token"],
        1,
    );
    s.ok("config_unset", "alice", &["config", "unset", "run/region"]);
    s.step(
        "run_services_describe",
        "alice",
        &["run", "services", "describe", "hello"],
        1,
    );

    // --- Revoking: bob's credentials go; the next call says how to sign in again.
    s.ok("auth_revoke", "bob", &["auth", "revoke"]);
    s.step("run_services_list", "bob", &["run", "services", "list"], 1);

    let elapsed = started.elapsed();
    eprintln!("cli_golden: {} files in {elapsed:?}", s.goldens.len());
    let missing: Vec<&&str> = REQUIRED
        .iter()
        .filter(|r| !s.goldens.contains_key(**r))
        .collect();
    assert!(
        missing.is_empty(),
        "commands without a golden transcript: {missing:?}"
    );
    check(&s.goldens);
}
