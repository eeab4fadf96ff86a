//! Settles the work queue's deliveries in as few frames as their completion
//! order allows.
//!
//! Several batches are in flight at once and finish in any order, so the acks
//! of a batch are held until every earlier delivery on the channel is settled;
//! then one `multiple` ack covers the whole run. On a quorum queue each ack
//! frame is a command through the queue's log, so one per batch instead of one
//! per event is most of the saving.
//!
//! A requeue goes out at once, on its own, and counts as settled: a later
//! `multiple` ack covers only deliveries still outstanding, and its own tag is
//! always one that is being acked, so it never acks a requeued delivery.
//! Holding is bounded: when more than `hold_limit` settled deliveries wait
//! behind an unsettled one, they are acked one by one instead, so a delivery
//! that takes long cannot stall the prefetch window.

use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::types::DeliveryTag;
use lapin::Channel;
use std::collections::BTreeMap;
use tokio::sync::Mutex;

/// The ack state of one consumer channel (delivery tags start at 1 on each).
pub(crate) struct Acks {
    channel: Channel,
    hold_limit: usize,
    // A tokio lock, held while a frame is handed to lapin: frames must leave
    // in the order the state was computed in, or a `multiple` ack could name
    // a tag that an earlier one already covered (a channel error).
    state: Mutex<State>,
}

struct State {
    /// Every tag below this one is settled with the broker.
    front: DeliveryTag,
    /// Tags at or past the front that are settled here, not yet covered.
    held: BTreeMap<DeliveryTag, Held>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Held {
    /// To be acked: the broker still counts it as outstanding.
    Ack,
    /// Already settled with the broker (requeued, or acked on its own).
    Sent,
}

impl Acks {
    /// The tracker of a fresh consumer channel.
    pub(crate) fn new(channel: Channel, hold_limit: usize) -> Self {
        Acks {
            channel,
            hold_limit: hold_limit.max(1),
            state: Mutex::new(State {
                front: 1,
                held: BTreeMap::new(),
            }),
        }
    }

    /// Acks these deliveries, now or together with the ones before them.
    pub(crate) async fn ack(&self, tags: &[DeliveryTag]) -> Result<(), lapin::Error> {
        let mut state = self.state.lock().await;
        for &tag in tags {
            state.held.insert(tag, Held::Ack);
        }
        self.flush(&mut state).await
    }

    /// Requeues one delivery at once, so that it is redelivered.
    pub(crate) async fn requeue(&self, tag: DeliveryTag) -> Result<(), lapin::Error> {
        let mut state = self.state.lock().await;
        let options = BasicNackOptions {
            requeue: true,
            multiple: false,
        };
        // Settled even if the frame fails: the channel is gone then, and the
        // broker requeues everything it had outstanding on it.
        state.held.insert(tag, Held::Sent);
        let sent = self.channel.basic_nack(tag, options).await;
        let flushed = self.flush(&mut state).await;
        sent.and(flushed)
    }

    /// Sends what the state allows: one `multiple` ack up to the last tag to
    /// ack in the run that starts at the front, or, when too many are held,
    /// each held one on its own.
    async fn flush(&self, state: &mut State) -> Result<(), lapin::Error> {
        match state.advance() {
            Some(upto) => {
                let options = BasicAckOptions { multiple: true };
                self.channel.basic_ack(upto, options).await
            }
            None if state.waiting() > self.hold_limit => {
                let mut result = Ok(());
                for (tag, held) in state.held.iter_mut() {
                    if *held == Held::Ack {
                        *held = Held::Sent;
                        let sent = self
                            .channel
                            .basic_ack(*tag, BasicAckOptions::default())
                            .await;
                        result = result.and(sent);
                    }
                }
                result
            }
            None => Ok(()),
        }
    }
}

impl State {
    /// Moves the front past every settled tag; returns the last one of them
    /// that still has to be acked.
    fn advance(&mut self) -> Option<DeliveryTag> {
        let mut upto = None;
        while let Some(held) = self.held.remove(&self.front) {
            if held == Held::Ack {
                upto = Some(self.front);
            }
            self.front += 1;
        }
        upto
    }

    /// Held deliveries the broker still counts as outstanding.
    fn waiting(&self) -> usize {
        self.held.values().filter(|h| **h == Held::Ack).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            front: 1,
            held: BTreeMap::new(),
        }
    }

    #[test]
    fn a_run_from_the_front_is_acked_up_to_its_last_tag() {
        let mut s = state();
        s.held.insert(1, Held::Ack);
        s.held.insert(2, Held::Ack);
        assert_eq!(s.advance(), Some(2));
        assert_eq!(s.front, 3);
        assert!(s.held.is_empty());
    }

    #[test]
    fn acks_behind_an_unsettled_tag_wait_for_it() {
        let mut s = state();
        s.held.insert(2, Held::Ack);
        s.held.insert(3, Held::Ack);
        assert_eq!(s.advance(), None);
        assert_eq!(s.waiting(), 2);
        s.held.insert(1, Held::Ack);
        assert_eq!(s.advance(), Some(3));
        assert_eq!(s.front, 4);
    }

    #[test]
    fn a_requeued_tag_is_passed_over_but_never_named() {
        let mut s = state();
        s.held.insert(1, Held::Ack);
        s.held.insert(2, Held::Sent);
        assert_eq!(s.advance(), Some(1));
        assert_eq!(s.front, 3);
        // A run of nothing but requeued (or singly acked) tags sends nothing.
        s.held.insert(3, Held::Sent);
        s.held.insert(4, Held::Sent);
        assert_eq!(s.advance(), None);
        assert_eq!(s.front, 5);
    }

    #[test]
    fn the_last_tag_to_ack_is_named_even_when_sent_ones_follow_it() {
        let mut s = state();
        s.held.insert(1, Held::Ack);
        s.held.insert(2, Held::Ack);
        s.held.insert(3, Held::Sent);
        assert_eq!(s.advance(), Some(2));
        assert_eq!(s.front, 4);
    }
}
