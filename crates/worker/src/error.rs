//! How handling an event can fail: the class decides ack, retry or dead letter.

use inlet_domain::payload::DecodeError;
use inlet_domain::repository::RepoError;

type Cause = Box<dyn std::error::Error + Send + Sync>;

/// A handler's failure, classified.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// A passing failure (database or broker away, timeout, conflict): retry later.
    #[error("transient failure: {0}")]
    Transient(#[source] Cause),
    /// A failure no retry can fix (undecodable payload, invalid data): dead-letter.
    #[error("permanent failure: {0}")]
    Permanent(#[source] Cause),
}

impl HandleError {
    /// Whether a retry can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, HandleError::Transient(_))
    }

    /// Whether the database could not be had at all (down, unreachable,
    /// refusing connections), rather than refusing this data, timing out on
    /// it or conflicting ([`RepoError::is_database_away`]).
    pub fn is_database_unavailable(&self) -> bool {
        match self {
            HandleError::Transient(cause) => cause
                .downcast_ref::<RepoError>()
                .is_some_and(RepoError::is_database_away),
            HandleError::Permanent(_) => false,
        }
    }

    /// The whole cause chain on one line, for logs and the dead-letter row.
    pub fn chain(&self) -> String {
        let mut out = self.to_string();
        let mut source = std::error::Error::source(self).and_then(std::error::Error::source);
        while let Some(e) = source {
            out.push_str(": ");
            out.push_str(&e.to_string());
            source = e.source();
        }
        out
    }
}

impl From<RepoError> for HandleError {
    fn from(e: RepoError) -> Self {
        if e.is_transient() {
            HandleError::Transient(Box::new(e))
        } else {
            HandleError::Permanent(Box::new(e))
        }
    }
}

impl From<DecodeError> for HandleError {
    fn from(e: DecodeError) -> Self {
        HandleError::Permanent(Box::new(e))
    }
}

impl From<tokio_postgres::Error> for HandleError {
    fn from(e: tokio_postgres::Error) -> Self {
        RepoError::from(e).into()
    }
}
