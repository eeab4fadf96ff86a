//! The WhatsApp bridge and Standard Webhooks sources.

use crate::fixtures::{assert_fields, assert_summaries, decode_fixture, summary};
use inlet_domain::Provider;
use serde_json::json;

#[test]
fn bridge_events_decode_with_the_url_line_unless_the_body_names_one() {
    assert_summaries(
        Provider::Bridge,
        Some("line-url"),
        &[
            ("bridge/message_received", &["message inbound text id=3EB0B430B6F8F1D0E053 from=15550001111 to=- contact=15550001111/-/- body=hello status=- line=line-url"]),
            ("bridge/message_received_media", &["message inbound image id=3EB0MEDIA from=15550001111 to=15550009999 contact=15550001111/Ana/- body=receipt status=- line=line-7"]),
            ("bridge/message_sent", &["message outbound text id=3EB0SENT from=15550009999 to=15550001111 contact=15550001111/-/- body=thanks! status=sent line=line-url"]),
            ("bridge/message_failed", &["status failed id=3EB0SENT to=15550001111 at=2026-01-01T00:03:00+00:00 line=line-url"]),
            ("bridge/connection_status", &["line disconnected at=2026-01-01T00:04:00+00:00 line=line-url"]),
            ("bridge/connection_state", &["line open at=2026-01-01T00:05:00+00:00 line=line-7"]),
        ],
    );
    assert_fields(
        Provider::Bridge,
        &[
            ("bridge/message_received_media", 0, "/content/media/mime_type", json!("image/jpeg")),
            ("bridge/message_received", 0, "/sent_at", json!("2026-01-01T00:00:00Z")),
            ("bridge/message_received_stamped", 0, "/sent_at", json!("2025-12-31T23:50:00Z")),
            ("bridge/message_received_stamped", 0, "/body", json!("sent earlier")),
            ("bridge/message_failed", 0, "/errors/error", json!("not on WhatsApp")),
            ("bridge/connection_status", 0, "/data/reason", json!("logged out")),
        ],
    );
}

#[test]
fn an_unknown_bridge_event_is_kept_as_an_account_event() {
    let events = decode_fixture(Provider::Bridge, Some("line-url"), "bridge/presence_update");
    let line = summary(&events[0]);
    assert!(
        line.starts_with("account presence.update event=- key="),
        "{line}"
    );
    assert!(line.ends_with("line=line-url"), "{line}");
}

#[test]
fn a_standard_webhook_is_an_account_event_named_after_its_source_and_type() {
    assert_summaries(
        Provider::Standard,
        None,
        &[
            ("standard/invoice_paid", &["account billing.invoice.paid event=invoice.paid key=dedup-1 line=-"]),
            ("standard/no_type", &["account billing.event event=event key=dedup-1 line=-"]),
        ],
    );
    assert_fields(
        Provider::Standard,
        &[
            ("standard/invoice_paid", 0, "/data/data/amount", json!(4200)),
            ("standard/invoice_paid", 0, "/occurred_at", json!("2026-01-01T00:00:00Z")),
            ("standard/no_type", 0, "/occurred_at", json!("2026-01-01T00:00:00Z")),
        ],
    );
}
