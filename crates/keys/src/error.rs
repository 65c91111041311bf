//! What a key-plane operation can fail with, and its HTTP status, mapped in
//! one exhaustive `match`.

use std::path::PathBuf;

/// A failed key-plane operation. The display text is the message clients get
/// in the `status.error` member of the Qdrant envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The body could not be read as the expected JSON (malformed JSON, an
    /// unknown field, a wrong type). Names the field when there is one.
    #[error("Format error in JSON body: {0}")]
    Format(String),
    /// A value is not acceptable. `field` is its JSON path in the request,
    /// e.g. `name` or `access_rules[2].collection_access.collection_name`.
    #[error("Bad request: {field}: {message}")]
    Invalid {
        /// Where in the request the value is.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// No key (or signing key) with that id.
    #[error("Not found: {0}")]
    NotFound(String),
    /// The registry's store failed (I/O, redb).
    #[error("Service internal error: key registry at {path}: {message}")]
    Storage {
        /// The registry file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The registry holds data this build cannot read. Never a panic.
    #[error("Service internal error: key registry at {path} is corrupted: {reason}")]
    Corrupted {
        /// The registry file.
        path: PathBuf,
        /// What was expected.
        reason: String,
    },
    /// The OS random generator failed; no key can be made safely.
    #[error("Service internal error: the OS random generator failed: {0}")]
    Random(String),
}

impl KeyError {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        KeyError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The HTTP status: 400, 404 or 500.
    pub fn http_status(&self) -> u16 {
        // No wildcard: a new variant must be given its status here.
        match self {
            KeyError::Format(_) | KeyError::Invalid { .. } => 400,
            KeyError::NotFound(_) => 404,
            KeyError::Storage { .. } | KeyError::Corrupted { .. } | KeyError::Random(_) => 500,
        }
    }
}

/// Shorthand for key-plane results.
pub type Result<T, E = KeyError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins the wire texts and statuses clients see.
    #[test]
    fn messages_and_statuses() {
        let cases = [
            (
                KeyError::invalid("name", "must be 4 to 128 characters long"),
                400,
                "Bad request: name: must be 4 to 128 characters long",
            ),
            (
                KeyError::Format("unknown field `x`".into()),
                400,
                "Format error in JSON body: unknown field `x`",
            ),
            (
                KeyError::NotFound("API key 1 does not exist".into()),
                404,
                "Not found: API key 1 does not exist",
            ),
            (
                KeyError::Random("x".into()),
                500,
                "Service internal error: the OS random generator failed: x",
            ),
        ];
        for (error, status, text) in cases {
            assert_eq!(error.http_status(), status);
            assert_eq!(error.to_string(), text);
        }
    }
}
