//! OpenPhone (Quo): legacy v2/v3/v4 and 2026-03-30 envelopes.

use crate::fixtures::{assert_fields, assert_summaries, decode_fixture, meta};
use inlet_domain::payload::decode;
use inlet_domain::Provider;
use serde_json::json;

#[test]
fn received_messages_decode_from_every_envelope_generation() {
    assert_summaries(
        Provider::OpenPhone,
        None,
        &[
            ("openphone/message_received", &["message inbound mms id=AC24a8b8321c4f4cf2be110f4250793d51 from=+18005550100 to=+18885550101 contact=+18005550100/-/- body=af status=- line=PNtoDbDhuz"]),
            ("openphone/message_received_v4", &["message inbound text id=AC24a8b8321c4f4cf2be110f4250793d51 from=+19876543210 to=+15555555555 contact=+19876543210/-/- body=Hello, world! status=- line=PNtoDbDhuz"]),
            ("openphone/message_received_v3_group", &["message inbound text id=ACgroup1 from=+18005550100 to=+18885550101 contact=+18005550100/-/- body=hi all status=- line=PNtoDbDhuz"]),
            ("openphone/message_received_2026", &["message inbound text id=AC123 from=- to=- contact=- body=STOP status=- line=-"]),
            ("openphone/message_received_2026_full", &["message inbound text id=AC124 from=+15550001111 to=+15550002222 contact=+15550001111/-/- body=Hello status=- line=PN2026"]),
        ],
    );
}

#[test]
fn received_messages_keep_media_recipients_and_conversation() {
    assert_fields(
        Provider::OpenPhone,
        &[
            ("openphone/message_received", 0, "/content/media/0/type", json!("image/jpeg")),
            ("openphone/message_received", 0, "/context/conversationId", json!("CN78ba0373683c48fd8fd96bc836c51f79")),
            ("openphone/message_received", 0, "/sent_at", json!("2022-01-23T16:55:52.420Z")),
            ("openphone/message_received_v3_group", 0, "/content/recipients", json!(["+18885550101", "+18885550102"])),
            ("openphone/message_received_v4", 0, "/context/contactIds/0", json!("6824dfb69aee85c132b7dg65")),
            ("openphone/message_received_2026_full", 0, "/content/recipients", json!(["+15550002222"])),
            ("openphone/message_received_2026_full", 0, "/sent_at", json!("2026-01-01T00:00:00.500Z")),
            ("openphone/message_received_2026", 0, "/sent_at", json!("2026-01-01T00:00:00Z")),
        ],
    );
}

#[test]
fn a_delivery_or_failure_report_yields_the_outbound_message_then_its_status() {
    assert_summaries(
        Provider::OpenPhone,
        None,
        &[
            ("openphone/message_delivered", &[
                "message outbound mms id=ACcdcc2668c4134c3cbfdacb9e273cac6f from=+18005550100 to=+18885550101 contact=+18885550101/-/- body=za status=delivered line=PNtoDbDhuz",
                "status delivered id=ACcdcc2668c4134c3cbfdacb9e273cac6f to=+18885550101 at=2022-01-23T17:05:56.220+00:00 line=PNtoDbDhuz",
            ]),
            ("openphone/message_failed", &[
                "message outbound text id=ACfail1 from=+18005550100 to=+18885550101 contact=+18885550101/-/- body=Your code is 1234 status=failed line=PNtoDbDhuz",
                "status failed id=ACfail1 to=+18885550101 at=2026-01-02T10:00:00+00:00 line=PNtoDbDhuz",
            ]),
            ("openphone/message_undelivered", &[
                "message outbound text id=ACundel1 from=+18005550100 to=+18885550101 contact=+18885550101/-/- body=late status=failed line=PNtoDbDhuz",
                "status failed id=ACundel1 to=+18885550101 at=2022-01-23T17:06:00+00:00 line=PNtoDbDhuz",
            ]),
        ],
    );
    assert_fields(
        Provider::OpenPhone,
        &[
            ("openphone/message_failed", 1, "/errors/errorCode", json!("30007")),
            ("openphone/message_failed", 1, "/errors/errorMessage", json!("Carrier filtered")),
        ],
    );
}

#[test]
fn every_call_event_is_a_call_keyed_by_its_call_id() {
    assert_summaries(
        Provider::OpenPhone,
        None,
        &[
            ("openphone/call_completed", &["call call.completed id=ACbaee66e137f0467dbed5ad4bc8d60800 dir=inbound status=completed from=+18005550100 to=+18885550101 line=PNtoDbDhuz"]),
            ("openphone/call_ringing", &["call call.ringing id=ACcall1 dir=outbound status=ringing from=+18885550101 to=+18005550100 line=PNtoDbDhuz"]),
            ("openphone/call_answered", &["call call.answered id=ACcall1 dir=outbound status=in-progress from=+18885550101 to=+18005550100 line=PNtoDbDhuz"]),
            ("openphone/call_missed", &["call call.missed id=ACcall1 dir=inbound status=no-answer from=+18005550100 to=+18885550101 line=PNtoDbDhuz"]),
            ("openphone/call_forwarded", &["call call.forwarded id=ACcall1 dir=inbound status=forwarded from=+18885550101 to=+18005550100 line=PNtoDbDhuz"]),
            ("openphone/call_recording_completed", &["call call.recording.completed id=ACcall1 dir=outbound status=completed from=+18885550101 to=+18005550100 line=PNtoDbDhuz"]),
            ("openphone/call_voicemail_completed", &["call call.voicemail.completed id=ACcall1 dir=inbound status=completed from=+18885550101 to=+18005550100 line=PNtoDbDhuz"]),
            ("openphone/call_summary_completed", &["call call.summary.completed id=ACcall1 dir=- status=- from=- to=- line=-"]),
            ("openphone/call_transcript_completed", &["call call.transcript.completed id=ACcall1 dir=- status=- from=- to=- line=-"]),
            ("openphone/call_summary_v4", &["call callSummary id=ACcall2 dir=- status=- from=- to=- line=-"]),
            ("openphone/call_transcript_v4", &["call callTranscript id=ACcall2 dir=- status=- from=- to=- line=-"]),
        ],
    );
    assert_fields(
        Provider::OpenPhone,
        &[
            ("openphone/call_completed", 0, "/data/voicemail/duration", json!(7)),
            ("openphone/call_completed", 0, "/started_at", json!("2022-01-24T19:21:59.545Z")),
            ("openphone/call_completed", 0, "/completed_at", json!("2022-01-24T19:22:19Z")),
            ("openphone/call_completed", 0, "/occurred_at", json!("2022-01-24T19:22:25.427Z")),
            ("openphone/call_summary_completed", 0, "/data/summary/0", json!("Customer asked about pricing.")),
            ("openphone/call_transcript_completed", 0, "/data/dialogue/0/content", json!("Hello")),
        ],
    );
}

#[test]
fn contact_events_are_contact_changes_and_unknown_types_are_kept() {
    assert_summaries(
        Provider::OpenPhone,
        None,
        &[
            ("openphone/contact_updated", &["contact updated id=CT123 at=2022-01-25T00:00:00.100+00:00 line=-"]),
            ("openphone/contact_deleted", &["contact deleted id=CT123 at=2022-01-26T00:00:00+00:00 line=-"]),
            ("openphone/task_created", &["account task.created event=- key=EVtask1 line=-"]),
        ],
    );
    assert_fields(
        Provider::OpenPhone,
        &[(
            "openphone/contact_updated",
            0,
            "/data/firstName",
            json!("Jane"),
        )],
    );
}

#[test]
fn the_gateway_line_is_used_when_the_event_names_none() {
    let events = decode_fixture(
        Provider::OpenPhone,
        Some("PNfromurl"),
        "openphone/message_received_2026",
    );
    assert_eq!(events[0].line_id.as_deref(), Some("PNfromurl"));
    let events = decode_fixture(
        Provider::OpenPhone,
        Some("PNfromurl"),
        "openphone/message_received",
    );
    assert_eq!(events[0].line_id.as_deref(), Some("PNtoDbDhuz"));
}

#[test]
fn an_event_without_a_type_or_a_message_without_an_id_is_malformed() {
    let m = meta(Provider::OpenPhone, None);
    for body in [
        r#"{"id":"EV1","data":{"object":{}}}"#,
        r#"{"id":"EV1","type":"message.received","data":{"object":{"body":"hi"}}}"#,
        r#"{"id":"EV1","type":"call.completed","data":{"object":{"status":"completed"}}}"#,
        r#"{"id":"EV1","type":"contact.updated","data":{"object":{}}}"#,
    ] {
        assert!(decode(&m, body.as_bytes()).is_err(), "{body}");
    }
}
