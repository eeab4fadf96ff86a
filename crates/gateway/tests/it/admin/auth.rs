use super::support::{lax, spawn_admin, spawn_on};
use inlet_domain::settings::DatabaseSettings;
use inlet_testkit::TestDb;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_missing_or_unknown_token_is_answered_401() {
    let admin = spawn_admin(lax()).await;
    admin.client("acme").await;
    let resp = admin
        .http
        .get(format!("{}/v1/endpoints", admin.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers().get("www-authenticate").map(|v| v.as_bytes()),
        Some(&b"Bearer"[..])
    );
    let (status, body) = admin
        .call(Method::GET, "/v1/endpoints", "inlet_not-a-real-token", None)
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "unauthorized");
    admin.stop();
}

#[tokio::test]
async fn a_client_cannot_see_or_change_another_clients_endpoints_or_deliveries() {
    let admin = spawn_admin(lax()).await;
    let first = admin.client("first").await;
    let second = admin.client("second").await;
    let endpoint = admin
        .endpoint(&first, json!({"url": "https://example.com/hook"}))
        .await;
    let id = endpoint["id"].as_str().expect("id").to_owned();
    let (status, delivery) = admin
        .call(
            Method::POST,
            &format!("/v1/endpoints/{id}/test"),
            &first,
            None,
        )
        .await;
    assert_eq!(status, 202, "{delivery}");
    let delivery_id = delivery["id"].as_str().expect("delivery id").to_owned();

    let (status, list) = admin
        .call(Method::GET, "/v1/endpoints", &second, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["data"], json!([]));
    for (method, path, body) in [
        (Method::GET, format!("/v1/endpoints/{id}"), None),
        (
            Method::PATCH,
            format!("/v1/endpoints/{id}"),
            Some(json!({"enabled": false})),
        ),
        (
            Method::POST,
            format!("/v1/endpoints/{id}/rotate-secret"),
            None,
        ),
        (Method::POST, format!("/v1/endpoints/{id}/test"), None),
        (Method::GET, format!("/v1/endpoints/{id}/deliveries"), None),
        (Method::GET, format!("/v1/deliveries/{delivery_id}"), None),
        (
            Method::POST,
            format!("/v1/deliveries/{delivery_id}/retry"),
            None,
        ),
        (Method::DELETE, format!("/v1/endpoints/{id}"), None),
    ] {
        let (status, answer) = admin.call(method.clone(), &path, &second, body).await;
        assert_eq!(status, 404, "{method} {path}: {answer}");
        assert_eq!(answer["error"], "not_found");
    }
    // Still there, unchanged, for its owner.
    let (status, mine) = admin
        .call(Method::GET, &format!("/v1/endpoints/{id}"), &first, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(mine["enabled"], true);
    let (status, page) = admin
        .call(
            Method::GET,
            &format!("/v1/endpoints/{id}/deliveries"),
            &first,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["data"][0]["id"], delivery_id.as_str());
    admin.stop();
}

#[tokio::test]
async fn the_management_api_answers_503_when_the_database_is_unreachable() {
    let db = TestDb::new().await.expect("test database");
    let unreachable = DatabaseSettings {
        database_url: "postgres://postgres@127.0.0.1:1/nowhere".into(),
        database_pool_size: 2,
        database_timeout_ms: 500,
        ..DatabaseSettings::default()
    };
    let admin = spawn_on(db, unreachable, lax());
    let (status, body) = admin
        .call(Method::GET, "/v1/endpoints", "inlet_some-token", None)
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "unavailable");
    admin.stop();
}
