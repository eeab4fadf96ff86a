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

#[tokio::test]
async fn without_a_valid_token_every_request_is_answered_401_whatever_its_path_or_body() {
    let admin = spawn_admin(lax()).await;
    let token = admin.client("acme").await;
    let not_json = || {
        admin
            .http
            .post(format!("{}/v1/endpoints", admin.address))
            .header("content-type", "application/json")
            .body("{not json")
    };
    let cases = [
        (
            "malformed id",
            admin
                .http
                .get(format!("{}/v1/endpoints/not-a-uuid", admin.address)),
        ),
        ("malformed body", not_json()),
        (
            "bad query",
            admin.http.get(format!(
                "{}/v1/endpoints/{}/deliveries?limit=many",
                admin.address,
                uuid::Uuid::now_v7()
            )),
        ),
        (
            "unknown path",
            admin.http.get(format!("{}/v1/nothing-here", admin.address)),
        ),
    ];
    for (case, request) in cases {
        let resp = request
            .bearer_auth("inlet_not-a-real-token")
            .send()
            .await
            .expect("sent");
        assert_eq!(resp.status(), 401, "{case}");
        let body: serde_json::Value = resp.json().await.expect("json");
        assert_eq!(body["error"], "unauthorized", "{case}");
    }
    // With the client's token the same requests get their own answers.
    let resp = admin
        .http
        .get(format!("{}/v1/endpoints/not-a-uuid", admin.address))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 404);
    let resp = not_json().bearer_auth(&token).send().await.expect("sent");
    assert_eq!(resp.status(), 400);
    let resp = admin
        .http
        .get(format!("{}/v1/nothing-here", admin.address))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 404);
    // The document describing the API needs no token.
    let resp = admin
        .http
        .get(format!("{}/v1/openapi.json", admin.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 200);
    admin.stop();
}
