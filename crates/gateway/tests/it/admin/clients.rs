//! `inlet-gateway clients …`: the operator's commands, run as the binary,
//! checked through the management API a client would call.

use super::support::{lax, spawn_admin, TestAdmin};
use reqwest::Method;
use serde_json::json;
use std::process::{Command, Output};

/// Runs `inlet-gateway clients ARGS` on the admin's database.
fn clients(admin: &TestAdmin, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_inlet-gateway"))
        .env_clear()
        .env("INLET_DATABASE_URL", &admin.db.settings.database_url)
        .arg("clients")
        .args(args)
        .output()
        .expect("the binary runs")
}

/// The value after `key: ` in the command's output.
fn field(output: &Output, key: &str) -> String {
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no {key} in {stdout}"))
        .trim()
        .to_owned()
}

async fn status_with(admin: &TestAdmin, token: &str) -> u16 {
    admin
        .call(Method::GET, "/v1/endpoints", token, None)
        .await
        .0
}

#[tokio::test]
async fn a_rotated_token_replaces_the_old_one_and_keeps_the_clients_endpoints() {
    let admin = spawn_admin(lax()).await;
    let created = clients(&admin, &["create", "Acme CRM"]);
    let id = field(&created, "client_id");
    let old = field(&created, "token");
    let endpoint = admin
        .endpoint(&old, json!({"url": "https://example.com/hook"}))
        .await;

    let rotated = clients(&admin, &["rotate", &id]);
    assert_eq!(field(&rotated, "client_id"), id);
    let new = field(&rotated, "token");
    assert_ne!(new, old);

    assert_eq!(status_with(&admin, &old).await, 401, "the old token");
    let (status, list) = admin.call(Method::GET, "/v1/endpoints", &new, None).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["data"][0]["id"], endpoint["id"]);
    assert_eq!(list["data"][0]["enabled"], true);
    admin.stop();
}

#[tokio::test]
async fn a_revoked_client_is_refused_its_endpoints_are_disabled_and_kept_and_it_cannot_be_rotated()
{
    let admin = spawn_admin(lax()).await;
    let created = clients(&admin, &["create", "Gone Ltd"]);
    let id = field(&created, "client_id");
    let token = field(&created, "token");
    let other = admin.client("Stays Inc").await;
    for url in ["https://example.com/a", "https://example.com/b"] {
        admin.endpoint(&token, json!({"url": url})).await;
    }
    admin
        .endpoint(&other, json!({"url": "https://example.com/c"}))
        .await;

    let revoked = clients(&admin, &["revoke", &id]);
    assert!(revoked.status.success(), "{revoked:?}");
    assert!(
        String::from_utf8_lossy(&revoked.stdout).contains("2 endpoints disabled"),
        "{revoked:?}"
    );
    assert_eq!(status_with(&admin, &token).await, 401);
    assert_eq!(
        status_with(&admin, &other).await,
        200,
        "other clients keep working"
    );

    let db = admin.db.client().await.expect("db");
    let rows = db
        .query(
            "SELECT e.enabled, e.disabled_reason FROM forward_endpoints e \
             JOIN forward_clients c ON c.id = e.client_id WHERE c.name = $1",
            &[&"Gone Ltd"],
        )
        .await
        .expect("endpoints");
    assert_eq!(rows.len(), 2, "revoking deletes nothing");
    for row in rows {
        assert!(!row.get::<_, bool>(0));
        assert_eq!(
            row.get::<_, Option<String>>(1).as_deref(),
            Some("client revoked")
        );
    }
    let enabled: bool = db
        .query_one(
            "SELECT e.enabled FROM forward_endpoints e \
             JOIN forward_clients c ON c.id = e.client_id WHERE c.name = $1",
            &[&"Stays Inc"],
        )
        .await
        .expect("other endpoint")
        .get(0);
    assert!(enabled, "another client's endpoint stays enabled");

    let again = clients(&admin, &["rotate", &id]);
    assert!(
        !again.status.success(),
        "a revoked client gets no new token"
    );
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("revoked"),
        "{again:?}"
    );
    let twice = clients(&admin, &["revoke", &id]);
    assert!(!twice.status.success());

    let list = clients(&admin, &["list"]);
    assert!(list.status.success(), "{list:?}");
    let listed = String::from_utf8_lossy(&list.stdout);
    let gone = listed
        .lines()
        .find(|l| l.contains("Gone Ltd"))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(gone.starts_with(&id), "{gone}");
    assert!(!gone.contains("  -  "), "shows when it was revoked: {gone}");
    let stays = listed
        .lines()
        .find(|l| l.contains("Stays Inc"))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(stays.contains("  -  "), "not revoked: {stays}");
    admin.stop();
}

#[tokio::test]
async fn an_unknown_client_id_is_an_error_naming_it() {
    let admin = spawn_admin(lax()).await;
    let id = uuid::Uuid::now_v7().to_string();
    for verb in ["rotate", "revoke"] {
        let out = clients(&admin, &[verb, &id]);
        assert!(!out.status.success(), "{verb}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(&id),
            "{verb}: {out:?}"
        );
    }
    admin.stop();
}
