//! Runs a control-plane method for a request and writes its Cloud Audit Log entry, so that every
//! handler is audited the same way. Entries carry the request and, for calls that succeed, the
//! response where Google logs one (`kumo_control::audit::logs_response`: Admin Activity entries,
//! and Data Access entries of `GetIamPolicy`); secrets are removed by `kumo_control::audit`.

use kumo_control::audit::{
    AuditEvent, AuditLog, MonitoredResource, logs_response, policy_delta, request_payload,
    response_payload,
};
use kumo_control::{Call, Error};
use serde::Serialize;
use serde_json::Value;

use crate::{Api, Request};

/// What the audit entry says about a method.
pub struct Audited {
    /// `run.googleapis.com`.
    pub service_name: &'static str,
    /// `google.cloud.run.v2.Services.CreateService`.
    pub method_name: &'static str,
    /// The resource name as the API prints it.
    pub resource_name: String,
    /// `projects/P` or `organizations/O`: whose log receives the entry.
    pub log_parent: String,
    /// Admin activity (writes) or data access (reads).
    pub log: AuditLog,
    /// The monitored resource.
    pub resource: MonitoredResource,
}

/// `callerIp`: the client a proxy names first in `X-Forwarded-For`, else the TCP peer.
fn caller_ip(request: &Request) -> Option<String> {
    request
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|first| first.trim().to_owned())
        .filter(|first| !first.is_empty())
        .or_else(|| request.peer.map(|ip| ip.to_string()))
}

/// Runs `body` with a fresh [`Call`] and writes the audit entry for its outcome.
pub async fn audited<T: Serialize>(
    api: &Api,
    request: &Request,
    audited: Audited,
    body: impl AsyncFnOnce(&Call) -> Result<T, Error>,
) -> Result<T, Error> {
    let call = Call::new(request.caller.clone());
    // A policy change is logged with its delta: read the policy it replaces first. (A change
    // without an etag may race another; the delta is then against the policy read here.)
    let replaced_policy = (audited.log == AuditLog::Activity
        && audited
            .method_name
            .to_ascii_lowercase()
            .ends_with("setiampolicy"))
    .then(|| {
        let full_name = format!("//{}/{}", audited.service_name, audited.resource_name);
        let resource = api.control.resource_from_full_name(&full_name).ok()?;
        api.control
            .stored_policy(&resource)
            .ok()
            .map(|stored| stored.policy)
    })
    .flatten();
    let outcome = body(&call).await;
    let body = serde_json::from_slice::<Value>(&request.body).ok();
    let request_json = Some(request_payload(
        audited.method_name,
        &audited.resource_name,
        &request.query.0,
        body,
    ));
    let response_json = outcome
        .as_ref()
        .ok()
        .filter(|_| logs_response(audited.method_name, audited.log))
        .and_then(|value| serde_json::to_value(value).ok())
        .filter(|value| !value.is_null())
        .map(|value| response_payload(audited.method_name, value));
    let service_data = replaced_policy
        .zip(response_json.as_ref())
        .and_then(|(old, new)| policy_delta(&old, new));
    api.control.write_audit_with_service_data(
        AuditEvent {
            service_name: audited.service_name,
            method_name: audited.method_name.to_owned(),
            resource_name: audited.resource_name,
            log_parent: audited.log_parent,
            log: audited.log,
            resource: audited.resource,
            caller: call.caller.clone(),
            authorizations: call.authorizations(),
            status: outcome.as_ref().map(|_| ()).map_err(Clone::clone),
            request: request_json,
            response: response_json,
            caller_ip: caller_ip(request),
            user_agent: request
                .headers
                .get("user-agent")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        },
        service_data,
    );
    outcome
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    use super::*;

    fn request(forwarded: Option<&str>, peer: Option<&str>) -> Request {
        let mut headers = HeaderMap::new();
        if let Some(value) = forwarded {
            headers.insert("x-forwarded-for", value.parse().unwrap());
        }
        Request {
            caller: kumo_control::Caller::Anonymous,
            params: Default::default(),
            query: crate::extract::Query::parse(None),
            headers,
            body: Default::default(),
            peer: peer.map(|ip| ip.parse().unwrap()),
        }
    }

    #[test]
    fn caller_ip_is_the_first_forwarded_client_else_the_peer() {
        for (forwarded, peer, want) in [
            (
                Some("203.0.113.7, 10.0.0.1"),
                Some("127.0.0.1"),
                Some("203.0.113.7"),
            ),
            (Some("2001:db8::1"), None, Some("2001:db8::1")),
            (None, Some("127.0.0.1"), Some("127.0.0.1")),
            (Some(" "), Some("::1"), Some("::1")),
            (None, None, None),
        ] {
            assert_eq!(
                caller_ip(&request(forwarded, peer)).as_deref(),
                want,
                "{forwarded:?} {peer:?}"
            );
        }
    }
}
