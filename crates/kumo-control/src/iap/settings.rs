//! IAP's resource hierarchy inside a project and `IapSettings` on it
//! (google/cloud/iap/v1/service.proto, `GetIapSettings` / `UpdateIapSettings`).
//!
//! The IAP web resources of a project nest: `projects/PN/iap_web` → `…/cloud_run-REGION` →
//! `…/services/SERVICE` (gcloud's `IAPWeb`, `CloudRuns` and `CloudRun` resources). IAM bindings at
//! each level are inherited downwards (the ancestry in `hierarchy.rs`), and so are settings: the
//! effective settings of a service are the project's, overridden field by field by `iap_web`'s,
//! then `cloud_run-REGION`'s, then the service's own.
//!
//! Stored faithfully: every field of `IapSettings` round-trips. Acted on: `accessSettings.
//! allowedDomainsSettings` (who may pass at all), `accessSettings.oauthSettings.
//! programmaticClients` (the extra OAuth clients whose ID tokens IAP accepts) and
//! `applicationSettings.accessDeniedPageSettings.accessDeniedPageUri` (the custom denied page).

use kumo_store::Write;
use serde_json::{Map, Value, json};

use crate::records::Collection;
use crate::{Call, Control, Error, ResourceRef};

/// What is done to an IAP resource; each level has its own permission for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IapAction {
    /// `getIamPolicy`.
    GetIamPolicy,
    /// `setIamPolicy`.
    SetIamPolicy,
    /// `GET …:iapSettings`.
    GetSettings,
    /// `PATCH …:iapSettings`.
    UpdateSettings,
}

/// A level of the IAP hierarchy as the IAP API's paths name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IapLevel<'a> {
    /// `projects/P` (settings only).
    Project,
    /// `projects/P/iap_web`.
    Web,
    /// `projects/P/iap_web/WEB_TYPE` (Kumo knows `cloud_run-REGION`).
    WebType(&'a str),
    /// `projects/P/iap_web/WEB_TYPE/services/SERVICE`.
    Service(&'a str, &'a str),
}

/// The permission `action` needs on `resource` (the `iap.web*` permission of its level; the
/// project level is `iap.projects.*`). A Cloud Run service is checked at the service-version
/// level, the one that also carries `accessViaIAP`. UNCONFIRMED: whether Google checks
/// `iap.webServices.*` or `iap.webServiceVersions.*` there; every predefined IAP role holds both.
pub fn iap_permission(resource: &ResourceRef, action: IapAction) -> &'static str {
    use IapAction::*;
    match (resource, action) {
        (ResourceRef::IapWeb { .. }, GetIamPolicy) => "iap.web.getIamPolicy",
        (ResourceRef::IapWeb { .. }, SetIamPolicy) => "iap.web.setIamPolicy",
        (ResourceRef::IapWeb { .. }, GetSettings) => "iap.web.getSettings",
        (ResourceRef::IapWeb { .. }, UpdateSettings) => "iap.web.updateSettings",
        (ResourceRef::IapCloudRun { .. }, GetIamPolicy) => "iap.webTypes.getIamPolicy",
        (ResourceRef::IapCloudRun { .. }, SetIamPolicy) => "iap.webTypes.setIamPolicy",
        (ResourceRef::IapCloudRun { .. }, GetSettings) => "iap.webTypes.getSettings",
        (ResourceRef::IapCloudRun { .. }, UpdateSettings) => "iap.webTypes.updateSettings",
        (ResourceRef::Project(_), UpdateSettings) => "iap.projects.updateSettings",
        (ResourceRef::Project(_), _) => "iap.projects.getSettings",
        (_, GetIamPolicy) => super::GET_IAM_POLICY,
        (_, SetIamPolicy) => super::SET_IAM_POLICY,
        (_, GetSettings) => super::GET_SETTINGS,
        (_, UpdateSettings) => super::UPDATE_SETTINGS,
    }
}

/// The fields of each `IapSettings` message (JSON names), to refuse unknown ones as Google's
/// JSON parser does. Wrapper types (`StringValue`, `BoolValue`) are plain JSON values.
const MESSAGES: &[(&str, &[&str])] = &[
    (
        "iap_settings",
        &["name", "accessSettings", "applicationSettings"],
    ),
    (
        "iap_settings.access_settings",
        &[
            "gcipSettings",
            "corsSettings",
            "oauthSettings",
            "reauthSettings",
            "allowedDomainsSettings",
            "workforceIdentitySettings",
            "identitySources",
        ],
    ),
    (
        "iap_settings.access_settings.gcip_settings",
        &["tenantIds", "loginPageUri"],
    ),
    (
        "iap_settings.access_settings.cors_settings",
        &["allowHttpOptions"],
    ),
    (
        "iap_settings.access_settings.oauth_settings",
        &["loginHint", "programmaticClients"],
    ),
    (
        "iap_settings.access_settings.reauth_settings",
        &["method", "maxAge", "policyType"],
    ),
    (
        "iap_settings.access_settings.allowed_domains_settings",
        &["enable", "domains"],
    ),
    (
        "iap_settings.access_settings.workforce_identity_settings",
        &["workforcePools", "oauth2"],
    ),
    (
        "iap_settings.application_settings",
        &[
            "csmSettings",
            "accessDeniedPageSettings",
            "cookieDomain",
            "attributePropagationSettings",
        ],
    ),
    (
        "iap_settings.application_settings.csm_settings",
        &["rctokenAud"],
    ),
    (
        "iap_settings.application_settings.access_denied_page_settings",
        &[
            "accessDeniedPageUri",
            "generateTroubleshootingUri",
            "remediationTokenGenerationEnabled",
        ],
    ),
    (
        "iap_settings.application_settings.attribute_propagation_settings",
        &["expression", "outputCredentials", "enable"],
    ),
];

/// `fooBar` → `foo_bar` (proto field names in Google's error paths).
fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `foo_bar` → `fooBar` (update masks may use either form).
fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Refuses unknown fields and values of the wrong kind, with Google's JSON-parser texts.
fn validate(value: &Value, path: &str) -> Result<(), Error> {
    let Some(fields) = MESSAGES
        .iter()
        .find(|(message, _)| *message == path)
        .map(|(_, fields)| *fields)
    else {
        return Ok(());
    };
    let Some(object) = value.as_object() else {
        return Err(Error::invalid(format!(
            "Invalid JSON payload received. Invalid value at '{path}': expected an object."
        )));
    };
    for (name, child) in object {
        if !fields.contains(&name.as_str()) {
            return Err(Error::invalid(format!(
                "Invalid JSON payload received. Unknown name \"{name}\" at '{path}': Cannot find field."
            )));
        }
        validate(child, &format!("{path}.{}", snake(name)))?;
    }
    let allowed = &value["accessSettings"]["allowedDomainsSettings"];
    if path == "iap_settings" && !allowed.is_null() {
        let domains_ok = allowed["domains"].is_null()
            || allowed["domains"]
                .as_array()
                .is_some_and(|list| list.iter().all(Value::is_string));
        let enable_ok = allowed["enable"].is_null() || allowed["enable"].is_boolean();
        if !domains_ok || !enable_ok {
            return Err(Error::invalid(
                "Invalid JSON payload received. Invalid value at 'iap_settings.access_settings.allowed_domains_settings'.",
            ));
        }
    }
    let clients = &value["accessSettings"]["oauthSettings"]["programmaticClients"];
    if path == "iap_settings"
        && !clients.is_null()
        && !clients
            .as_array()
            .is_some_and(|list| list.iter().all(Value::is_string))
    {
        return Err(Error::invalid(
            "Invalid JSON payload received. Invalid value at 'iap_settings.access_settings.oauth_settings.programmatic_clients'.",
        ));
    }
    Ok(())
}

/// Copies the field at `path` (dotted JSON names) from `source` into `target`, removing it from
/// `target` when `source` does not set it (a field mask names what is replaced).
fn apply_mask_path(target: &mut Value, source: &Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut from = Some(source);
    for name in parents {
        from = from.and_then(|value| value.get(name.as_str()));
    }
    let new_value = from.and_then(|value| value.get(last.as_str())).cloned();
    let mut to = target;
    for name in parents {
        if !to.is_object() {
            *to = Value::Object(Map::new());
        }
        let Some(object) = to.as_object_mut() else {
            return;
        };
        to = object
            .entry(name.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !to.is_object() {
        *to = Value::Object(Map::new());
    }
    if let Some(object) = to.as_object_mut() {
        match new_value {
            Some(value) => {
                object.insert(last.clone(), value);
            }
            None => {
                object.remove(last.as_str());
            }
        }
    }
}

/// Drops empty objects left behind by a mask that cleared their last field.
fn prune(value: &mut Value) {
    if let Some(object) = value.as_object_mut() {
        for child in object.values_mut() {
            prune(child);
        }
        object.retain(|_, child| !matches!(child, Value::Object(map) if map.is_empty()));
    }
}

/// Lays `over` on `base`: objects merge field by field, anything else replaces.
fn overlay(base: &mut Value, over: &Value) {
    match (base.as_object_mut(), over.as_object()) {
        (Some(base_object), Some(over_object)) => {
            for (name, value) in over_object {
                match base_object.get_mut(name) {
                    Some(existing) => overlay(existing, value),
                    None => {
                        base_object.insert(name.clone(), value.clone());
                    }
                }
            }
        }
        _ => *base = over.clone(),
    }
}

/// Whether `email` is in one of the allowed domains. A domain matches exactly; `*.example.com`
/// matches its subdomains (the wildcard form Terraform samples use). UNCONFIRMED: whether
/// Google matches the email's domain or the account's hosted domain (`hd`); Kumo uses the email.
pub fn domain_allowed(email: &str, domains: &[String]) -> bool {
    let Some((_, domain)) = email.rsplit_once('@') else {
        return false;
    };
    let domain = domain.to_ascii_lowercase();
    domains.iter().any(|allowed| {
        let allowed = allowed.to_ascii_lowercase();
        match allowed.strip_prefix("*.") {
            Some(parent) => domain.ends_with(&format!(".{parent}")),
            None => domain == allowed,
        }
    })
}

/// The effective settings that change what IAP does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EffectiveIapSettings {
    /// `allowedDomainsSettings` when enabled: only these domains may pass.
    pub allowed_domains: Option<Vec<String>>,
    /// `oauthSettings.programmaticClients`: OAuth client ids whose ID tokens IAP accepts.
    pub programmatic_clients: Vec<String>,
    /// `applicationSettings.accessDeniedPageSettings.accessDeniedPageUri`: where browsers are
    /// sent instead of IAP's own access-denied page.
    pub access_denied_page_uri: Option<String>,
    /// `accessSettings.corsSettings.allowHttpOptions`: OPTIONS requests (CORS preflights) skip
    /// IAP's authentication and authorization.
    pub allow_http_options: bool,
}

impl EffectiveIapSettings {
    fn from_value(settings: &Value) -> EffectiveIapSettings {
        let strings = |value: &Value| -> Vec<String> {
            value
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let access = &settings["accessSettings"];
        let allowed = &access["allowedDomainsSettings"];
        EffectiveIapSettings {
            allowed_domains: (allowed["enable"].as_bool() == Some(true))
                .then(|| strings(&allowed["domains"])),
            programmatic_clients: strings(&access["oauthSettings"]["programmaticClients"]),
            access_denied_page_uri:
                settings["applicationSettings"]["accessDeniedPageSettings"]["accessDeniedPageUri"]
                    .as_str()
                    .filter(|uri| uri.starts_with("https://") || uri.starts_with("http://"))
                    .map(str::to_owned),
            allow_http_options: access["corsSettings"]["allowHttpOptions"].as_bool() == Some(true),
        }
    }
}

impl Control {
    /// The IAP resource a path of the IAP API names, with the project given by number or id.
    /// An unknown project is refused like a missing permission (Google does not reveal which
    /// projects exist).
    pub fn iap_resource_at(
        &self,
        project: &str,
        level: IapLevel<'_>,
        action: IapAction,
    ) -> Result<ResourceRef, Error> {
        let relative = match level {
            IapLevel::Project => format!("projects/{project}"),
            IapLevel::Web => format!("projects/{project}/iap_web"),
            IapLevel::WebType(web) => format!("projects/{project}/iap_web/{web}"),
            IapLevel::Service(web, service) => {
                format!("projects/{project}/iap_web/{web}/services/{service}")
            }
        };
        let valid = |text: &str| {
            !text.is_empty()
                && text
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        let region = match level {
            IapLevel::Project | IapLevel::Web => None,
            IapLevel::WebType(web) | IapLevel::Service(web, _) => {
                Some(web.strip_prefix("cloud_run-").ok_or_else(|| {
                    Error::invalid_field(
                        "resource",
                        format!("Invalid resource type: {web}. Kumo supports cloud_run-REGION."),
                    )
                })?)
            }
        };
        let service = match level {
            IapLevel::Service(_, service) => Some(service),
            _ => None,
        };
        if !valid(project) || !region.is_none_or(valid) || !service.is_none_or(valid) {
            return Err(Error::invalid_field(
                "resource",
                format!("Invalid resource name: {relative}"),
            ));
        }
        let Some(info) = self.resolve_project(project)? else {
            // Named as the level would be, for the permission the refusal names.
            let (id, number) = (project.to_owned(), project.to_owned());
            let unresolved = match (level, region, service) {
                (IapLevel::Project, ..) => ResourceRef::Project(id),
                (_, Some(region), Some(service)) => ResourceRef::IapRunService {
                    project: id,
                    project_number: number,
                    region: region.to_owned(),
                    service: service.to_owned(),
                },
                (_, Some(region), None) => ResourceRef::IapCloudRun {
                    project: id,
                    project_number: number,
                    region: region.to_owned(),
                },
                _ => ResourceRef::IapWeb {
                    project: id,
                    project_number: number,
                },
            };
            return Err(Error::permission_denied(
                iap_permission(&unresolved, action),
                &relative,
            ));
        };
        Ok(match (region, service) {
            _ if level == IapLevel::Project => ResourceRef::Project(info.id),
            (None, _) => ResourceRef::IapWeb {
                project: info.id,
                project_number: info.number,
            },
            (Some(region), None) => ResourceRef::IapCloudRun {
                project: info.id,
                project_number: info.number,
                region: region.to_owned(),
            },
            (Some(region), Some(service)) => ResourceRef::IapRunService {
                project: info.id,
                project_number: info.number,
                region: region.to_owned(),
                service: service.to_owned(),
            },
        })
    }

    /// The `name` of a settings resource: project-number based, as Google answers.
    fn iap_settings_name(&self, resource: &ResourceRef) -> Result<String, Error> {
        match resource {
            ResourceRef::Project(id) => {
                let info = self
                    .resolve_project(id)?
                    .ok_or_else(|| Error::not_found(format!("Project {id} not found.")))?;
                Ok(format!("projects/{}", info.number))
            }
            other => Ok(other.relative_name()),
        }
    }

    fn stored_iap_settings(&self, resource: &ResourceRef) -> Result<Option<Value>, Error> {
        Ok(self
            .load::<Value>(Collection::IapSettings, &resource.full_name())?
            .map(|stored| stored.value))
    }

    /// `GET /v1/{name}:iapSettings`: what is set on this very resource (inherited values are
    /// not folded in), with its name.
    pub fn get_iap_settings(&self, call: &Call, resource: &ResourceRef) -> Result<Value, Error> {
        self.authorize(
            call,
            iap_permission(resource, IapAction::GetSettings),
            resource,
        )?;
        let mut settings = self
            .stored_iap_settings(resource)?
            .unwrap_or_else(|| json!({}));
        if let Some(object) = settings.as_object_mut() {
            object.insert("name".into(), json!(self.iap_settings_name(resource)?));
        }
        Ok(settings)
    }

    /// `PATCH /v1/{iapSettings.name}:iapSettings`: replaces the settings, or with `update_mask`
    /// (comma-separated paths, `accessSettings.oauthSettings` or `access_settings.oauth_settings`)
    /// only the fields named. Answers the settings now stored.
    pub fn update_iap_settings(
        &self,
        call: &Call,
        resource: &ResourceRef,
        body: &Value,
        update_mask: Option<&str>,
    ) -> Result<Value, Error> {
        self.authorize(
            call,
            iap_permission(resource, IapAction::UpdateSettings),
            resource,
        )?;
        validate(body, "iap_settings")?;
        let mut incoming = body.clone();
        if let Some(object) = incoming.as_object_mut() {
            object.remove("name");
        }
        let mask: Vec<Vec<String>> = update_mask
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|path| !path.is_empty())
            .map(|path| path.split('.').map(camel).collect())
            .collect();
        for path in &mask {
            let known = path.first().is_some_and(|top| {
                matches!(top.as_str(), "accessSettings" | "applicationSettings")
            });
            if !known {
                return Err(Error::invalid_field(
                    "update_mask",
                    format!("Invalid update mask path: {}", path.join(".")),
                ));
            }
        }
        let current = self.stored_iap_settings(resource)?;
        let mut updated = if mask.is_empty() {
            incoming
        } else {
            let mut base = current.clone().unwrap_or_else(|| json!({}));
            for path in &mask {
                apply_mask_path(&mut base, &incoming, path);
            }
            base
        };
        prune(&mut updated);
        self.commit(&[Write::Upsert {
            collection: Collection::IapSettings.as_str().to_owned(),
            name: resource.full_name(),
            parent: resource
                .project()
                .map(|project| format!("projects/{project}")),
            data: updated.clone(),
        }])?;
        if let Some(object) = updated.as_object_mut() {
            object.insert("name".into(), json!(self.iap_settings_name(resource)?));
        }
        Ok(updated)
    }

    /// The settings in force for a Cloud Run service's IAP: the project's, then `iap_web`'s,
    /// `cloud_run-REGION`'s and the service's own, each overriding field by field.
    pub fn effective_iap_settings(
        &self,
        resource: &ResourceRef,
    ) -> Result<EffectiveIapSettings, Error> {
        let mut levels = vec![resource.clone()];
        while let Some(parent) = levels.last().and_then(ResourceRef::iap_parent) {
            levels.push(parent);
        }
        if let Some(project) = resource.project() {
            levels.push(ResourceRef::Project(project.to_owned()));
        }
        let mut merged = json!({});
        for level in levels.iter().rev() {
            if let Some(settings) = self.stored_iap_settings(level)? {
                overlay(&mut merged, &settings);
            }
        }
        Ok(EffectiveIapSettings::from_value(&merged))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_copy_named_fields_and_clear_absent_ones() {
        let mut stored = json!({"accessSettings": {"oauthSettings": {"loginHint": "a"}, "corsSettings": {"allowHttpOptions": true}}});
        let incoming = json!({"accessSettings": {"allowedDomainsSettings": {"enable": true, "domains": ["example.com"]}}});
        apply_mask_path(
            &mut stored,
            &incoming,
            &["accessSettings".into(), "allowedDomainsSettings".into()],
        );
        apply_mask_path(
            &mut stored,
            &incoming,
            &["accessSettings".into(), "oauthSettings".into()],
        );
        prune(&mut stored);
        assert_eq!(
            stored,
            json!({"accessSettings": {"allowedDomainsSettings": {"enable": true, "domains": ["example.com"]}, "corsSettings": {"allowHttpOptions": true}}})
        );
        assert_eq!(camel("access_settings"), "accessSettings");
        assert_eq!(snake("allowedDomainsSettings"), "allowed_domains_settings");
    }

    #[test]
    fn unknown_fields_are_refused_with_googles_text() {
        let error = validate(
            &json!({"accessSettings": {"oauthSettings": {"loginHnt": "x"}}}),
            "iap_settings",
        )
        .unwrap_err();
        assert!(
            error.to_string().contains(
                "Unknown name \"loginHnt\" at 'iap_settings.access_settings.oauth_settings': Cannot find field."
            ),
            "{error}"
        );
        assert!(
            validate(
                &json!({"accessSettings": {"allowedDomainsSettings": {"domains": "example.com"}}}),
                "iap_settings"
            )
            .is_err()
        );
        assert!(
            validate(
                &json!({"accessSettings": {"allowedDomainsSettings": {"enable": true, "domains": ["example.com"]}, "oauthSettings": {"programmaticClients": ["c"]}}, "applicationSettings": {"cookieDomain": "example.com"}}),
                "iap_settings"
            )
            .is_ok()
        );
    }

    #[test]
    fn lower_levels_override_field_by_field() {
        let mut merged = json!({});
        overlay(
            &mut merged,
            &json!({"accessSettings": {"allowedDomainsSettings": {"enable": true, "domains": ["example.com"]}, "oauthSettings": {"programmaticClients": ["a"]}}}),
        );
        overlay(
            &mut merged,
            &json!({"accessSettings": {"allowedDomainsSettings": {"enable": false}}}),
        );
        let effective = EffectiveIapSettings::from_value(&merged);
        assert_eq!(effective.allowed_domains, None);
        assert_eq!(effective.programmatic_clients, vec!["a".to_owned()]);
    }

    #[test]
    fn domains_match_exactly_or_by_wildcard() {
        let domains = vec!["example.com".to_owned(), "*.corp.example".to_owned()];
        assert!(domain_allowed("bob@Example.com", &domains));
        assert!(domain_allowed("eve@eu.corp.example", &domains));
        assert!(!domain_allowed("eve@corp.example", &domains));
        assert!(!domain_allowed("mallory@example.com.evil", &domains));
        assert!(!domain_allowed("no-at-sign", &domains));
    }
}
