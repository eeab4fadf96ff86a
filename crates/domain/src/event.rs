//! Normalised domain events: what every provider's payload is decoded into.
//!
//! The worker stores these and publishes them (as [`DomainEvent`] JSON) on the
//! `inlet.domain` topic exchange under [`DomainEvent::routing_key`].

use crate::provider::Provider;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Whether a message came from a customer or was sent by the business.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From a customer to one of the business's lines.
    Inbound,
    /// From the business to a customer.
    Outbound,
}

impl Direction {
    /// The name stored in the `direction` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// The delivery state of an outbound message.
///
/// States only move forward in [`DeliveryState::rank`] order, whatever order
/// their webhooks arrive in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Accepted by the provider (or, inbound, received).
    Sent,
    /// Could not be sent or delivered; later proof of success overrides it.
    Failed,
    /// Reached the recipient's device.
    Delivered,
    /// Read by the recipient (implies delivered, even without that webhook).
    Read,
    /// A voice message was played.
    Played,
    /// Deleted by the sender; nothing moves it back.
    Deleted,
}

impl DeliveryState {
    /// Every state, lowest rank first.
    pub const ALL: [DeliveryState; 6] = [
        DeliveryState::Sent,
        DeliveryState::Failed,
        DeliveryState::Delivered,
        DeliveryState::Read,
        DeliveryState::Played,
        DeliveryState::Deleted,
    ];

    /// Order in which states may replace one another: a state only replaces a
    /// lower one. `failed` is terminal (providers.md, Meta's state machine):
    /// it ranks above every other state, so no status, whatever its order,
    /// turns a failed message back into a delivered one. Stored in
    /// `status_rank`, so a change here needs a migration of the stored ranks.
    pub fn rank(self) -> i16 {
        match self {
            DeliveryState::Sent => 1,
            DeliveryState::Delivered => 3,
            DeliveryState::Read => 4,
            DeliveryState::Played => 5,
            DeliveryState::Deleted => 6,
            DeliveryState::Failed => 7,
        }
    }

    /// The name stored in the database and sent downstream.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Sent => "sent",
            DeliveryState::Failed => "failed",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Read => "read",
            DeliveryState::Played => "played",
            DeliveryState::Deleted => "deleted",
        }
    }

    /// Parses a provider's status word (`sent`, `delivered`, `read`, ...).
    pub fn parse(s: &str) -> Option<Self> {
        DeliveryState::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// A person a line talks to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    /// Phone number, WhatsApp id, or business-scoped user id: whatever the
    /// provider identifies the person by.
    pub address: String,
    /// Display name, when the provider sends one.
    pub name: Option<String>,
    /// Business-scoped user id (Meta BSUID), when present.
    pub user_id: Option<String>,
}

/// A message, inbound or outbound, of any kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The provider's own id (Meta `wamid`, OpenPhone `AC…`, bridge message id).
    pub provider_message_id: String,
    /// Which way it travelled.
    pub direction: Direction,
    /// Sender address (phone, wa_id, or user id).
    pub from_address: Option<String>,
    /// Recipient address (the line's number for inbound messages).
    pub to_address: Option<String>,
    /// The customer behind the message, upserted before the message is stored.
    pub contact: Option<Contact>,
    /// `text`, `image`, `audio`, ..., or the provider's type name for others.
    ///
    /// Serialised as `message_kind`: `kind` is [`EventBody`]'s tag, and a
    /// flattened [`DomainEvent`] with two `kind` keys would not read back.
    #[serde(rename = "message_kind")]
    pub kind: String,
    /// Human-readable text: the text body, a caption, a chosen reply's title.
    pub body: Option<String>,
    /// Structured content of the kind (media id, mime type, coordinates, ...).
    pub content: Value,
    /// Reply/forward/referral context, when present.
    pub context: Option<Value>,
    /// The initial delivery state, when the provider reports one.
    pub status: Option<DeliveryState>,
    /// When the provider says the message was sent.
    pub sent_at: Option<DateTime<Utc>>,
    /// The provider's message object as received.
    pub raw: Value,
}

/// A delivery-state change of a message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusUpdate {
    /// The provider's id of the message whose state changed.
    pub provider_message_id: String,
    /// The new state.
    pub state: DeliveryState,
    /// When the provider says it happened.
    pub occurred_at: DateTime<Utc>,
    /// Who the message was for.
    pub recipient: Option<String>,
    /// Error details on `failed`.
    pub errors: Option<Value>,
    /// Conversation and pricing data, when present.
    pub billing: Option<Value>,
    /// The provider's status object as received.
    pub raw: Value,
}

/// A reaction to a message; `emoji: None` removes the reactor's reaction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reaction {
    /// The reaction event's own id.
    pub provider_event_id: String,
    /// The message reacted to.
    pub target_message_id: String,
    /// Who reacted.
    pub from_address: String,
    /// The emoji, or `None` when the reaction was removed.
    pub emoji: Option<String>,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// The provider's object as received.
    pub raw: Value,
}

/// A call and its lifecycle (ringing, completed, recording, summary, transcript).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// The provider's call id.
    pub provider_call_id: String,
    /// The lifecycle event: `call.ringing`, `call.completed`, `call.recording.completed`, ...
    pub event: String,
    /// Which way the call went, when known.
    pub direction: Option<Direction>,
    /// Caller.
    pub from_address: Option<String>,
    /// Callee.
    pub to_address: Option<String>,
    /// The provider's call status (`ringing`, `completed`, `no-answer`, ...).
    pub status: Option<String>,
    /// When the call started, if known.
    pub started_at: Option<DateTime<Utc>>,
    /// When the call ended, if known.
    pub completed_at: Option<DateTime<Utc>>,
    /// When this event happened.
    pub occurred_at: DateTime<Utc>,
    /// Event-specific data (voicemail, recording url, summary, transcript).
    pub data: Value,
}

/// A change to a contact record kept by the provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContactChange {
    /// The provider's contact id.
    pub provider_contact_id: String,
    /// `updated` or `deleted`.
    pub action: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// The provider's contact object.
    pub data: Value,
}

/// An opt-out or opt-in decided from an inbound keyword.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsentChange {
    /// The contact's address.
    pub address: String,
    /// `true` for opted out, `false` for opted back in.
    pub opted_out: bool,
    /// The keyword that decided it.
    pub keyword: String,
    /// The message that carried it.
    pub provider_message_id: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
}

/// A line's connection state (a bridge session connecting, disconnecting, ...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LineStatus {
    /// The new state as the provider names it.
    pub status: String,
    /// When it changed.
    pub occurred_at: DateTime<Utc>,
    /// The provider's object as received.
    pub data: Value,
}

/// Anything else a provider reports about an account (template status,
/// quality updates, unknown fields): recorded, never an error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountEvent {
    /// The provider's field or event type (`message_template_status_update`, ...).
    pub field: String,
    /// The event inside the field (`APPROVED`, ...), when there is one.
    pub event: Option<String>,
    /// A stable id for this event, for idempotent storage.
    pub event_key: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// The payload as received.
    pub data: Value,
}

/// What happened, independent of who reported it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    /// A message was received or sent.
    Message(Message),
    /// A message's delivery state changed.
    Status(StatusUpdate),
    /// A message was reacted to (or the reaction removed).
    Reaction(Reaction),
    /// A call event.
    Call(Call),
    /// A provider-side contact changed.
    Contact(ContactChange),
    /// A contact opted out or back in.
    Consent(ConsentChange),
    /// A line's connection state changed.
    LineStatus(LineStatus),
    /// Any other account-level event.
    Account(AccountEvent),
}

/// One normalised event, with where it came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DomainEvent {
    /// Who reported it.
    pub provider: Provider,
    /// The line it concerns (Meta `phone_number_id`, OpenPhone `PN…`, bridge session).
    pub line_id: Option<String>,
    /// What happened.
    #[serde(flatten)]
    pub body: EventBody,
}

/// Every domain event type, the closed set [`DomainEvent::event_type`] yields
/// (what forwarding filters and `inlet.domain` routing keys name).
pub mod event_types {
    /// An inbound message.
    pub const MESSAGE_RECEIVED: &str = "message.received";
    /// An outbound message.
    pub const MESSAGE_SENT: &str = "message.sent";
    /// A message's delivery status.
    pub const MESSAGE_STATUS: &str = "message.status";
    /// A reaction to a message.
    pub const REACTION: &str = "reaction";
    /// A call, or a change to one.
    pub const CALL: &str = "call";
    /// A contact's details changed.
    pub const CONTACT_UPDATED: &str = "contact.updated";
    /// A contact opted out.
    pub const CONTACT_OPTED_OUT: &str = "contact.opted_out";
    /// A contact opted in.
    pub const CONTACT_OPTED_IN: &str = "contact.opted_in";
    /// A line's connection status.
    pub const LINE_STATUS: &str = "line.status";
    /// An account-level notice.
    pub const ACCOUNT: &str = "account";
    /// All of them.
    pub const ALL: &[&str] = &[
        MESSAGE_RECEIVED,
        MESSAGE_SENT,
        MESSAGE_STATUS,
        REACTION,
        CALL,
        CONTACT_UPDATED,
        CONTACT_OPTED_OUT,
        CONTACT_OPTED_IN,
        LINE_STATUS,
        ACCOUNT,
    ];
}

impl DomainEvent {
    /// The event type used for routing, metrics labels and the `inlet.domain`
    /// routing key: one of [`event_types::ALL`].
    pub fn event_type(&self) -> &'static str {
        use event_types::*;
        match &self.body {
            EventBody::Message(m) => match m.direction {
                Direction::Inbound => MESSAGE_RECEIVED,
                Direction::Outbound => MESSAGE_SENT,
            },
            EventBody::Status(_) => MESSAGE_STATUS,
            EventBody::Reaction(_) => REACTION,
            EventBody::Call(_) => CALL,
            EventBody::Contact(_) => CONTACT_UPDATED,
            EventBody::Consent(c) if c.opted_out => CONTACT_OPTED_OUT,
            EventBody::Consent(_) => CONTACT_OPTED_IN,
            EventBody::LineStatus(_) => LINE_STATUS,
            EventBody::Account(_) => ACCOUNT,
        }
    }
}

/// Parses a Unix-seconds timestamp as Meta sends it (a string or a number).
pub fn unix_seconds(value: &Value) -> Option<DateTime<Utc>> {
    let secs = match value {
        Value::String(s) => s.trim().parse::<i64>().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    DateTime::from_timestamp(secs, 0)
}

/// Parses an RFC 3339 timestamp (OpenPhone, bridges, Standard Webhooks).
pub fn rfc3339(value: &Value) -> Option<DateTime<Utc>> {
    value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// What the worker publishes on the `inlet.domain` topic exchange (routing key
/// = `event_type`) once an event's effects are committed, and what forwarding
/// sends to customers' endpoints.
///
/// `D` is the event itself or, when publishing, a reference to it: the
/// worker serialises the stored event in place instead of copying it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PublishedEvent<D = DomainEvent> {
    /// Stable across redeliveries: the same effect always gets the same id, so
    /// consumers can deduplicate (publishing is at least once).
    pub id: String,
    /// [`DomainEvent::event_type`].
    #[serde(rename = "type")]
    pub event_type: String,
    /// Who reported it.
    pub provider: Provider,
    /// The line it concerns.
    pub line_id: Option<String>,
    /// When the gateway received the raw event.
    pub received_at: DateTime<Utc>,
    /// The correlation id of the raw event (for tracing across services).
    pub correlation_id: String,
    /// The normalised event.
    pub data: D,
}
