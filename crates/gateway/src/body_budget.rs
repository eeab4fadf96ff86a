//! The memory set aside for request bodies. Bodies are read before their
//! signatures can be checked, so without a bound anyone could hold many large
//! ones at once and exhaust the gateway's memory. Every byte read takes a
//! permit of a budget shared by all requests (`INLET_BODY_BUDGET_BYTES`), and
//! one client address may hold at most an eighth of it (at least one body of
//! the largest size), so that a single sender stalling large bodies cannot
//! spend the budget of every other sender.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The shared budget and what each client address holds of it.
pub struct BodyBudget {
    total: Arc<Semaphore>,
    per_client: usize,
    // A std mutex: held for a map operation, never across an await.
    held: Mutex<HashMap<IpAddr, usize>>,
}

/// The budget is spent: the body cannot be held now.
#[derive(Debug, PartialEq, Eq)]
pub struct Spent;

impl BodyBudget {
    /// `total` bytes for all bodies; one client at most an eighth of it, and
    /// never less than `body_limit` (one body of the largest size).
    pub fn new(total: usize, body_limit: usize) -> Arc<Self> {
        Arc::new(BodyBudget {
            total: Arc::new(Semaphore::new(total.min(Semaphore::MAX_PERMITS))),
            per_client: (total / 8).max(body_limit),
            held: Mutex::new(HashMap::new()),
        })
    }

    /// An empty hold for one request's body from `client` (unknown when the
    /// peer address is not known: then only the shared budget applies).
    pub fn hold(self: &Arc<Self>, client: Option<IpAddr>) -> BodyHold {
        BodyHold {
            budget: self.clone(),
            client,
            bytes: 0,
            permit: None,
        }
    }
}

/// What one request's body holds of the budget, given back when dropped.
pub struct BodyHold {
    budget: Arc<BodyBudget>,
    client: Option<IpAddr>,
    bytes: usize,
    permit: Option<OwnedSemaphorePermit>,
}

impl BodyHold {
    /// Takes `n` more bytes, or fails if the client's share or the shared
    /// budget would be passed.
    pub fn take(&mut self, n: usize) -> Result<(), Spent> {
        let permits = u32::try_from(n).map_err(|_| Spent)?;
        if let Some(ip) = self.client {
            let mut held = self.budget.held.lock().map_err(|_| Spent)?;
            let mine = held.entry(ip).or_insert(0);
            if *mine + n > self.budget.per_client {
                return Err(Spent);
            }
            *mine += n;
        }
        match self.budget.total.clone().try_acquire_many_owned(permits) {
            Ok(permit) => {
                match self.permit.as_mut() {
                    Some(held) => held.merge(permit),
                    None => self.permit = Some(permit),
                }
                self.bytes += n;
                Ok(())
            }
            Err(_) => {
                self.give_back(n);
                Err(Spent)
            }
        }
    }

    /// Lowers the client's share by `n` bytes.
    fn give_back(&self, n: usize) {
        let Some(ip) = self.client else { return };
        if let Ok(mut held) = self.budget.held.lock() {
            if let Some(mine) = held.get_mut(&ip) {
                *mine = mine.saturating_sub(n);
                if *mine == 0 {
                    held.remove(&ip);
                }
            }
        }
    }
}

impl Drop for BodyHold {
    fn drop(&mut self) {
        // The shared permits go back with `permit`.
        self.give_back(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([192, 0, 2, last]))
    }

    #[test]
    fn one_client_may_hold_an_eighth_of_the_budget_and_the_rest_is_shared() {
        let budget = BodyBudget::new(800, 10);
        let mut first = budget.hold(ip(1));
        assert_eq!(first.take(100), Ok(()));
        assert_eq!(first.take(1), Err(Spent), "past the client's share");
        let mut second = budget.hold(ip(1));
        assert_eq!(
            second.take(1),
            Err(Spent),
            "a second body of the same client"
        );
        let mut others: Vec<BodyHold> = (2..9).map(|n| budget.hold(ip(n))).collect();
        for hold in &mut others {
            assert_eq!(hold.take(100), Ok(()));
        }
        let mut last = budget.hold(ip(9));
        assert_eq!(last.take(1), Err(Spent), "the shared budget is spent");
        drop(first);
        assert_eq!(last.take(100), Ok(()), "given back when a body goes");
        drop(others.pop());
        assert_eq!(second.take(1), Ok(()), "the client's share is free again");
    }

    #[test]
    fn a_client_share_is_never_less_than_one_largest_body() {
        let budget = BodyBudget::new(80, 50);
        let mut hold = budget.hold(ip(1));
        assert_eq!(hold.take(50), Ok(()));
        assert_eq!(hold.take(1), Err(Spent));
    }

    #[test]
    fn a_failed_take_leaves_the_clients_share_as_it_was() {
        let budget = BodyBudget::new(16, 8);
        let mut full = budget.hold(ip(1));
        assert_eq!(full.take(8), Ok(()));
        let mut other = budget.hold(ip(2));
        assert_eq!(other.take(8), Ok(()));
        let mut third = budget.hold(ip(3));
        assert_eq!(third.take(4), Err(Spent), "shared budget spent");
        drop(full);
        assert_eq!(
            third.take(8),
            Ok(()),
            "its share was not charged by the failure"
        );
    }
}
