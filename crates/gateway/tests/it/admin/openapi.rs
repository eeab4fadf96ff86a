use super::support::{lax, spawn_admin};
use serde_json::Value;

#[tokio::test]
async fn the_served_openapi_document_is_the_one_in_docs_and_parses() {
    let admin = spawn_admin(lax()).await;
    let resp = admin
        .http
        .get(format!("{}/v1/openapi.json", admin.address))
        .send()
        .await
        .expect("request sent");
    assert_eq!(resp.status(), 200);
    let served = resp.text().await.expect("body");
    let file = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/openapi.json"
    ))
    .expect("docs/openapi.json");
    assert_eq!(served, file);
    let doc: Value = serde_json::from_str(&served).expect("valid JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/v1/endpoints",
        "/v1/endpoints/{id}",
        "/v1/endpoints/{id}/rotate-secret",
        "/v1/endpoints/{id}/deliveries",
        "/v1/endpoints/{id}/test",
        "/v1/deliveries/{id}",
        "/v1/deliveries/{id}/retry",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
    admin.stop();
}
