use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn run_entry() -> Value {
    json!({
        "logName": "projects/p/logs/run.googleapis.com%2Fstderr",
        "severity": "ERROR",
        "resource": {"type": "cloud_run_revision",
            "labels": {"service_name": "hello", "location": "asia-northeast1"}},
        "timestamp": "2026-01-01T00:00:00Z",
        "insertId": "abc123",
        "httpRequest": {"status": 500, "remoteIp": "10.1.2.3", "requestUrl": "https://hello.run.app/api/v1?x=1"},
        "labels": {"run.googleapis.com/x": "v", "instanceId": "00f1"},
        "textPayload": "Boom happened in handler 42",
    })
}

fn audit_entry() -> Value {
    json!({
        "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
        "severity": "NOTICE",
        "timestamp": "2026-01-02T03:04:05.123456789Z",
        "resource": {"type": "project", "labels": {"project_id": "p"}},
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "methodName": "SetIamPolicy",
            "serviceName": "cloudresourcemanager.googleapis.com",
            "authenticationInfo": {"principalEmail": "alice@example.com"},
            "authorizationInfo": [
                {"permission": "resourcemanager.projects.setIamPolicy", "granted": true,
                 "resource": "projects/p"},
                {"permission": "resourcemanager.projects.get", "granted": false,
                 "resource": "projects/p"}
            ],
            "status": {},
            "request": {"@type": "type.googleapis.com/google.iam.v1.SetIamPolicyRequest",
                "policy": {"bindings": [{"role": "roles/run.invoker", "members": ["user:bob@example.com"]}]}}
        }
    })
}

fn app_entry() -> Value {
    json!({
        "logName": "folders/42/logs/my-app",
        "severity": "WARNING",
        "timestamp": "2025-12-31T23:59:59Z",
        "jsonPayload": {"my.field": "Hello World", "n": 10, "ok": true,
            "cat": "shorthair", "animal": "a nice pet", "path": "C:\\temp\\x", "quote": "say \"hi\""},
    })
}

/// One row per operator and feature of the language: (query, entry, expected match).
#[test]
fn table() {
    let run = run_entry();
    let audit = audit_entry();
    let app = app_entry();
    let cases: &[(&str, &Value, bool)] = &[
        // empty and comments
        ("", &run, true),
        ("-- only a comment", &run, true),
        ("severity=ERROR -- trailing comment", &run, true),
        // = and != (case-insensitive strings)
        ("resource.type = \"cloud_run_revision\"", &run, true),
        ("resource.type = \"CLOUD_RUN_REVISION\"", &run, true),
        ("resource.type = gce_instance", &run, false),
        ("resource.labels.service_name != hello", &run, false),
        ("resource.labels.service_name != other", &run, true),
        ("jsonPayload.missing != 1", &app, false),
        // ordering: numbers, severities, timestamps
        ("httpRequest.status >= 500", &run, true),
        ("httpRequest.status > 500", &run, false),
        ("httpRequest.status < 500", &run, false),
        ("httpRequest.status <= 500", &run, true),
        ("jsonPayload.n > 9", &app, true),
        ("jsonPayload.n < -1", &app, false),
        ("severity >= WARNING", &run, true),
        ("severity >= warning", &app, true),
        ("severity < ERROR", &run, false),
        ("severity > NOTICE", &audit, false),
        ("severity >= 300", &audit, true),
        ("timestamp >= \"2025-12-31T00:00:00Z\"", &run, true),
        ("timestamp < \"2026-01-01T00:00:00Z\"", &run, false),
        ("timestamp <= \"2026-01-01T09:00:00+09:00\"", &run, true),
        ("timestamp > \"2026-01-02T03:04:05.123Z\"", &audit, true),
        // : has, on scalars, structs, arrays and presence
        ("textPayload:boom", &run, true),
        ("textPayload:\"HANDLER 42\"", &run, true),
        ("textPayload:robot", &run, false),
        ("textPayload:*", &run, true),
        ("jsonPayload:*", &run, false),
        ("resource.labels:asia", &run, true),
        ("labels.\"run.googleapis.com/x\":*", &run, true),
        ("protoPayload.methodName:\"IamPolicy\"", &audit, true),
        (
            "protoPayload.authorizationInfo:\"projects.get\"",
            &audit,
            true,
        ),
        ("jsonPayload.\"my.field\":world", &app, true),
        // nested fields and repeated fields
        (
            "protoPayload.authenticationInfo.principalEmail = alice@example.com",
            &audit,
            true,
        ),
        (
            "protoPayload.authorizationInfo.permission=\"resourcemanager.projects.setIamPolicy\"",
            &audit,
            true,
        ),
        ("protoPayload.authorizationInfo.granted=false", &audit, true),
        (
            "protoPayload.request.policy.bindings.members:\"bob@\"",
            &audit,
            true,
        ),
        (
            "protoPayload.\"@type\" = \"type.googleapis.com/google.cloud.audit.AuditLog\"",
            &audit,
            true,
        ),
        ("jsonPayload.ok = true", &app, true),
        // regular expressions: unanchored, case-sensitive, RE2
        ("textPayload =~ \"handler \\d+$\"", &run, true),
        ("textPayload =~ \"^boom\"", &run, false),
        ("textPayload =~ \"(?i)^boom\"", &run, true),
        ("textPayload !~ \"robot|android\"", &run, true),
        ("textPayload !~ \"Boom\"", &run, false),
        (
            "httpRequest.requestUrl =~ \"/api/v[0-9]+\\\\?\"",
            &run,
            true,
        ),
        ("resource.labels.location =~ \"^asia-\"", &run, true),
        ("jsonPayload.missing !~ \"x\"", &app, false),
        ("protoPayload.methodName =~ \"^SetIam\"", &audit, true),
        // boolean operators, NOT and -
        (
            "severity=ERROR AND resource.type=cloud_run_revision",
            &run,
            true,
        ),
        (
            "severity=INFO OR severity=ERROR httpRequest.status=500",
            &run,
            true,
        ),
        ("NOT httpRequest.status = 200", &run, true),
        ("-textPayload:boom", &run, false),
        ("-boom", &run, false),
        ("NOT (severity=ERROR OR severity=INFO)", &run, false),
        ("not", &run, false),
        // grouped values
        (
            "resource.type = (\"gce_instance\" OR \"cloud_run_revision\")",
            &run,
            true,
        ),
        (
            "resource.type = (gce_instance OR k8s_container)",
            &run,
            false,
        ),
        (
            "jsonPayload.cat = (\"longhair\" OR \"shorthair\")",
            &app,
            true,
        ),
        ("jsonPayload.animal : (\"nice\" \"pet\")", &app, true),
        ("jsonPayload.animal : (nice AND dog)", &app, false),
        ("jsonPayload.animal : (NOT dog)", &app, true),
        ("severity = (ERROR OR CRITICAL)", &run, true),
        // global restrictions
        ("boom", &run, true),
        ("BOOM happened", &run, true),
        ("\"Boom happened\"", &run, true),
        ("\"happened boom\"", &run, false),
        ("hello.run.app", &run, true),
        ("alice@example.com", &audit, true),
        // quoted strings with escapes
        ("jsonPayload.quote = \"say \\\"hi\\\"\"", &app, true),
        ("jsonPayload.path = \"C:\\\\temp\\\\x\"", &app, true),
        ("jsonPayload.path : \"\\\\temp\"", &app, true),
        // functions
        (
            "log_id(\"cloudaudit.googleapis.com/activity\")",
            &audit,
            true,
        ),
        (
            "log_id(\"cloudaudit.googleapis.com/data_access\")",
            &audit,
            false,
        ),
        (
            "log_id(\"run.googleapis.com/stderr\") severity>=ERROR",
            &run,
            true,
        ),
        ("log_id(my-app)", &app, true),
        ("source(projects/p)", &run, true),
        ("source(projects/other)", &run, false),
        ("source(\"folders/42\")", &app, true),
        ("sample(insertId, 1)", &run, true),
        ("sample(insertId, 0)", &run, false),
        (
            "ip_in_net(httpRequest.remoteIp, \"10.1.0.0/16\")",
            &run,
            true,
        ),
        (
            "ip_in_net(httpRequest.remoteIp, \"10.2.0.0/16\")",
            &run,
            false,
        ),
        ("ip_in_net(httpRequest.remoteIp, \"0.0.0.0/0\")", &run, true),
        ("ip_in_net(httpRequest.remoteIp, \"::/0\")", &run, false),
        ("SEARCH(\"boom\")", &run, true),
        ("SEARCH(\"boo\")", &run, false),
        ("SEARCH(\"HANDLER happened\")", &run, true),
        ("SEARCH(textPayload, \"handler 42\")", &run, true),
        ("SEARCH(resource.labels, \"handler\")", &run, false),
        ("SEARCH(\"`happened in handler`\")", &run, true),
        ("SEARCH(\"`in happened`\")", &run, false),
        ("SEARCH(\"asia\")", &run, true),
    ];
    assert!(cases.len() >= 50, "{} cases", cases.len());
    for (query, entry, want) in cases {
        let filter = Filter::parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
        assert_eq!(filter.matches(entry), *want, "{query}");
        // Every query means the same after printing and re-parsing.
        let again = Filter::parse(&filter.to_string())
            .unwrap_or_else(|e| panic!("{query} -> {filter}: {e}"));
        assert_eq!(again, filter, "{query} -> {filter}");
    }
}

#[test]
fn seed_001_query_verbatim() {
    let q = "resource.type = \"cloud_run_revision\"\nseverity=ERROR\n\"User does not have access to image\"\n";
    let f = Filter::parse(q).unwrap();
    let hit = json!({"resource":{"type":"cloud_run_revision"},"severity":"ERROR",
        "protoPayload":{"status":{"code":7,"message":"User does not have access to image gcr.io/x/y."}}});
    assert!(f.matches(&hit));
    let mut miss = hit.clone();
    miss["severity"] = json!("INFO");
    assert!(!f.matches(&miss));
}

#[test]
fn precedence_or_binds_tighter_than_and() {
    // (a OR NOT b) AND (NOT c OR d) per Google's doc.
    let f = Filter::parse("a=1 OR NOT b=1 AND NOT c=1 OR d=1").unwrap();
    assert!(f.matches(&json!({"a":1,"b":1,"c":0})));
    assert!(!f.matches(&json!({"a":1,"b":1,"c":1})));
    assert_eq!(
        f.to_string(),
        "((a = \"1\" OR NOT b = \"1\") AND (NOT c = \"1\" OR d = \"1\"))"
    );
}

#[test]
fn timestamp_bounds() {
    let f = Filter::parse(
        "timestamp>=\"2026-01-01T00:00:00Z\" timestamp<\"2026-01-02T00:00:00+09:00\"",
    )
    .unwrap();
    let (lo, hi) = f.timestamp_bounds();
    assert_eq!(lo.unwrap().to_rfc3339(), "2026-01-01T00:00:00+00:00");
    assert_eq!(hi.unwrap().to_rfc3339(), "2026-01-01T15:00:00+00:00");
    // Bounds under OR or NOT say nothing about the whole query.
    let f = Filter::parse("timestamp>=\"2026-01-01T00:00:00Z\" OR severity=ERROR").unwrap();
    assert_eq!(f.timestamp_bounds(), (None, None));
}

#[test]
fn errors_carry_googles_text_and_position() {
    for (query, message) in [
        (
            "(a=1",
            "Unparseable filter: syntax error at line 1, column 5, token ''",
        ),
        (
            "a=1)",
            "Unparseable filter: syntax error at line 1, column 4, token ')'",
        ),
        (
            "a=",
            "Unparseable filter: syntax error at line 1, column 3, token ''",
        ),
        (
            "logName=projects/x:y",
            "Unparseable filter: syntax error at line 1, column 19, token ':'",
        ),
        (
            "severity=ERROR\n  AND OR x",
            "Unparseable filter: syntax error at line 2, column 7, token 'OR'",
        ),
        (
            "\"open",
            "Unparseable filter: syntax error at line 1, column 1, token '\"open'",
        ),
        (
            "a ! b",
            "Unparseable filter: syntax error at line 1, column 3, token '!'",
        ),
        (
            "foo(bar)",
            "Unparseable filter: syntax error at line 1, column 1, token 'foo'",
        ),
        (
            "x =~ \"(\"",
            "Unparseable filter: invalid regular expression \"(\": error: unclosed group",
        ),
        (
            "sample(insertId, 2)",
            "Unparseable filter: invalid arguments to sample(): the fraction `2` is not between 0 and 1",
        ),
        (
            "ip_in_net(x, \"10.0.0.0/33\")",
            "Unparseable filter: invalid arguments to ip_in_net(): `10.0.0.0/33` is not an IP network",
        ),
        (
            "source(p)",
            "Unparseable filter: invalid arguments to source(): `p` is not a resource name",
        ),
        (
            "x = (a OR)",
            "Unparseable filter: syntax error at line 1, column 10, token ')'",
        ),
    ] {
        assert_eq!(
            Filter::parse(query).map(|_| ()).unwrap_err().to_string(),
            message,
            "{query}"
        );
    }
    let deep = format!("{}a{}", "(".repeat(200), ")".repeat(200));
    assert!(Filter::parse(&deep).is_err());
}

#[test]
fn source_asks_the_hierarchy() {
    struct Tree;
    impl Hierarchy for Tree {
        fn contains(&self, resource: &str, container: &str) -> bool {
            resource == container
                || (container == "projects/p"
                    && ["folders/42", "organizations/1"].contains(&resource))
        }
    }
    let f = Filter::parse("source(folders/42)").unwrap();
    assert!(f.uses_source());
    assert!(!f.matches(&run_entry()));
    assert!(f.matches_in(&run_entry(), &Tree));
    assert!(
        !Filter::parse("source(folders/7)")
            .unwrap()
            .matches_in(&run_entry(), &Tree)
    );
    assert!(!Filter::parse("severity=ERROR").unwrap().uses_source());
}

#[test]
fn sample_is_deterministic_and_proportional() {
    let f = Filter::parse("sample(insertId, 0.25)").unwrap();
    let hits = (0..4000)
        .filter(|i| f.matches(&json!({"insertId": format!("id-{i}")})))
        .count();
    assert!((800..1200).contains(&hits), "{hits}");
    let entry = json!({"insertId": "same"});
    assert_eq!(f.matches(&entry), f.matches(&entry));
    assert!(!f.matches(&json!({})));
}

/// Filters built from the grammar, for the print/parse round trip.
fn arb_expr() -> impl Strategy<Value = Expr> {
    let segment = prop_oneof![
        "[a-zA-Z_][a-zA-Z0-9_]{0,8}",
        "[a-z./ \"\\\\-]{0,6}",
        Just("@type".to_owned()),
    ];
    let path = prop::collection::vec(segment, 1..4);
    let text = "[ -~\n\t]{0,12}";
    let op = prop_oneof![
        Just(Op::Eq),
        Just(Op::Ne),
        Just(Op::Gt),
        Just(Op::Lt),
        Just(Op::Ge),
        Just(Op::Le),
        Just(Op::Has),
    ];
    let leaf = prop_oneof![
        (path.clone(), op, text).prop_map(|(p, o, t)| Expr::Cmp(p, o, Operand::Text(t))),
        path.clone()
            .prop_map(|p| Expr::Cmp(p, Op::Has, Operand::Present)),
        (path.clone(), any::<bool>(), "[a-z0-9.^$|]{0,8}").prop_map(|(p, negated, re)| {
            let op = if negated { Op::NotRegex } else { Op::Regex };
            match compile(&re) {
                Ok(pattern) => Expr::Cmp(p, op, Operand::Pattern(pattern)),
                Err(_) => Expr::Text(re),
            }
        }),
        text.prop_map(Expr::Text),
        "[a-z./%_-]{1,12}".prop_map(Expr::LogId),
        "(projects|folders|organizations)/[a-z0-9-]{1,8}".prop_map(Expr::Source),
        (path.clone(), 0.0f64..=1.0).prop_map(|(p, f)| Expr::Sample(p, f)),
        (prop::option::of(path.clone()), "[a-z` -]{0,10}").prop_map(|(p, q)| Expr::Search(p, q)),
        (path, 0u8..=32).prop_map(|(p, prefix)| {
            let net = parse_net(&format!("10.0.0.0/{prefix}")).expect("valid net");
            Expr::IpInNet(p, net)
        }),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::Or),
            inner.prop_map(|e| Expr::Not(Box::new(e))),
        ]
    })
}

proptest! {
    #[test]
    fn never_panics(s in ".*") {
        if let Ok(filter) = Filter::parse(&s) {
            let _ = filter.matches(&run_entry());
            let _ = filter.timestamp_bounds();
        }
    }

    #[test]
    fn never_panics_on_query_shaped_text(s in "[a-z\"()=!<>~:.,* \\\\-]{0,40}|(NOT|AND|OR|log_id|sample|SEARCH|source|ip_in_net|[a-z0-9/]+|[()=:~!<>\"` ,.-])*") {
        if let Ok(filter) = Filter::parse(&s) {
            let _ = filter.matches(&audit_entry());
            // Whatever parses prints to text that parses back to the same filter.
            let printed = filter.to_string();
            prop_assert_eq!(Filter::parse(&printed), Ok(filter), "{} -> {}", s, printed);
        }
    }

    #[test]
    fn display_round_trips(expr in arb_expr()) {
        let filter = Filter(expr);
        let printed = filter.to_string();
        prop_assert_eq!(Filter::parse(&printed), Ok(filter), "{}", printed);
    }
}
