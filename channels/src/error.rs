//! Errors of the gateways' own machinery (not of HTTP requests: see `http::ApiError`).

use std::path::PathBuf;

/// What can go wrong starting or running the gateways, or editing their settings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    #[error(transparent)]
    Store(#[from] meshdesk_model::store::StoreError),
    #[error("cannot open the channel state at {path}: {source}")]
    OpenState {
        path: PathBuf,
        source: redb::DatabaseError,
    },
    #[error("channel state: {0}")]
    State(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is malformed: {reason}")]
    Malformed { path: PathBuf, reason: String },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    /// Allowed to others, not to the one asking (e.g. another token's webhook).
    #[error("{0}")]
    Forbidden(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

macro_rules! state_error {
    ($($t:ty),+) => {$(
        impl From<$t> for ChannelError {
            fn from(e: $t) -> Self {
                ChannelError::State(e.to_string())
            }
        }
    )+};
}

state_error!(
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError
);
