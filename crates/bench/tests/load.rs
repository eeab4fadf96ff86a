//! The load generator against a small in-process server: every request is sent once and
//! counted by its answer, a connection the server closes is replaced without losing a
//! request, and a server that is not there shows up as errors.

use actix_web::{web, App, HttpResponse, HttpServer};
use inlet_bench::bodies::SignedRequest;
use inlet_bench::load::{run, LoadPlan, LoadReport, MakeRequest, Pace};
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

/// `/ok` answers 200, `/busy` 503, `/close` 200 and closes the connection.
fn start_server() -> (String, actix_web::dev::ServerHandle) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("local address").port();
    let server = HttpServer::new(|| {
        App::new()
            .route(
                "/ok",
                web::post().to(|| async { HttpResponse::Ok().finish() }),
            )
            .route(
                "/busy",
                web::post().to(|| async { HttpResponse::ServiceUnavailable().finish() }),
            )
            .route(
                "/close",
                web::post().to(|| async { HttpResponse::Ok().force_close().finish() }),
            )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .expect("listen")
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}"), handle)
}

fn to(path: fn(u64) -> &'static str) -> MakeRequest {
    Arc::new(move |n| SignedRequest {
        path: path(n),
        headers: vec![("x-request", n.to_string())],
        body: format!("{{\"n\":{n}}}").into_bytes(),
    })
}

async fn at_rate(base_url: &str, rate: f64, secs: f64, make: MakeRequest) -> LoadReport {
    let plan = LoadPlan {
        base_url: base_url.to_owned(),
        concurrency: 8,
        pace: Pace::Rate(rate),
        duration: Duration::from_secs_f64(secs),
        timeout: Duration::from_secs(5),
        track: true,
    };
    run(&plan, make).await.expect("load run")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_a_fixed_rate_every_request_is_sent_once_and_counted_by_its_status() {
    let (base, server) = start_server();
    let report = at_rate(
        &base,
        400.0,
        1.0,
        to(|n| if n % 4 == 0 { "/busy" } else { "/ok" }),
    )
    .await;
    server.stop(false).await;

    assert_eq!(report.sent, 400);
    assert_eq!(report.errors, 0);
    assert_eq!(report.statuses, BTreeMap::from([(200, 300), (503, 100)]));
    let numbers: Vec<u64> = report.outcomes.iter().map(|o| o.n).collect();
    assert_eq!(numbers, (0..400).collect::<Vec<_>>());
    // Paced, not flat out: 400 requests over about a second.
    assert!(
        report.elapsed >= Duration::from_millis(900),
        "{:?}",
        report.elapsed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_server_closes_is_replaced_without_losing_a_request() {
    let (base, server) = start_server();
    let report = at_rate(&base, 200.0, 0.5, to(|_| "/close")).await;
    server.stop(false).await;

    assert_eq!(report.sent, 100);
    assert_eq!(report.errors, 0, "{}", report.summary());
    assert_eq!(report.ok(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_not_there_is_counted_as_errors() {
    // A port that was free a moment ago: nothing listens on it.
    let port = inlet_bench::procs::free_port().expect("a free port");
    let report = at_rate(
        &format!("http://127.0.0.1:{port}"),
        100.0,
        0.2,
        to(|_| "/ok"),
    )
    .await;

    assert_eq!(report.sent, 20);
    assert_eq!(report.errors, 20);
    assert_eq!(report.ok(), 0);
}
