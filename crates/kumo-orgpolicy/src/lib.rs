//! Pure Organization Policy engine: constraint catalog, v2 policy model (and v1 forms),
//! hierarchy merge (getEffectivePolicy) and control-plane checks with Google's texts. No I/O.

mod catalog;
mod checks;
pub mod custom;
mod effective;
mod policy;
mod v1;

pub use catalog::{Constraint, ConstraintDefault, ConstraintType, all as all_constraints, lookup};
pub use checks::{
    MEMBER_DOMAINS_MESSAGE, RpcCode, Violation, check_cross_project_service_account, check_ingress,
    check_invoker_iam_disable, check_key_creation, check_member_domains, check_vpc_egress,
};
pub use custom::{
    ActionType, CustomConstraint, InvalidCustomConstraint, MethodType, check_custom_constraints,
    validate_custom_constraint,
};
pub use effective::{Allowed, EffectivePolicy, SpecKind, effective, effective_spec};
pub use policy::{
    InvalidPolicy, Policy, PolicyRule, PolicySpec, RuleKind, validate_policy, validate_spec,
};
pub use v1::{V1AllValues, V1ListPolicy, V1PolicyType, spec_to_v1, v1_to_spec};
