//! The one place where a control-plane [`Error`] becomes Google's REST error body
//! (`{"error": {"code", "message", "status", "details"}}`). The HTTP status, `error.code` and
//! `error.status` always agree, because each client reads a different one of them
//! (real-clients.md §1.4).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kumo_control::Error;
use serde_json::{Value, json};

/// The canonical code of an error: (HTTP status, gRPC code number, `status` name). The gRPC code
/// comes from the control plane; this is the only place that picks the HTTP status for it.
pub fn canonical(error: &Error) -> (StatusCode, i32, &'static str) {
    let (code, name) = error.rpc_code();
    let http = match error {
        Error::InvalidArgument { .. } | Error::FailedPrecondition { .. } => StatusCode::BAD_REQUEST,
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::AlreadyExists { .. } | Error::Aborted { .. } => StatusCode::CONFLICT,
        Error::PermissionDenied { .. } => StatusCode::FORBIDDEN,
        Error::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
        Error::ResourceExhausted { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::Unimplemented { .. } => StatusCode::NOT_IMPLEMENTED,
        Error::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (http, code, name)
}

/// The message a client sees; internal details never leave the server.
pub fn public_message(error: &Error) -> String {
    if let Error::Internal { detail } = error {
        tracing::error!(%detail, "internal error");
    }
    error.public_message()
}

/// `google.rpc.Status.details` for an error, each with a type URL the clients know.
pub fn details(error: &Error) -> Vec<Value> {
    match error {
        Error::InvalidArgument { violations, .. } if !violations.is_empty() => vec![json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": violations.iter().map(|v| json!({"field": v.field, "description": v.description})).collect::<Vec<_>>(),
        })],
        Error::FailedPrecondition { violations, .. } if !violations.is_empty() => vec![json!({
            "@type": "type.googleapis.com/google.rpc.PreconditionFailure",
            "violations": violations.iter().map(|v| json!({"type": v.kind, "subject": v.subject, "description": v.description})).collect::<Vec<_>>(),
        })],
        Error::PermissionDenied {
            permission: Some(permission),
            resource,
            ..
        } => {
            let mut metadata = serde_json::Map::new();
            metadata.insert("permission".into(), json!(permission));
            if let Some(resource) = resource {
                metadata.insert("resource".into(), json!(resource));
            }
            vec![json!({
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "IAM_PERMISSION_DENIED",
                "domain": "iam.googleapis.com",
                "metadata": metadata,
            })]
        }
        _ => Vec::new(),
    }
}

/// The `google.rpc.Status` JSON of an error as it appears inside an Operation (`code` is the
/// gRPC number there, not the HTTP status).
pub fn rpc_status(error: &Error) -> Value {
    let (_, code, _) = canonical(error);
    json!({"code": code, "message": public_message(error), "details": details(error)})
}

/// The HTTP response for an error.
pub fn error_response(error: &Error) -> Response {
    let (http, _, status) = canonical(error);
    let body = json!({"error": {
        "code": http.as_u16(),
        "message": public_message(error),
        "status": status,
        "details": details(error),
    }});
    let mut response = (http, axum::Json(body)).into_response();
    if matches!(error, Error::Unauthenticated { .. }) {
        // Google's front end names the scheme it wants, as RFC 6750 asks.
        if let Ok(value) =
            axum::http::HeaderValue::from_str("Bearer realm=\"https://accounts.google.com/\"")
        {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_status_code_and_name_agree() {
        let cases = [
            (Error::invalid("x"), 400, "INVALID_ARGUMENT"),
            (Error::failed_precondition("x"), 400, "FAILED_PRECONDITION"),
            (Error::not_found("x"), 404, "NOT_FOUND"),
            (Error::already_exists("x"), 409, "ALREADY_EXISTS"),
            (Error::aborted("x"), 409, "ABORTED"),
            (
                Error::permission_denied("run.services.get", "projects/p"),
                403,
                "PERMISSION_DENIED",
            ),
            (Error::unauthenticated("x"), 401, "UNAUTHENTICATED"),
            (Error::internal("secret detail"), 500, "INTERNAL"),
        ];
        for (error, http, name) in cases {
            let (status, _, status_name) = canonical(&error);
            assert_eq!(status.as_u16(), http);
            assert_eq!(status_name, name);
        }
        assert_eq!(
            public_message(&Error::internal("secret detail")),
            "Internal error encountered."
        );
    }

    #[test]
    fn permission_denied_carries_error_info() {
        let error =
            Error::permission_denied("run.services.get", "projects/p/locations/l/services/s");
        assert_eq!(
            public_message(&error),
            "Permission 'run.services.get' denied on resource 'projects/p/locations/l/services/s' (or it may not exist)."
        );
        let details = details(&error);
        assert_eq!(details[0]["reason"], "IAM_PERMISSION_DENIED");
        assert_eq!(details[0]["metadata"]["permission"], "run.services.get");
    }
}
