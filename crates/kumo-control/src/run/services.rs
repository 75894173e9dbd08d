//! Cloud Run services: the v2 `Service` is the stored form; the v1 Knative API is another view of
//! it (`kumo_wire::run_v1::{service_from_v2, service_to_v2}`), so both APIs share
//! [`Control::apply_service`], which authorizes, validates, runs the deploy-time checks, persists
//! the service with a new immutable revision when the template changed, and starts the revision.
//!
//! Output-only fields are computed here, never taken from clients (who send them back on
//! update): `uid`, `createTime`, `updateTime`, `deleteTime` and `etag` come from the store record;
//! `generation` counts desired-state changes; `creator`/`lastModifier` are the callers;
//! conditions, `latestCreatedRevision`/`latestReadyRevision`, `trafficStatuses`, `uri`/`urls`
//! reflect the last deploy. A new revision is persisted first (reconciling), started by the
//! runtime, then the service settles: Ready, or failed with the container's message while the
//! previous revision keeps serving.

use std::collections::BTreeSet;

use base64::Engine as _;
use kumo_store::{Deleted, ListQuery, ParentFilter, Record, Write};
use kumo_wire::protobuf::format_timestamp;
use kumo_wire::run_v2::{
    Condition, ConditionState, Revision, Service, TrafficTarget,
    TrafficTargetAllocationType as Allocation, TrafficTargetStatus,
};
use rand::Rng as _;
use serde_json::Value;

use super::defaults::fill_revision_template;
use super::deploy_checks::Deploy;
use super::urls::{ServiceEndpoint, endpoint_record};
use crate::records::{Collection, encode};
use crate::{Call, Control, Error, ProjectInfo, ResourceRef};

/// How long a deleted service stays listable with `showDeleted` (Cloud Run's expiry is
/// UNCONFIRMED; 30 days like other soft-deleting Google APIs).
const DELETED_RETENTION_DAYS: i64 = 30;

/// The default and largest `pageSize` of `services.list`.
const MAX_PAGE_SIZE: usize = 1000;

/// v2 rejects annotations and labels in the namespaces that v1 uses for its system settings.
const RESERVED_PREFIXES: &[&str] = &[
    "run.googleapis.com/",
    "cloud.googleapis.com/",
    "serving.knative.dev/",
    "autoscaling.knative.dev/",
];

/// A service as a request names it, after resolving the project.
#[derive(Debug, Clone)]
pub struct ServiceKey {
    /// The project (id and number).
    pub project: ProjectInfo,
    /// Region.
    pub location: String,
    /// Service id.
    pub service: String,
}

impl ServiceKey {
    /// `projects/PROJECT_ID/locations/L/services/S`, the store name and the wire `name`.
    pub fn name(&self) -> String {
        format!(
            "projects/{}/locations/{}/services/{}",
            self.project.id, self.location, self.service
        )
    }

    /// The IAM resource.
    pub fn resource(&self) -> ResourceRef {
        ResourceRef::RunService {
            project: self.project.id.clone(),
            location: self.location.clone(),
            service: self.service.clone(),
        }
    }

    fn parent(&self) -> String {
        format!("projects/{}/locations/{}", self.project.id, self.location)
    }
}

/// What a write call asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyMode {
    /// v2 `CreateService` / v1 `CreateService`.
    Create,
    /// v2 `UpdateService`: needs `run.services.update` and `run.services.get`; with
    /// `allow_missing` a missing service is created (then `run.services.create` is needed).
    Update {
        /// `allowMissing`.
        allow_missing: bool,
    },
    /// v1 `ReplaceService`: needs `run.services.update`.
    Replace,
}

/// A create/update/replace request.
#[derive(Debug, Clone)]
pub struct ApplyService {
    /// The desired state (output-only fields are ignored).
    pub desired: Service,
    /// Create, update or replace.
    pub mode: ApplyMode,
    /// `validateOnly` / `dryRun=all`: check everything, persist nothing.
    pub validate_only: bool,
    /// The RPC, for the image-access warning entry.
    pub method_name: &'static str,
}

/// The result of a write: the service as stored, and whether the new revision failed to start.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The service with its output fields.
    pub service: Service,
    /// `Some(error)` when the runtime could not start the new revision (the LRO fails with it).
    pub deploy_error: Option<Error>,
}

/// Google's NOT_FOUND text for a service.
pub fn service_not_found(project: &str, location: &str, service: &str) -> Error {
    Error::not_found(format!(
        "Resource '{service}' of kind 'SERVICE' in region '{location}' in project '{project}' does not exist."
    ))
}

/// Validates a `serviceId` (service.proto: begins with a letter, lowercase letters, digits and
/// hyphens, does not end with a hyphen, fewer than 50 characters).
pub fn validate_service_id(id: &str) -> Result<(), Error> {
    let valid = id.len() < 50
        && id.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && !id.ends_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(Error::invalid_field(
            "service_id",
            format!(
                "Invalid value '{id}' for service_id: it must contain only lowercase letters, digits and hyphens, begin with a letter, not end with a hyphen, and be fewer than 50 characters."
            ),
        ))
    }
}

fn timestamp(time: chrono::DateTime<chrono::Utc>) -> String {
    format_timestamp(&time)
}

/// The desired state of a service: what a client may set. Two services with equal desired states
/// have the same generation.
fn desired_state(service: &Service) -> Service {
    let mut desired = Service {
        name: String::new(),
        description: service.description.clone(),
        labels: service.labels.clone(),
        annotations: service.annotations.clone(),
        client: service.client.clone(),
        client_version: service.client_version.clone(),
        ingress: service.ingress,
        launch_stage: service.launch_stage,
        binary_authorization: service.binary_authorization.clone(),
        template: service.template.clone(),
        traffic: service.traffic.clone(),
        scaling: service.scaling.clone(),
        invoker_iam_disabled: service.invoker_iam_disabled,
        default_uri_disabled: service.default_uri_disabled,
        iap_enabled: service.iap_enabled,
        multi_region_settings: service.multi_region_settings.clone(),
        custom_audiences: service.custom_audiences.clone(),
        threat_detection_enabled: service.threat_detection_enabled,
        build_config: service.build_config.clone(),
        ..Service::default()
    };
    if desired.traffic.is_empty() {
        desired.traffic = vec![TrafficTarget {
            kind: Some(Allocation::Latest),
            percent: Some(100),
            ..TrafficTarget::default()
        }];
    }
    if desired.ingress.is_none()
        || desired.ingress == Some(kumo_wire::run_v2::IngressTraffic::Unspecified)
    {
        desired.ingress = Some(kumo_wire::run_v2::IngressTraffic::All);
    }
    if desired.launch_stage.is_none()
        || desired.launch_stage == Some(kumo_wire::run_v2::LaunchStage::Unspecified)
    {
        desired.launch_stage = Some(kumo_wire::run_v2::LaunchStage::Ga);
    }
    desired
}

/// Field checks of a desired state that need no store access.
fn validate_desired(service: &Service) -> Result<(), Error> {
    let mut violations = Vec::new();
    let mut bad = |field: String, description: String| {
        violations.push(crate::FieldViolation { field, description });
    };
    for (kind, map) in [
        ("labels", &service.labels),
        ("annotations", &service.annotations),
    ] {
        for key in map.keys() {
            if RESERVED_PREFIXES
                .iter()
                .any(|prefix| key.starts_with(prefix))
            {
                bad(
                    format!("service.{kind}"),
                    format!("Unsupported {kind} key: {key}"),
                );
            }
        }
    }
    match &service.template {
        None => bad("service.template".into(), "template must be set".into()),
        Some(template) => {
            for (kind, map) in [
                ("labels", &template.labels),
                ("annotations", &template.annotations),
            ] {
                for key in map.keys() {
                    if RESERVED_PREFIXES
                        .iter()
                        .any(|prefix| key.starts_with(prefix))
                    {
                        bad(
                            format!("service.template.{kind}"),
                            format!("Unsupported {kind} key: {key}"),
                        );
                    }
                }
            }
            if template.containers.is_empty() {
                bad(
                    "service.template.containers".into(),
                    "at least one container must be specified".into(),
                );
            }
            for (index, container) in template.containers.iter().enumerate() {
                if container.image.trim().is_empty() {
                    bad(
                        format!("service.template.containers[{index}].image"),
                        "image must be specified".into(),
                    );
                }
            }
            if let Some(timeout) = &template.timeout {
                match kumo_wire::protobuf::Duration::parse(timeout) {
                    Ok(duration) if (1..=3600).contains(&duration.seconds) => {}
                    _ => bad(
                        "service.template.timeout".into(),
                        "timeout must be between 1 second and 3600 seconds".into(),
                    ),
                }
            }
        }
    }
    let mut percent_total = 0;
    let mut tags = BTreeSet::new();
    for (index, target) in service.traffic.iter().enumerate() {
        let percent = target.percent.unwrap_or(0);
        if !(0..=100).contains(&percent) {
            bad(
                format!("service.traffic[{index}].percent"),
                "percent must be between 0 and 100".into(),
            );
        }
        percent_total += percent;
        match target.kind {
            Some(Allocation::Revision) if target.revision.is_empty() => {
                bad(
                    format!("service.traffic[{index}].revision"),
                    "revision must be set when type is TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"
                        .into(),
                );
            }
            Some(Allocation::Latest) if !target.revision.is_empty() => {
                bad(
                    format!("service.traffic[{index}].revision"),
                    "revision must be empty when type is TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
                        .into(),
                );
            }
            None | Some(Allocation::Unspecified) if target.revision.is_empty() => {
                bad(
                    format!("service.traffic[{index}].type"),
                    "type must be set".into(),
                );
            }
            _ => {}
        }
        if !target.tag.is_empty() && !tags.insert(target.tag.clone()) {
            bad(
                format!("service.traffic[{index}].tag"),
                format!("tag '{}' is used more than once", target.tag),
            );
        }
    }
    if !service.traffic.is_empty() && percent_total != 100 {
        bad(
            "service.traffic".into(),
            format!("Traffic percentages must add up to 100, got {percent_total}."),
        );
    }
    match violations.first() {
        None => Ok(()),
        Some(first) => Err(Error::InvalidArgument {
            message: first.description.clone(),
            violations,
        }),
    }
}

/// `SERVICE-00001-abc`: the revision number zero-padded, then three random lowercase letters.
fn revision_id(service: &str, number: u64) -> String {
    let mut rng = rand::thread_rng();
    let suffix: String = (0..3)
        .map(|_| char::from(b'a' + rng.gen_range(0..26u8)))
        .collect();
    format!("{service}-{number:05}-{suffix}")
}

fn condition(kind: &str, state: ConditionState, message: &str, time: &str) -> Condition {
    Condition {
        kind: kind.to_owned(),
        state: Some(state),
        message: message.to_owned(),
        last_transition_time: Some(time.to_owned()),
        ..Condition::default()
    }
}

/// Page tokens of `services.list`: the position after the last returned service in
/// newest-first order.
fn encode_page_token(create_time: &str, name: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{create_time}\n{name}"))
}

fn decode_page_token(token: &str) -> Result<(String, String), Error> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| Error::invalid_field("page_token", "Invalid page token."))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::invalid_field("page_token", "Invalid page token."))?;
    let (time, name) = text
        .split_once('\n')
        .ok_or_else(|| Error::invalid_field("page_token", "Invalid page token."))?;
    Ok((time.to_owned(), name.to_owned()))
}

impl Control {
    /// Resolves the `{project}` of a request (id or number). An unknown project is refused with
    /// `permission` on the resource as named, like Google (which does not reveal existence).
    pub fn service_key(
        &self,
        call: &Call,
        project: &str,
        location: &str,
        service: &str,
        permission: &str,
    ) -> Result<ServiceKey, Error> {
        match self.resolve_project(project)? {
            Some(info) => Ok(ServiceKey {
                project: info,
                location: location.to_owned(),
                service: service.to_owned(),
            }),
            None => {
                let named = ResourceRef::RunService {
                    project: project.to_owned(),
                    location: location.to_owned(),
                    service: service.to_owned(),
                };
                self.authorize(call, permission, &named)?;
                Err(service_not_found(project, location, service))
            }
        }
    }

    /// A stored service with its record-derived output fields.
    fn service_view(&self, record: Record) -> Result<Service, Error> {
        let stored = self.decode::<Service>(record)?;
        let mut service = stored.value;
        service.uid = stored.record.uid.clone();
        service.etag = stored.record.etag.clone();
        service.create_time = Some(timestamp(stored.record.create_time));
        service.update_time = Some(timestamp(stored.record.update_time));
        if let Some(deleted) = stored.record.delete_time {
            service.delete_time = Some(timestamp(deleted));
            service.expire_time = Some(timestamp(
                deleted + chrono::Duration::days(DELETED_RETENTION_DAYS),
            ));
        }
        Ok(service)
    }

    fn load_service_record(&self, name: &str) -> Result<Option<Record>, Error> {
        self.store()
            .get(Collection::Services.as_str(), name)
            .map_err(crate::records::store_error)
    }

    /// `GetService`: needs `run.services.get`.
    pub fn get_service(&self, call: &Call, key: &ServiceKey) -> Result<Service, Error> {
        self.authorize(call, "run.services.get", &key.resource())?;
        match self.load_service_record(&key.name())? {
            Some(record) => self.service_view(record),
            None => Err(service_not_found(
                &key.project.id,
                &key.location,
                &key.service,
            )),
        }
    }

    /// `ListServices` under `projects/P/locations/L` (`location` may be `-` only for the v1
    /// global list, which the caller expands): newest first, paged.
    pub fn list_services(
        &self,
        call: &Call,
        project: &ProjectInfo,
        location: Option<&str>,
        page_size: Option<i64>,
        page_token: Option<&str>,
        show_deleted: bool,
    ) -> Result<(Vec<Service>, Option<String>), Error> {
        self.authorize(
            call,
            "run.services.list",
            &ResourceRef::Project(project.id.clone()),
        )?;
        let page_size = match page_size {
            None | Some(0) => MAX_PAGE_SIZE,
            Some(size) if size < 0 => {
                return Err(Error::invalid_field(
                    "page_size",
                    "page_size must not be negative",
                ));
            }
            Some(size) => usize::try_from(size)
                .unwrap_or(MAX_PAGE_SIZE)
                .min(MAX_PAGE_SIZE),
        };
        let after = page_token
            .filter(|token| !token.is_empty())
            .map(decode_page_token)
            .transpose()?;
        let parent = match location {
            Some(location) => {
                ParentFilter::Is(format!("projects/{}/locations/{location}", project.id))
            }
            None => ParentFilter::StartsWith(format!("projects/{}/locations/", project.id)),
        };
        let mut services = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .store()
                .list(
                    Collection::Services.as_str(),
                    &ListQuery {
                        parent: parent.clone(),
                        deleted: if show_deleted {
                            Deleted::Include
                        } else {
                            Deleted::Exclude
                        },
                        page_size: MAX_PAGE_SIZE,
                        page_token: token,
                        ..ListQuery::default()
                    },
                )
                .map_err(crate::records::store_error)?;
            for record in page.records {
                services.push(self.service_view(record)?);
            }
            match page.next_page_token {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        let order = |service: &Service| {
            (
                service.create_time.clone().unwrap_or_default(),
                service.name.clone(),
            )
        };
        services.sort_by_key(|service| std::cmp::Reverse(order(service)));
        if let Some(after) = after {
            services.retain(|service| order(service) < after);
        }
        let next = if services.len() > page_size {
            services.truncate(page_size);
            services.last().map(|last| {
                let (time, name) = order(last);
                encode_page_token(&time, &name)
            })
        } else {
            None
        };
        Ok((services, next))
    }

    /// The locations of `project` that hold a live service named `service` (for v1 paths, which
    /// name no region).
    pub fn service_locations(
        &self,
        project: &ProjectInfo,
        service: &str,
    ) -> Result<Vec<String>, Error> {
        let page = self
            .store()
            .list(
                Collection::Services.as_str(),
                &ListQuery {
                    parent: ParentFilter::StartsWith(format!("projects/{}/locations/", project.id)),
                    ..ListQuery::default()
                },
            )
            .map_err(crate::records::store_error)?;
        Ok(page
            .records
            .iter()
            .filter(|record| record.name.rsplit('/').next() == Some(service))
            .filter_map(|record| record.name.split('/').nth(3).map(str::to_owned))
            .collect())
    }

    /// Create, update (v2) or replace (v1) a service: authorization in Google's order, validation,
    /// the deploy-time checks, then one atomic write of the service, its new revision (when the
    /// template changed) and, for a new service, its endpoint; then the revision is started.
    pub async fn apply_service(
        &self,
        call: &Call,
        key: &ServiceKey,
        request: ApplyService,
    ) -> Result<Applied, Error> {
        let resource = key.resource();
        let name = key.name();
        let mut creating = matches!(request.mode, ApplyMode::Create);
        match request.mode {
            ApplyMode::Create => self.authorize(call, "run.services.create", &resource)?,
            ApplyMode::Update { .. } => {
                self.authorize(call, "run.services.update", &resource)?;
                self.authorize(call, "run.services.get", &resource)?;
            }
            ApplyMode::Replace => self.authorize(call, "run.services.update", &resource)?,
        }
        let current = self.load_service_record(&name)?;
        match (&current, request.mode) {
            (Some(_), ApplyMode::Create) => {
                return Err(Error::already_exists(format!(
                    "Resource '{}' already exists.",
                    key.service
                )));
            }
            (
                None,
                ApplyMode::Update {
                    allow_missing: true,
                },
            ) => {
                self.authorize(call, "run.services.create", &resource)?;
                creating = true;
            }
            (
                None,
                ApplyMode::Update {
                    allow_missing: false,
                }
                | ApplyMode::Replace,
            ) => {
                return Err(service_not_found(
                    &key.project.id,
                    &key.location,
                    &key.service,
                ));
            }
            _ => {}
        }
        validate_desired(&request.desired)?;
        let previous = match &current {
            Some(record) => Some(self.service_view(record.clone())?),
            None => None,
        };
        if let Some(previous) = &previous
            && !request.desired.etag.is_empty()
            && request.desired.etag != previous.etag
        {
            return Err(Error::aborted(format!(
                "The etag \"{}\" does not match the current etag of {name}: the service was modified concurrently. Read it again and retry.",
                request.desired.etag
            )));
        }
        let was_disabled = previous
            .as_ref()
            .is_some_and(|previous| previous.invoker_iam_disabled);
        if request.desired.invoker_iam_disabled != was_disabled {
            self.check_invoker_iam_change(call, &resource, request.desired.invoker_iam_disabled)?;
        }
        let mut desired = desired_state(&request.desired);
        let Some(requested) = desired.template.as_mut() else {
            return Err(Error::invalid_field(
                "service.template",
                "template must be set",
            ));
        };
        let images: Vec<&str> = requested
            .containers
            .iter()
            .map(|container| container.image.as_str())
            .collect();
        let runtime_account = self.check_deploy(
            call,
            &Deploy {
                project: &key.project,
                location: &key.location,
                resource: &resource,
                service_account: &requested.service_account,
                images,
                method_name: request.method_name,
            },
            desired.ingress,
        )?;
        // What Cloud Run fills in is part of the desired state: it is stored, shown and
        // compared (a client re-sending the same thin template changes nothing).
        fill_revision_template(requested, &runtime_account);
        let template = requested.clone();
        let mut candidate = desired.clone();
        candidate.name = name.clone();
        self.check_service_custom_constraints(
            &resource,
            &key.project.number,
            &candidate,
            creating,
        )?;

        let previous_desired = previous.as_ref().map(desired_state);
        let template_changed = previous
            .as_ref()
            .is_none_or(|previous| previous.template != desired.template);
        let changed = previous_desired.as_ref() != Some(&desired);
        let caller_email = call.caller.email().unwrap_or_default().to_owned();
        let now = timestamp(self.now());

        let mut endpoint_writes = Vec::new();
        let mut endpoint = match self.service_endpoint(&name)? {
            Some(stored) if !creating => stored.value,
            _ => {
                let (endpoint, writes) = if request.validate_only {
                    (
                        ServiceEndpoint {
                            service: name.clone(),
                            port: 0,
                            hashed_label: String::new(),
                            revision_count: 0,
                        },
                        Vec::new(),
                    )
                } else {
                    self.allocate_endpoint(&key.project.id, &key.location, &key.service)?
                };
                endpoint_writes = writes;
                endpoint
            }
        };

        let mut service = desired.clone();
        service.name = name.clone();
        service.creator = previous
            .as_ref()
            .map_or(caller_email.clone(), |previous| previous.creator.clone());
        service.last_modifier = caller_email.clone();
        service.generation = Some(match (&previous, changed) {
            (Some(previous), true) => previous.generation.unwrap_or(0) + 1,
            (Some(previous), false) => previous.generation.unwrap_or(1),
            (None, _) => 1,
        });
        let mut revision = None;
        if template_changed {
            endpoint.revision_count += 1;
            let revision_name = if template.revision.is_empty() {
                revision_id(&key.service, endpoint.revision_count)
            } else {
                if !template.revision.starts_with(&format!("{}-", key.service)) {
                    return Err(Error::invalid_field(
                        "service.template.revision",
                        format!(
                            "Revision name must be prefixed by the name of the enclosing Service: {}-",
                            key.service
                        ),
                    ));
                }
                template.revision.clone()
            };
            let revision_full = format!("{name}/revisions/{revision_name}");
            if self
                .load::<Value>(Collection::Revisions, &revision_full)?
                .is_some()
            {
                return Err(Error::already_exists(format!(
                    "Resource '{revision_name}' already exists."
                )));
            }
            revision = Some(Revision {
                name: revision_full,
                generation: Some(1),
                labels: template.labels.clone(),
                annotations: template.annotations.clone(),
                launch_stage: service.launch_stage,
                service: name.clone(),
                scaling: template.scaling.clone(),
                vpc_access: template.vpc_access.clone(),
                max_instance_request_concurrency: Some(
                    template.max_instance_request_concurrency.unwrap_or(80),
                ),
                timeout: Some(
                    template
                        .timeout
                        .clone()
                        .unwrap_or_else(|| "300s".to_owned()),
                ),
                service_account: runtime_account.clone(),
                containers: template.containers.clone(),
                volumes: template.volumes.clone(),
                execution_environment: template.execution_environment,
                encryption_key: template.encryption_key.clone(),
                service_mesh: template.service_mesh.clone(),
                encryption_key_revocation_action: template.encryption_key_revocation_action,
                encryption_key_shutdown_duration: template.encryption_key_shutdown_duration.clone(),
                session_affinity: template.session_affinity,
                node_selector: template.node_selector.clone(),
                gpu_zonal_redundancy_disabled: template.gpu_zonal_redundancy_disabled,
                creator: caller_email.clone(),
                observed_generation: Some(1),
                reconciling: false,
                ..Revision::default()
            });
        }
        let latest_created = revision
            .as_ref()
            .map(|revision| revision.name.clone())
            .or_else(|| {
                previous
                    .as_ref()
                    .map(|previous| previous.latest_created_revision.clone())
            })
            .unwrap_or_default();
        self.check_traffic_revisions(key, &desired.traffic, &latest_created)?;

        let urls = if request.validate_only && endpoint.port == 0 {
            None
        } else {
            Some(self.service_urls(&key.project.number, &key.location, &key.service, &endpoint))
        };
        service.latest_created_revision = latest_created;
        service.latest_ready_revision = previous
            .as_ref()
            .map(|previous| previous.latest_ready_revision.clone())
            .unwrap_or_default();
        if let Some(urls) = &urls {
            service.uri = urls.direct.clone();
            service.urls = urls.all();
        }
        let previous_statuses = previous
            .as_ref()
            .map(|previous| previous.traffic_statuses.clone())
            .unwrap_or_default();
        if revision.is_none() {
            // Nothing to start: the service settles at once.
            self.settle(key, &mut service, None, None, &now);
        } else {
            service.reconciling = true;
            service.terminal_condition =
                Some(condition("Ready", ConditionState::Reconciling, "", &now));
            service.conditions = vec![
                condition("RoutesReady", ConditionState::Reconciling, "", &now),
                condition("ConfigurationsReady", ConditionState::Reconciling, "", &now),
            ];
            service.traffic_statuses = previous_statuses.clone();
        }
        if let Some(revision) = &mut revision {
            revision.reconciling = true;
            revision.conditions = vec![condition("Ready", ConditionState::Reconciling, "", &now)];
        }

        if request.validate_only {
            if let Some(revision) = revision.as_mut() {
                self.settle(key, &mut service, Some(revision), None, &now);
            }
            if let Some(previous) = &previous {
                service.uid = previous.uid.clone();
                service.etag = previous.etag.clone();
                service.create_time = previous.create_time.clone();
            }
            return Ok(Applied {
                service,
                deploy_error: None,
            });
        }

        // The service and its new revision are persisted before the revision starts (the
        // runtime reads them), then settle with the outcome.
        let collection = Collection::Services.as_str().to_owned();
        let mut writes = Vec::new();
        let data = encode(&stored_form(&service))?;
        match &current {
            Some(record) => writes.push(Write::Update {
                collection: collection.clone(),
                name: name.clone(),
                data,
                expected_revision: Some(record.revision),
            }),
            None => {
                if self
                    .store()
                    .get_including_deleted(&collection, &name)
                    .map_err(crate::records::store_error)?
                    .is_some()
                {
                    writes.push(Write::HardDelete {
                        collection: collection.clone(),
                        name: name.clone(),
                        expected_revision: None,
                    });
                }
                writes.push(Write::Create {
                    collection: collection.clone(),
                    name: name.clone(),
                    parent: Some(key.parent()),
                    data,
                });
            }
        }
        writes.extend(endpoint_writes);
        if template_changed {
            writes.push(Write::Upsert {
                collection: collection.clone(),
                name: endpoint_record(&name),
                parent: Some(super::urls::ENDPOINTS_PARENT.to_owned()),
                data: encode(&endpoint)?,
            });
        }
        if let Some(revision) = &revision {
            writes.push(Write::Create {
                collection: Collection::Revisions.as_str().to_owned(),
                name: revision.name.clone(),
                parent: Some(name.clone()),
                data: encode(revision)?,
            });
        }
        let records = self.commit(&writes).map_err(|error| match error {
            Error::Aborted { .. } => Error::aborted(format!(
                "The service {name} was modified concurrently. Read it again and retry."
            )),
            other => other,
        })?;
        // The last write on the name is the create or update (a hard delete of a deleted
        // service may precede it).
        let record = records
            .into_iter()
            .rev()
            .find(|record| record.name == name && record.collection == collection)
            .ok_or_else(|| Error::internal("service write returned no record"))?;
        // The data plane re-reads the service (invoker check, audiences, ingress, ports).
        self.invalidate_service(&name);
        let Some(mut revision) = revision else {
            return Ok(Applied {
                service: self.service_view(record)?,
                deploy_error: None,
            });
        };

        let persisted = self.service_view(record.clone())?;
        let deploy_error = self
            .runtime()
            .deploy_revision(&revision, &persisted)
            .await
            .err()
            .map(|error| not_ready(&revision.name, error));
        let now = timestamp(self.now());
        match &deploy_error {
            None => self.settle(key, &mut service, Some(&mut revision), None, &now),
            Some(error) => {
                self.settle(key, &mut service, Some(&mut revision), Some(error), &now);
                service.traffic_statuses = previous_statuses;
            }
        }
        let settled = self.commit(&[
            Write::Update {
                collection: collection.clone(),
                name: name.clone(),
                data: encode(&stored_form(&service))?,
                expected_revision: Some(record.revision),
            },
            Write::Update {
                collection: Collection::Revisions.as_str().to_owned(),
                name: revision.name.clone(),
                data: encode(&revision)?,
                expected_revision: None,
            },
        ]);
        let record = match settled {
            Ok(records) => records.into_iter().next().unwrap_or(record),
            // A concurrent write superseded this one; it settles on its own.
            Err(Error::Aborted { .. } | Error::NotFound { .. }) => {
                return Ok(Applied {
                    service: persisted,
                    deploy_error,
                });
            }
            Err(other) => return Err(other),
        };
        self.invalidate_service(&name);
        if deploy_error.is_none() {
            let keep: Vec<String> = service
                .traffic
                .iter()
                .map(|target| match target.kind {
                    Some(Allocation::Latest) => service.latest_ready_revision.clone(),
                    _ => format!("{name}/revisions/{}", target.revision),
                })
                .collect();
            self.runtime().retire_revisions_except(&name, &keep).await;
        }
        Ok(Applied {
            service: self.service_view(record)?,
            deploy_error,
        })
    }

    /// The service's and the new revision's state after a deploy outcome (`failure` = the
    /// revision did not start): conditions, `latestReadyRevision`, traffic statuses.
    fn settle(
        &self,
        key: &ServiceKey,
        service: &mut Service,
        revision: Option<&mut Revision>,
        failure: Option<&Error>,
        now: &str,
    ) {
        // The service's conditions say which revision failed; the revision's own, why.
        let message = failure.map(Error::public_message).unwrap_or_default();
        let why = message
            .split_once(NOT_READY_END)
            .map_or(message.as_str(), |(_, why)| why);
        let state = if failure.is_some() {
            ConditionState::Failed
        } else {
            ConditionState::Succeeded
        };
        if let Some(revision) = revision {
            revision.reconciling = false;
            let mut ready = condition("Ready", state, why, now);
            if failure.is_some() {
                ready.severity = Some(kumo_wire::run_v2::ConditionSeverity::Error);
                ready.reason = Some(kumo_wire::run_v2::CommonReason::RevisionFailed);
            }
            revision.conditions = vec![
                ready,
                condition("ContainerHealthy", state, why, now),
                condition("ResourcesAvailable", ConditionState::Succeeded, "", now),
            ];
            if failure.is_none() {
                service.latest_ready_revision = revision.name.clone();
            }
        }
        service.reconciling = false;
        service.observed_generation = service.generation;
        match failure {
            None => {
                service.terminal_condition =
                    Some(condition("Ready", ConditionState::Succeeded, "", now));
                service.conditions = vec![
                    condition("RoutesReady", ConditionState::Succeeded, "", now),
                    condition("ConfigurationsReady", ConditionState::Succeeded, "", now),
                ];
            }
            Some(_) => {
                let mut failed = condition("Ready", ConditionState::Failed, &message, now);
                failed.severity = Some(kumo_wire::run_v2::ConditionSeverity::Error);
                failed.reason = Some(kumo_wire::run_v2::CommonReason::RevisionFailed);
                service.terminal_condition = Some(failed);
                service.conditions = vec![
                    condition("RoutesReady", ConditionState::Succeeded, "", now),
                    condition("ConfigurationsReady", ConditionState::Failed, why, now),
                ];
            }
        }
        let gateway_port = self.gateway_port();
        let has_urls = !service.uri.is_empty();
        service.traffic_statuses = service
            .traffic
            .iter()
            .map(|target| TrafficTargetStatus {
                kind: target.kind,
                revision: match target.kind {
                    Some(Allocation::Latest) => String::new(),
                    _ => target.revision.clone(),
                },
                percent: target.percent,
                tag: target.tag.clone(),
                uri: if has_urls && !target.tag.is_empty() {
                    format!(
                        "http://{}---{}-{}.{}.run.localhost:{gateway_port}",
                        target.tag, key.service, key.project.number, key.location
                    )
                } else {
                    String::new()
                },
            })
            .collect();
    }

    /// Every `REVISION` traffic target must name a revision of this service.
    fn check_traffic_revisions(
        &self,
        key: &ServiceKey,
        traffic: &[TrafficTarget],
        new_revision: &str,
    ) -> Result<(), Error> {
        for (index, target) in traffic.iter().enumerate() {
            if target.revision.is_empty() {
                continue;
            }
            let full = format!("{}/revisions/{}", key.name(), target.revision);
            if full != new_revision && self.load::<Value>(Collection::Revisions, &full)?.is_none() {
                return Err(Error::invalid_field(
                    format!("service.traffic[{index}].revision"),
                    format!("Revision '{}' does not exist.", target.revision),
                ));
            }
        }
        Ok(())
    }

    /// `DeleteService`: needs `run.services.delete`; removes the service's revisions and endpoint
    /// and returns the deleted service.
    pub async fn delete_service(
        &self,
        call: &Call,
        key: &ServiceKey,
        validate_only: bool,
        etag: Option<&str>,
    ) -> Result<Service, Error> {
        self.authorize(call, "run.services.delete", &key.resource())?;
        let name = key.name();
        let Some(record) = self.load_service_record(&name)? else {
            return Err(service_not_found(
                &key.project.id,
                &key.location,
                &key.service,
            ));
        };
        let service = self.service_view(record.clone())?;
        if let Some(etag) = etag.filter(|etag| !etag.is_empty())
            && etag != service.etag
        {
            return Err(Error::aborted(format!(
                "The etag \"{etag}\" does not match the current etag of {name}: the service was modified concurrently. Read it again and retry."
            )));
        }
        if validate_only {
            return Ok(service);
        }
        let mut writes = vec![Write::SoftDelete {
            collection: Collection::Services.as_str().to_owned(),
            name: name.clone(),
            data: None,
            expected_revision: Some(record.revision),
        }];
        for revision in self.revision_records(&name)? {
            writes.push(Write::HardDelete {
                collection: Collection::Revisions.as_str().to_owned(),
                name: revision.name,
                expected_revision: None,
            });
        }
        if let Some(endpoint) = self.service_endpoint(&name)? {
            writes.extend(self.endpoint_removal(&endpoint.value));
        }
        self.commit(&writes)?;
        self.invalidate_service(&name);
        self.runtime().retire_service(&name).await;
        match self
            .store()
            .get_including_deleted(Collection::Services.as_str(), &name)
            .map_err(crate::records::store_error)?
        {
            Some(record) => self.service_view(record),
            None => Ok(service),
        }
    }

    /// All revision records of a service.
    pub(crate) fn revision_records(&self, service_name: &str) -> Result<Vec<Record>, Error> {
        let mut records = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .store()
                .list(
                    Collection::Revisions.as_str(),
                    &ListQuery {
                        parent: ParentFilter::Is(service_name.to_owned()),
                        page_size: MAX_PAGE_SIZE,
                        page_token: token,
                        ..ListQuery::default()
                    },
                )
                .map_err(crate::records::store_error)?;
            records.extend(page.records);
            match page.next_page_token {
                Some(next) => token = Some(next),
                None => return Ok(records),
            }
        }
    }

    /// `GetIamPolicy` on a service: `run.services.getIamPolicy`.
    pub fn get_service_iam_policy(
        &self,
        call: &Call,
        key: &ServiceKey,
        requested_version: i64,
    ) -> Result<Value, Error> {
        self.require_service_for_iam(call, key, "run.services.getIamPolicy")?;
        self.get_iam_policy(
            call,
            &key.resource(),
            "run.services.getIamPolicy",
            requested_version,
        )
    }

    /// `SetIamPolicy` on a service: `run.services.setIamPolicy`.
    pub fn set_service_iam_policy(
        &self,
        call: &Call,
        key: &ServiceKey,
        policy: &Value,
        update_mask: Option<&str>,
    ) -> Result<Value, Error> {
        self.require_service_for_iam(call, key, "run.services.setIamPolicy")?;
        self.set_iam_policy(
            call,
            &key.resource(),
            "run.services.setIamPolicy",
            policy,
            update_mask,
        )
    }

    /// `TestIamPermissions` on a service (no permission needed; an absent service holds nothing).
    pub fn test_service_iam_permissions(
        &self,
        call: &Call,
        key: &ServiceKey,
        permissions: &[String],
    ) -> Result<Vec<String>, Error> {
        let held = self.test_iam_permissions(call, &key.resource(), permissions)?;
        if self.load_service_record(&key.name())?.is_none() {
            return Ok(Vec::new());
        }
        Ok(held)
    }

    /// A caller allowed to see the policy learns that the service does not exist; others get
    /// the permission refusal from the policy call itself.
    fn require_service_for_iam(
        &self,
        call: &Call,
        key: &ServiceKey,
        permission: &str,
    ) -> Result<(), Error> {
        if self.has_permission(&call.caller, permission, &key.resource())?
            && self.load_service_record(&key.name())?.is_none()
        {
            return Err(service_not_found(
                &key.project.id,
                &key.location,
                &key.service,
            ));
        }
        Ok(())
    }
}

/// What is persisted: the wire service without the fields the record supplies.
fn stored_form(service: &Service) -> Service {
    let mut stored = service.clone();
    stored.uid.clear();
    stored.etag.clear();
    stored.create_time = None;
    stored.update_time = None;
    stored.delete_time = None;
    stored.expire_time = None;
    stored
}

/// What ends the first sentence of a failed deploy's message (see [`not_ready`]).
const NOT_READY_END: &str = " is not ready and cannot serve traffic. ";

/// A revision that did not start, as Cloud Run reports it on the service (its `Ready`
/// condition, the deploy's operation, gcloud's `ERROR:` line): `Revision 'hello-00002-x' is
/// not ready and cannot serve traffic. ` before the revision's own reason. Other errors (the
/// store, an unknown image) pass unchanged.
fn not_ready(revision: &str, error: Error) -> Error {
    match error {
        Error::FailedPrecondition { .. } => {
            let id = revision.rsplit('/').next().unwrap_or(revision);
            Error::failed_precondition(format!(
                "Revision '{id}'{NOT_READY_END}{}",
                error.public_message()
            ))
        }
        other => other,
    }
}

/// An `Any` holding a v2 Service (operation metadata and response).
pub fn service_any(service: &Service) -> Result<Value, Error> {
    kumo_wire::protobuf::to_any("google.cloud.run.v2.Service", service).map_err(Error::internal)
}

/// The operation a v2 write returns, already done: Kumo deploys before answering, and a done
/// operation is legal (clients skip polling). A revision that failed to start fails the operation.
pub fn finished_operation(
    control: &Control,
    key: &ServiceKey,
    applied: &Applied,
) -> Result<Value, Error> {
    let metadata = service_any(&applied.service)?;
    let operation = control.start_operation(&key.project.id, &key.location, metadata.clone())?;
    let name = operation["name"].as_str().unwrap_or_default().to_owned();
    let outcome = match &applied.deploy_error {
        None => Ok(metadata.clone()),
        Some(error) => Err(error.clone()),
    };
    control.finish_operation(&name, Some(metadata), outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_ids() {
        for good in ["hello", "a", "my-service-2", &"a".repeat(49)] {
            assert!(validate_service_id(good).is_ok(), "{good}");
        }
        for bad in ["", "1abc", "-a", "a-", "Hello", "a_b", &"a".repeat(50)] {
            assert!(
                matches!(validate_service_id(bad), Err(Error::InvalidArgument { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn revision_names_follow_cloud_run() {
        let name = revision_id("hello", 1);
        let (prefix, suffix) = name.rsplit_once('-').unwrap();
        assert_eq!(prefix, "hello-00001");
        assert_eq!(suffix.len(), 3);
        assert!(suffix.bytes().all(|b| b.is_ascii_lowercase()));
    }

    #[test]
    fn page_tokens_round_trip() {
        let token = encode_page_token("2026-01-01T00:00:00Z", "projects/p/locations/l/services/s");
        assert_eq!(
            decode_page_token(&token).unwrap(),
            (
                "2026-01-01T00:00:00Z".to_owned(),
                "projects/p/locations/l/services/s".to_owned()
            )
        );
        assert!(decode_page_token("!!").is_err());
    }

    #[test]
    fn traffic_must_sum_to_100() {
        let template = kumo_wire::run_v2::RevisionTemplate {
            containers: vec![kumo_wire::run_v2::Container {
                image: "x".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut service = Service {
            template: Some(template),
            ..Service::default()
        };
        assert!(validate_desired(&service).is_ok());
        service.traffic = vec![TrafficTarget {
            kind: Some(Allocation::Latest),
            percent: Some(60),
            ..Default::default()
        }];
        assert!(validate_desired(&service).is_err());
        service.traffic.push(TrafficTarget {
            kind: Some(Allocation::Revision),
            revision: "s-00001-abc".into(),
            percent: Some(40),
            ..Default::default()
        });
        assert!(validate_desired(&service).is_ok());
    }

    #[test]
    fn desired_state_ignores_output_fields() {
        let a = Service {
            uri: "x".into(),
            generation: Some(4),
            etag: "e".into(),
            ..Service::default()
        };
        assert_eq!(desired_state(&a), desired_state(&Service::default()));
    }
}
