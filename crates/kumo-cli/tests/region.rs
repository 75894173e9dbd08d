//! The region prompt gcloud shows when neither `--region` nor `run/region` names one, and the
//! error it prints when it cannot ask.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a broken fixture must fail the test loudly"
)]

mod fake;

use fake::{Cli, Fake, ok};
use serde_json::json;

const LOCATIONS: &str = "/v1/projects/demo-project/locations";

fn no_region_cli(fake: &Fake, tty: bool) -> Cli {
    let dir = fake::config_dir(
        json!({"core/project": "demo-project", "core/account": "alice@example.com"}),
    );
    let mut cli = Cli::with_dir(fake, dir);
    cli.env.stdin_is_tty = tty;
    fake.on(
        "GET",
        LOCATIONS,
        // Unsorted on the wire: gcloud sorts the location ids itself.
        vec![ok(json!({"locations": [
            {"name": "projects/demo-project/locations/us-central1", "locationId": "us-central1"},
            {"name": "projects/demo-project/locations/asia-northeast1", "locationId": "asia-northeast1"},
            {"name": "projects/demo-project/locations/europe-west1", "locationId": "europe-west1"}
        ]}))],
    );
    fake.on(
        "GET",
        "/v1/projects/demo-project/locations/europe-west1/services/hello",
        vec![ok(json!({"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "hello"}}))],
    );
    cli
}

const MENU: &str = "\
Please specify a region:
 [1] asia-northeast1
 [2] europe-west1
 [3] us-central1
 [4] cancel
Please enter numeric choice or text value (must exactly match list item):  ";

#[test]
fn a_terminal_gets_gcloud_numbered_region_prompt() {
    let fake = Fake::start();
    let cli = no_region_cli(&fake, true);
    let o = cli.run_with("run services describe hello --format json", "2\n");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stderr,
        format!(
            "{MENU}\nTo make this the default region, run `kumo config set run/region europe-west1`.\n\n"
        )
    );
    assert_eq!(
        fake.lines(),
        [
            format!("GET {LOCATIONS}"),
            "GET /v1/projects/demo-project/locations/europe-west1/services/hello".to_owned()
        ]
    );
    assert!(
        fake.find("GET", LOCATIONS)
            .target
            .ends_with("?pageSize=100"),
        "gcloud asks for up to 100 locations"
    );
}

#[test]
fn a_region_name_is_accepted_and_bad_answers_are_asked_again() {
    let fake = Fake::start();
    let cli = no_region_cli(&fake, true);
    let o = cli.run_with(
        "gcloud run services describe hello --format json",
        "9\nmars-north1\neurope-west1\n",
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let again = "Please enter a value between 1 and 4, or a value present in the list:  ";
    assert_eq!(
        o.stderr,
        format!(
            "{MENU}{again}{again}\nTo make this the default region, run `gcloud config set run/region europe-west1`.\n\n"
        )
    );
}

#[test]
fn cancel_aborts() {
    let fake = Fake::start();
    let cli = no_region_cli(&fake, true);
    let o = cli.run_with("run services describe hello", "4\n");
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        format!("{MENU}ERROR: (kumo.run.services.describe) Aborted by user.\n")
    );
    assert_eq!(fake.lines(), [format!("GET {LOCATIONS}")]);
}

#[test]
fn without_a_terminal_or_with_quiet_it_is_gcloud_error() {
    let expected = "ERROR: (kumo.run.deploy) You must specify a region. Either use the `--region` flag or set the run/region property.\n";
    let fake = Fake::start();
    let o = no_region_cli(&fake, false).run("run deploy hello --image img");
    assert_eq!((o.code, o.stderr.as_str()), (1, expected));
    let o = no_region_cli(&fake, true).run("run deploy hello --image img --quiet");
    assert_eq!((o.code, o.stderr.as_str()), (1, expected));
    assert!(fake.requests().is_empty(), "{:?}", fake.lines());
}

#[test]
fn the_flag_and_the_property_win_over_the_prompt() {
    let fake = Fake::start();
    let cli = no_region_cli(&fake, true);
    let o = cli.run("run services describe hello --region europe-west1 --format json");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stderr, "");
    let mut cli = no_region_cli(&fake, true);
    cli.env
        .overrides
        .insert("run/region".to_owned(), "europe-west1".to_owned());
    let o = cli.run("run services describe hello --format json");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!fake.lines().iter().any(|l| l.ends_with("/locations")));
}

#[test]
fn deploy_asks_for_the_region_before_the_invoker_question() {
    let fake = Fake::start();
    let cli = no_region_cli(&fake, true);
    let svc = "/v1/projects/demo-project/locations/europe-west1/services/web";
    let ready = json!({
        "apiVersion": "serving.knative.dev/v1", "kind": "Service",
        "metadata": {"name": "web", "generation": 1, "labels": {"cloud.googleapis.com/location": "europe-west1"}},
        "status": {"observedGeneration": 1, "url": "http://web.example", "latestReadyRevisionName": "web-00001-abc",
                   "traffic": [{"revisionName": "web-00001-abc", "percent": 100}],
                   "conditions": [{"type": "Ready", "status": "True"}]}
    });
    fake.on(
        "GET",
        svc,
        vec![fake::err(404, "NOT_FOUND", "not found"), ok(ready.clone())],
    );
    fake.on(
        "POST",
        "/apis/serving.knative.dev/v1/namespaces/demo-project/services",
        vec![ok(ready)],
    );
    let o = cli.run_with("run deploy web --image img", "europe-west1\nn\n");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.starts_with(&format!(
            "{MENU}\nTo make this the default region, run `kumo config set run/region europe-west1`.\n\nAllow unauthenticated invocations to [web] (y/N)?  Deploying container to Cloud Run service [web] in project [demo-project] region [europe-west1]\n"
        )),
        "{}",
        o.stderr
    );
    let create = fake.find(
        "POST",
        "/apis/serving.knative.dev/v1/namespaces/demo-project/services",
    );
    assert_eq!(
        create.json()["metadata"]["labels"]["cloud.googleapis.com/location"],
        "europe-west1"
    );
}
