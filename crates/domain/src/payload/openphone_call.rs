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

/// A call event. Summary and transcript objects name their call in `callId`;
/// call objects are the call (`id`).
pub(crate) fn decode(parts: &Parts<'_>) -> Result<EventBody, DecodeError> {
    let id = parts.field(&["callId", "id"]).ok_or_else(|| {
        DecodeError::malformed(
            Provider::OpenPhone,
            format!("{} without a call id", parts.kind),
        )
    })?;
    Ok(EventBody::Call(Call {
        provider_call_id: id,
        event: parts.kind.to_owned(),
        direction: parts.direction(),
        from_address: parts.from(),
        to_address: parts.recipients().into_iter().next(),
        status: parts.field(&["status"]),
        started_at: parts.time("createdAt"),
        completed_at: parts.time("completedAt"),
        occurred_at: parts.occurred_at,
        data: parts.resource.clone(),
    }))
}
