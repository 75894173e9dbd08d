//! The CLI's error: what gets printed after `ERROR: (kumo.GROUP.CMD) ` and the exit code.

/// gcloud prints API errors as `STATUS: message`; everything else as a sentence.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A `google.rpc.Status` (or OAuth2) error from the server.
    #[error("{status}: {message}")]
    Api {
        http: u16,
        status: String,
        message: String,
    },
    /// Bad command-line input; exit code 2.
    #[error("{0}")]
    Usage(String),
    /// Anything else the user must fix (missing property, unreadable file, unreachable server).
    #[error("{0}")]
    Msg(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Api { .. } | CliError::Msg(_) => 1,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, CliError::Api { http: 404, .. })
    }
}

pub type Result<T> = std::result::Result<T, CliError>;
