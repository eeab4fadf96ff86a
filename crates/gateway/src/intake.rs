//! Group commit: webhooks that are waiting for the broker at the same time
//! are claimed, published and marked done together.
//!
//! Every verified webhook is handed to its thread's intake task and waits for
//! its verdict. The task takes whatever has queued up (up to a pack's limits),
//! claims all the dedup keys in one Redis round trip, publishes the claimed
//! events as one confirmed message (a pack, or a plain message for one
//! event), answers each request once the broker has confirmed, and marks the
//! keys done in one more round trip that the answers do not wait for. At most
//! `in_flight` groups, over all threads, are between claim and answer at
//! once; while they are, new webhooks queue up and make the next group
//! larger. So under load the broker and Redis see a few large operations
//! instead of many small ones, and a lone webhook is published at once:
//! nothing waits for a timer.
//!
//! One intake task per thread (each HTTP worker's), started by its first
//! webhook, because a single task on another runtime cost every webhook two
//! hand-offs between threads, and waking those threads took about an eighth
//! of the gateway's time (docs/benchmarks.md, tenth session). Its groups'
//! Redis round trips then run on that thread's own connection
//! ([`crate::dedup`]).
//!
//! Each answer is still given only after the broker confirmed that webhook's
//! message, and a failed publish releases exactly the claims it made, as a
//! lone request would.

use crate::dedup::{Claim, Dedup};
use crate::publisher::Publisher;
use actix_web::web::Bytes;
use inlet_domain::envelope::EventMeta;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// Groups between claim and answer at once, over all threads.
    pub in_flight: usize,
}

/// The handle request handlers submit to.
#[derive(Clone)]
pub struct Intake {
    shared: Arc<Shared>,
}

/// What every thread's intake task works with.
struct Shared {
    // Finds this intake's queue in each thread's map (tests run several
    // gateways in one process).
    id: u64,
    dedup: Arc<Dedup>,
    publisher: Publisher,
    max_events: usize,
    max_bytes: usize,
    // Shared by the threads, so `in_flight` bounds the whole gateway.
    slots: Arc<Semaphore>,
}

struct Job {
    meta: EventMeta,
    body: Bytes,
    verdict: oneshot::Sender<Verdict>,
}

/// Requests that may queue for a thread's intake task before senders wait.
const QUEUE: usize = 8192;

thread_local! {
    /// This thread's queue per intake.
    static QUEUES: RefCell<HashMap<u64, mpsc::Sender<Job>>> = RefCell::new(HashMap::new());
}

/// Distinguishes intakes in the thread maps.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl Intake {
    /// An intake over `dedup` and `publisher`; each thread's task starts with
    /// that thread's first webhook.
    pub fn new(dedup: Arc<Dedup>, publisher: Publisher, limits: Limits) -> Self {
        // Settings are validated at start; a zero here would stall every request.
        let in_flight = limits.in_flight.max(1);
        Intake {
            shared: Arc::new(Shared {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                dedup,
                publisher,
                max_events: limits.max_events.max(1),
                max_bytes: limits.max_bytes,
                slots: Arc::new(Semaphore::new(in_flight)),
            }),
        }
    }

    /// Claims, publishes and completes one event with whatever else is
    /// waiting on this thread, and returns once its fate is known.
    pub async fn submit(&self, meta: EventMeta, body: Bytes) -> Verdict {
        let (verdict, answer) = oneshot::channel();
        let job = Job {
            meta,
            body,
            verdict,
        };
        if self.queue().send(job).await.is_err() {
            return Verdict::Unavailable;
        }
        // A dropped sender means the task is gone: nothing was confirmed.
        answer.await.unwrap_or(Verdict::Unavailable)
    }

    /// This thread's queue, its task started on first use, and again when
    /// the runtime that ran the last one has ended.
    fn queue(&self) -> mpsc::Sender<Job> {
        QUEUES.with(|queues| {
            let mut queues = queues.borrow_mut();
            if let Some(jobs) = queues.get(&self.shared.id).filter(|j| !j.is_closed()) {
                return jobs.clone();
            }
            let (jobs, queue) = mpsc::channel(QUEUE);
            tokio::spawn(run(queue, self.shared.clone()));
            queues.insert(self.shared.id, jobs.clone());
            jobs
        })
    }
}

/// One thread's intake task: forms groups from its queue as slots free up;
/// it ends with its runtime or once its queue's sender is gone.
async fn run(mut queue: mpsc::Receiver<Job>, shared: Arc<Shared>) {
    let mut carried: Option<Job> = None;
    loop {
        let first = match carried.take() {
            Some(job) => job,
            None => match queue.recv().await {
                Some(job) => job,
                None => return,
            },
        };
        // With a first job, wait for a free slot: meanwhile requests queue up
        // and join the group. (Taking the slot first would let an idle thread
        // hold one that a busy thread needs.)
        let Ok(slot) = shared.slots.clone().acquire_owned().await else {
            return;
        };
        let mut bytes = first.body.len();
        let mut group = vec![first];
        while group.len() < shared.max_events {
            let Ok(job) = queue.try_recv() else { break };
            if bytes + job.body.len() > shared.max_bytes {
                carried = Some(job);
                break;
            }
            bytes += job.body.len();
            group.push(job);
        }
        tokio::spawn(commit(
            group,
            shared.dedup.clone(),
            shared.publisher.clone(),
            slot,
        ));
    }
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
            // The events are safe now; marking them done is for their copies,
            // not for this sender, so the answers do not wait for Redis to
            // take the mark (one round trip of every group's answers).
            dedup.complete_all(claimed.map(|(j, _)| j.meta.dedup_key.clone()).collect());
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
