//! Integration tests for `inlet-domain` (pure: no services needed).

// The table-driven files keep one row per line, wider than rustfmt allows.
#[rustfmt::skip]
mod decode_bridge_and_standard;
mod decode_errors;
#[rustfmt::skip]
mod decode_meta;
#[rustfmt::skip]
mod decode_openphone;
mod fixtures;
