//! OpenPhone (Quo) call events: the call lifecycle, recordings, voicemails,
//! summaries and transcripts, all as [`Call`] events keyed by the call id.

use super::openphone::Parts;
use super::DecodeError;
use crate::event::{Call, EventBody};
use crate::provider::Provider;

/// Whether an event type is about a call. API-created (v4) webhooks name the
/// summary and transcript events `callSummary`/`callTranscript`.
pub(crate) fn is_call_event(kind: &str) -> bool {
    kind.starts_with("call.") || kind == "callSummary" || kind == "callTranscript"
}

/// Whether an event's object is a summary or a transcript of a call rather
/// than the call itself.
fn is_about_a_call(kind: &str) -> bool {
    matches!(
        kind,
        "call.summary.completed" | "call.transcript.completed" | "callSummary" | "callTranscript"
    )
}

/// A call event. Summary and transcript objects name their call in `callId`;
/// call objects are the call (`id`). A summary's or transcript's `status` and
/// times are those of that job (a summary that failed, created after the
/// call), so only a call object gives the call's status and times.
pub(crate) fn decode(parts: &Parts<'_>) -> Result<EventBody, DecodeError> {
    let id = parts.field(&["callId", "id"]).ok_or_else(|| {
        DecodeError::malformed(
            Provider::OpenPhone,
            format!("{} without a call id", parts.kind),
        )
    })?;
    let call_facts = !is_about_a_call(parts.kind);
    Ok(EventBody::Call(Call {
        provider_call_id: id,
        event: parts.kind.to_owned(),
        direction: parts.direction(),
        from_address: parts.from(),
        to_address: parts.recipients().into_iter().next(),
        status: call_facts.then(|| parts.field(&["status"])).flatten(),
        started_at: call_facts.then(|| parts.time("createdAt")).flatten(),
        completed_at: call_facts.then(|| parts.time("completedAt")).flatten(),
        occurred_at: parts.occurred_at,
        data: parts.resource.clone(),
    }))
}
