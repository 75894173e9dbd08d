//! Persistence JSON and list values must never panic through parse, validate and evaluate.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(policy) = serde_json::from_slice::<kumo_orgpolicy::Policy>(data) else {
        return;
    };
    for c in kumo_orgpolicy::all_constraints() {
        let _ = kumo_orgpolicy::validate_policy(c, &policy);
        let chain = [("projects/1", Some(&policy)), ("organizations/2", Some(&policy))];
        let eff = kumo_orgpolicy::effective(c, &chain);
        for spec in policy.spec.iter() {
            for rule in &spec.rules {
                if let kumo_orgpolicy::RuleKind::Values { allowed_values, denied_values } = &rule.kind {
                    for v in allowed_values.iter().chain(denied_values) {
                        let _ = eff.allows(v);
                        let _ = eff.allows_in_hierarchy(&[v.as_str(), "organizations/2"]);
                    }
                }
            }
        }
    }
});
