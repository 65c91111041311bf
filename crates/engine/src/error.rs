//! The engine's error type. Each variant maps to one HTTP status and one gRPC
//! code in the front ends; the display text is the message clients see.

/// What can go wrong in a storage operation. The front ends map every variant
/// exhaustively, so a new variant forces a decision about its wire status.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The request is well-formed but its content is wrong (400).
    #[error("Wrong input: {0}")]
    BadInput(String),
    /// The request cannot be served as asked (400).
    #[error("Bad request: {0}")]
    BadRequest(String),
    /// What the request would create exists already (409); Qdrant words it as wrong input.
    #[error("Wrong input: {0}")]
    AlreadyExists(String),
    /// A collection, alias, point or snapshot does not exist (404).
    #[error("Not found: {0}")]
    NotFound(String),
    /// The operation is not allowed, e.g. a payload restriction forbids it (403).
    #[error("Forbidden: {0}")]
    Forbidden(String),
    /// The operation did not finish in time (408).
    #[error("Timeout error: {0}")]
    Timeout(String),
    /// Data on disk could not be read back as written (500).
    #[error("Service internal error: data corruption in {path}: {reason}")]
    Corrupted { path: std::path::PathBuf, reason: String },
    /// An I/O or internal failure (500).
    #[error("Service internal error: {0}")]
    Service(String),
}

impl EngineError {
    pub(crate) fn collection_not_found(name: &str) -> Self {
        EngineError::NotFound(format!("Collection `{name}` doesn't exist!"))
    }

    pub(crate) fn io(context: impl std::fmt::Display, err: std::io::Error) -> Self {
        EngineError::Service(format!("{context}: {err}"))
    }
}

impl From<crate::wal::WalError> for EngineError {
    fn from(err: crate::wal::WalError) -> Self {
        match err {
            crate::wal::WalError::Corrupted { path, offset, reason } => {
                EngineError::Corrupted { path, reason: format!("at byte {offset}: {reason}") }
            }
            other => EngineError::Service(format!("write-ahead log: {other}")),
        }
    }
}

impl From<redb::Error> for EngineError {
    fn from(err: redb::Error) -> Self {
        EngineError::Service(format!("metadata store: {err}"))
    }
}

macro_rules! redb_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for EngineError {
            fn from(err: $t) -> Self {
                EngineError::Service(format!("metadata store: {err}"))
            }
        }
    )*};
}
redb_errors!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
