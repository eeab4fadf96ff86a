//! Repository errors, classified so that the worker can decide between a
//! retry and a dead letter.

use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

/// What went wrong talking to PostgreSQL.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// The database cannot be reached or is overloaded; trying later can work.
    #[error("database unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A serialisation failure or deadlock: the transaction can be retried.
    #[error("transaction conflict")]
    Conflict(#[source] tokio_postgres::Error),
    /// A statement failed for a reason a retry will not fix (bad data, a bug).
    #[error("unexpected database error")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl RepoError {
    /// Whether a later attempt can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, RepoError::Unavailable(_) | RepoError::Conflict(_))
    }

    /// Whether the database could not be had at all: no connection from the
    /// pool, a connection that broke, or the server refusing work of any kind
    /// (SQL state classes 08 and 53; 57P01–57P03: shut down or starting;
    /// 25006: read-only, as in a failover). Unlike a statement cancelled by
    /// `statement_timeout` (57014) or a conflict, which may be one statement's
    /// own doing, nothing about the data is at fault.
    pub fn is_database_away(&self) -> bool {
        let RepoError::Unavailable(cause) = self else {
            return false;
        };
        if cause.is::<PoolError>() {
            return true;
        }
        let Some(e) = cause.downcast_ref::<tokio_postgres::Error>() else {
            return false;
        };
        match e.code() {
            Some(code) => {
                let code = code.code();
                matches!(&code[..2], "08" | "53")
                    || matches!(code, "57P01" | "57P02" | "57P03" | "25006")
            }
            // No SQL state: the connection closed, or its I/O failed.
            None => {
                e.is_closed()
                    || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
            }
        }
    }
}

impl From<tokio_postgres::Error> for RepoError {
    fn from(e: tokio_postgres::Error) -> Self {
        let Some(code) = e.code() else {
            // No SQL state: the connection broke or timed out.
            return RepoError::Unavailable(Box::new(e));
        };
        // A lock wait cut short by `lock_timeout` is a conflict like a
        // deadlock: the other transaction will finish, a retry can succeed.
        if *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
            || *code == SqlState::LOCK_NOT_AVAILABLE
        {
            return RepoError::Conflict(e);
        }
        let class = &code.code()[..2];
        // 08: connection exceptions, 53: insufficient resources, 57: operator
        // intervention (shutdown, cancel), 58: system errors. A read-only
        // transaction is a session on a standby or a demoted primary during
        // a failover: the data is fine, a later attempt on the new primary
        // stores it (dead-lettering would take every event of the failover).
        if matches!(class, "08" | "53" | "57" | "58")
            || *code == SqlState::READ_ONLY_SQL_TRANSACTION
        {
            RepoError::Unavailable(Box::new(e))
        } else {
            RepoError::Unexpected(Box::new(e))
        }
    }
}

impl From<PoolError> for RepoError {
    /// Every pool error is a database that cannot be had now. `Backend` is a
    /// new connection refused, whatever its SQL state: a rejected password
    /// (28P01) after a rotation, a `pg_hba` rule (28000), a database not yet
    /// created (3D000). None of these says anything about the event being
    /// stored, and each passes once the operator fixes it; as permanent
    /// failures they dead-lettered every event meanwhile (with no row, as the
    /// row needs a connection too).
    fn from(e: PoolError) -> Self {
        RepoError::Unavailable(Box::new(e))
    }
}

impl From<refinery::Error> for RepoError {
    fn from(e: refinery::Error) -> Self {
        RepoError::Unexpected(Box::new(e))
    }
}
