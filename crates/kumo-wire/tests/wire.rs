//! Golden round trips, unknown-field rejection, integer enums and v1<->v2 conversion.
//! Provenance of every golden file: tests/golden/PROVENANCE.md.

use kumo_wire::artifact_registry::Repository;
use kumo_wire::iam::Policy;
use kumo_wire::iam_admin::{ServiceAccount, ServiceAccountKey};
use kumo_wire::iam_credentials::{GenerateAccessTokenResponse, GenerateIdTokenRequest};
use kumo_wire::logging::LogEntry;
use kumo_wire::longrunning::Operation;
use kumo_wire::orgpolicy_v1::OrgPolicy;
use kumo_wire::orgpolicy_v2;
use kumo_wire::protobuf::{self, Duration};
use kumo_wire::resource_manager::Project;
use kumo_wire::rpc::{Code, ErrorDetail, ErrorEnvelope, ErrorInfo};
use kumo_wire::{run_v1, run_v2};
use serde::Serialize;
use serde::de::DeserializeOwned;

#[expect(
    clippy::unwrap_used,
    reason = "test helper: a missing golden file should fail the test"
)]
fn golden(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/golden/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[expect(
    clippy::unwrap_used,
    reason = "test helper: a parse failure should fail the test"
)]
fn round_trip<T: DeserializeOwned + Serialize>(name: &str) {
    let text = golden(name);
    let original: serde_json::Value = serde_json::from_str(&text).unwrap();
    let typed: T = serde_json::from_str(&text).unwrap();
    let again = serde_json::to_value(&typed).unwrap();
    assert_eq!(original, again, "{name} did not round-trip");
}

#[test]
fn golden_json_round_trips_unchanged() {
    round_trip::<run_v2::Service>("run_v2_service.json");
    round_trip::<Operation>("operation_run_v2.json");
    round_trip::<Operation>("operation_failed.json");
    round_trip::<ErrorEnvelope>("error_permission_denied.json");
    round_trip::<Policy>("iam_policy.json");
    round_trip::<GenerateAccessTokenResponse>("iam_credentials_generate_access_token.json");
    round_trip::<GenerateIdTokenRequest>("iam_credentials_generate_id_token_request.json");
    round_trip::<ServiceAccount>("iam_admin_service_account.json");
    round_trip::<ServiceAccountKey>("iam_admin_service_account_key.json");
    round_trip::<Project>("resource_manager_project.json");
    round_trip::<orgpolicy_v2::Policy>("orgpolicy_v2_policy.json");
    round_trip::<OrgPolicy>("orgpolicy_v1_policy.json");
    round_trip::<LogEntry>("logging_log_entry.json");
    round_trip::<Repository>("artifact_registry_repository.json");
}

#[test]
fn orgpolicy_rule_keeps_explicit_enforce_false() {
    let p: orgpolicy_v2::Policy =
        serde_json::from_str(&golden("orgpolicy_v2_policy.json")).unwrap();
    let rules = &p.spec.as_ref().unwrap().rules;
    assert_eq!(
        (rules[0].enforce, rules[1].enforce),
        (Some(true), Some(false))
    );
}

#[test]
fn other_api_enums_accept_integers() {
    let k: ServiceAccountKey =
        serde_json::from_str(r#"{"privateKeyType": 2, "keyAlgorithm": 2, "keyType": 1}"#).unwrap();
    assert_eq!(
        k.private_key_type,
        Some(kumo_wire::iam_admin::ServiceAccountPrivateKeyType::GoogleCredentialsFile)
    );
    let e: LogEntry = serde_json::from_str(r#"{"severity": 400}"#).unwrap();
    assert_eq!(serde_json::to_value(&e).unwrap()["severity"], "WARNING");
    let p: Project = serde_json::from_str(r#"{"state": 2}"#).unwrap();
    assert_eq!(
        serde_json::to_value(&p).unwrap()["state"],
        "DELETE_REQUESTED"
    );
}

#[test]
fn int64_fields_are_strings_out_and_accept_numbers_in() {
    let s: run_v2::Service =
        serde_json::from_str(r#"{"generation": 7, "observedGeneration": "8"}"#).unwrap();
    assert_eq!((s.generation, s.observed_generation), (Some(7), Some(8)));
    let out = serde_json::to_value(&s).unwrap();
    assert_eq!(out["generation"], "7");
    assert_eq!(out["observedGeneration"], "8");
    assert!(serde_json::from_str::<run_v2::Service>(r#"{"generation": "x"}"#).is_err());
}

#[test]
fn enums_accept_integers_and_names_and_serialize_names() {
    // Bodies seen from GAPIC clients with enum-encoding=int (real-clients.md §1.1).
    let s: run_v2::Service = serde_json::from_str(
        r#"{"ingress": 2, "launchStage": 4, "traffic": [{"type": 1}], "terminalCondition": {"state": 4}}"#,
    )
    .unwrap();
    assert_eq!(s.ingress, Some(run_v2::IngressTraffic::InternalOnly));
    assert_eq!(s.launch_stage, Some(run_v2::LaunchStage::Ga));
    let out = serde_json::to_value(&s).unwrap();
    assert_eq!(out["ingress"], "INGRESS_TRAFFIC_INTERNAL_ONLY");
    assert_eq!(out["launchStage"], "GA");
    assert_eq!(
        out["traffic"][0]["type"],
        "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
    );
    assert_eq!(out["terminalCondition"]["state"], "CONDITION_SUCCEEDED");
    let cases = [
        (
            r#"{"ingress": "INGRESS_TRAFFIC_NONE"}"#,
            Some(run_v2::IngressTraffic::None),
        ),
        (
            r#"{"ingress": 0}"#,
            Some(run_v2::IngressTraffic::Unspecified),
        ),
        (
            r#"{"ingress": 3}"#,
            Some(run_v2::IngressTraffic::InternalLoadBalancer),
        ),
    ];
    for (body, want) in cases {
        assert_eq!(
            serde_json::from_str::<run_v2::Service>(body)
                .unwrap()
                .ingress,
            want,
            "{body}"
        );
    }
    for bad in [
        r#"{"ingress": 99}"#,
        r#"{"ingress": "ALL"}"#,
        r#"{"ingress": -1}"#,
    ] {
        assert!(
            serde_json::from_str::<run_v2::Service>(bad).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn code_http_mapping() {
    let cases = [
        (Code::InvalidArgument, 400),
        (Code::FailedPrecondition, 400),
        (Code::PermissionDenied, 403),
        (Code::Unauthenticated, 401),
        (Code::NotFound, 404),
        (Code::AlreadyExists, 409),
        (Code::Aborted, 409),
        (Code::ResourceExhausted, 429),
        (Code::Unimplemented, 501),
        (Code::Internal, 500),
        (Code::Unavailable, 503),
        (Code::DeadlineExceeded, 504),
    ];
    for (code, http) in cases {
        assert_eq!(code.http_status(), http, "{code}");
    }
}

#[test]
fn error_envelope_built_from_typed_detail_matches_golden() {
    let detail = ErrorDetail::ErrorInfo(ErrorInfo {
        reason: "IAM_PERMISSION_DENIED".into(),
        domain: "iam.googleapis.com".into(),
        metadata: [("permission".to_owned(), "run.services.get".to_owned())].into(),
    });
    let env = ErrorEnvelope::new(
        Code::PermissionDenied,
        "Permission 'run.services.get' denied on resource 'projects/my-project/locations/us-central1/services/hello' (or resource may not exist).",
        vec![detail.to_any().unwrap()],
    );
    let want: serde_json::Value =
        serde_json::from_str(&golden("error_permission_denied.json")).unwrap();
    assert_eq!(serde_json::to_value(&env).unwrap(), want);
}

#[test]
fn unknown_fields_are_rejected_with_googles_message() {
    let cases = [
        (
            "service",
            r#"{"foo": 1}"#,
            r#"Invalid JSON payload received. Unknown name "foo" at 'service': Cannot find field."#,
        ),
        (
            "service",
            r#"{"template": {"containers": [{"image": "x", "bogus": true}]}}"#,
            r#"Invalid JSON payload received. Unknown name "bogus" at 'service.template.containers[0]': Cannot find field."#,
        ),
        (
            "",
            r#"{"x": 1}"#,
            r#"Invalid JSON payload received. Unknown name "x": Cannot find field."#,
        ),
    ];
    for (root, body, want) in cases {
        let err = protobuf::from_json_slice::<run_v2::Service>(root, body.as_bytes()).unwrap_err();
        assert_eq!(err.message, want);
    }
    let err = protobuf::from_json_slice::<run_v2::Service>("service", br#"{"ingress": "NOPE"}"#)
        .unwrap_err();
    assert!(
        err.message
            .starts_with("Invalid JSON payload received. Invalid value at 'service.ingress'"),
        "{}",
        err.message
    );
    // Output-only fields sent back on update are accepted (real-clients.md §1.1).
    let golden_body = golden("run_v2_service.json");
    assert!(
        protobuf::from_json_slice::<run_v2::Service>("service", golden_body.as_bytes()).is_ok()
    );
}

#[test]
fn durations_and_timestamps() {
    let cases = [
        ("3.5s", 3, 500_000_000, "3.500s"),
        ("300s", 300, 0, "300s"),
        ("-0.000001s", 0, -1000, "-0.000001s"),
        ("1.000000001s", 1, 1, "1.000000001s"),
    ];
    for (text, secs, nanos, formatted) in cases {
        let d = Duration::parse(text).unwrap();
        assert_eq!((d.seconds, d.nanos), (secs, nanos), "{text}");
        assert_eq!(d.format(), formatted);
    }
    for bad in [
        "",
        "s",
        "3",
        "1.2.3s",
        "1.0000000001s",
        "abc s",
        "-s",
        "999999999999999s",
    ] {
        assert!(Duration::parse(bad).is_err(), "{bad}");
    }
    let t = protobuf::parse_timestamp("2030-01-01T00:00:00.123456+09:00").unwrap();
    assert_eq!(
        protobuf::format_timestamp(&t),
        "2029-12-31T15:00:00.123456Z"
    );
    assert_eq!(protobuf::format_timestamp_secs(&t), "2029-12-31T15:00:00Z");
    assert!(protobuf::parse_timestamp("yesterday").is_err());
    assert_eq!(
        protobuf::parse_field_mask("bindings, etag,,a.b"),
        ["bindings", "etag", "a.b"]
    );
}

#[test]
fn seed000_yaml_bare_true_annotation_converts_to_invoker_iam_disabled() {
    let v1: run_v1::Service = serde_yaml::from_str(&golden("seed000_service.yaml")).unwrap();
    assert_eq!(
        v1.metadata.annotations[run_v1::ANN_INVOKER_IAM_DISABLED],
        "true"
    );
    let v2 = run_v1::service_to_v2(&v1, "projects/my-project/locations/us-central1").unwrap();
    assert!(v2.invoker_iam_disabled);
    assert!(v2.annotations.is_empty());
    assert_eq!(
        v2.name,
        "projects/my-project/locations/us-central1/services/hello"
    );
    let back = run_v1::service_from_v2(&v2, "123456789012");
    assert_eq!(
        back.metadata.annotations[run_v1::ANN_INVOKER_IAM_DISABLED],
        "true"
    );
    assert_eq!(back.metadata.labels[run_v1::LOCATION_LABEL], "us-central1");
    assert_eq!(
        run_v1::service_to_v2(&back, "projects/my-project/locations/us-central1").unwrap(),
        v2
    );
}

#[test]
fn seed004_job_yaml_service_account_round_trips() {
    let v1: run_v1::Job = serde_yaml::from_str(&golden("seed004_job.yaml")).unwrap();
    let v2 = run_v1::job_to_v2(&v1, "projects/my-project/locations/us-central1").unwrap();
    let task = v2
        .template
        .as_ref()
        .and_then(|t| t.template.as_ref())
        .unwrap();
    assert_eq!(
        task.service_account,
        "runner@my-project.iam.gserviceaccount.com"
    );
    let back = run_v1::job_from_v2(&v2, "123456789012");
    assert_eq!(back.api_version, "run.googleapis.com/v1");
    let sa = &back
        .spec
        .as_ref()
        .unwrap()
        .template
        .as_ref()
        .unwrap()
        .spec
        .as_ref()
        .unwrap()
        .template
        .as_ref()
        .unwrap()
        .spec
        .as_ref()
        .unwrap()
        .service_account_name;
    assert_eq!(sa, "runner@my-project.iam.gserviceaccount.com");
    assert_eq!(
        run_v1::job_to_v2(&back, "projects/my-project/locations/us-central1").unwrap(),
        v2
    );
}

#[test]
fn full_service_v2_to_v1_and_back_keeps_desired_state() {
    let v2: run_v2::Service = serde_json::from_str(&golden("run_v2_service.json")).unwrap();
    let v1 = run_v1::service_from_v2(&v2, "123456789012");
    let ann = &v1.metadata.annotations;
    assert_eq!(ann[run_v1::ANN_INGRESS], "all");
    assert_eq!(
        ann[run_v1::ANN_CUSTOM_AUDIENCES],
        r#"["https://audience.example.com"]"#
    );
    assert_eq!(ann[run_v1::ANN_CREATOR], "alice@example.com");
    let spec = v1
        .spec
        .as_ref()
        .unwrap()
        .template
        .as_ref()
        .unwrap()
        .spec
        .as_ref()
        .unwrap();
    assert_eq!(spec.timeout_seconds, Some(300));
    assert_eq!(spec.container_concurrency, Some(80));
    assert_eq!(v1.status.as_ref().unwrap().conditions[0].status, "True");
    // Through YAML as gcloud export/replace would.
    let yaml = serde_yaml::to_string(&v1).unwrap();
    let reread: run_v1::Service = serde_yaml::from_str(&yaml).unwrap();
    let v2b = run_v1::service_to_v2(&reread, "projects/my-project/locations/us-central1").unwrap();
    let t = v2b.template.as_ref().unwrap();
    assert_eq!(v2b.ingress, Some(run_v2::IngressTraffic::All));
    assert!(v2b.invoker_iam_disabled);
    assert_eq!(v2b.custom_audiences, v2.custom_audiences);
    assert_eq!(t.scaling, v2.template.as_ref().unwrap().scaling);
    assert_eq!(
        t.service_account,
        "runner@my-project.iam.gserviceaccount.com"
    );
    assert_eq!(t.timeout.as_deref(), Some("300s"));
    assert_eq!(
        t.containers[0].env,
        v2.template.as_ref().unwrap().containers[0].env
    );
    assert_eq!(v2b.traffic, v2.traffic);
    assert_eq!(v2b.labels, v2.labels);
}

#[test]
fn v1_conversion_reports_bad_annotations() {
    let yaml = r#"
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello
  annotations:
    run.googleapis.com/ingress: sideways
    run.googleapis.com/invoker-iam-disabled: "maybe"
    run.googleapis.com/made-up: "x"
    user.example.com/note: kept
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/maxScale: "-3"
"#;
    let v1: run_v1::Service = serde_yaml::from_str(yaml).unwrap();
    let errs = run_v1::service_to_v2(&v1, "projects/p/locations/l").unwrap_err();
    let fields: Vec<&str> = errs.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "metadata.annotations[run.googleapis.com/ingress]",
            "metadata.annotations[run.googleapis.com/invoker-iam-disabled]",
            "metadata.annotations[run.googleapis.com/made-up]",
            "spec.template.metadata.annotations[autoscaling.knative.dev/maxScale]",
        ]
    );
}

#[test]
fn v1_rejects_unknown_fields() {
    let yaml = "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  bogus: 1\n";
    assert!(serde_yaml::from_str::<run_v1::Service>(yaml).is_err());
}

#[test]
fn gcloud_export_yaml_replaces_cleanly() {
    let v1: run_v1::Service = serde_yaml::from_str(&golden("gcloud_export_service.yaml")).unwrap();
    let v2 = run_v1::service_to_v2(&v1, "projects/my-project/locations/us-central1").unwrap();
    assert_eq!(
        v2.ingress,
        Some(run_v2::IngressTraffic::InternalLoadBalancer)
    );
    assert!(v2.invoker_iam_disabled);
    assert_eq!(v2.custom_audiences, ["https://audience.com"]);
    assert_eq!(v2.client, "gcloud");
    assert!(v2.annotations.is_empty(), "{:?}", v2.annotations);
    assert!(v2.labels.is_empty());
    let t = v2.template.as_ref().unwrap();
    assert!(t.annotations.is_empty(), "{:?}", t.annotations);
    assert_eq!(t.labels["client.knative.dev/nonce"], "abcdefgh");
    assert_eq!(t.scaling.as_ref().unwrap().max_instance_count, Some(100));
    assert_eq!(t.max_instance_request_concurrency, Some(80));
    let c = &t.containers[0];
    let r = c.resources.as_ref().unwrap();
    assert!(!r.cpu_idle && r.startup_cpu_boost);
    assert_eq!(
        c.startup_probe
            .as_ref()
            .unwrap()
            .tcp_socket
            .as_ref()
            .unwrap()
            .port,
        Some(8080)
    );
    // v2 -> v1 -> v2 is stable.
    let again = run_v1::service_to_v2(
        &run_v1::service_from_v2(&v2, "123456789012"),
        "projects/my-project/locations/us-central1",
    )
    .unwrap();
    assert_eq!(again, v2);
}

#[test]
fn gcloud_python_bool_annotations_are_accepted() {
    // gcloud's CpuThrottlingChange / StartupCpuBoostChange write str(bool): 'False' / 'True'.
    let yaml = "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  template:\n    metadata:\n      annotations:\n        run.googleapis.com/cpu-throttling: 'False'\n        run.googleapis.com/startup-cpu-boost: 'True'\n    spec:\n      containers:\n      - image: img\n        resources:\n          limits:\n            cpu: '1'\n            memory: 512Mi\n";
    let v1: run_v1::Service = serde_yaml::from_str(yaml).unwrap();
    let v2 = run_v1::service_to_v2(&v1, "projects/p/locations/us-central1").unwrap();
    let r = v2.template.unwrap().containers[0]
        .resources
        .clone()
        .unwrap();
    assert!(!r.cpu_idle);
    assert!(r.startup_cpu_boost);
    let bad = yaml.replace("'False'", "'maybe'");
    let v1: run_v1::Service = serde_yaml::from_str(&bad).unwrap();
    assert!(run_v1::service_to_v2(&v1, "projects/p/locations/us-central1").is_err());
}
