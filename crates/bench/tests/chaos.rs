//! The small version of every fault-injection scenario: real load through a
//! gateway process and worker processes, a fault, and every 200 reconciled
//! against the database.
//!
//! Scenarios that stop or freeze a shared service (RabbitMQ, PostgreSQL, Redis) are
//! `#[ignore]`d: `scripts/fault-tests.sh` runs them one at a time after every
//! other test, and each restarts its service even when it fails.

use inlet_bench::chaos::{run, ChaosOptions, ChaosReport, Scenario};
use std::path::PathBuf;

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_inlet-bench"))
}

async fn small(scenario: Scenario) -> ChaosReport {
    small_with(scenario, &[]).await
}

/// With extra gateway settings.
async fn small_with(scenario: Scenario, gateway_env: &[(&str, &str)]) -> ChaosReport {
    let label = format!("test-{scenario:?}-{}", uuid::Uuid::new_v4().simple());
    let mut opts = ChaosOptions::small(exe(), &label);
    opts.launch.gateway_env.extend(
        gateway_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    if scenario == Scenario::StopRabbitmq {
        // stop_app, start_app and await_startup each boot an Erlang CLI (3-5 s
        // on a slow machine): load must outlast them to see the gateway
        // accept again after the outage has ended.
        opts.duration = std::time::Duration::from_secs(30);
    }
    if scenario == Scenario::FreezeRabbitmq {
        // Longer than the publish timeout the test gives the gateway (1 s),
        // so requests waiting on a confirm are answered 503.
        opts.outage = std::time::Duration::from_secs(3);
    }
    let report = run(scenario, &opts).await.expect("the scenario runs");
    eprintln!("{}\n{report}", inlet_bench::chaos::TABLE_HEADER);
    report
}

fn assert_nothing_lost(report: &ChaosReport) {
    assert!(report.ok > 0, "some requests were accepted: {report}");
    assert_eq!(
        report.refused, 0,
        "every request resent until it was answered 200 got in: {report}"
    );
    assert!(
        report.tally.missing.is_empty(),
        "accepted but never stored: {:?}",
        report.tally.missing
    );
    assert!(
        report.tally.doubled.is_empty(),
        "stored twice: {:?}",
        report.tally.doubled
    );
    assert_eq!(
        report.dead_lettered, 0,
        "nothing is dead-lettered: {report}"
    );
    assert!(
        report.recovery.is_some(),
        "everything was stored in time: {report}"
    );
}

#[tokio::test]
async fn a_worker_killed_mid_stream_loses_nothing_once_restarted() {
    let report = small(Scenario::KillWorker).await;
    assert_nothing_lost(&report);
    assert_eq!(report.ok, report.requests, "intake never stopped: {report}");
}

#[tokio::test]
async fn with_two_workers_killing_one_loses_nothing() {
    let report = small(Scenario::KillOneOfTwo).await;
    assert_nothing_lost(&report);
    assert_eq!(report.ok, report.requests, "intake never stopped: {report}");
}

#[tokio::test]
async fn every_message_sent_twice_is_stored_once_and_statuses_never_regress() {
    let report = small(Scenario::Duplicates).await;
    assert_nothing_lost(&report);
    // Each message is sent twice among five requests per message.
    assert_eq!(report.tally.rows as u64, report.requests / 5);
    assert_eq!(report.status_regressions, 0, "{report}");
}

#[tokio::test]
async fn a_gateway_restarted_mid_stream_answers_no_503_and_loses_nothing() {
    let report = small(Scenario::RestartGateway).await;
    assert_nothing_lost(&report);
    assert_eq!(
        report.unavailable, 0,
        "a stopping gateway answers what it took in: {report}"
    );
    assert_eq!(
        report.tally.rows as u64, report.requests,
        "what found no listener between the two was resent and stored once: {report}"
    );
    assert!(
        report.intake_recovery.is_some(),
        "the new gateway accepted: {report}"
    );
}

#[tokio::test]
async fn a_gateway_killed_mid_stream_loses_nothing_and_every_resent_request_gets_in() {
    // The dead gateway's claims answer copies 409 until they expire: a short
    // claim keeps the test short (the default is 30 s).
    let report = small_with(
        Scenario::KillGateway,
        &[("INLET_DEDUP_IN_FLIGHT_TTL_SECS", "6")],
    )
    .await;
    assert_nothing_lost(&report);
    assert_eq!(
        report.tally.rows as u64, report.requests,
        "every request, answered 200 the first time or resent until it was, is stored once: {report}"
    );
    assert!(
        report.intake_recovery.is_some(),
        "the new gateway accepted: {report}"
    );
}

#[tokio::test]
#[ignore = "stops the shared RabbitMQ: run by scripts/fault-tests.sh, serially"]
async fn a_broker_outage_answers_503_and_every_request_ends_up_stored_once() {
    let report = small(Scenario::StopRabbitmq).await;
    assert_nothing_lost(&report);
    assert!(
        report.unavailable > 0,
        "the outage was seen as 503s: {report}"
    );
    assert!(
        report.intake_recovery.is_some(),
        "the gateway accepted again after the broker came back: {report}"
    );
    assert_eq!(
        report.tally.rows as u64, report.requests,
        "each 503 resent after the outage was stored once: {report}"
    );
}

#[tokio::test]
#[ignore = "stops the shared PostgreSQL: run by scripts/fault-tests.sh, serially"]
async fn a_database_outage_is_retried_and_nothing_is_dead_lettered() {
    let report = small(Scenario::StopPostgres).await;
    assert_nothing_lost(&report);
    assert_eq!(
        report.ok, report.requests,
        "intake does not need the database: {report}"
    );
}

#[tokio::test]
#[ignore = "stops the shared Redis: run by scripts/fault-tests.sh, serially"]
async fn a_redis_outage_does_not_stop_intake() {
    let report = small(Scenario::StopRedis).await;
    assert_nothing_lost(&report);
    assert_eq!(
        report.ok, report.requests,
        "intake continued without Redis: {report}"
    );
}

#[tokio::test]
#[ignore = "freezes the shared RabbitMQ: run by scripts/fault-tests.sh, serially"]
async fn a_hung_broker_is_answered_503_within_the_publish_timeout_and_every_request_ends_up_stored_once(
) {
    let report = small_with(
        Scenario::FreezeRabbitmq,
        &[("INLET_PUBLISH_TIMEOUT_MS", "1000")],
    )
    .await;
    assert_nothing_lost(&report);
    assert!(
        report.unavailable > 0,
        "requests waiting on a confirm were answered 503: {report}"
    );
    assert_eq!(
        report.other, 0,
        "every request was answered, none left hanging: {report}"
    );
    assert_eq!(
        report.tally.rows as u64, report.requests,
        "each 503 resent after the freeze was stored once: {report}"
    );
}

#[tokio::test]
#[ignore = "freezes the shared PostgreSQL: run by scripts/fault-tests.sh, serially"]
async fn a_hung_database_is_waited_out_and_nothing_is_dead_lettered() {
    let report = small(Scenario::FreezePostgres).await;
    assert_nothing_lost(&report);
    assert_eq!(
        report.ok, report.requests,
        "intake does not need the database: {report}"
    );
}

#[tokio::test]
#[ignore = "freezes the shared Redis: run by scripts/fault-tests.sh, serially"]
async fn a_hung_redis_does_not_stop_intake() {
    let report = small(Scenario::FreezeRedis).await;
    assert_nothing_lost(&report);
    assert_eq!(
        report.ok, report.requests,
        "intake continued, failing open after the Redis timeout: {report}"
    );
}
