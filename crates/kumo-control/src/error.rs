//! The control plane's error type. Every refusal a Google API can give is a variant here; the REST
//! transport maps each variant to `google.rpc.Status` in exactly one place (`kumo-api`'s `status.rs`).
//! Wire-visible messages are Google's texts; they are built by the constructors below so that each
//! text lives next to the rule that produces it.

/// A violation of one request field, reported in `google.rpc.BadRequest.fieldViolations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Dotted path of the offending field, as Google reports it (`service.template.containers[0].image`).
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

/// A failed precondition, reported in `google.rpc.PreconditionFailure.violations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreconditionViolation {
    /// The kind of precondition, e.g. `constraints/run.managed.requireInvokerIam`.
    pub kind: String,
    /// The subject the precondition is about (a resource name).
    pub subject: String,
    /// Google's description.
    pub description: String,
}

/// Every way a control-plane method can fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// `INVALID_ARGUMENT` (400).
    #[error("{message}")]
    InvalidArgument {
        /// Google's message.
        message: String,
        /// Every bad field (Google lists them all, not only the first).
        violations: Vec<FieldViolation>,
    },
    /// `FAILED_PRECONDITION` (400): e.g. an organization policy forbids the change.
    #[error("{message}")]
    FailedPrecondition {
        /// Google's message.
        message: String,
        /// The preconditions that failed.
        violations: Vec<PreconditionViolation>,
    },
    /// `NOT_FOUND` (404).
    #[error("{message}")]
    NotFound {
        /// Google's message.
        message: String,
    },
    /// `ALREADY_EXISTS` (409).
    #[error("{message}")]
    AlreadyExists {
        /// Google's message.
        message: String,
    },
    /// `ABORTED` (409): a concurrent modification, e.g. a stale etag.
    #[error("{message}")]
    Aborted {
        /// Google's message.
        message: String,
    },
    /// `PERMISSION_DENIED` (403).
    #[error("{message}")]
    PermissionDenied {
        /// Google's message.
        message: String,
        /// The permission that was missing, for `ErrorInfo.metadata`.
        permission: Option<String>,
        /// The resource it was checked on.
        resource: Option<String>,
    },
    /// `UNAUTHENTICATED` (401).
    #[error("{message}")]
    Unauthenticated {
        /// Google's message.
        message: String,
    },
    /// `RESOURCE_EXHAUSTED` (429).
    #[error("{message}")]
    ResourceExhausted {
        /// Google's message.
        message: String,
    },
    /// `UNIMPLEMENTED` (501): a method Kumo does not provide.
    #[error("{message}")]
    Unimplemented {
        /// What is not implemented.
        message: String,
    },
    /// `INTERNAL` (500). The details are logged, never sent.
    #[error("internal error: {detail}")]
    Internal {
        /// What went wrong, for the server log only.
        detail: String,
    },
}

impl Error {
    /// `INVALID_ARGUMENT` with a message and no field list.
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::InvalidArgument {
            message: message.into(),
            violations: Vec::new(),
        }
    }

    /// `INVALID_ARGUMENT` for one field; Google's message names the field.
    pub fn invalid_field(field: impl Into<String>, description: impl Into<String>) -> Error {
        let field = field.into();
        let description = description.into();
        Error::InvalidArgument {
            message: description.clone(),
            violations: vec![FieldViolation { field, description }],
        }
    }

    /// `NOT_FOUND` with Google's message.
    pub fn not_found(message: impl Into<String>) -> Error {
        Error::NotFound {
            message: message.into(),
        }
    }

    /// `ALREADY_EXISTS` with Google's message.
    pub fn already_exists(message: impl Into<String>) -> Error {
        Error::AlreadyExists {
            message: message.into(),
        }
    }

    /// `FAILED_PRECONDITION` with Google's message.
    pub fn failed_precondition(message: impl Into<String>) -> Error {
        Error::FailedPrecondition {
            message: message.into(),
            violations: Vec::new(),
        }
    }

    /// `ABORTED` with Google's message.
    pub fn aborted(message: impl Into<String>) -> Error {
        Error::Aborted {
            message: message.into(),
        }
    }

    /// `UNAUTHENTICATED` with Google's message.
    pub fn unauthenticated(message: impl Into<String>) -> Error {
        Error::Unauthenticated {
            message: message.into(),
        }
    }

    /// The standard IAM refusal: "Permission 'P' denied on resource 'R' (or it may not exist)."
    // Source: the text Google's APIs return for IAM_PERMISSION_DENIED (cloudrun-security-spec.md §1.4).
    pub fn permission_denied(permission: &str, resource: &str) -> Error {
        Error::PermissionDenied {
            message: format!(
                "Permission '{permission}' denied on resource '{resource}' (or it may not exist)."
            ),
            permission: Some(permission.to_owned()),
            resource: Some(resource.to_owned()),
        }
    }

    /// `INTERNAL`; `detail` goes to the server log only.
    pub fn internal(detail: impl std::fmt::Display) -> Error {
        Error::Internal {
            detail: detail.to_string(),
        }
    }
}

impl Error {
    /// The canonical `google.rpc.Code` of the error: its number and name.
    pub fn rpc_code(&self) -> (i32, &'static str) {
        match self {
            Error::InvalidArgument { .. } => (3, "INVALID_ARGUMENT"),
            Error::FailedPrecondition { .. } => (9, "FAILED_PRECONDITION"),
            Error::NotFound { .. } => (5, "NOT_FOUND"),
            Error::AlreadyExists { .. } => (6, "ALREADY_EXISTS"),
            Error::Aborted { .. } => (10, "ABORTED"),
            Error::PermissionDenied { .. } => (7, "PERMISSION_DENIED"),
            Error::Unauthenticated { .. } => (16, "UNAUTHENTICATED"),
            Error::ResourceExhausted { .. } => (8, "RESOURCE_EXHAUSTED"),
            Error::Unimplemented { .. } => (12, "UNIMPLEMENTED"),
            Error::Internal { .. } => (13, "INTERNAL"),
        }
    }

    /// The message a client may see; internal details stay in the server log.
    pub fn public_message(&self) -> String {
        match self {
            Error::Internal { .. } => "Internal error encountered.".to_owned(),
            other => other.to_string(),
        }
    }
}
