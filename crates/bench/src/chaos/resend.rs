//! The provider's side of the contract: a request that was not answered 200
//! (no answer, 409 while a copy is in flight, 503) is sent again, with the
//! same message, until it is. Meta, OpenPhone and Standard Webhooks senders
//! all retry that way; a scenario that stopped at the first answer would show
//! only that nothing answered 200 was lost, not that every event gets in.

use crate::client::{Client, Target};
use crate::load::MakeRequest;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::time::Instant;

/// How long a round's failures wait before they are sent again (a provider
/// backs off for longer; this keeps a scenario short).
const BACKOFF: Duration = Duration::from_secs(1);

/// What the resending did.
#[derive(Debug, Default, Clone)]
pub struct Resent {
    /// Requests sent again, over every round.
    pub sent: u64,
    /// Request numbers that were answered 200 in the end.
    pub accepted: BTreeSet<u64>,
    /// Request numbers still not answered 200 when the budget ran out.
    pub refused: BTreeSet<u64>,
}

/// Sends each of `pending` again over `lanes` connections, round after round
/// with [`BACKOFF`] between, until every one is answered 200 or `budget` has
/// passed.
pub async fn until_accepted(
    base_url: &str,
    make: &MakeRequest,
    pending: BTreeSet<u64>,
    lanes: usize,
    budget: Duration,
) -> anyhow::Result<Resent> {
    let target = Target::parse(base_url)?;
    let deadline = Instant::now() + budget;
    let mut resent = Resent {
        refused: pending,
        ..Resent::default()
    };
    let mut clients: Vec<Client> = (0..lanes.max(1))
        .map(|_| Client::new(target.clone(), Duration::from_secs(15)))
        .collect();
    while !resent.refused.is_empty() && Instant::now() < deadline {
        let round: Vec<u64> = resent.refused.iter().copied().collect();
        let shares = clients.len();
        let tasks: Vec<_> = clients
            .drain(..)
            .enumerate()
            .map(|(lane, mut client)| {
                let mine: Vec<u64> = round.iter().copied().skip(lane).step_by(shares).collect();
                let make = make.clone();
                tokio::spawn(async move {
                    let mut answers = Vec::with_capacity(mine.len());
                    for n in mine {
                        answers.push((n, client.send(make(n)).await.unwrap_or(0)));
                    }
                    (client, answers)
                })
            })
            .collect();
        for task in tasks {
            let (client, answers) = task.await?;
            clients.push(client);
            for (n, status) in answers {
                resent.sent += 1;
                if status == 200 {
                    resent.refused.remove(&n);
                    resent.accepted.insert(n);
                }
            }
        }
        if !resent.refused.is_empty() {
            tokio::time::sleep(BACKOFF.min(deadline.saturating_duration_since(Instant::now())))
                .await;
        }
    }
    Ok(resent)
}
