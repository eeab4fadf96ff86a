//! Forwarding domain events to customers' own endpoints.
//!
//! - [`target`]: which URLs an endpoint may have (scheme, no internal addresses).
//! - [`body`]: the JSON a customer receives, and what filters match it against.
//! - [`queue`]: the durable queue the delivery consumer reads domain events from.
//! - [`settings`]: the settings both the admin API and the sender obey.
//!
//! The tables live in [`crate::repository::forwarding`].

pub mod body;
pub mod queue;
pub mod settings;
pub mod target;
