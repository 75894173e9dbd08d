//! Service Usage: `services/{service}:generateServiceIdentity` (what
//! `gcloud beta services identity create` calls). It creates the service's Google-managed service
//! agent in the project — a service-account record, like the agents project creation makes — and
//! answers a finished operation carrying the `ServiceIdentity`.

use kumo_store::Write;
use serde_json::{Value, json};

use crate::records::{Collection, encode};
use crate::resource_manager::common::any;
use crate::{Call, Control, Error};

/// Google's operation name for work that was already done when the call returned.
const DONE_OPERATION: &str = "operations/finished.DONE_OPERATION";

/// The service-agent domain of services that have one (`service-N@DOMAIN`).
fn agent_domain(service: &str) -> Option<&'static str> {
    Some(match service {
        "run.googleapis.com" => "serverless-robot-prod.iam.gserviceaccount.com",
        "iap.googleapis.com" => "gcp-sa-iap.iam.gserviceaccount.com",
        "artifactregistry.googleapis.com" => "gcp-sa-artifactregistry.iam.gserviceaccount.com",
        "cloudbuild.googleapis.com" => "gcp-sa-cloudbuild.iam.gserviceaccount.com",
        "secretmanager.googleapis.com" => "gcp-sa-secretmanager.iam.gserviceaccount.com",
        "pubsub.googleapis.com" => "gcp-sa-pubsub.iam.gserviceaccount.com",
        "logging.googleapis.com" => "gcp-sa-logging.iam.gserviceaccount.com",
        _ => return None,
    })
}

fn agent_display_name(service: &str) -> String {
    match service {
        "run.googleapis.com" => "Cloud Run Service Agent".to_owned(),
        "iap.googleapis.com" => "Cloud IAP Service Agent".to_owned(),
        other => format!(
            "{} Service Agent",
            other.trim_end_matches(".googleapis.com")
        ),
    }
}

impl Control {
    /// `POST /v1beta1/projects/{project}/services/{service}:generateServiceIdentity`:
    /// `serviceusage.services.use` on the project. Idempotent.
    pub fn generate_service_identity(
        &self,
        call: &Call,
        project: &str,
        service: &str,
    ) -> Result<Value, Error> {
        let project_ref = self.container_ref(&format!("projects/{project}"))?;
        self.authorize(call, "serviceusage.services.use", &project_ref)?;
        let Some(info) = self.resolve_project(project)? else {
            return Err(Error::permission_denied(
                "serviceusage.services.use",
                &format!("projects/{project}"),
            ));
        };
        let valid = service.ends_with(".googleapis.com")
            && service.len() > ".googleapis.com".len()
            && service
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !valid {
            return Err(Error::invalid_field(
                "parent",
                format!("Invalid service name {service}."),
            ));
        }
        let identity_type = "google.api.serviceusage.v1beta1.ServiceIdentity";
        let Some(domain) = agent_domain(service) else {
            // Services without a service agent answer an empty identity, as Google's do.
            return Ok(
                json!({"name": DONE_OPERATION, "done": true, "response": any(identity_type, json!({}))}),
            );
        };
        let email = format!("service-{}@{domain}", info.number);
        let record_name = format!("projects/{}/services/{service}/identity", info.id);
        let identity = match self.load::<Value>(Collection::ServiceIdentities, &record_name)? {
            Some(stored) => stored.value,
            None => {
                let mut writes = Vec::new();
                let unique_id = match self.find_service_account(&email)? {
                    Some(existing) => existing.value["uniqueId"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    None => {
                        let write = self.service_account_write(
                            &info.id,
                            &email,
                            &agent_display_name(service),
                        )?;
                        let unique_id = match &write {
                            Write::Create { data, .. } => {
                                data["uniqueId"].as_str().unwrap_or_default().to_owned()
                            }
                            _ => String::new(),
                        };
                        writes.push(write);
                        unique_id
                    }
                };
                let identity = json!({"email": email, "uniqueId": unique_id});
                writes.push(Write::Create {
                    collection: Collection::ServiceIdentities.as_str().to_owned(),
                    name: record_name,
                    parent: Some(format!("projects/{}", info.id)),
                    data: encode(&identity)?,
                });
                self.commit(&writes)?;
                self.invalidate_iam();
                identity
            }
        };
        Ok(json!({"name": DONE_OPERATION, "done": true, "response": any(identity_type, identity)}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_services_have_googles_agent_domains() {
        assert_eq!(
            agent_domain("iap.googleapis.com"),
            Some("gcp-sa-iap.iam.gserviceaccount.com")
        );
        assert_eq!(
            agent_domain("run.googleapis.com"),
            Some("serverless-robot-prod.iam.gserviceaccount.com")
        );
        assert_eq!(agent_domain("compute.googleapis.com"), None);
    }
}
