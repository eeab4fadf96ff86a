//! The senders Inlet accepts.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A webhook sender, as named in routes, AMQP headers, metrics and the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Meta's WhatsApp Cloud API.
    Meta,
    /// OpenPhone (Quo): legacy `openphone-signature` or Standard Webhooks headers.
    #[serde(rename = "openphone")]
    OpenPhone,
    /// A self-hosted WhatsApp bridge (Baileys, whatsmeow, ...).
    Bridge,
    /// Any other service that signs the Standard Webhooks way.
    Standard,
}

impl Provider {
    /// Every provider, in a fixed order (for metrics pre-registration and docs).
    pub const ALL: [Provider; 4] = [
        Provider::Meta,
        Provider::OpenPhone,
        Provider::Bridge,
        Provider::Standard,
    ];

    /// The stable lowercase name used in routes, headers, labels and rows.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Meta => "meta",
            Provider::OpenPhone => "openphone",
            Provider::Bridge => "bridge",
            Provider::Standard => "standard",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name given is not a provider Inlet knows.
#[derive(Debug, thiserror::Error)]
#[error("unknown provider {0:?}")]
pub struct UnknownProvider(pub String);

impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}
