//! Where a service answers. Cloud Run gives every service a hashed URL
//! (`https://SERVICE-HASH-REGIONCODE.a.run.app`) and a deterministic one
//! (`https://SERVICE-PROJECT_NUMBER.REGION.run.app`). Kumo keeps both shapes on `*.run.localhost`
//! host routing through Kumo's own API port (curl and browsers resolve `*.localhost` to loopback
//! without DNS changes) and adds `http://127.0.0.1:PORT`, a port allocated once per service, which
//! clients without `*.localhost` resolution (Python `requests`) can reach. All three are accepted
//! ID-token audiences; `uri` is the `127.0.0.1` one.
//!
//! The allocated port and the host index are internal state, not part of the wire `Service`: they
//! are kept in endpoint records next to the services (parent [`ENDPOINTS_PARENT`], so a list of
//! a location's services never sees them).

use kumo_store::Write;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::records::{Collection, encode};
use crate::{Control, Error};

/// First port handed to a service.
pub const SERVICE_PORT_BASE: u16 = 8100;

/// Parent of every endpoint record in [`Collection::Services`].
pub const ENDPOINTS_PARENT: &str = "kumo-endpoints";

/// The store sequence service ports are drawn from.
const PORT_SEQUENCE: &str = "run_service_port";

/// Internal per-service state that clients never see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceEndpoint {
    /// The service, `projects/PROJECT_ID/locations/L/services/S`.
    pub service: String,
    /// Its `127.0.0.1` port.
    pub port: u16,
    /// The hashed host label (`SERVICE-HASH-REGIONCODE`).
    pub hashed_label: String,
    /// Revisions created so far (the `00001` part of revision names).
    pub revision_count: u64,
}

/// A service's URLs, in the order `urls` lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUrls {
    /// `http://127.0.0.1:PORT` — the `uri`.
    pub direct: String,
    /// `http://SERVICE-PROJECT_NUMBER.REGION.run.localhost:API_PORT`.
    pub deterministic: String,
    /// `http://SERVICE-HASH-REGIONCODE.a.run.localhost:API_PORT`.
    pub hashed: String,
}

impl ServiceUrls {
    /// All of them: `urls` and the accepted audiences.
    pub fn all(&self) -> Vec<String> {
        vec![
            self.direct.clone(),
            self.deterministic.clone(),
            self.hashed.clone(),
        ]
    }
}

/// The record name of a service's endpoint.
pub fn endpoint_record(service_name: &str) -> String {
    format!("endpoints/services/{service_name}")
}

fn port_record(port: u16) -> String {
    format!("endpoints/ports/{port}")
}

fn host_record(label: &str) -> String {
    format!("endpoints/hosts/{label}")
}

/// Stable 10 lowercase letters for `project`/`service` (FNV-1a, so that the hashed URL survives
/// restarts and is the same on every Kumo for the same names).
pub fn service_hash(project: &str, service: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in project.bytes().chain([b'/']).chain(service.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let mut out = String::with_capacity(10);
    for _ in 0..10 {
        let letter = (hash % 26) as u8;
        out.push(char::from(b'a' + letter));
        hash /= 26;
    }
    out
}

/// Cloud Run's short region codes in hashed URLs (`uc` = us-central1). Unknown regions get the
/// first letter of the first two parts of the name, which is how the published codes are built.
pub fn region_code(region: &str) -> String {
    let known = [
        ("us-central1", "uc"),
        ("us-east1", "ue"),
        ("us-east4", "uk"),
        ("us-west1", "uw"),
        ("us-west2", "wl"),
        ("europe-west1", "ew"),
        ("europe-west2", "nw"),
        ("europe-west3", "ey"),
        ("europe-west4", "ez"),
        ("europe-north1", "lz"),
        ("asia-northeast1", "an"),
        ("asia-northeast2", "dt"),
        ("asia-northeast3", "du"),
        ("asia-east1", "de"),
        ("asia-southeast1", "as"),
        ("australia-southeast1", "ts"),
        ("northamerica-northeast1", "nn"),
        ("southamerica-east1", "rj"),
    ];
    if let Some((_, code)) = known.iter().find(|(name, _)| *name == region) {
        return (*code).to_owned();
    }
    region
        .split('-')
        .filter_map(|part| part.chars().next())
        .take(2)
        .collect()
}

impl Control {
    /// The port of Kumo's API (and host-routed gateway), from `external_url`.
    pub fn gateway_port(&self) -> u16 {
        let url = &self.config().external_url;
        let authority = url
            .split("://")
            .nth(1)
            .unwrap_or(url)
            .split('/')
            .next()
            .unwrap_or_default();
        match authority.rsplit_once(':') {
            Some((_, port)) => port.parse().unwrap_or(80),
            None if url.starts_with("https://") => 443,
            None => 80,
        }
    }

    /// The URLs of a service, given its endpoint record.
    pub fn service_urls(
        &self,
        project_number: &str,
        location: &str,
        service: &str,
        endpoint: &ServiceEndpoint,
    ) -> ServiceUrls {
        let api_port = self.gateway_port();
        ServiceUrls {
            direct: format!("http://127.0.0.1:{}", endpoint.port),
            deterministic: format!(
                "http://{service}-{project_number}.{location}.run.localhost:{api_port}"
            ),
            hashed: format!(
                "http://{}.a.run.localhost:{api_port}",
                endpoint.hashed_label
            ),
        }
    }

    /// The endpoint record of a service, if it has one.
    pub fn service_endpoint(
        &self,
        service_name: &str,
    ) -> Result<Option<crate::records::Stored<ServiceEndpoint>>, Error> {
        self.load::<ServiceEndpoint>(Collection::Services, &endpoint_record(service_name))
    }

    /// Allocates a port and the host index for a new service; returns the endpoint and the
    /// writes that persist it (committed together with the service).
    pub(crate) fn allocate_endpoint(
        &self,
        project_id: &str,
        location: &str,
        service: &str,
    ) -> Result<(ServiceEndpoint, Vec<Write>), Error> {
        let name = format!("projects/{project_id}/locations/{location}/services/{service}");
        // Another program (or a second Kumo) may hold the next port of the range: skip those,
        // so that every service's URL is one its listener can really bind.
        let port = loop {
            let sequence = self
                .store()
                .next_sequence(PORT_SEQUENCE)
                .map_err(crate::records::store_error)?;
            let port = u16::try_from(u64::from(SERVICE_PORT_BASE) + sequence - 1)
                .map_err(|_| Error::internal("service port range exhausted"))?;
            if let Ok(listener) = std::net::TcpListener::bind(("127.0.0.1", port)) {
                self.reserve_listener(port, listener);
                break port;
            }
        };
        let hashed_label = format!(
            "{service}-{}-{}",
            service_hash(project_id, service),
            region_code(location)
        );
        let endpoint = ServiceEndpoint {
            service: name.clone(),
            port,
            hashed_label: hashed_label.clone(),
            revision_count: 0,
        };
        let collection = Collection::Services.as_str().to_owned();
        let writes = vec![
            Write::Upsert {
                collection: collection.clone(),
                name: endpoint_record(&name),
                parent: Some(ENDPOINTS_PARENT.to_owned()),
                data: encode(&endpoint)?,
            },
            Write::Upsert {
                collection: collection.clone(),
                name: port_record(port),
                parent: Some(ENDPOINTS_PARENT.to_owned()),
                data: json!({"service": name}),
            },
            Write::Upsert {
                collection,
                name: host_record(&hashed_label),
                parent: Some(ENDPOINTS_PARENT.to_owned()),
                data: json!({"service": name}),
            },
        ];
        Ok((endpoint, writes))
    }

    /// The writes that remove a service's endpoint records.
    pub(crate) fn endpoint_removal(&self, endpoint: &ServiceEndpoint) -> Vec<Write> {
        let collection = Collection::Services.as_str().to_owned();
        [
            endpoint_record(&endpoint.service),
            port_record(endpoint.port),
            host_record(&endpoint.hashed_label),
        ]
        .into_iter()
        .map(|name| Write::HardDelete {
            collection: collection.clone(),
            name,
            expected_revision: None,
        })
        .collect()
    }

    /// The service (`projects/PROJECT_ID/locations/L/services/S`) listening on `port`, if any.
    pub fn service_for_port(&self, port: u16) -> Result<Option<String>, Error> {
        Ok(self
            .load::<serde_json::Value>(Collection::Services, &port_record(port))?
            .and_then(|stored| stored.value["service"].as_str().map(str::to_owned)))
    }

    /// The service a `Host` header names (either URL form; the port is ignored), if any.
    pub fn service_for_host(&self, host: &str) -> Result<Option<String>, Error> {
        let host = host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                name
            } else {
                host
            }
        });
        let Some(label) = host.strip_suffix(".run.localhost") else {
            return Ok(None);
        };
        if let Some(hashed) = label.strip_suffix(".a") {
            return Ok(self
                .load::<serde_json::Value>(Collection::Services, &host_record(hashed))?
                .and_then(|stored| stored.value["service"].as_str().map(str::to_owned)));
        }
        let Some((first, region)) = label.split_once('.') else {
            return Ok(None);
        };
        let Some((service, number)) = first.rsplit_once('-') else {
            return Ok(None);
        };
        if service.is_empty() || number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(None);
        }
        let Some(project) = self.resolve_project(number)? else {
            return Ok(None);
        };
        let name = format!(
            "projects/{}/locations/{region}/services/{service}",
            project.id
        );
        Ok(self
            .service_endpoint(&name)?
            .map(|stored| stored.value.service))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_lowercase_and_name_sensitive() {
        let a = service_hash("demo-project", "hello");
        assert_eq!(a.len(), 10);
        assert!(a.bytes().all(|b| b.is_ascii_lowercase()));
        assert_eq!(a, service_hash("demo-project", "hello"));
        assert_ne!(a, service_hash("demo-project", "hello2"));
        assert_ne!(a, service_hash("demo-projec", "thello"));
    }

    #[test]
    fn region_codes() {
        assert_eq!(region_code("us-central1"), "uc");
        assert_eq!(region_code("asia-northeast1"), "an");
        assert_eq!(region_code("me-central2"), "mc");
    }
}
