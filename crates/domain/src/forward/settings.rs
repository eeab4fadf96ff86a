//! Forwarding settings shared by the admin API (gateway) and the sender (worker).

use serde::{Deserialize, Serialize};

/// What forwarding allows; flattened into both binaries' settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct ForwardSettings {
    /// `INLET_FORWARD_ALLOW_HTTP`: accept `http://` endpoint URLs (tests, local set-ups).
    pub forward_allow_http: bool,
    /// `INLET_FORWARD_ALLOW_PRIVATE`: accept endpoints on loopback, private or
    /// link-local addresses (tests only: otherwise the API reaches the internal network).
    pub forward_allow_private: bool,
    /// `INLET_FORWARD_SECRET_GRACE_SECS`: how long a rotated-out secret keeps signing.
    pub forward_secret_grace_secs: u64,
}

impl Default for ForwardSettings {
    fn default() -> Self {
        ForwardSettings {
            forward_allow_http: false,
            forward_allow_private: false,
            forward_secret_grace_secs: 24 * 60 * 60,
        }
    }
}

impl ForwardSettings {
    /// The URL policy these settings describe.
    pub fn policy(&self) -> super::target::TargetPolicy {
        super::target::TargetPolicy {
            allow_http: self.forward_allow_http,
            allow_private: self.forward_allow_private,
        }
    }
}
