#![expect(
    clippy::unwrap_used,
    reason = "test helpers look up catalog entries known to exist"
)]

use kumo_orgpolicy::*;
use proptest::prelude::*;

fn vals(a: &[&str], d: &[&str]) -> PolicyRule {
    PolicyRule {
        kind: RuleKind::Values {
            allowed_values: a.iter().map(|s| s.to_string()).collect(),
            denied_values: d.iter().map(|s| s.to_string()).collect(),
        },
        condition: None,
    }
}
fn r(kind: RuleKind) -> PolicyRule {
    PolicyRule {
        kind,
        condition: None,
    }
}
fn pol(rules: Vec<PolicyRule>, inherit: bool) -> Policy {
    Policy {
        name: "x".into(),
        spec: Some(PolicySpec {
            rules,
            inherit_from_parent: inherit,
            reset: false,
            update_time: None,
        }),
        dry_run_spec: None,
        etag: String::new(),
    }
}
fn reset() -> Policy {
    Policy {
        name: "x".into(),
        spec: Some(PolicySpec {
            reset: true,
            ..PolicySpec::default()
        }),
        dry_run_spec: None,
        etag: String::new(),
    }
}
fn eff(
    c: &str,
    proj: Option<Policy>,
    folder: Option<Policy>,
    org: Option<Policy>,
) -> EffectivePolicy {
    let c = lookup(c).unwrap();
    effective(
        c,
        &[
            ("projects/1", proj.as_ref()),
            ("folders/2", folder.as_ref()),
            ("organizations/3", org.as_ref()),
        ],
    )
}

const DOM: &str = "iam.allowedPolicyMemberDomains";
const XP: &str = "constraints/iam.disableCrossProjectServiceAccountUsage";
const INV: &str = "run.managed.requireInvokerIam";

#[test]
fn boolean_merge_table() {
    let t = |b| Some(pol(vec![r(RuleKind::Enforce(b))], false));
    type Case = (
        &'static str,
        Option<Policy>,
        Option<Policy>,
        Option<Policy>,
        bool,
    );
    let cases: Vec<Case> = vec![
        (INV, None, None, None, false),
        (XP, None, None, None, true), // automatically enforced
        (INV, None, None, t(false), false),
        (INV, t(true), None, t(false), true),
        (INV, Some(reset()), None, t(true), false),
        (XP, Some(reset()), None, t(false), true),
        (XP, t(false), None, None, false),
        (INV, None, t(true), t(false), true),
        (INV, t(false), t(true), None, false),
        (
            INV,
            Some(pol(
                vec![
                    r(RuleKind::Enforce(false)),
                    PolicyRule {
                        kind: RuleKind::Enforce(true),
                        condition: Some("resource.matchTag('1/env', 'prod')".into()),
                    },
                ],
                false,
            )),
            None,
            t(true),
            false,
        ),
        // A spec with only conditional rules inherits.
        (
            INV,
            Some(pol(
                vec![PolicyRule {
                    kind: RuleKind::Enforce(false),
                    condition: Some("c".into()),
                }],
                false,
            )),
            None,
            t(true),
            true,
        ),
    ];
    for (i, (c, p, f, o, want)) in cases.into_iter().enumerate() {
        assert_eq!(eff(c, p, f, o).is_enforced(), want, "case {i}");
    }
}

#[test]
fn list_merge_table() {
    let p = |a: &[&str], d: &[&str], inh| Some(pol(vec![vals(a, d)], inh));
    type Case = (
        Option<Policy>,
        Option<Policy>,
        Option<Policy>,
        &'static [&'static str],
        &'static [&'static str],
    );
    let cases: Vec<Case> = vec![
        (None, None, None, &["E1", "anything"], &[]),
        (
            None,
            None,
            p(&["E1", "E2"], &[], false),
            &["E1", "E2"],
            &["E3"],
        ),
        (
            p(&["E3", "E4"], &[], false),
            None,
            p(&["E1", "E2"], &[], false),
            &["E3", "E4"],
            &["E1"],
        ),
        (
            p(&["E3", "E4"], &[], true),
            None,
            p(&["E1", "E2"], &[], false),
            &["E1", "E2", "E3", "E4"],
            &["E5"],
        ),
        (
            p(&[], &["E1"], true),
            None,
            p(&["E1", "E2"], &[], false),
            &["E2"],
            &["E1", "E3"],
        ),
        (
            p(&[], &["E1"], false),
            None,
            p(&["E1", "E2"], &[], false),
            &["E2", "E9"],
            &["E1"],
        ),
        (
            Some(reset()),
            None,
            p(&["E1"], &[], false),
            &["E1", "E7"],
            &[],
        ),
        (
            Some(pol(vec![r(RuleKind::AllowAll)], false)),
            None,
            p(&["E1"], &[], false),
            &["E1", "Z"],
            &[],
        ),
        (
            Some(pol(vec![r(RuleKind::DenyAll)], false)),
            None,
            None,
            &[],
            &["E1"],
        ),
        (
            p(&["E3"], &[], true),
            None,
            Some(pol(vec![r(RuleKind::AllowAll)], false)),
            &["E3", "Q"],
            &[],
        ),
        (
            p(&["E3"], &[], true),
            None,
            Some(pol(vec![r(RuleKind::DenyAll)], false)),
            &[],
            &["E3"],
        ),
        (
            p(&[], &["E1"], true),
            None,
            Some(pol(vec![r(RuleKind::AllowAll)], false)),
            &["E2"],
            &["E1"],
        ),
        (
            Some(pol(
                vec![r(RuleKind::AllowAll), r(RuleKind::DenyAll)],
                false,
            )),
            None,
            None,
            &[],
            &["E1"],
        ),
        (
            p(&["is:E1"], &[], false),
            None,
            None,
            &["E1", "is:E1"],
            &["E2"],
        ),
        (
            p(&["E2"], &[], true),
            p(&[], &["E1"], true),
            p(&["E1", "E3"], &[], false),
            &["E2", "E3"],
            &["E1"],
        ),
        (
            p(&["E1"], &[], true),
            p(&[], &[], true),
            p(&[], &["E1"], false),
            &[],
            &["E1"],
        ),
        (
            Some(pol(vec![], true)),
            None,
            p(&["E1"], &[], false),
            &["E1"],
            &["E2"],
        ),
        (
            Some(pol(vec![], false)),
            None,
            p(&["E1"], &[], false),
            &["E1", "E2"],
            &[],
        ),
        (
            Some(pol(vec![vals(&["E1"], &[]), vals(&["E2"], &["E3"])], false)),
            None,
            None,
            &["E1", "E2"],
            &["E3", "E4"],
        ),
        (
            Some(pol(
                vec![PolicyRule {
                    kind: RuleKind::DenyAll,
                    condition: Some("c".into()),
                }],
                false,
            )),
            None,
            None,
            &["E1"],
            &[],
        ),
    ];
    for (i, (pp, f, o, yes, no)) in cases.into_iter().enumerate() {
        let e = eff(DOM, pp, f, o);
        for v in yes {
            assert!(e.allows(v), "case {i}: {v} should be allowed: {e:?}");
        }
        for v in no {
            assert!(!e.allows(v), "case {i}: {v} should be denied: {e:?}");
        }
    }
}

#[test]
fn under_subtree_example_from_proto() {
    // Org allows under:O1; project allows under:P3 with inherit and denies under:F2.
    let c = Constraint {
        kind: ConstraintType::List {
            supports_under: true,
        },
        ..lookup(DOM).unwrap().clone()
    };
    let org = pol(vec![vals(&["under:organizations/O1"], &[])], false);
    let proj = pol(
        vec![vals(&["under:projects/P3"], &["under:folders/F2"])],
        true,
    );
    let e = effective(
        &c,
        &[
            ("projects/P3", Some(&proj)),
            ("organizations/O1", Some(&org)),
        ],
    );
    assert!(e.allows_in_hierarchy(&["organizations/O1"]));
    assert!(e.allows_in_hierarchy(&["folders/F1", "organizations/O1"]));
    assert!(e.allows_in_hierarchy(&["projects/P1", "folders/F1", "organizations/O1"]));
    assert!(!e.allows_in_hierarchy(&["projects/P2", "folders/F2", "organizations/O1"]));
    assert!(!e.allows_in_hierarchy(&["projects/P3", "folders/F2", "organizations/O1"]));
    assert!(!e.allows_in_hierarchy(&["organizations/O9"]));
}

#[test]
fn dry_run_spec_is_separate() {
    let c = lookup(INV).unwrap();
    let mut p = pol(vec![r(RuleKind::Enforce(false))], false);
    p.dry_run_spec = Some(PolicySpec {
        rules: vec![r(RuleKind::Enforce(true))],
        ..PolicySpec::default()
    });
    let chain = [("projects/1", Some(&p))];
    assert!(!effective(c, &chain).is_enforced());
    assert!(effective_spec(c, &chain, SpecKind::DryRun).is_enforced());
}

#[test]
fn catalog_names_and_defaults() {
    assert_eq!(lookup(XP).unwrap().default, ConstraintDefault::Deny);
    assert_eq!(
        lookup("iam.disableCrossProjectServiceAccountUsage"),
        lookup(XP)
    );
    assert!(lookup(INV).unwrap().is_managed());
    assert!(!lookup(DOM).unwrap().is_managed());
    assert_eq!(
        lookup("run.allowedIngress").unwrap().kind,
        ConstraintType::List {
            supports_under: false
        }
    );
    assert!(lookup("compute.nope").is_none());
    assert!(all_constraints().len() >= 12);
}

#[test]
fn validation_messages() {
    let b = lookup(INV).unwrap();
    let l = lookup(DOM).unwrap();
    let spec = |rules, inh, rs| PolicySpec {
        rules,
        inherit_from_parent: inh,
        reset: rs,
        update_time: None,
    };
    let err = |c, s| validate_spec(c, &s).unwrap_err().0;
    assert_eq!(
        err(b, spec(vec![vals(&["a"], &[])], false, false)),
        "Boolean constraint constraints/run.managed.requireInvokerIam only supports enforce rules; values, allowAll and denyAll are not allowed."
    );
    assert_eq!(
        err(l, spec(vec![r(RuleKind::Enforce(true))], false, false)),
        "List constraint constraints/iam.allowedPolicyMemberDomains does not support enforce rules."
    );
    assert_eq!(
        err(l, spec(vec![r(RuleKind::AllowAll)], false, true)),
        "Policy with reset set to true cannot have rules or set inheritFromParent to true."
    );
    assert!(
        validate_spec(
            l,
            &spec(vec![vals(&["under:folders/1"], &[])], false, false)
        )
        .is_err()
    );
    assert!(validate_spec(l, &spec(vec![vals(&[], &[])], false, false)).is_err());
    assert!(
        validate_spec(
            b,
            &spec(
                vec![r(RuleKind::Enforce(true)), r(RuleKind::Enforce(false))],
                false,
                false
            )
        )
        .is_err()
    );
    assert!(validate_spec(l, &spec(vec![vals(&["C0abc"], &[])], true, false)).is_ok());
}

#[test]
fn v1_round_trip_and_mismatch() {
    let b = lookup(XP).unwrap();
    let l = lookup(DOM).unwrap();
    let s = v1_to_spec(b, &V1PolicyType::BooleanPolicy { enforced: false }).unwrap();
    assert_eq!(s.rules, vec![r(RuleKind::Enforce(false))]);
    assert_eq!(
        spec_to_v1(b, &s),
        V1PolicyType::BooleanPolicy { enforced: false }
    );
    assert!(v1_to_spec(b, &V1PolicyType::RestoreDefault).unwrap().reset);
    assert!(v1_to_spec(l, &V1PolicyType::BooleanPolicy { enforced: true }).is_err());
    let lp = V1ListPolicy {
        allowed_values: vec!["C01".into()],
        inherit_from_parent: true,
        ..V1ListPolicy::default()
    };
    let s = v1_to_spec(l, &V1PolicyType::ListPolicy(lp.clone())).unwrap();
    assert_eq!(spec_to_v1(l, &s), V1PolicyType::ListPolicy(lp));
    let v: V1PolicyType = serde_json::from_str(r#"{"booleanPolicy":{"enforced":true}}"#).unwrap();
    assert_eq!(v, V1PolicyType::BooleanPolicy { enforced: true });
}

#[test]
fn persistence_json_is_snake_case() {
    let p = pol(vec![vals(&["C01"], &[])], true);
    let j = serde_json::to_string(&p).unwrap();
    assert!(
        j.contains("\"inherit_from_parent\":true") && j.contains("\"allowed_values\""),
        "{j}"
    );
    assert_eq!(serde_json::from_str::<Policy>(&j).unwrap(), p);
}

#[test]
fn golden_violation_texts() {
    let dom = eff(
        DOM,
        None,
        None,
        Some(pol(vec![vals(&["C0abc"], &[])], false)),
    );
    assert!(check_member_domains(&dom, &[("user:a@x.com", Some("C0abc"))]).is_ok());
    let v = check_member_domains(&dom, &[("user:a@x.com", Some("C0abc")), ("allUsers", None)])
        .unwrap_err();
    assert_eq!(v.code, RpcCode::FailedPrecondition);
    assert_eq!(v.constraint, "constraints/iam.allowedPolicyMemberDomains");
    assert_eq!(
        v.message,
        "One or more users named in the policy do not belong to a permitted customer,  perhaps due to an organization policy."
    );
    assert_eq!(v.description, "User is not in permitted organization.");
    assert!(check_member_domains(&eff(DOM, None, None, None), &[("allUsers", None)]).is_ok());

    let inv = eff(
        INV,
        Some(pol(vec![r(RuleKind::Enforce(true))], false)),
        None,
        None,
    );
    let v = check_invoker_iam_disable(&inv).unwrap_err();
    assert_eq!(
        v.message,
        "Operation denied by custom org policy: [\"constraints/run.managed.requireInvokerIam\": \"When enforced, this constraint requires the IAM invoker check to be enabled on Cloud Run services.\nIf this constraint is not enforced, you can set the service.invoker_iam_disabled field (v2), or the run.googleapis.com/invoker-iam-disabled annotation (v1) on Cloud Run services to True. The invoker_iam_disabled field is currently available by invitation-only and will not be broadly available until after March 21, 2025. It's still possible to achieve a similar result by granting the run.routes.invoke permission to allUsers.\"]."
    );
    assert!(check_invoker_iam_disable(&eff(INV, None, None, None)).is_ok());

    let k = eff(
        "iam.disableServiceAccountKeyCreation",
        None,
        None,
        Some(pol(vec![r(RuleKind::Enforce(true))], false)),
    );
    let v = check_key_creation(&k, "p1", "sa@p1.iam.gserviceaccount.com").unwrap_err();
    assert_eq!(
        v.message,
        "Key creation is not allowed on this service account."
    );
    assert_eq!(
        v.subject.as_deref(),
        Some(
            "projects/p1/serviceAccounts/sa@p1.iam.gserviceaccount.com?configvalue=sa%40p1.iam.gserviceaccount.com"
        )
    );
    assert_eq!(
        v.constraint,
        "constraints/iam.disableServiceAccountKeyCreation"
    );

    let xp = eff(XP, None, None, None);
    assert!(
        check_cross_project_service_account(
            &xp,
            "sa@b.iam.gserviceaccount.com",
            "projects/2",
            "projects/2"
        )
        .is_ok()
    );
    let v = check_cross_project_service_account(
        &xp,
        "sa@b.iam.gserviceaccount.com",
        "projects/2",
        "projects/1",
    )
    .unwrap_err();
    assert_eq!(
        v.constraint,
        "constraints/iam.disableCrossProjectServiceAccountUsage"
    );
    let off = eff(
        XP,
        Some(pol(vec![r(RuleKind::Enforce(false))], false)),
        None,
        None,
    );
    assert!(
        check_cross_project_service_account(
            &off,
            "sa@b.iam.gserviceaccount.com",
            "projects/2",
            "projects/1"
        )
        .is_ok()
    );

    let ing = eff(
        "run.allowedIngress",
        None,
        None,
        Some(pol(
            vec![vals(&["is:internal-and-cloud-load-balancing"], &[])],
            false,
        )),
    );
    assert!(check_ingress(&ing, "projects/1", "internal-and-cloud-load-balancing").is_ok());
    let v = check_ingress(&ing, "projects/1", "all").unwrap_err();
    assert_eq!(
        v.message,
        "Constraint constraints/run.allowedIngress violated for projects/1 with ingress set to all."
    );
    let eg = eff(
        "run.allowedVPCEgress",
        None,
        None,
        Some(pol(vec![vals(&["private-ranges-only"], &[])], false)),
    );
    assert!(check_vpc_egress(&eg, "projects/1", "all-traffic").is_err());
}

fn arb_rule() -> impl Strategy<Value = PolicyRule> {
    let v = prop::collection::vec(
        prop::sample::select(vec!["E1", "E2", "is:E3", "under:folders/2", "E:4"]),
        0..3,
    );
    (
        prop_oneof![
            (v.clone(), v).prop_map(|(a, d)| RuleKind::Values {
                allowed_values: a.into_iter().map(String::from).collect(),
                denied_values: d.into_iter().map(String::from).collect()
            }),
            Just(RuleKind::AllowAll),
            Just(RuleKind::DenyAll),
            any::<bool>().prop_map(RuleKind::Enforce),
        ],
        prop::option::of(Just("c".to_string())),
    )
        .prop_map(|(kind, condition)| PolicyRule { kind, condition })
}

fn arb_policy() -> impl Strategy<Value = Option<Policy>> {
    prop::option::of(
        (
            prop::collection::vec(arb_rule(), 0..3),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(rules, inherit, reset)| Policy {
                name: "p".into(),
                spec: Some(PolicySpec {
                    rules,
                    inherit_from_parent: inherit,
                    reset,
                    update_time: None,
                }),
                dry_run_spec: None,
                etag: String::new(),
            }),
    )
}

proptest! {
    #[test]
    fn evaluation_never_panics(ps in prop::collection::vec(arb_policy(), 0..4), v in ".*") {
        for c in all_constraints() {
            let chain: Vec<(&str, Option<&Policy>)> = ps.iter().map(|p| ("projects/1", p.as_ref())).collect();
            let e = effective(c, &chain);
            let _ = (e.allows(&v), e.is_enforced(), e.allows_in_hierarchy(&[v.as_str(), "folders/2"]));
            for p in ps.iter().flatten() {
                let _ = validate_policy(c, p);
            }
        }
    }

    #[test]
    fn parent_deny_with_inherit_is_respected(allowed in prop::collection::vec("[A-Z][0-9]", 0..4), denied in "[A-Z][0-9]") {
        let org = pol(vec![vals(&[], &[&denied])], false);
        let a: Vec<&str> = allowed.iter().map(String::as_str).collect();
        let child = if a.is_empty() { pol(vec![r(RuleKind::AllowAll)], true) } else { pol(vec![vals(&a, &[])], true) };
        let e = eff(DOM, if a.is_empty() { None } else { Some(child) }, None, Some(org));
        prop_assert!(!e.allows(&denied));
    }
}
