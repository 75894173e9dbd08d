//! IAM v1 admin API (`iam.googleapis.com`): service accounts and their IAM policies, service
//! account keys, predefined and custom roles, and `permissions:queryTestablePermissions`.
//!
//! Service accounts and keys are persisted in their IAM v1 wire shape (keys without private
//! material, which Kumo never keeps). Custom roles are persisted as `kumo_iam::CustomRole`, the
//! form the IAM engine loads; every change reloads the engine.

mod keys;
mod roles;
mod service_accounts;

pub use service_accounts::validate_account_id;
