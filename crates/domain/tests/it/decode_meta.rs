//! Meta: every message type, every status, other fields, batches.

use crate::fixtures::{assert_fields, assert_summaries, decode_fixture};
use inlet_domain::Provider;
use serde_json::json;

const SHEENA: &str = "from=16505551234 to=15550783881 contact=16505551234/Sheena Nelson/-";

fn msg(kind: &str, id: &str, body: &str) -> String {
    format!("message inbound {kind} id={id} {SHEENA} body={body} status=- line=106540352242922")
}

#[test]
fn every_message_type_decodes_to_its_kind_and_readable_body() {
    let rows: Vec<(&str, String)> = vec![
        ("meta/text", msg("text", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=", "Does it come in another color?")),
        ("meta/image", msg("image", "wamid.IMAGE", "Taj Mahal")),
        ("meta/audio", msg("audio", "wamid.AUDIO", "-")),
        ("meta/video", msg("video", "wamid.VIDEO", "Our trip")),
        ("meta/document", msg("document", "wamid.DOCUMENT", "invoice.pdf")),
        ("meta/sticker", msg("sticker", "wamid.STICKER", "-")),
        ("meta/location", msg("location", "wamid.LOCATION", "1 Hacker Way, Menlo Park, CA 94025")),
        ("meta/contacts", msg("contacts", "wamid.CONTACTS", "Barbara Johnson, Tom Lee")),
        ("meta/interactive_button_reply", msg("interactive", "wamid.BUTTON_REPLY", "Yes, please")),
        ("meta/interactive_list_reply", msg("interactive", "wamid.LIST_REPLY", "Medium")),
        ("meta/interactive_nfm_reply", msg("interactive", "wamid.NFM_REPLY", "Sent")),
        ("meta/interactive_call_permission_reply", msg("interactive", "wamid.CALL_PERMISSION", "accept")),
        ("meta/button", msg("button", "wamid.BUTTON", "Track my order")),
        ("meta/order", msg("order", "wamid.ORDER", "Two please")),
        ("meta/system", msg("system", "wamid.SYSTEM", "User A changed from 16505551234 to 16505559999")),
        ("meta/request_welcome", msg("request_welcome", "wamid.REQUEST_WELCOME", "-")),
        ("meta/unsupported", msg("unsupported", "wamid.UNSUPPORTED", "Message type unknown")),
        ("meta/unknown", msg("unknown", "wamid.UNKNOWN", "Message type unknown")),
        ("meta/text_forwarded", msg("text", "wamid.FORWARDED", "look at this")),
        ("meta/text_referral", msg("text", "wamid.REFERRAL", "Is this available?")),
        ("meta/text_bsuid", "message inbound text id=wamid.BSUID from=US.13491208655302741918 to=15550783881 contact=US.13491208655302741918/Pat/US.13491208655302741918 body=hi from a username status=- line=106540352242922".to_owned()),
    ];
    let table: Vec<(&str, Vec<&str>)> = rows.iter().map(|(f, s)| (*f, vec![s.as_str()])).collect();
    let table: Vec<(&str, &[&str])> = table.iter().map(|(f, v)| (*f, v.as_slice())).collect();
    assert_summaries(Provider::Meta, None, &table);
}

#[test]
fn message_content_keeps_the_structured_fields_of_each_type() {
    assert_fields(
        Provider::Meta,
        &[
            ("meta/image", 0, "/content/id", json!("1003383421387256")),
            ("meta/image", 0, "/content/mime_type", json!("image/jpeg")),
            ("meta/image", 0, "/content/sha256", json!("SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=")),
            ("meta/image", 0, "/sent_at", json!("2025-04-11T04:08:16Z")),
            ("meta/image", 0, "/message_kind", json!("image")),
            ("meta/image", 0, "/kind", json!("message")),
            ("meta/audio", 0, "/content/voice", json!(true)),
            ("meta/document", 0, "/content/filename", json!("invoice.pdf")),
            ("meta/sticker", 0, "/content/animated", json!(false)),
            ("meta/location", 0, "/content/latitude", json!(37.4847)),
            ("meta/location", 0, "/content/longitude", json!(-122.1477)),
            ("meta/contacts", 0, "/content/cards/0/phones/0/wa_id", json!("16505551234")),
            ("meta/interactive_button_reply", 0, "/content/button_reply/id", json!("yes-1")),
            ("meta/interactive_button_reply", 0, "/context/context/id", json!("wamid.ASKED")),
            ("meta/interactive_list_reply", 0, "/content/list_reply/id", json!("size-m")),
            ("meta/interactive_nfm_reply", 0, "/content/nfm_reply/response/flow_token", json!("tok-1")),
            ("meta/interactive_call_permission_reply", 0, "/content/call_permission_reply/is_permanent", json!(false)),
            ("meta/button", 0, "/content/payload", json!("TRACK_ORDER")),
            ("meta/button", 0, "/context/context/id", json!("wamid.TEMPLATE")),
            ("meta/order", 0, "/content/product_items/0/quantity", json!(2)),
            ("meta/system", 0, "/content/type", json!("user_changed_number")),
            ("meta/unsupported", 0, "/content/type", json!("edit")),
            ("meta/unsupported", 0, "/content/errors/0/code", json!(131051)),
            ("meta/unknown", 0, "/content/errors/0/code", json!(131051)),
            ("meta/text_forwarded", 0, "/context/context/forwarded", json!(true)),
            ("meta/text_referral", 0, "/context/referral/ctwa_clid", json!("clid-1")),
            ("meta/text_referral", 0, "/raw/referral/source_type", json!("ad")),
        ],
    );
}

#[test]
fn a_reaction_targets_its_message_and_a_removal_has_no_emoji() {
    let id = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=";
    let target = "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA=";
    let added = format!("reaction 👍 id={id} on={target} by=16505551234 line=106540352242922");
    let removed =
        format!("reaction removed id={id} on={target} by=16505551234 line=106540352242922");
    assert_summaries(
        Provider::Meta,
        None,
        &[
            ("meta/reaction", &[added.as_str()]),
            ("meta/reaction_removed", &[removed.as_str()]),
        ],
    );
    let added = decode_fixture(Provider::Meta, None, "meta/reaction");
    let removed = decode_fixture(Provider::Meta, None, "meta/reaction_removed");
    assert_ne!(added[0].stable_id(), removed[0].stable_id());
}

#[test]
fn every_status_decodes_to_its_state_recipient_and_time() {
    assert_summaries(
        Provider::Meta,
        None,
        &[
            ("meta/status_sent", &["status sent id=wamid.OUT1 to=16505551234 at=2025-06-15T23:27:53+00:00 line=106540352242922"]),
            ("meta/status_delivered", &["status delivered id=wamid.OUT1 to=16505551234 at=2025-06-15T23:27:53+00:00 line=106540352242922"]),
            ("meta/status_read", &["status read id=wamid.OUT1 to=16505551234 at=2025-06-15T23:27:53+00:00 line=106540352242922"]),
            ("meta/status_played", &["status played id=wamid.OUT1 to=16505551234 at=2025-06-15T23:27:53+00:00 line=106540352242922"]),
            ("meta/status_deleted", &["status deleted id=wamid.OUT1 to=16505551234 at=2025-06-15T23:27:53+00:00 line=106540352242922"]),
            ("meta/status_failed", &["status failed id=wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QUQ2MjA4NEYyRkExNjMyREUA to=16505551234 at=2025-06-28T20:34:48+00:00 line=106540352242922"]),
            ("meta/status_bsuid", &["status delivered id=wamid.OUT1 to=US.13491208655302741918 at=2025-06-15T23:27:53+00:00 line=106540352242922"]),
        ],
    );
}

#[test]
fn statuses_keep_errors_conversation_and_pricing() {
    assert_fields(
        Provider::Meta,
        &[
            ("meta/status_sent", 0, "/billing/conversation/origin/type", json!("marketing")),
            ("meta/status_sent", 0, "/billing/pricing/pricing_model", json!("PMP")),
            ("meta/status_failed", 0, "/errors/0/code", json!(131049)),
            ("meta/status_failed", 0, "/errors/0/title", json!("This message was not delivered to maintain healthy ecosystem engagement.")),
            ("meta/status_read", 0, "/billing", json!(null)),
            ("meta/status_read", 0, "/errors", json!(null)),
        ],
    );
}

#[test]
fn a_status_with_an_unknown_word_is_kept_as_an_account_event_beside_the_others() {
    let events = decode_fixture(Provider::Meta, None, "meta/status_unknown_word");
    let kinds: Vec<String> = events.iter().map(crate::fixtures::summary).collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert!(
        kinds[0].starts_with("account status.warning event=warning key="),
        "{kinds:?}"
    );
    assert!(kinds[0].ends_with("line=106540352242922"), "{kinds:?}");
    assert!(
        kinds[1].starts_with("status read id=wamid.OUT1"),
        "{kinds:?}"
    );
}

#[test]
fn other_fields_are_account_events_with_their_event_name() {
    let template = decode_fixture(Provider::Meta, None, "meta/template_status");
    let unknown = decode_fixture(Provider::Meta, None, "meta/unknown_field");
    let summaries: Vec<String> = template
        .iter()
        .chain(&unknown)
        .map(crate::fixtures::summary)
        .collect();
    assert_eq!(summaries.len(), 2);
    assert!(
        summaries[0].starts_with("account message_template_status_update event=REJECTED key="),
        "{summaries:?}"
    );
    assert!(
        summaries[1].starts_with("account brand_new_field event=- key="),
        "{summaries:?}"
    );
    assert_fields(
        Provider::Meta,
        &[
            ("meta/template_status", 0, "/data/message_template_id", json!(1689556908129835_u64)),
            ("meta/template_status", 0, "/occurred_at", json!("2025-06-30T01:39:08Z")),
            ("meta/unknown_field", 0, "/data/something_new/x", json!(1)),
        ],
    );
    // Decoding twice gives the same key: a redelivery is recognised.
    let again = decode_fixture(Provider::Meta, None, "meta/template_status");
    assert_eq!(template[0].stable_id(), again[0].stable_id());
}

#[test]
fn a_batch_of_two_entries_with_two_changes_each_yields_every_item_on_its_line() {
    let events = decode_fixture(Provider::Meta, None, "meta/batch");
    let got: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            let id = match &e.body {
                inlet_domain::event::EventBody::Message(m) => m.provider_message_id.clone(),
                inlet_domain::event::EventBody::Status(s) => {
                    format!("{}:{}", s.provider_message_id, s.state.as_str())
                }
                other => format!("{other:?}"),
            };
            (e.line_id.clone().unwrap_or_default(), id)
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("PN-A", "wamid.B1"),
        ("PN-A", "wamid.B2"),
        ("PN-A", "wamid.B3"),
        ("PN-B", "wamid.B4"),
        ("PN-B", "wamid.B5"),
        ("PN-A", "wamid.B6"),
        ("PN-A", "wamid.B7"),
        ("PN-B", "wamid.OUT1:delivered"),
        ("PN-B", "wamid.OUT2:read"),
    ]
    .iter()
    .map(|(l, i)| ((*l).to_owned(), (*i).to_owned()))
    .collect();
    assert_eq!(got, expected);
}

#[test]
fn out_of_band_errors_and_a_reaction_naming_no_message_are_kept_not_rejected() {
    let errors = decode_fixture(Provider::Meta, None, "meta/value_errors");
    let line = crate::fixtures::summary(&errors[0]);
    assert!(
        line.starts_with("account messages.errors event=- key="),
        "{line}"
    );
    assert!(line.ends_with("line=106540352242922"), "{line}");
    assert_fields(
        Provider::Meta,
        &[("meta/value_errors", 0, "/data/0/code", json!(131000))],
    );
    assert_summaries(
        Provider::Meta,
        None,
        &[(
            "meta/reaction_without_target",
            &["message inbound reaction id=wamid.ODDREACTION from=16505551234 to=15550783881 contact=16505551234/-/- body=🔥 status=- line=106540352242922"],
        )],
    );
}
