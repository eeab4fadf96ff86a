//! Integration tests for `inlet-domain` (pure: no services needed).

mod decode_bridge_and_standard;
mod decode_errors;
mod decode_meta;
mod decode_openphone;
mod fixtures;
