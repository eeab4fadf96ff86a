//! Dead letters: recording an event that can never succeed, and the
//! operator's `inlet-worker dead-letters list|show|replay` commands.
//!
//! A replay republishes the raw body with its original headers (attempt reset
//! to 1) to the ingest exchange, confirmed, then marks the row `replayed`: the
//! event goes through the normal path, and a new failure makes a new row.

use crate::headers;
use inlet_domain::broker::{connect, publish_confirmed, PublishError, Topology, EVENT_ROUTING_KEY};
use inlet_domain::envelope::{EventMeta, H_ATTEMPT};
use inlet_domain::repository::audit::{record_event, Outcome};
use inlet_domain::repository::dead_letters::{
    get_dead_letter, list_dead_letters, mark_replayed, open_dead_letter_ids, record_dead_letter,
    DeadLetter, NewDeadLetter,
};
use inlet_domain::repository::{RepoError, Repository};
use lapin::options::ConfirmSelectOptions;
use lapin::types::AMQPValue;
use lapin::BasicProperties;
use serde_json::Value;
use std::time::Duration;

/// What failed and how, for the dead-letter row.
pub struct Failure<'a> {
    /// The envelope, when the delivery had one.
    pub meta: Option<&'a EventMeta>,
    /// The event type label (`unknown` when the body did not decode).
    pub event_type: &'a str,
    /// The raw body.
    pub body: &'a [u8],
    /// The delivery's headers, as JSON.
    pub headers: &'a Value,
    /// The whole error chain.
    pub error: &'a str,
}

/// Records a dead letter and marks the audit row `dead`, in one transaction.
pub async fn record(repo: &Repository, failure: &Failure<'_>) -> Result<i64, RepoError> {
    let meta = failure.meta;
    let mut client = repo.client().await?;
    let tx = client.transaction().await?;
    let id = record_dead_letter(
        &tx,
        &NewDeadLetter {
            provider: meta.map_or("unknown", |m| m.provider.as_str()),
            line_id: meta.and_then(|m| m.line.as_deref()),
            dedup_key: meta.map(|m| m.dedup_key.as_str()),
            correlation_id: meta.map(|m| m.correlation_id.as_str()),
            body: failure.body,
            headers: failure.headers,
            error: failure.error,
            attempts: meta.map_or(1, |m| i32::try_from(m.attempt).unwrap_or(i32::MAX)),
        },
    )
    .await?;
    if let Some(meta) = meta {
        record_event(
            &tx,
            meta,
            failure.event_type,
            Outcome::Dead,
            Some(failure.error),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// The most recent dead letters (replayed ones included), newest first.
pub async fn list(repo: &Repository, limit: i64) -> Result<Vec<DeadLetter>, RepoError> {
    let client = repo.client().await?;
    list_dead_letters(&client, limit).await
}

/// One dead letter.
pub async fn show(repo: &Repository, id: i64) -> Result<Option<DeadLetter>, RepoError> {
    let client = repo.client().await?;
    get_dead_letter(&client, id).await
}

/// Which dead letters to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every dead letter not yet replayed.
    All,
    /// These ids.
    Ids(Vec<i64>),
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The database failed.
    #[error("database error")]
    Repo(#[from] RepoError),
    /// The broker could not be reached.
    #[error("broker error")]
    Broker(#[from] lapin::Error),
    /// The broker did not take the event; its row stays `dead`.
    #[error("publishing dead letter {id} failed")]
    Publish {
        /// The row that was not replayed.
        id: i64,
        /// Why.
        #[source]
        source: PublishError,
    },
    /// No dead letter has this id.
    #[error("no dead letter {0}")]
    NotFound(i64),
}

/// What a replay did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    /// Ids republished and marked `replayed`.
    pub replayed: Vec<i64>,
    /// Ids skipped because they were already replayed.
    pub skipped: Vec<i64>,
}

/// Republishes the selected dead letters to the ingest exchange, each
/// confirmed before its row is marked `replayed`.
pub async fn replay(
    repo: &Repository,
    amqp_url: &str,
    topology: &Topology,
    selection: Selection,
    timeout: Duration,
) -> Result<ReplayReport, ReplayError> {
    let mut client = repo.client().await?;
    let ids = match selection {
        Selection::All => open_dead_letter_ids(&client).await?,
        Selection::Ids(ids) => ids,
    };
    let connection = connect(amqp_url, "inlet-worker-replay").await?;
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let mut report = ReplayReport::default();
    let result = async {
        for id in ids {
            let row = get_dead_letter(&client, id)
                .await?
                .ok_or(ReplayError::NotFound(id))?;
            // The row is marked inside a transaction that commits only after
            // the broker confirmed the publish: a failed publish leaves it
            // `dead`, and a worker dead-lettering the replayed event again
            // waits for the commit, so its new row is not merged into this one.
            let tx = client.transaction().await.map_err(RepoError::from)?;
            if !mark_replayed(&tx, id).await? {
                report.skipped.push(id);
                continue;
            }
            publish_confirmed(
                &channel,
                &topology.ingest_exchange(),
                EVENT_ROUTING_KEY,
                &row.body,
                replay_properties(&row),
                true,
                timeout,
            )
            .await
            .map_err(|source| ReplayError::Publish { id, source })?;
            // Published but the commit failed: the row stays `dead` and a
            // second replay publishes again, which idempotency absorbs.
            tx.commit().await.map_err(RepoError::from)?;
            report.replayed.push(id);
            tracing::info!(dead_letter = id, "Dead letter replayed.");
        }
        Ok::<(), ReplayError>(())
    }
    .await;
    let _ = channel.close(200, "replay done").await;
    let _ = connection.close(200, "replay done").await;
    result.map(|()| report)
}

/// The original headers with the attempt count reset, as a persistent message.
fn replay_properties(row: &DeadLetter) -> BasicProperties {
    let mut table = headers::from_json(&row.headers);
    table.insert(H_ATTEMPT.into(), AMQPValue::LongUInt(1));
    let mut props = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_headers(table);
    if let Some(id) = &row.correlation_id {
        props = props.with_message_id(id.as_str().into());
    }
    props
}
