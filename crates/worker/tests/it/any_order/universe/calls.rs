//! A call's lifecycle events, for the order-independence search.

use super::{at, Universe};
use inlet_domain::event::{Call, Direction, EventBody};
use inlet_domain::Provider;
use rand::Rng;
use serde_json::json;

impl Universe {
    /// A call's events, each at most once (the database keys them by name):
    /// call objects with a status and facts, summaries and transcripts without.
    /// Every call object names the call's one start and, once it has ended,
    /// its one end time, as OpenPhone's do: a gap (a call object without an
    /// end time, newer than the end) that two others fill with different
    /// values is the exception docs/worker.md states.
    pub(super) fn call(&mut self, id: &str) {
        let end = self.secs();
        let ends = ["completed", "no-answer", "busy"];
        let events = [
            ("call.ringing", Some("ringing")),
            ("call.answered", Some("answered")),
            ("call.completed", Some(self.pick(&ends))),
            ("call.recording.completed", Some("completed")),
            ("call.summary.completed", None),
            ("call.transcript.completed", None),
        ];
        // Each event half the time, but never none of the call objects.
        let mut chosen: Vec<bool> = events.iter().map(|_| self.rng.gen_bool(0.5)).collect();
        if !chosen
            .iter()
            .zip(&events)
            .any(|(c, (_, s))| *c && s.is_some())
        {
            chosen[2] = true;
        }
        for ((name, status), _) in events.into_iter().zip(chosen).filter(|(_, c)| *c) {
            let secs = self.secs();
            let facts = status.is_some();
            let ended = facts && !matches!(name, "call.ringing" | "call.answered");
            // An answer names the callee who took it; its other facts may be
            // missing (a partial resource), and the line may come from the
            // envelope alone: gaps the other call objects fill alike.
            let partial = name == "call.answered" && self.rng.gen_bool(0.5);
            let callee = self.pick(&["+15550000001", "+15550000002"]);
            let call = Call {
                provider_call_id: id.into(),
                event: name.into(),
                direction: (facts && !partial).then_some(Direction::Inbound),
                from_address: (facts && !partial).then(|| "+16505550001".into()),
                to_address: facts.then(|| callee.into()),
                status: status.map(Into::into),
                started_at: (facts && !partial).then(|| at(0)),
                completed_at: ended.then(|| at(end)),
                occurred_at: at(secs),
                data: json!({ "event": name, "at": secs }),
            };
            let mut event = self.event(Provider::OpenPhone, EventBody::Call(call));
            if partial {
                event.line_id = None;
            }
            let raw = self.add(format!("{id}/{name}"), Provider::OpenPhone, vec![event]);
            if let Some(raw) = raw.filter(|_| partial) {
                raw.meta.line = Some("L1".into());
            }
        }
    }
}
