//! A fixture per Meta message type, status and account field, through
//! decode, routing and the real repository (no broker: the router directly).

use crate::fixtures::LINE;
use crate::helpers::envelope;
use inlet_domain::Provider;
use inlet_testkit::TestDb;
use inlet_worker::consent::Keywords;
use inlet_worker::router::Router;
use serde_json::{json, Value};

fn messages(messages: Value, statuses: Value) -> Vec<u8> {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [
        {"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": LINE},
            "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
            "messages": messages, "statuses": statuses}}]}]})
    .to_string()
    .into_bytes()
}

fn inbound(id: &str, kind: &str, object: Value) -> Vec<u8> {
    let mut msg = json!({"from": "16505551234", "id": id, "timestamp": "1749416383", "type": kind});
    msg[kind] = object;
    messages(json!([msg]), json!([]))
}

/// (fixture, SQL returning one text, expected text)
fn cases() -> Vec<(&'static str, Vec<u8>, &'static str, &'static str)> {
    const KIND: &str = "SELECT kind || '|' || coalesce(body, '') FROM messages";
    vec![
        (
            "text",
            inbound(
                "w.text",
                "text",
                json!({"body": "Does it come in another color?"}),
            ),
            KIND,
            "text|Does it come in another color?",
        ),
        (
            "image",
            inbound(
                "w.image",
                "image",
                json!({"caption": "Taj Mahal", "mime_type": "image/jpeg",
            "sha256": "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=", "id": "1003383421387256"}),
            ),
            KIND,
            "image|Taj Mahal",
        ),
        (
            "audio",
            inbound(
                "w.audio",
                "audio",
                json!({"mime_type": "audio/ogg", "sha256": "x", "id": "m1", "voice": true}),
            ),
            "SELECT kind FROM messages",
            "audio",
        ),
        (
            "video",
            inbound(
                "w.video",
                "video",
                json!({"caption": "clip", "mime_type": "video/mp4", "sha256": "x", "id": "m2"}),
            ),
            KIND,
            "video|clip",
        ),
        (
            "document",
            inbound(
                "w.doc",
                "document",
                json!({"caption": "invoice", "filename": "inv.pdf",
            "mime_type": "application/pdf", "sha256": "x", "id": "m3"}),
            ),
            KIND,
            "document|invoice",
        ),
        (
            "sticker",
            inbound(
                "w.sticker",
                "sticker",
                json!({"mime_type": "image/webp", "sha256": "x", "id": "m4", "animated": false}),
            ),
            "SELECT kind FROM messages",
            "sticker",
        ),
        (
            "location",
            inbound(
                "w.loc",
                "location",
                json!({"latitude": 38.9, "longitude": -77.0, "name": "Office"}),
            ),
            "SELECT kind FROM messages",
            "location",
        ),
        (
            "contacts",
            inbound(
                "w.cards",
                "contacts",
                json!([{"name": {"formatted_name": "Ada Lovelace"},
            "phones": [{"phone": "+1 555", "type": "CELL"}]}]),
            ),
            "SELECT kind FROM messages",
            "contacts",
        ),
        (
            "button_reply",
            inbound(
                "w.br",
                "interactive",
                json!({"type": "button_reply",
            "button_reply": {"id": "yes", "title": "Yes please"}}),
            ),
            KIND,
            "interactive|Yes please",
        ),
        (
            "list_reply",
            inbound(
                "w.lr",
                "interactive",
                json!({"type": "list_reply",
            "list_reply": {"id": "row1", "title": "Blue", "description": "the blue one"}}),
            ),
            KIND,
            "interactive|Blue",
        ),
        (
            "button",
            inbound(
                "w.btn",
                "button",
                json!({"text": "Stop promotions", "payload": "STOP_PROMO"}),
            ),
            KIND,
            "button|Stop promotions",
        ),
        (
            "order",
            inbound(
                "w.order",
                "order",
                json!({"catalog_id": "c1", "product_items": [
            {"product_retailer_id": "p1", "quantity": 2, "item_price": 10, "currency": "USD"}]}),
            ),
            "SELECT kind FROM messages",
            "order",
        ),
        (
            "system",
            inbound(
                "w.sys",
                "system",
                json!({"body": "User changed number", "type": "user_changed_number"}),
            ),
            "SELECT kind FROM messages",
            "system",
        ),
        (
            "unsupported",
            messages(
                json!([{"from": "16505551234", "id": "w.unsup", "timestamp": "1749416383",
            "type": "unsupported", "unsupported": {"type": "poll"},
            "errors": [{"code": 131051, "title": "Message type unknown"}]}]),
                json!([]),
            ),
            "SELECT kind FROM messages",
            "unsupported",
        ),
        (
            "user id only",
            messages(
                json!([{"from_user_id": "US.13491208655302741918", "id": "w.bsuid",
            "timestamp": "1749416383", "type": "text", "text": {"body": "hi"}}]),
                json!([]),
            ),
            "SELECT from_address FROM messages",
            "US.13491208655302741918",
        ),
        (
            "reply context",
            messages(
                json!([{"from": "16505551234", "id": "w.reply", "timestamp": "1749416383",
            "type": "text", "text": {"body": "yes"}, "context": {"from": "15550783881", "id": "w.orig"}}]),
                json!([]),
            ),
            "SELECT context::text FROM messages WHERE context IS NOT NULL",
            r#"{"context": {"id": "w.orig", "from": "15550783881"}}"#,
        ),
        (
            "reaction",
            inbound(
                "w.react",
                "reaction",
                json!({"message_id": "w.target", "emoji": "👍"}),
            ),
            "SELECT target_message_id || '|' || emoji FROM reactions",
            "w.target|👍",
        ),
        (
            "reaction removed",
            inbound("w.react", "reaction", json!({"message_id": "w.target"})),
            "SELECT target_message_id || '|' || coalesce(emoji, 'none') FROM reactions",
            "w.target|none",
        ),
        (
            "status sent with pricing",
            messages(
                json!([]),
                json!([{"id": "w.out", "status": "sent",
            "timestamp": "1750030073", "recipient_id": "16505551234",
            "conversation": {"id": "c1", "origin": {"type": "marketing"}},
            "pricing": {"billable": true, "pricing_model": "PMP", "type": "regular", "category": "marketing"}}]),
            ),
            "SELECT state || '|' || (billing->'pricing'->>'category') FROM message_statuses",
            "sent|marketing",
        ),
        (
            "status failed with errors",
            messages(
                json!([]),
                json!([{"id": "w.out", "status": "failed",
            "timestamp": "1751142888", "recipient_id": "16505551234",
            "errors": [{"code": 131049, "title": "This message was not delivered"}]}]),
            ),
            "SELECT state || '|' || (errors->0->>'code') FROM message_statuses",
            "failed|131049",
        ),
        (
            "template status",
            json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398",
            "time": 1751247548, "changes": [{"field": "message_template_status_update", "value": {
                "event": "REJECTED", "message_template_id": 1689556908129835_i64,
                "message_template_name": "abandoned_cart", "message_template_language": "en",
                "reason": "INVALID_FORMAT"}}]}]})
            .to_string()
            .into_bytes(),
            "SELECT field || '|' || event FROM account_events",
            "message_template_status_update|REJECTED",
        ),
    ]
}

#[tokio::test]
async fn every_meta_fixture_is_stored_with_its_facts_and_once_only() {
    for (name, body, sql, want) in cases() {
        let db = TestDb::new().await.expect("db");
        let router = Router::new(db.repo.clone(), Keywords::default());
        let meta = envelope(Provider::Meta);
        router
            .handle(&meta, &body)
            .await
            .unwrap_or_else(|f| panic!("{name}: {:?}", f.error));
        // A redelivery changes nothing.
        router
            .handle(&meta, &body)
            .await
            .unwrap_or_else(|f| panic!("{name}: {:?}", f.error));
        let client = db.client().await.expect("client");
        let rows = client.query(sql, &[]).await.expect(sql);
        assert_eq!(rows.len(), 1, "{name}: {sql}");
        assert_eq!(rows[0].get::<_, String>(0), want, "{name}");
        let audit: i64 = client
            .query_one(
                "SELECT count(*) FROM webhook_events WHERE outcome = 'processed'",
                &[],
            )
            .await
            .expect("audit")
            .get(0);
        assert_eq!(audit, 1, "{name}");
    }
}

#[tokio::test]
async fn a_meta_reaction_removal_with_the_same_id_and_second_clears_the_emoji() {
    let db = TestDb::new().await.expect("db");
    let router = Router::new(db.repo.clone(), Keywords::default());
    let added = inbound(
        "w.same",
        "reaction",
        json!({"message_id": "w.t", "emoji": "👍"}),
    );
    let removed = inbound("w.same", "reaction", json!({"message_id": "w.t"}));
    for body in [&added, &removed] {
        let meta = envelope(Provider::Meta);
        router
            .handle(&meta, body)
            .await
            .unwrap_or_else(|f| panic!("{:?}", f.error));
    }
    let client = db.client().await.expect("client");
    let emoji: Option<String> = client
        .query_one("SELECT emoji FROM reactions", &[])
        .await
        .expect("reaction row")
        .get(0);
    assert_eq!(emoji, None);
}
