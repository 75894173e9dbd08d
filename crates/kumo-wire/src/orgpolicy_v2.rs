//! `google.cloud.orgpolicy.v2`: policies, constraints and custom constraints.

use serde::{Deserialize, Serialize};

use crate::iam::Expr;
use crate::protobuf::is_false;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Policy {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<PolicySpec>,
    /// Deprecated `AlternatePolicySpec {launch, spec}`; kept opaque.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternate: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run_spec: Option<PolicySpec>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub etag: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicySpec {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub etag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<PolicyRule>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub inherit_from_parent: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub reset: bool,
}

/// One rule; `values`/`allowAll`/`denyAll`/`enforce` are a oneof, so presence (even of
/// `enforce: false`) is meaningful and kept as `Option`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<StringValues>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_all: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_all: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforce: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Expr>,
    /// `google.protobuf.Struct` of managed-constraint parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StringValues {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_values: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denied_values: Vec<String>,
}

wire_enum! {
    pub enum ConstraintDefault {
        Unspecified = 0 => "CONSTRAINT_DEFAULT_UNSPECIFIED",
        Allow = 1 => "ALLOW",
        Deny = 2 => "DENY",
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Constraint {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub display_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraint_default: Option<ConstraintDefault>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_constraint: Option<ListConstraint>,
    /// `BooleanConstraint {customConstraintDefinition}`; kept opaque.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boolean_constraint: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub supports_dry_run: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub equivalent_constraint: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub supports_simulation: bool,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListConstraint {
    #[serde(default, skip_serializing_if = "is_false")]
    pub supports_in: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub supports_under: bool,
}

wire_enum! {
    pub enum MethodType {
        Unspecified = 0 => "METHOD_TYPE_UNSPECIFIED",
        Create = 1 => "CREATE",
        Update = 2 => "UPDATE",
        Delete = 3 => "DELETE",
        RemoveGrant = 4 => "REMOVE_GRANT",
        GovernTags = 5 => "GOVERN_TAGS",
    }
}

wire_enum! {
    pub enum ActionType {
        Unspecified = 0 => "ACTION_TYPE_UNSPECIFIED",
        Allow = 1 => "ALLOW",
        Deny = 2 => "DENY",
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomConstraint {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub method_types: Vec<MethodType>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub condition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_type: Option<ActionType>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub display_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListPoliciesResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<Policy>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next_page_token: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListConstraintsResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<Constraint>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next_page_token: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListCustomConstraintsResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_constraints: Vec<CustomConstraint>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next_page_token: String,
}

/// Body of `UpdatePolicy` (PATCH) when sent with `body: "policy"` the policy is the whole body;
/// `updateMask` then travels in the query.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdatePolicyRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_mask: Option<String>,
}
