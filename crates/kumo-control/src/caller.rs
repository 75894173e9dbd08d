//! Who is calling, once the transport has authenticated them, and the per-call record of every
//! authorization decision (which becomes `protoPayload.authorizationInfo` in the audit log).

use std::sync::Mutex;

/// An authenticated (or anonymous) caller.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    /// No credentials.
    Anonymous,
    /// A user of the directory.
    User {
        /// The user's email.
        email: String,
    },
    /// A service account.
    ServiceAccount {
        /// The account's email.
        email: String,
    },
}

impl Caller {
    /// The caller's email, if authenticated.
    pub fn email(&self) -> Option<&str> {
        match self {
            Caller::Anonymous => None,
            Caller::User { email } | Caller::ServiceAccount { email } => Some(email),
        }
    }

    /// The IAM member string (`user:alice@example.com`), if authenticated.
    pub fn member(&self) -> Option<String> {
        match self {
            Caller::Anonymous => None,
            Caller::User { email } => Some(format!("user:{email}")),
            Caller::ServiceAccount { email } => Some(format!("serviceAccount:{email}")),
        }
    }
}

/// One authorization decision taken while serving a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRecord {
    /// The full resource name the permission was checked on.
    pub resource: String,
    /// The permission.
    pub permission: String,
    /// Whether it was granted.
    pub granted: bool,
}

/// The context of one API call: the caller and what was decided for them.
#[derive(Debug)]
pub struct Call {
    /// Who is calling.
    pub caller: Caller,
    authorizations: Mutex<Vec<AuthorizationRecord>>,
}

impl Call {
    /// A call by `caller`.
    pub fn new(caller: Caller) -> Call {
        Call {
            caller,
            authorizations: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn record(&self, record: AuthorizationRecord) {
        if let Ok(mut records) = self.authorizations.lock() {
            records.push(record);
        }
    }

    /// The decisions taken so far, in order.
    pub fn authorizations(&self) -> Vec<AuthorizationRecord> {
        self.authorizations
            .lock()
            .map(|records| records.clone())
            .unwrap_or_default()
    }
}
