use serde_json::{Value, json};

use super::*;

fn project() -> Value {
    json!({
        "projectId": "demo-project",
        "name": "Demo Project",
        "projectNumber": "100000007919",
        "lifecycleState": "ACTIVE",
        "createTime": "2026-01-02T03:04:05.000Z",
        "labels": {"env": "prod", "team": "Blue"},
        "parent": {"type": "organization", "id": "1234"},
        "tags": ["alpha", "beta"],
        "count": 3,
        "enabled": true,
        "_hidden": "secret-word"
    })
}

const PROJECT_KEYS: Keys = Keys {
    labels: &[
        ("PROJECT_ID", "projectId"),
        ("PROJECT_NUMBER", "projectNumber"),
    ],
    attrs: &[],
};

/// Filters evaluated as gcloud's `resource_filter` evaluates them.
#[test]
fn filter_table() {
    let cases: &[(&str, bool)] = &[
        // Global restriction: any value contains the word, case-insensitively.
        ("demo-project", true),
        ("DEMO", true),
        ("100000007919", true),
        ("0000079", true),
        ("blue", true),
        ("secret-word", false),
        ("other-project", false),
        ("'Demo Project'", true),
        // `=`: the whole value, case-insensitively; numbers numerically.
        ("projectId=demo-project", true),
        ("projectId=DEMO-PROJECT", true),
        ("projectId=demo", false),
        ("project_id=demo-project", true),
        ("PROJECT_ID=demo-project", true),
        ("projectNumber=100000007919", true),
        ("PROJECT_NUMBER=100000007919", true),
        ("projectNumber=100000007919.0", true),
        ("name='Demo Project'", true),
        ("name=\"Demo Project\"", true),
        ("labels.env=prod", true),
        ("labels.env=dev", false),
        ("labels=prod", true),
        ("labels=env", true),
        ("tags=beta", true),
        ("tags=gamma", false),
        ("projectId=(other, demo-project)", true),
        ("projectId=(other,third)", false),
        ("missing=''", true),
        ("missing=null", true),
        ("enabled=true", true),
        ("enabled=false", false),
        ("count=3", true),
        // `:`: substring, `*` patterns.
        ("projectId:demo", true),
        ("projectId:PROJ", true),
        ("projectId:demo*", true),
        ("projectId:*project", true),
        ("projectId:d*t", true),
        ("projectId:x*", false),
        ("projectId:*", true),
        ("missing:*", false),
        ("labels:team", true),
        ("parent.type:organization", true),
        ("projectNumber:1000", true),
        ("tags:(gamma, alp)", true),
        // `!=`
        ("projectId!=demo-project", false),
        ("projectId!=other", true),
        ("tags!=gamma", true),
        // Ordering: numbers, times, strings.
        ("count>2", true),
        ("count>=3", true),
        ("count<3", false),
        ("count<=3", true),
        ("projectNumber>99", true),
        ("createTime>2026-01-01", true),
        ("createTime<2026-01-01T00:00:00Z", false),
        ("createTime>=2026-01-02T03:04:05Z", true),
        ("projectId<e", true),
        ("projectId>e", false),
        // Regular expressions (unanchored, case sensitive).
        ("projectId~^demo-", true),
        ("projectId~Demo", false),
        ("projectId~pro.ect$", true),
        ("projectId!~^demo", false),
        ("name~'Demo P'", true),
        // Logic.
        ("projectId=demo-project AND lifecycleState=ACTIVE", true),
        (
            "projectId=demo-project AND lifecycleState=DELETE_REQUESTED",
            false,
        ),
        ("projectId=x OR lifecycleState=ACTIVE", true),
        ("projectId=x OR lifecycleState=x", false),
        ("NOT projectId=x", true),
        ("-projectId=demo-project", false),
        ("-other", true),
        ("projectId=demo-project lifecycleState=ACTIVE", true),
        ("projectId=demo-project lifecycleState=x", false),
        ("(projectId=x OR count=3) AND labels.env=prod", true),
        ("(projectId=x OR count=4) AND labels.env=prod", false),
        ("NOT (projectId=x OR count=4)", true),
        (
            "projectId=demo-project AND (labels.team:blue OR labels.team:red)",
            true,
        ),
        ("", true),
        ("   ", true),
        // Transforms on keys.
        ("parent.id.segment()=1234", true),
        ("tags.len()=2", true),
    ];
    let p = project();
    for (filter, want) in cases {
        let f = Filter::parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
        assert_eq!(f.matches(&p, &PROJECT_KEYS), *want, "{filter}");
    }
}

#[test]
fn filter_syntax_errors() {
    for filter in [
        "a=b AND c=d OR e=f",
        "a=b OR c=d AND e=f",
        "a==b",
        "a=~b",
        "a:=b",
        "(a=b",
        "a=b)",
        "a=",
        "a= AND b=c",
        "AND",
        "a=b AND",
        "a~(",
        "a:x*y*z",
        "'unterminated",
    ] {
        assert!(
            matches!(Filter::parse(filter), Err(CliError::Usage(_))),
            "{filter} should be refused"
        );
    }
}

#[test]
fn parenthesised_mixing_is_accepted() {
    let p = project();
    let f = Filter::parse("(a=b AND c=d) OR projectId=demo-project").unwrap();
    assert!(f.matches(&p, &Keys::NONE));
    let f = Filter::parse("a=b AND (c=d OR projectId=demo-project)").unwrap();
    assert!(!f.matches(&p, &Keys::NONE));
}
