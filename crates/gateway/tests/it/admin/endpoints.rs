use super::support::{lax, spawn_admin};
use inlet_domain::forward::settings::ForwardSettings;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_client_creates_lists_reads_changes_rotates_and_deletes_an_endpoint() {
    let admin = spawn_admin(lax()).await;
    let token = admin.client("acme").await;
    let created = admin
        .endpoint(
            &token,
            json!({"url": "https://example.com/hook", "description": "CRM",
                   "lines": ["+15550783881"], "event_types": ["message.*"], "max_attempts": 5}),
        )
        .await;
    let id = created["id"].as_str().expect("id").to_owned();
    let secret = created["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(created["lines"], json!(["15550783881"]));
    assert_eq!(created["max_attempts"], 5);
    assert_eq!(created["enabled"], true);

    let (status, list) = admin.call(Method::GET, "/v1/endpoints", &token, None).await;
    assert_eq!(status, 200);
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));
    assert!(
        list["data"][0].get("secret").is_none(),
        "secrets are not listed"
    );

    let path = format!("/v1/endpoints/{id}");
    let (status, read) = admin.call(Method::GET, &path, &token, None).await;
    assert_eq!(status, 200);
    assert_eq!(read["description"], "CRM");

    let (status, changed) = admin
        .call(
            Method::PATCH,
            &path,
            &token,
            Some(json!({"enabled": false, "event_types": ["message.status"]})),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["enabled"], false);
    assert_eq!(changed["event_types"], json!(["message.status"]));
    assert_eq!(changed["description"], "CRM", "absent fields are kept");

    let (status, rotated) = admin
        .call(Method::POST, &format!("{path}/rotate-secret"), &token, None)
        .await;
    assert_eq!(status, 200);
    assert_ne!(rotated["secret"], secret.as_str());
    assert!(rotated["previous_secret_expires_at"].is_string());

    let (status, _) = admin.call(Method::DELETE, &path, &token, None).await;
    assert_eq!(status, 204);
    let (status, gone) = admin.call(Method::GET, &path, &token, None).await;
    assert_eq!(status, 404);
    assert_eq!(gone["error"], "not_found");
    admin.stop();
}

#[tokio::test]
async fn urls_on_internal_addresses_or_without_https_are_refused() {
    let admin = spawn_admin(ForwardSettings::default()).await;
    let token = admin.client("acme").await;
    for url in [
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.5/hook",
        "https://[fd00::1]/hook",
        "https://localhost:8443/hook",
        "http://example.com/hook",
        "https://user:pass@example.com/hook",
    ] {
        let (status, body) = admin
            .call(
                Method::POST,
                "/v1/endpoints",
                &token,
                Some(json!({"url": url})),
            )
            .await;
        assert_eq!(status, 422, "{url}: {body}");
        assert_eq!(body["error"], "invalid_url", "{url}");
    }
    let (_, list) = admin.call(Method::GET, "/v1/endpoints", &token, None).await;
    assert_eq!(list["data"], json!([]));
    admin.stop();
}

#[tokio::test]
async fn a_patch_to_an_internal_address_is_refused_too() {
    let admin = spawn_admin(ForwardSettings::default()).await;
    let token = admin.client("acme").await;
    let created = admin
        .endpoint(&token, json!({"url": "https://93.184.216.34/hook"}))
        .await;
    let path = format!("/v1/endpoints/{}", created["id"].as_str().expect("id"));
    let (status, body) = admin
        .call(
            Method::PATCH,
            &path,
            &token,
            Some(json!({"url": "https://192.168.1.10/hook"})),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"], "invalid_url");
    admin.stop();
}

#[tokio::test]
async fn invalid_fields_and_unknown_fields_are_refused_with_stable_codes() {
    let admin = spawn_admin(lax()).await;
    let token = admin.client("acme").await;
    let (status, body) = admin
        .call(
            Method::POST,
            "/v1/endpoints",
            &token,
            Some(json!({"url": "https://example.com", "max_attempts": 0})),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("invalid_field"))
    );
    let (status, body) = admin
        .call(
            Method::POST,
            "/v1/endpoints",
            &token,
            Some(json!({"url": "https://example.com", "colour": "blue"})),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body) = admin
        .call(Method::GET, "/v1/endpoints/not-a-uuid", &token, None)
        .await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    admin.stop();
}

#[tokio::test]
async fn filters_that_could_never_match_and_text_postgres_cannot_hold_are_invalid_fields() {
    let admin = spawn_admin(lax()).await;
    let token = admin.client("acme").await;
    let refused = [
        json!({"url": "https://example.com", "event_types": ["Message.Received"]}),
        json!({"url": "https://example.com", "event_types": ["message"]}),
        json!({"url": "https://example.com", "event_types": ["message.*", "reactions"]}),
        json!({"url": "https://example.com", "description": "a\0b"}),
        json!({"url": "https://example.com", "lines": ["106540352242922\0"]}),
        json!({"url": "https://example.com", "event_types": ["call\0"]}),
    ];
    for body in refused {
        let (status, answer) = admin
            .call(Method::POST, "/v1/endpoints", &token, Some(body.clone()))
            .await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (422, Some("invalid_field")),
            "{body} → {answer}"
        );
    }
    let (status, created) = admin
        .call(
            Method::POST,
            "/v1/endpoints",
            &token,
            Some(json!({
                "url": "https://example.com",
                "event_types": ["message.*", " reaction ", "contact.opted_out", "*"],
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["event_types"],
        json!(["message.*", "reaction", "contact.opted_out", "*"])
    );
    let id = created["id"].as_str().expect("id");
    let (status, answer) = admin
        .call(
            Method::PATCH,
            &format!("/v1/endpoints/{id}"),
            &token,
            Some(json!({"event_types": ["calls"]})),
        )
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (422, Some("invalid_field"))
    );
    admin.stop();
}
