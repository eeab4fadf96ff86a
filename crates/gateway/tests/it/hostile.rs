//! Hostile requests: each gets its documented status code (docs/reliability.md,
//! "Bad input"), nothing is published, and the gateway stays healthy.

use crate::helpers::{
    meta_signature, meta_text, read_until_closed, spawn_with, test_settings, TestApp,
};
use futures::StreamExt;
use inlet_testkit::TestBroker;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The body limit of the hostile-test gateway: small, so "huge" is cheap.
const LIMIT: usize = 64 * 1024;

async fn spawn_hostile() -> TestApp {
    let broker = TestBroker::new().await.expect("broker");
    let mut settings = test_settings(&broker);
    settings.body_limit_bytes = LIMIT;
    spawn_with(broker, settings).await
}

async fn assert_healthy(app: &TestApp) {
    let res = app
        .http
        .get(format!("{}/healthz", app.address))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .expect("healthz answers");
    assert_eq!(res.status(), 200);
}

/// One row of the table: a request and the status it must get.
struct Case {
    name: &'static str,
    method: &'static str,
    content_type: Option<&'static str>,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Vec<u8>,
    expect: u16,
}

fn signed(name: &'static str, body: Vec<u8>, expect: u16) -> Case {
    let sig = meta_signature(&body);
    Case {
        name,
        method: "POST",
        content_type: Some("application/json"),
        headers: vec![("x-hub-signature-256", sig.into_bytes())],
        body,
        expect,
    }
}

fn with_header(name: &'static str, header: &'static str, value: &[u8], expect: u16) -> Case {
    Case {
        name,
        method: "POST",
        content_type: Some("application/json"),
        headers: vec![(header, value.to_vec())],
        body: meta_text("wamid.hostile", "hi"),
        expect,
    }
}

fn table() -> Vec<Case> {
    let good = meta_text("wamid.hostile", "hi");
    let good_sig = meta_signature(&good);
    let nested = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000)).into_bytes();
    let deep_object = format!("{}1{}", "{\"a\":".repeat(5_000), "}".repeat(5_000)).into_bytes();
    let mut invalid_utf8 = b"{\"object\":\"whatsapp_business_account\",\"entry\":\"".to_vec();
    invalid_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
    invalid_utf8.extend_from_slice(b"\"}");
    let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(LIMIT * 10)).into_bytes();
    vec![
        with_header("no signature header", "x-other", b"1", 401),
        with_header(
            "the sha1 header instead",
            "x-hub-signature",
            good_sig.as_bytes(),
            401,
        ),
        with_header("an empty signature", "x-hub-signature-256", b"", 401),
        with_header(
            "sha1= prefix",
            "x-hub-signature-256",
            b"sha1=0123456789abcdef0123456789abcdef01234567",
            401,
        ),
        with_header(
            "no prefix",
            "x-hub-signature-256",
            &good_sig.as_bytes()[7..],
            401,
        ),
        with_header(
            "bad hex",
            "x-hub-signature-256",
            format!("sha256={}", "zz".repeat(32)).as_bytes(),
            401,
        ),
        with_header("short hex", "x-hub-signature-256", b"sha256=abcd", 401),
        with_header(
            "odd-length hex",
            "x-hub-signature-256",
            format!("sha256={}", "a".repeat(63)).as_bytes(),
            401,
        ),
        with_header(
            "base64 where hex belongs",
            "x-hub-signature-256",
            b"sha256=q83vq83vq83vq83vq83vq83vq83vq83vq83vq83vq80=",
            401,
        ),
        with_header(
            "a very long signature",
            "x-hub-signature-256",
            format!("sha256={}", "a".repeat(6_000)).as_bytes(),
            401,
        ),
        with_header(
            "a signature of invalid UTF-8",
            "x-hub-signature-256",
            &[b's', b'h', b'a', 0xff, 0xfe],
            401,
        ),
        signed("signed, deeply nested arrays", nested, 400),
        signed("signed, deeply nested objects", deep_object, 400),
        signed("signed, invalid UTF-8 inside a string", invalid_utf8, 400),
        signed("signed, not JSON", b"\x00\x01\x02 not json".to_vec(), 400),
        signed("signed, empty body", Vec::new(), 400),
        signed("signed, ten times the body limit", huge, 413),
        Case {
            name: "text/plain",
            method: "POST",
            content_type: Some("text/plain"),
            headers: vec![("x-hub-signature-256", good_sig.clone().into_bytes())],
            body: good.clone(),
            expect: 415,
        },
        Case {
            name: "form-encoded",
            method: "POST",
            content_type: Some("application/x-www-form-urlencoded"),
            headers: vec![("x-hub-signature-256", good_sig.clone().into_bytes())],
            body: good.clone(),
            expect: 415,
        },
        Case {
            name: "no content type",
            method: "POST",
            content_type: None,
            headers: vec![("x-hub-signature-256", good_sig.clone().into_bytes())],
            body: good.clone(),
            expect: 415,
        },
        Case {
            name: "PUT",
            method: "PUT",
            content_type: Some("application/json"),
            headers: vec![("x-hub-signature-256", good_sig.clone().into_bytes())],
            body: good.clone(),
            expect: 405,
        },
        Case {
            name: "DELETE",
            method: "DELETE",
            content_type: None,
            headers: vec![],
            body: Vec::new(),
            expect: 405,
        },
        Case {
            name: "PATCH",
            method: "PATCH",
            content_type: Some("application/json"),
            headers: vec![],
            body: good,
            expect: 405,
        },
    ]
}

#[tokio::test]
async fn every_hostile_request_gets_its_status_and_nothing_is_published() {
    let app = spawn_hostile().await;
    let mut wrong = Vec::new();
    for case in table() {
        let mut req = app.http.request(
            case.method.parse().expect("method"),
            format!("{}/webhooks/meta", app.address),
        );
        if let Some(ct) = case.content_type {
            req = req.header("content-type", ct);
        }
        for (k, v) in &case.headers {
            req = req.header(
                *k,
                reqwest::header::HeaderValue::from_bytes(v).expect("header value"),
            );
        }
        let res = req.body(case.body).send().await;
        match res {
            Ok(res) if res.status().as_u16() == case.expect => {}
            Ok(res) => wrong.push(format!(
                "{}: expected {}, got {}",
                case.name,
                case.expect,
                res.status()
            )),
            Err(e) => wrong.push(format!("{}: no answer ({e})", case.name)),
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(app.queued().await, 0);
    assert_healthy(&app).await;
    app.stop().await;
}

/// Sends raw bytes on a fresh connection and returns the status of the answer.
async fn raw_status(app: &TestApp, request: &[u8]) -> u16 {
    let addr = app.address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut answer = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("an answer within 5 s")
        .expect("read");
    let head = String::from_utf8_lossy(&answer[..n]);
    head.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"))
}

#[tokio::test]
async fn path_tricks_do_not_reach_the_webhook_handler() {
    let app = spawn_hostile().await;
    let body = meta_text("wamid.path", "hi");
    let sig = meta_signature(&body);
    for path in [
        "/webhooks/meta/../meta",
        "/webhooks/./meta",
        "//webhooks/meta",
        "/webhooks//meta",
        "/webhooks%2Fmeta",
        "/webhooks%2fmeta",
        "/webhooks/meta%00",
        "/WEBHOOKS/META",
        "/webhooks/meta/",
    ] {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Hub-Signature-256: {sig}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            body.len(),
            String::from_utf8_lossy(&body)
        );
        let status = raw_status(&app, request.as_bytes()).await;
        assert!(
            status == 404 || status == 400,
            "{path} must not be accepted, got {status}"
        );
    }
    assert_eq!(app.queued().await, 0);
    // Percent-encoded unreserved characters name the same path (RFC 3986 6.2.2.2),
    // so this one is the real route and is accepted.
    let request = format!(
        "POST /webhooks/%6deta HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Hub-Signature-256: {sig}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        String::from_utf8_lossy(&body)
    );
    assert_eq!(raw_status(&app, request.as_bytes()).await, 200);
    assert_healthy(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_before_the_body_is_sent() {
    let app = spawn_hostile().await;
    let request = format!(
        "POST /webhooks/meta HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Hub-Signature-256: sha256={}\r\nContent-Length: 1000000000\r\n\r\n",
        "0".repeat(64)
    );
    assert_eq!(raw_status(&app, request.as_bytes()).await, 413);
    assert_healthy(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_gets_413_without_being_read_to_the_end() {
    let app = spawn_hostile().await;
    // Past the limit, then a body that never ends: a 413 proves the gateway
    // stopped reading instead of buffering the whole stream.
    let chunks = futures::stream::iter(
        (0..(LIMIT / 1024 + 8)).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024])),
    )
    .chain(futures::stream::pending());
    let res = app
        .http
        .post(format!("{}/webhooks/meta", app.address))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", format!("sha256={}", "0".repeat(64)))
        .body(reqwest::Body::wrap_stream(chunks))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("an answer before the body ends");
    assert_eq!(res.status(), 413);
    assert_eq!(app.queued().await, 0);
    assert_healthy(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_slow_sender_does_not_stop_the_gateway_serving_others() {
    let app = spawn_hostile().await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    // Several connections that send half a request and then trickle.
    let mut slow = Vec::new();
    for _ in 0..8 {
        let mut stream = TcpStream::connect(&addr).await.expect("connect");
        stream
            .write_all(b"POST /webhooks/meta HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"a\":")
            .await
            .expect("write");
        slow.push(stream);
    }
    for _ in 0..5 {
        for s in &mut slow {
            let _ = s.write_all(b" ").await;
        }
        let started = std::time::Instant::now();
        let body = meta_text(&format!("wamid.fast.{}", uuid_like()), "hi");
        let sig = meta_signature(&body);
        let res = app
            .post("/webhooks/meta", &body, &[("x-hub-signature-256", &sig)])
            .await;
        assert_eq!(res.status(), 200);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a normal request waited behind slow senders"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.queued().await, 5);
    assert_healthy(&app).await;
    drop(slow);
    app.stop().await;
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_answered_408_and_its_connection_closed() {
    let broker = TestBroker::new().await.expect("broker");
    let mut settings = test_settings(&broker);
    settings.body_limit_bytes = LIMIT;
    settings.body_timeout_ms = 500;
    let app = spawn_with(broker, settings).await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).await.expect("connect");
    stream
        .write_all(b"POST /webhooks/meta HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"a\":")
        .await
        .expect("write");
    // Nothing more is sent: the gateway must answer and let the connection go.
    let answer = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
    assert_eq!(app.queued().await, 0);
    assert_healthy(&app).await;
    app.stop().await;
}

/// Bodies are held before their signatures can be checked: past the budget
/// for all of them together, or a client address's share of it (here both
/// senders are on 127.0.0.1, and the share is one body of the largest size),
/// a request is answered 503 `busy` (with `Retry-After`) instead of the
/// gateway holding more, and once the held bodies go, requests are read again.
#[tokio::test]
async fn bodies_past_the_shared_budget_are_answered_busy_until_memory_frees() {
    let broker = TestBroker::new().await.expect("broker");
    let mut settings = test_settings(&broker);
    settings.body_limit_bytes = LIMIT;
    settings.body_budget_bytes = LIMIT + LIMIT / 2;
    let app = spawn_with(broker, settings).await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    // A sender that sends most of a large body, then waits.
    let mut holding = TcpStream::connect(&addr).await.expect("connect");
    let head = format!(
        "POST /webhooks/meta HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {LIMIT}\r\n\r\n"
    );
    holding.write_all(head.as_bytes()).await.expect("write");
    holding
        .write_all(&vec![b' '; LIMIT - 100])
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_millis(500)).await;

    let body = meta_text("wamid.budget", &"x".repeat(LIMIT - 2_000));
    let sig = meta_signature(&body);
    let busy = app
        .post("/webhooks/meta", &body, &[("x-hub-signature-256", &sig)])
        .await;
    assert_eq!(busy.status(), 503);
    assert!(busy.headers().contains_key("retry-after"));
    let busy = r#"inlet_gateway_requests_total{provider="meta",outcome="busy"}"#;
    assert_eq!(app.metric(busy).await, 1.0);

    drop(holding);
    let accepted = inlet_testkit::eventually(Duration::from_secs(5), || async {
        let res = app
            .post("/webhooks/meta", &body, &[("x-hub-signature-256", &sig)])
            .await;
        (res.status() == 200).then_some(())
    })
    .await;
    assert!(accepted.is_some(), "the budget was never given back");
    assert_eq!(app.queued().await, 1);
    assert_healthy(&app).await;
    app.stop().await;
}

fn uuid_like() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default()
}
