//! `google.iam.admin.v1`: service accounts, their keys, roles and testable permissions.

use serde::{Deserialize, Serialize};

use crate::protobuf::is_false;

wire_enum! {
    pub enum ServiceAccountPrivateKeyType {
        Unspecified = 0 => "TYPE_UNSPECIFIED",
        Pkcs12File = 1 => "TYPE_PKCS12_FILE",
        GoogleCredentialsFile = 2 => "TYPE_GOOGLE_CREDENTIALS_FILE",
    }
}

wire_enum! {
    pub enum ServiceAccountPublicKeyType {
        None = 0 => "TYPE_NONE",
        X509PemFile = 1 => "TYPE_X509_PEM_FILE",
        RawPublicKey = 2 => "TYPE_RAW_PUBLIC_KEY",
    }
}

wire_enum! {
    pub enum ServiceAccountKeyAlgorithm {
        Unspecified = 0 => "KEY_ALG_UNSPECIFIED",
        Rsa1024 = 1 => "KEY_ALG_RSA_1024",
        Rsa2048 = 2 => "KEY_ALG_RSA_2048",
    }
}

wire_enum! {
    pub enum ServiceAccountKeyOrigin {
        Unspecified = 0 => "ORIGIN_UNSPECIFIED",
        UserProvided = 1 => "USER_PROVIDED",
        GoogleProvided = 2 => "GOOGLE_PROVIDED",
    }
}

wire_enum! {
    /// `ListServiceAccountKeysRequest.KeyType`, also `ServiceAccountKey.keyType`.
    pub enum KeyType {
        Unspecified = 0 => "KEY_TYPE_UNSPECIFIED",
        UserManaged = 1 => "USER_MANAGED",
        SystemManaged = 2 => "SYSTEM_MANAGED",
    }
}

wire_enum! {
    /// `Role.RoleLaunchStage`.
    pub enum RoleLaunchStage {
        Alpha = 0 => "ALPHA",
        Beta = 1 => "BETA",
        Ga = 2 => "GA",
        Deprecated = 4 => "DEPRECATED",
        Disabled = 5 => "DISABLED",
        Eap = 6 => "EAP",
    }
}

wire_enum! {
    /// `Permission.PermissionLaunchStage`.
    pub enum PermissionLaunchStage {
        Alpha = 0 => "ALPHA",
        Beta = 1 => "BETA",
        Ga = 2 => "GA",
        Deprecated = 3 => "DEPRECATED",
    }
}

wire_enum! {
    pub enum CustomRolesSupportLevel {
        Supported = 0 => "SUPPORTED",
        Testing = 1 => "TESTING",
        NotSupported = 2 => "NOT_SUPPORTED",
    }
}

wire_enum! {
    pub enum RoleView {
        Basic = 0 => "BASIC",
        Full = 1 => "FULL",
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceAccount {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub project_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub unique_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub display_name: String,
    /// `bytes`: standard base64.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub etag: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub oauth2_client_id: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceAccountKey {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_type: Option<ServiceAccountPrivateKeyType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_algorithm: Option<ServiceAccountKeyAlgorithm>,
    /// `bytes`: base64 of the key file (a credentials JSON for TYPE_GOOGLE_CREDENTIALS_FILE).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub private_key_data: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub public_key_data: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_after_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_before_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_origin: Option<ServiceAccountKeyOrigin>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_type: Option<KeyType>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateServiceAccountRequest {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub account_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<ServiceAccount>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchServiceAccountRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<ServiceAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_mask: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateServiceAccountKeyRequest {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_type: Option<ServiceAccountPrivateKeyType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_algorithm: Option<ServiceAccountKeyAlgorithm>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListServiceAccountsResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<ServiceAccount>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next_page_token: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListServiceAccountKeysResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<ServiceAccountKey>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Role {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub included_permissions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<RoleLaunchStage>,
    /// `bytes`: standard base64.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub etag: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRoleRequest {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub parent: String,
    pub role_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UndeleteRoleRequest {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub etag: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListRolesResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Role>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next_page_token: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueryTestablePermissionsRequest {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub full_resource_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<i32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub page_token: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Permission {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub only_in_predefined_roles: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<PermissionLaunchStage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_roles_support_level: Option<CustomRolesSupportLevel>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub api_disabled: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub primary_permission: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueryTestablePermissionsResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<Permission>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next_page_token: String,
}
