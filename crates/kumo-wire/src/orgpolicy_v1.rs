//! Resource Manager v1 org policies (`google.cloud.orgpolicy.v1`), used by
//! `gcloud resource-manager org-policies` and `:setOrgPolicy` / `:getEffectiveOrgPolicy`.

use serde::{Deserialize, Serialize};

use crate::protobuf::is_false;

wire_enum! {
    /// `ListPolicy.AllValues`.
    pub enum AllValues {
        Unspecified = 0 => "ALL_VALUES_UNSPECIFIED",
        Allow = 1 => "ALLOW",
        Deny = 2 => "DENY",
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrgPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub constraint: String,
    /// `bytes`: standard base64.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub etag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_policy: Option<ListPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boolean_policy: Option<BooleanPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_default: Option<RestoreDefault>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListPolicy {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_values: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denied_values: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_values: Option<AllValues>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub suggested_value: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub inherit_from_parent: bool,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BooleanPolicy {
    #[serde(default, skip_serializing_if = "is_false")]
    pub enforced: bool,
}

/// Empty message: its presence means "use the constraint's default".
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestoreDefault {}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetOrgPolicyRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<OrgPolicy>,
}

/// Body of `:getOrgPolicy` and `:getEffectiveOrgPolicy`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetOrgPolicyRequest {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub constraint: String,
}

pub type GetEffectiveOrgPolicyRequest = GetOrgPolicyRequest;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClearOrgPolicyRequest {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub constraint: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub etag: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListOrgPoliciesRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<i32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub page_token: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListOrgPoliciesResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<OrgPolicy>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next_page_token: String,
}
