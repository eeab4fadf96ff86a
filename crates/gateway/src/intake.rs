//! Group commit: webhooks that are waiting for the broker at the same time
//! are claimed, published and marked done together.
//!
//! Every verified webhook is handed to one intake task and waits for its
//! verdict. The task takes whatever has queued up (up to a pack's limits),
//! claims all the dedup keys in one Redis round trip, publishes the claimed
//! events as one confirmed message (a pack, or a plain message for one
//! event), marks them done in one more round trip and only then answers each
//! request. At most `in_flight` groups are between claim and answer at once;
//! while they are, new webhooks queue up and make the next group larger. So
//! under load the broker and Redis see a few large operations instead of many
//! small ones, and a lone webhook is published at once: nothing waits for a
//! timer.
//!
//! Each answer is still given only after the broker confirmed that webhook's
//! message, and a failed publish releases exactly the claims it made, as a
//! lone request would.

use crate::dedup::{Claim, Dedup};
use crate::publisher::Publisher;
use actix_web::web::Bytes;
use inlet_domain::envelope::EventMeta;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

/// How a submitted webhook ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Published and confirmed.
    Accepted,
    /// Already published before: not published again.
    Duplicate,
    /// Another copy is being published right now.
    InFlight,
    /// The broker did not take it (unreachable, refused or too slow).
    Unavailable,
}

/// How large groups may grow and how many may be in flight.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most events in one message (1: every event alone, no packs).
    pub max_events: usize,
    /// Most body bytes in one message (a larger body travels alone).
    pub max_bytes: usize,
    /// Groups between claim and answer at once.
    pub in_flight: usize,
}

/// The handle request handlers submit to.
#[derive(Clone)]
pub struct Intake {
    jobs: mpsc::Sender<Job>,
}

struct Job {
    meta: EventMeta,
    body: Bytes,
    verdict: oneshot::Sender<Verdict>,
}

/// Requests that may queue for the intake task before senders wait.
const QUEUE: usize = 8192;

impl Intake {
    /// Starts the intake task; it ends once every handle is dropped and the
    /// groups in flight are answered.
    pub fn start(dedup: Arc<Dedup>, publisher: Publisher, limits: Limits) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(run(queue, dedup, publisher, limits));
        Intake { jobs }
    }

    /// Claims, publishes and completes one event with whatever else is
    /// waiting, and returns once its fate is known.
    pub async fn submit(&self, meta: EventMeta, body: Bytes) -> Verdict {
        let (verdict, answer) = oneshot::channel();
        let job = Job {
            meta,
            body,
            verdict,
        };
        if self.jobs.send(job).await.is_err() {
            return Verdict::Unavailable;
        }
        // A dropped sender means the task is gone: nothing was confirmed.
        answer.await.unwrap_or(Verdict::Unavailable)
    }
}

async fn run(
    mut queue: mpsc::Receiver<Job>,
    dedup: Arc<Dedup>,
    publisher: Publisher,
    limits: Limits,
) {
    // Settings are validated at start; a zero here would stall every request.
    let (in_flight, max_events) = (limits.in_flight.max(1), limits.max_events.max(1));
    let slots = Arc::new(Semaphore::new(in_flight));
    let mut carried: Option<Job> = None;
    loop {
        // Wait for a free slot first: meanwhile requests queue up and join
        // the next group.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let first = match carried.take() {
            Some(job) => job,
            None => match queue.recv().await {
                Some(job) => job,
                None => break,
            },
        };
        let mut bytes = first.body.len();
        let mut group = vec![first];
        while group.len() < max_events {
            let Ok(job) = queue.try_recv() else { break };
            if bytes + job.body.len() > limits.max_bytes {
                carried = Some(job);
                break;
            }
            bytes += job.body.len();
            group.push(job);
        }
        tokio::spawn(commit(group, dedup.clone(), publisher.clone(), slot));
    }
    // Every handle is gone; let the groups in flight finish.
    let _ = slots
        .acquire_many(u32::try_from(in_flight).unwrap_or(u32::MAX))
        .await;
}

/// Claims, publishes and completes one group, then answers each request.
async fn commit(
    group: Vec<Job>,
    dedup: Arc<Dedup>,
    publisher: Publisher,
    _slot: OwnedSemaphorePermit,
) {
    let keys: Vec<(&str, &str)> = group
        .iter()
        .map(|j| (j.meta.dedup_key.as_str(), j.meta.correlation_id.as_str()))
        .collect();
    let claims = dedup.claim_all(&keys).await;
    drop(keys);
    let mut publish = Vec::with_capacity(group.len());
    for (job, claim) in group.into_iter().zip(claims) {
        match claim {
            Claim::Duplicate => {
                tracing::debug!(dedup_key = %job.meta.dedup_key, "Duplicate event; not published again.");
                let _ = job.verdict.send(Verdict::Duplicate);
            }
            Claim::InFlight => {
                let _ = job.verdict.send(Verdict::InFlight);
            }
            Claim::Claimed => publish.push((job, true)),
            // Redis did not answer: publish anyway (fail open).
            Claim::Unavailable => publish.push((job, false)),
        }
    }
    if publish.is_empty() {
        return;
    }
    let events: Vec<(&EventMeta, &[u8])> = publish
        .iter()
        .map(|(j, _)| (&j.meta, j.body.as_ref()))
        .collect();
    let result = publisher.publish(&events).await;
    drop(events);
    let claimed = publish.iter().filter(|(_, claimed)| *claimed);
    let verdict = match result {
        Ok(()) => {
            let keys: Vec<&str> = claimed.map(|(j, _)| j.meta.dedup_key.as_str()).collect();
            dedup.complete_all(&keys).await;
            Verdict::Accepted
        }
        Err(error) => {
            let keys: Vec<(&str, &str)> = claimed
                .map(|(j, _)| (j.meta.dedup_key.as_str(), j.meta.correlation_id.as_str()))
                .collect();
            dedup.release_all(&keys).await;
            for (job, _) in &publish {
                tracing::warn!(
                    correlation_id = %job.meta.correlation_id,
                    provider = %job.meta.provider,
                    error = %error,
                    "Could not publish an event; answering 503."
                );
            }
            Verdict::Unavailable
        }
    };
    for (job, _) in publish {
        if verdict == Verdict::Accepted {
            tracing::debug!(correlation_id = %job.meta.correlation_id, provider = %job.meta.provider, "Event published.");
        }
        let _ = job.verdict.send(verdict);
    }
}
