//! Property tests: the compiled index agrees with a naive reference evaluator, and adding a
//! binding never revokes access.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on bad fixtures"
)]

mod common;

use std::sync::{Arc, OnceLock};

use kumo_iam::*;
use kumo_names::{Permission, Principal, ResourceName};
use proptest::prelude::*;

const ROLES: &[&str] = &[
    "roles/run.invoker",
    "roles/run.viewer",
    "roles/viewer",
    "roles/run.admin",
    "roles/run.servicesInvoker",
    // A custom role that does not exist (deleted): grants nothing.
    "projects/my-project/roles/deleted",
];
const PERMS: &[&str] = &[
    "run.routes.invoke",
    "run.services.get",
    "run.services.delete",
    "run.jobs.run",
];
const MEMBERS: &[&str] = &[
    "allUsers",
    "allAuthenticatedUsers",
    "user:alice@example.com",
    "user:bob@example.org",
    "group:eng@example.com",
    "domain:example.com",
    "serviceAccount:sa@my-project.iam.gserviceaccount.com",
    "deleted:user:alice@example.com?uid=1",
    "user:Alice@Example.COM",
    "group:ENG@example.com",
    "group:g39@example.org",
    "domain:example.org",
    "principalSet://iam.googleapis.com/locations/global/workforcePools/p/*",
];
/// Expression and its outcome (`None` = evaluation error).
const CONDS: &[(&str, Option<bool>)] = &[
    ("true", Some(true)),
    (
        "request.time < timestamp(\"2020-01-01T00:00:00Z\")",
        Some(false),
    ),
    ("request.time < timestamp(\"bad\")", None),
];

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| Engine::new(Arc::new(RoleCatalog::new().unwrap())))
}

fn subjects() -> Vec<Subject> {
    vec![
        Subject::anonymous(),
        Subject::user("alice@example.com"),
        Subject::user("bob@example.org").with_groups(["eng@example.com".to_owned()]),
        Subject::service_account("sa@my-project.iam.gserviceaccount.com"),
        // More transitive groups than the engine keeps inline.
        Subject::user("carol@example.org").with_groups(
            (0..40)
                .map(|i| format!("g{i}@example.org"))
                .chain(["eng@example.com".to_owned()]),
        ),
        // More keys than the engine's 64-key candidate masks: eng@ is key 73, the domain 74.
        Subject::user("dave@example.com").with_groups(
            (0..70)
                .map(|i| format!("h{i}@example.org"))
                .chain(["eng@example.com".to_owned()]),
        ),
    ]
}

type RawBinding = (usize, Vec<usize>, Option<usize>);

fn policy(raw: &[RawBinding]) -> Policy {
    Policy {
        version: 3,
        bindings: raw
            .iter()
            .map(|(r, ms, c)| Binding {
                role: ROLES[*r].parse().unwrap(),
                members: ms.iter().map(|&m| MEMBERS[m].parse().unwrap()).collect(),
                condition: c.map(|c| Expr {
                    expression: CONDS[c].0.to_owned(),
                    ..Expr::default()
                }),
            })
            .collect(),
        ..Policy::default()
    }
}

fn naive_member(m: &Principal, s: &Subject) -> bool {
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let email = match &s.identity {
        Identity::Anonymous => None,
        Identity::User { email } | Identity::ServiceAccount { email } => Some(email.as_str()),
    };
    match m {
        Principal::AllUsers => true,
        Principal::AllAuthenticatedUsers => email.is_some(),
        Principal::User(e) => matches!(&s.identity, Identity::User { email } if eq(email, e)),
        Principal::ServiceAccount(e) => {
            matches!(&s.identity, Identity::ServiceAccount { email } if eq(email, e.as_ref()))
        }
        Principal::Group(g) => email.is_some() && s.groups.iter().any(|x| eq(x, g)),
        Principal::Domain(d) => email.is_some() && s.domain.as_deref().is_some_and(|x| eq(x, d)),
        _ => false,
    }
}

fn naive(policies: &[Policy], s: &Subject, p: &Permission) -> Access {
    let cat = engine().catalog();
    let mut unknown = false;
    for pol in policies {
        for b in &pol.bindings {
            let id = cat.permission_id(p).unwrap();
            if !cat.role(&b.role).is_some_and(|r| r.contains(id))
                || !b.members.iter().any(|m| naive_member(m, s))
            {
                continue;
            }
            match b
                .condition
                .as_ref()
                .map(|c| CONDS.iter().find(|x| x.0 == c.expression).unwrap().1)
            {
                None | Some(Some(true)) => return Access::Granted,
                Some(Some(false)) => {}
                Some(None) => unknown = true,
            }
        }
    }
    if unknown {
        Access::UnknownConditional
    } else {
        Access::NotGranted
    }
}

/// Whether a member names one of the caller's keys.
type KeyTest<'s> = Box<dyn Fn(&Principal) -> bool + 's>;

/// The binding the engine reports as granting (node, binding index): the nearest node first;
/// within a node the caller's member keys in the engine's order (allUsers,
/// allAuthenticatedUsers, the identity, each group, the domain), then the bindings naming the
/// key in policy order; the first whose role holds `p` and whose condition holds.
fn naive_grant(policies: &[Policy], s: &Subject, p: &Permission) -> Option<(usize, usize)> {
    let cat = engine().catalog();
    let id = cat.permission_id(p).unwrap();
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let email = match &s.identity {
        Identity::Anonymous => None,
        Identity::User { email } | Identity::ServiceAccount { email } => Some(email.as_str()),
    };
    // Each key as a test of a member.
    let mut keys: Vec<KeyTest<'_>> = vec![Box::new(|m| matches!(m, Principal::AllUsers))];
    if email.is_some() {
        keys.push(Box::new(|m| matches!(m, Principal::AllAuthenticatedUsers)));
        keys.push(Box::new(move |m| match (m, &s.identity) {
            (Principal::User(e), Identity::User { email }) => eq(email, e),
            (Principal::ServiceAccount(e), Identity::ServiceAccount { email }) => {
                eq(email, e.as_ref())
            }
            _ => false,
        }));
        for g in &s.groups {
            keys.push(Box::new(
                move |m| matches!(m, Principal::Group(x) if eq(x, g)),
            ));
        }
        if let Some(d) = &s.domain {
            keys.push(Box::new(
                move |m| matches!(m, Principal::Domain(x) if eq(x, d)),
            ));
        }
    }
    for (n, pol) in policies.iter().enumerate() {
        for key in &keys {
            for (i, b) in pol.bindings.iter().enumerate() {
                let grants = cat.role(&b.role).is_some_and(|r| r.contains(id))
                    && b.members.iter().any(key)
                    && b.condition.as_ref().is_none_or(|c| {
                        CONDS.iter().find(|x| x.0 == c.expression).unwrap().1 == Some(true)
                    });
                if grants {
                    return Some((n, i));
                }
            }
        }
    }
    None
}

fn decide(policies: &[Policy], s: &Subject, p: &Permission) -> Access {
    decide_padded(policies, 0, s, p)
}

/// `pad` extra nodes (alternately without a policy and with an empty one) come first, so that
/// the policies sit beyond the engine's first-pass batch when `pad` is large.
fn decide_padded(policies: &[Policy], pad: usize, s: &Subject, p: &Permission) -> Access {
    let expected = naive_grant(policies, s, p);
    let names: Vec<ResourceName> = (0..pad + policies.len())
        .map(|i| {
            format!("//cloudresourcemanager.googleapis.com/folders/{}", i + 1)
                .parse()
                .unwrap()
        })
        .collect();
    let empty = CompiledPolicy::compile(&Policy::default(), engine().catalog());
    let compiled: Vec<CompiledPolicy> = policies
        .iter()
        .map(|p| CompiledPolicy::compile(p, engine().catalog()))
        .collect();
    let policies: Vec<Option<&CompiledPolicy>> = (0..pad)
        .map(|i| (i % 2 == 1).then_some(&empty))
        .chain(compiled.iter().map(Some))
        .collect();
    let ancestry = Ancestry::new(
        names
            .iter()
            .zip(&policies)
            .map(|(r, c)| Node {
                resource: r,
                policy: *c,
            })
            .collect(),
    );
    let ctx = common::ctx();
    let req = AccessRequest {
        subject: s,
        permission: p,
        ancestry: &ancestry,
        context: &ctx,
    };
    let d = engine().check(&req);
    assert_eq!(d.granted_by.is_some(), d.access == Access::Granted);
    if let Some(g) = d.granted_by {
        // The reported binding is one that grants: its role holds the permission.
        let role = &compiled[g.node - pad].policy().bindings[g.binding].role;
        assert_eq!(role, g.role);
        let id = engine().catalog().permission_id(p).unwrap();
        assert!(engine().catalog().role(role).unwrap().contains(id));
    }
    assert_eq!(d.granted_by.map(|g| (g.node - pad, g.binding)), expected);
    assert_eq!(engine().explain(&req).access, d.access);
    d.access
}

/// Adds to every policy a binding of `filler` members no test subject is (plus those of
/// `raw`), so that policies cross the engine's small/large index threshold.
fn with_filler(raw: &[Vec<RawBinding>], filler: usize, role: usize) -> Vec<Policy> {
    raw.iter()
        .map(|r| {
            let mut p = policy(r);
            let members: Vec<Principal> = (0..filler)
                .map(|i| match i % 3 {
                    0 => format!("user:filler-{i}@example.net"),
                    1 => format!("group:filler-{i}@example.net"),
                    _ => format!("serviceAccount:filler-{i}@p.iam.gserviceaccount.com"),
                })
                .map(|m| m.parse().unwrap())
                .collect();
            if !members.is_empty() {
                p.bindings.insert(
                    filler % (p.bindings.len() + 1),
                    Binding {
                        role: ROLES[role].parse().unwrap(),
                        members,
                        condition: None,
                    },
                );
            }
            p
        })
        .collect()
}

fn raw_binding() -> impl Strategy<Value = RawBinding> {
    (
        0..ROLES.len(),
        proptest::collection::vec(0..MEMBERS.len(), 1..4),
        proptest::option::of(0..CONDS.len()),
    )
}

fn raw_policies() -> impl Strategy<Value = Vec<Vec<RawBinding>>> {
    proptest::collection::vec(proptest::collection::vec(raw_binding(), 0..5), 1..4)
}

proptest! {
    #[test]
    fn compiled_matches_naive(raw in raw_policies(), s in 0usize..6, p in 0..PERMS.len()) {
        let policies: Vec<Policy> = raw.iter().map(|r| policy(r)).collect();
        let subject = &subjects()[s];
        let perm: Permission = PERMS[p].parse().unwrap();
        prop_assert_eq!(decide(&policies, subject, &perm), naive(&policies, subject, &perm));
    }

    /// Large policies (wide filters), long ancestries (beyond the first-pass batch).
    #[test]
    fn compiled_matches_naive_large(
        raw in raw_policies(),
        filler in prop_oneof![0usize..24, 24usize..400],
        role in 0..ROLES.len(),
        pad in prop_oneof![Just(0usize), 10usize..20],
        s in 0usize..6,
        p in 0..PERMS.len(),
    ) {
        let policies = with_filler(&raw, filler, role);
        let subject = &subjects()[s];
        let perm: Permission = PERMS[p].parse().unwrap();
        prop_assert_eq!(
            decide_padded(&policies, pad, subject, &perm),
            naive(&policies, subject, &perm)
        );
    }

    #[test]
    fn adding_a_binding_never_revokes(raw in raw_policies(), extra in raw_binding(), at in 0usize..4, s in 0usize..6, p in 0..PERMS.len()) {
        let mut policies: Vec<Policy> = raw.iter().map(|r| policy(r)).collect();
        let subject = &subjects()[s];
        let perm: Permission = PERMS[p].parse().unwrap();
        let before = decide(&policies, subject, &perm);
        let n = policies.len();
        policies[at % n].bindings.push(policy(&[extra]).bindings.remove(0));
        let after = decide(&policies, subject, &perm);
        if before == Access::Granted {
            prop_assert_eq!(after, Access::Granted);
        }
        if before == Access::UnknownConditional {
            prop_assert_ne!(after, Access::NotGranted);
        }
    }
}

#[test]
fn test_permissions_returns_granted_subset() {
    let pol = policy(&[(0, vec![2], None)]);
    let compiled = CompiledPolicy::compile(&pol, engine().catalog());
    let r: ResourceName = "//run.googleapis.com/projects/p/locations/l/services/s"
        .parse()
        .unwrap();
    let ancestry = Ancestry::new(vec![Node {
        resource: &r,
        policy: Some(&compiled),
    }]);
    let perms: Vec<Permission> = PERMS.iter().map(|p| p.parse().unwrap()).collect();
    let got = engine().test_permissions(
        &Subject::user("alice@example.com"),
        &perms,
        &ancestry,
        &common::ctx(),
    );
    let got: Vec<&str> = got.iter().map(AsRef::as_ref).collect();
    assert_eq!(got, ["run.routes.invoke", "run.jobs.run"]);
}
