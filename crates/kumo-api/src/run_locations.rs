//! Cloud Run's `projects.locations.list` (`GET /v1/projects/{project}/locations`): the regions
//! `gcloud run` offers when it asks "Please specify a region:". No IAM permission guards it
//! (Google's role catalog has no `run.locations.list`); any authenticated caller may list.

use serde_json::json;

use crate::dispatch::ok;
use crate::{Reply, Request};

/// The regions Kumo serves Cloud Run in, with Google's display names.
/// UNCONFIRMED: Google lists every Cloud Run region (some forty); Kumo lists those whose
/// short URL codes it knows (`kumo-control`'s `region_code`), the same set its console offers.
const REGIONS: [(&str, &str); 18] = [
    ("asia-east1", "Taiwan"),
    ("asia-northeast1", "Tokyo"),
    ("asia-northeast2", "Osaka"),
    ("asia-northeast3", "Seoul"),
    ("asia-southeast1", "Singapore"),
    ("australia-southeast1", "Sydney"),
    ("europe-north1", "Finland"),
    ("europe-west1", "Belgium"),
    ("europe-west2", "London"),
    ("europe-west3", "Frankfurt"),
    ("europe-west4", "Netherlands"),
    ("northamerica-northeast1", "Montréal"),
    ("southamerica-east1", "São Paulo"),
    ("us-central1", "Iowa"),
    ("us-east1", "South Carolina"),
    ("us-east4", "Northern Virginia"),
    ("us-west1", "Oregon"),
    ("us-west2", "Los Angeles"),
];

/// `GET /v1/projects/{project}/locations`: one page holds them all.
pub async fn list_locations(_api: crate::Api, req: Request) -> Reply {
    let project = req.param("project");
    let locations: Vec<_> = REGIONS
        .iter()
        .map(|(id, display)| {
            json!({
                "name": format!("projects/{project}/locations/{id}"),
                "locationId": id,
                "displayName": display,
                "labels": {"cloud.googleapis.com/region": id},
            })
        })
        .collect();
    ok(&json!({ "locations": locations }))
}
