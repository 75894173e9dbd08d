//! Cloud Run Admin API: services and revisions (v2, and v1 as a view of v2), the deploy-time
//! checks every create/update makes, and where services answer.

pub mod defaults;
pub mod deploy_checks;
pub mod executions;
pub mod jobs;
pub mod revisions;
pub mod services;
pub mod urls;
