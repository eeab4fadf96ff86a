//! Handlers on the real repository, with events built directly (every kind,
//! whichever provider will send it): each write idempotent, newest wins.

use crate::helpers::envelope;
use chrono::{DateTime, Utc};
use inlet_domain::event::{
    AccountEvent, Call, ConsentChange, Contact, ContactChange, DeliveryState, Direction,
    DomainEvent, EventBody, LineStatus, Message, Reaction, StatusUpdate,
};
use inlet_domain::repository::{apply_consents, call_status_rank};
use inlet_domain::Provider;
use inlet_testkit::TestDb;
use inlet_worker::handlers::apply;
use serde_json::json;

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600 + secs, 0).expect("valid time")
}

fn event(provider: Provider, body: EventBody) -> DomainEvent {
    DomainEvent {
        provider,
        line_id: Some("L1".into()),
        body,
    }
}

fn outbound(id: &str) -> DomainEvent {
    event(
        Provider::Bridge,
        EventBody::Message(Message {
            provider_message_id: id.into(),
            direction: Direction::Outbound,
            from_address: Some("15550783881".into()),
            to_address: Some("16505551234".into()),
            contact: None,
            kind: "text".into(),
            body: Some("hi".into()),
            content: json!({"body": "hi"}),
            context: None,
            status: Some(DeliveryState::Sent),
            sent_at: Some(at(0)),
            raw: json!({}),
        }),
    )
}

/// What OpenPhone's delivery report decodes to: the outbound message, already
/// in `state`, and the report itself at `secs`.
fn reported(id: &str, state: DeliveryState, secs: i64) -> Vec<DomainEvent> {
    let mut message = outbound(id);
    if let EventBody::Message(m) = &mut message.body {
        m.status = Some(state);
    }
    vec![message, status(id, state, secs)]
}

/// A message's status time is its current state's report time, whatever the
/// order: `failed` then a late `delivered`, or a lone delivery report, left
/// it empty (only a report outranking the message's own state set it).
#[tokio::test]
async fn a_messages_status_time_is_its_states_report_time_in_any_order() {
    use DeliveryState::{Delivered, Failed};
    let db = TestDb::new().await.expect("db");
    store(
        &db,
        Provider::OpenPhone,
        &reported("in-order", Delivered, 10),
    )
    .await;
    store(&db, Provider::OpenPhone, &reported("in-order", Failed, 20)).await;
    store(&db, Provider::OpenPhone, &reported("reversed", Failed, 20)).await;
    store(
        &db,
        Provider::OpenPhone,
        &reported("reversed", Delivered, 10),
    )
    .await;
    store(&db, Provider::OpenPhone, &reported("lone", Delivered, 10)).await;
    // The report stored before its message (in another batch).
    store(&db, Provider::OpenPhone, &[status("early", Delivered, 10)]).await;
    store(&db, Provider::OpenPhone, &reported("early", Delivered, 10)).await;
    let client = db.client().await.expect("client");
    for (id, state, secs) in [
        ("in-order", "failed", 20),
        ("reversed", "failed", 20),
        ("lone", "delivered", 10),
        ("early", "delivered", 10),
    ] {
        let row = client
            .query_one(
                "SELECT status, status_at FROM messages WHERE provider_message_id = $1",
                &[&id],
            )
            .await
            .expect("message");
        assert_eq!(row.get::<_, String>(0), state, "{id}");
        assert_eq!(
            row.get::<_, Option<DateTime<Utc>>>(1),
            Some(at(secs)),
            "{id}"
        );
    }
}

/// An inbound message from one contact, who calls themselves `name`, sent at `secs`.
fn inbound_named(id: &str, name: &str, secs: i64) -> DomainEvent {
    inbound_from(id, Some(name), None, secs)
}

/// An inbound message from one contact, with the name and user id it gives, sent at `secs`.
pub(crate) fn inbound_from(
    id: &str,
    name: Option<&str>,
    user_id: Option<&str>,
    secs: i64,
) -> DomainEvent {
    event(
        Provider::Meta,
        EventBody::Message(Message {
            provider_message_id: id.into(),
            direction: Direction::Inbound,
            from_address: Some("16505551234".into()),
            to_address: Some("15550783881".into()),
            contact: Some(Contact {
                address: "16505551234".into(),
                name: name.map(Into::into),
                user_id: user_id.map(Into::into),
            }),
            kind: "text".into(),
            body: Some("hi".into()),
            content: json!({"body": "hi"}),
            context: None,
            status: None,
            sent_at: Some(at(secs)),
            raw: json!({}),
        }),
    )
}

/// A contact's name is the newest message's, whatever order or batches its
/// messages come in: a late retry of an old message, or an old and a new one
/// stored together, set the older name (the message stored last won).
#[tokio::test]
async fn a_contacts_name_follows_its_newest_message_in_any_order_and_batching() {
    let old = || inbound_named("wamid.old", "Ann", 100);
    let new = || inbound_named("wamid.new", "Ann Smith", 200);
    for (i, batches) in orders(new, old).into_iter().enumerate() {
        let db = TestDb::new().await.expect("db");
        for batch in batches {
            store(&db, Provider::Meta, &batch).await;
        }
        let name: String = one(&db, "SELECT name FROM contacts").await;
        assert_eq!(name, "Ann Smith", "case {i}");
        let messages: i64 = one(&db, "SELECT count(*) FROM messages").await;
        assert_eq!(messages, 2);
    }
    // A newer message with a new name still renames the contact.
    let db = TestDb::new().await.expect("db");
    store(&db, Provider::Meta, &[old()]).await;
    store(
        &db,
        Provider::Meta,
        &[inbound_named("wamid.newer", "A. Smith", 300)],
    )
    .await;
    let name: String = one(&db, "SELECT name FROM contacts").await;
    assert_eq!(name, "A. Smith");
}

/// Every way two events can reach the worker: one then the other, in either
/// order, or together in one batch, in either order.
fn orders(a: impl Fn() -> DomainEvent, b: impl Fn() -> DomainEvent) -> [Vec<Vec<DomainEvent>>; 4] {
    [
        vec![vec![a()], vec![b()]],
        vec![vec![b()], vec![a()]],
        vec![vec![a(), b()]],
        vec![vec![b(), a()]],
    ]
}

/// A contact's user id (Meta's, which a `user_changed_user_id` notice says
/// can change) is the newest message's, whatever order or batches its
/// messages come in: the message stored last used to win, so a late retry
/// of an old message brought the old id back.
#[tokio::test]
async fn a_contacts_user_id_follows_its_newest_message_in_any_order_and_batching() {
    let old = || inbound_from("wamid.old", None, Some("US.old"), 100);
    let new = || inbound_from("wamid.new", None, Some("US.new"), 200);
    for (i, batches) in orders(old, new).into_iter().enumerate() {
        let db = TestDb::new().await.expect("db");
        for batch in batches {
            store(&db, Provider::Meta, &batch).await;
        }
        let user_id: String = one(&db, "SELECT user_id FROM contacts").await;
        assert_eq!(user_id, "US.new", "case {i}");
    }
}

/// Two names (or user ids) of one contact from messages of the same second
/// (Meta's times are whole seconds) leave the same one whatever order or
/// batches they come in: the higher in byte order, each field on its own
/// (here one message gives the winning name, the other the winning id). The
/// message stored last used to win.
#[tokio::test]
async fn a_contacts_name_and_user_id_of_one_second_do_not_depend_on_order() {
    let a = || inbound_from("wamid.a", Some("Zoe"), Some("US.a"), 100);
    let b = || inbound_from("wamid.b", Some("Anna"), Some("US.b"), 100);
    for (i, batches) in orders(a, b).into_iter().enumerate() {
        let db = TestDb::new().await.expect("db");
        for batch in batches {
            store(&db, Provider::Meta, &batch).await;
        }
        let name: String = one(&db, "SELECT name FROM contacts").await;
        let user_id: String = one(&db, "SELECT user_id FROM contacts").await;
        assert_eq!(
            (name.as_str(), user_id.as_str()),
            ("Zoe", "US.b"),
            "case {i}"
        );
    }
}

fn status(id: &str, state: DeliveryState, secs: i64) -> DomainEvent {
    event(
        Provider::Bridge,
        EventBody::Status(StatusUpdate {
            provider_message_id: id.into(),
            state,
            occurred_at: at(secs),
            recipient: None,
            errors: None,
            billing: None,
            raw: json!({"state": state.as_str()}),
        }),
    )
}

/// A report that a recipient read `id` `secs` in (the recipient is named for
/// the time: `p<secs>`), as for each participant of a group.
fn read_by(id: &str, secs: i64) -> DomainEvent {
    let mut report = status(id, DeliveryState::Read, secs);
    if let EventBody::Status(s) = &mut report.body {
        s.recipient = Some(format!("p{secs}"));
    }
    report
}

/// Several reports of one state (a group message read by each participant)
/// leave the earliest, whatever order they come in: in turn, together, or
/// before their message. The first report to arrive used to stay.
#[tokio::test]
async fn reports_of_one_state_from_several_recipients_keep_the_earliest_in_any_order() {
    let db = TestDb::new().await.expect("db");
    let bridge = Provider::Bridge;
    for (id, order) in [("later-first", [20, 10]), ("earlier-first", [10, 20])] {
        store(&db, bridge, &[outbound(id)]).await;
        for secs in order {
            store(&db, bridge, &[read_by(id, secs)]).await;
        }
    }
    store(&db, bridge, &[outbound("together")]).await;
    store(
        &db,
        bridge,
        &[read_by("together", 20), read_by("together", 10)],
    )
    .await;
    store(&db, bridge, &[read_by("before", 20)]).await;
    store(&db, bridge, &[read_by("before", 10)]).await;
    store(&db, bridge, &[outbound("before")]).await;
    for id in ["later-first", "earlier-first", "together", "before"] {
        let history: String = one(
            &db,
            &format!(
                "SELECT recipient || ' ' || extract(epoch FROM occurred_at)::int8 \
                 FROM message_statuses WHERE provider_message_id = '{id}' AND state = 'read'"
            ),
        )
        .await;
        assert_eq!(history, format!("p10 {}", at(10).timestamp()), "{id}");
        let message: String = one(
            &db,
            &format!(
                "SELECT status || ' ' || extract(epoch FROM status_at)::int8 \
                 FROM messages WHERE provider_message_id = '{id}'"
            ),
        )
        .await;
        assert_eq!(message, format!("read {}", at(10).timestamp()), "{id}");
    }
}

/// Applies `events` in one transaction, as the router does.
async fn store(db: &TestDb, provider: Provider, events: &[DomainEvent]) {
    let mut client = db.client().await.expect("client");
    let tx = client.transaction().await.expect("transaction");
    apply(&tx, &envelope(provider), events)
        .await
        .expect("events applied");
    tx.commit().await.expect("commit");
}

async fn one<T: for<'a> tokio_postgres::types::FromSql<'a>>(db: &TestDb, sql: &str) -> T {
    let client = db.client().await.expect("client");
    client.query_one(sql, &[]).await.expect(sql).get(0)
}

#[tokio::test]
async fn delivery_states_only_move_forward_whatever_their_order() {
    use DeliveryState::*;
    let cases: &[(&[DeliveryState], DeliveryState)] = &[
        (&[Delivered, Read], Read),
        (&[Read, Delivered], Read),
        (&[Read], Read),
        (&[Failed], Failed),
        // Failed is terminal, whichever arrives first.
        (&[Failed, Delivered], Failed),
        (&[Delivered, Failed], Failed),
        (&[Sent, Failed, Read], Failed),
        (&[Read, Failed], Failed),
        (&[Played, Read, Delivered], Played),
        (&[Deleted, Read], Deleted),
    ];
    let db = TestDb::new().await.expect("db");
    for (n, (states, want)) in cases.iter().enumerate() {
        // Once with the message stored first, once with every status first.
        for message_first in [true, false] {
            let id = format!("m{n}-{message_first}");
            if message_first {
                store(&db, Provider::Bridge, &[outbound(&id)]).await;
            }
            for (i, s) in states.iter().enumerate() {
                store(&db, Provider::Bridge, &[status(&id, *s, i as i64)]).await;
            }
            if !message_first {
                store(&db, Provider::Bridge, &[outbound(&id)]).await;
            }
            let got: String = one(
                &db,
                &format!("SELECT status FROM messages WHERE provider_message_id = '{id}'"),
            )
            .await;
            assert_eq!(
                got,
                want.as_str(),
                "{states:?}, message first: {message_first}"
            );
        }
    }
}

#[tokio::test]
async fn migration_v4_makes_failures_stored_by_earlier_versions_terminal_too() {
    let db = TestDb::new().await.expect("db");
    store(&db, Provider::Bridge, &[outbound("old")]).await;
    store(
        &db,
        Provider::Bridge,
        &[status("old", DeliveryState::Failed, 1)],
    )
    .await;
    let client = db.client().await.expect("client");
    // As an earlier version ranked `failed` (2, below delivered).
    client
        .batch_execute(
            "UPDATE messages SET status_rank = 2; \
             UPDATE message_statuses SET rank = 2 WHERE state = 'failed'",
        )
        .await
        .expect("old ranks");
    client
        .batch_execute(include_str!(
            "../../../../migrations/V4__failed_is_terminal.sql"
        ))
        .await
        .expect("migration V4");
    store(
        &db,
        Provider::Bridge,
        &[status("old", DeliveryState::Delivered, 2)],
    )
    .await;
    let got: String = one(&db, "SELECT status FROM messages").await;
    assert_eq!(got, "failed");
}

#[tokio::test]
async fn a_status_batch_with_several_states_of_one_message_keeps_the_highest() {
    let db = TestDb::new().await.expect("db");
    store(&db, Provider::Bridge, &[outbound("b1")]).await;
    let batch = [
        status("b1", DeliveryState::Read, 2),
        status("b1", DeliveryState::Delivered, 1),
        status("b1", DeliveryState::Read, 2),
    ];
    store(&db, Provider::Bridge, &batch).await;
    let got: String = one(&db, "SELECT status FROM messages").await;
    assert_eq!(got, "read");
    let history: i64 = one(&db, "SELECT count(*) FROM message_statuses").await;
    assert_eq!(history, 2);
}

fn reaction(id: &str, emoji: Option<&str>, secs: i64) -> DomainEvent {
    event(
        Provider::Meta,
        EventBody::Reaction(Reaction {
            provider_event_id: id.into(),
            target_message_id: "wamid.target".into(),
            from_address: "16505551234".into(),
            emoji: emoji.map(str::to_owned),
            occurred_at: at(secs),
            raw: json!({}),
        }),
    )
}

#[tokio::test]
async fn a_reaction_removal_clears_the_emoji_and_an_older_reaction_does_not_return() {
    let db = TestDb::new().await.expect("db");
    store(&db, Provider::Meta, &[reaction("r1", Some("👍"), 1)]).await;
    store(&db, Provider::Meta, &[reaction("r2", None, 2)]).await;
    store(&db, Provider::Meta, &[reaction("r1", Some("👍"), 1)]).await;
    let emoji: Option<String> = one(&db, "SELECT emoji FROM reactions").await;
    assert_eq!(emoji, None);
    store(&db, Provider::Meta, &[reaction("r3", Some("❤️"), 3)]).await;
    let emoji: Option<String> = one(&db, "SELECT emoji FROM reactions").await;
    assert_eq!(emoji.as_deref(), Some("❤️"));
    let rows: i64 = one(&db, "SELECT count(*) FROM reactions").await;
    assert_eq!(rows, 1);
}

fn call(event_name: &str, status: &str, secs: i64) -> DomainEvent {
    call_event("AC1", event_name, Some(status), secs)
}

/// A call event of call `id`; summaries and transcripts carry no status.
fn call_event(id: &str, event_name: &str, status: Option<&str>, secs: i64) -> DomainEvent {
    event(
        Provider::OpenPhone,
        EventBody::Call(Call {
            provider_call_id: id.into(),
            event: event_name.into(),
            direction: Some(Direction::Inbound),
            from_address: Some("+16505551234".into()),
            to_address: None,
            status: status.map(str::to_owned),
            started_at: (event_name == "call.completed").then(|| at(0)),
            completed_at: (event_name == "call.completed").then(|| at(secs)),
            occurred_at: at(secs),
            data: json!({"event": event_name}),
        }),
    )
}

#[tokio::test]
async fn a_late_ringing_event_does_not_undo_a_completed_call() {
    let db = TestDb::new().await.expect("db");
    store(
        &db,
        Provider::OpenPhone,
        &[call("call.completed", "completed", 60)],
    )
    .await;
    store(
        &db,
        Provider::OpenPhone,
        &[call("call.ringing", "ringing", 0)],
    )
    .await;
    store(
        &db,
        Provider::OpenPhone,
        &[call("call.ringing", "ringing", 0)],
    )
    .await;
    let status: String = one(&db, "SELECT status FROM calls").await;
    assert_eq!(status, "completed");
    let events: i64 = one(&db, "SELECT count(*) FROM call_events").await;
    assert_eq!(events, 2);
    let started: Option<DateTime<Utc>> = one(&db, "SELECT started_at FROM calls").await;
    assert_eq!(started, Some(at(0)));
}

/// Ringing, completed and a later summary (no status), in every order, one
/// at a time and split into batches every way: the call ends `completed`
/// with the summary as its last event and the callee its end names. A late ringing after the summary was
/// judged against the summary's time and replaced `completed`.
#[tokio::test]
async fn a_calls_status_is_its_newest_status_in_any_order_and_batching() {
    let db = TestDb::new().await.expect("db");
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    // Batch sizes: one at a time, one then two, two then one, all three.
    let splits: [&[usize]; 4] = [&[1, 1, 1], &[1, 2], &[2, 1], &[3]];
    for (o, order) in orders.iter().enumerate() {
        for (b, split) in splits.iter().enumerate() {
            let id = format!("AC{o}{b}");
            let mut events = [
                call_event(&id, "call.ringing", Some("ringing"), 1),
                call_event(&id, "call.completed", Some("completed"), 61),
                call_event(&id, "call.summary.completed", None, 120),
            ];
            // The call was forwarded: its end names another callee.
            for (event, callee) in events.iter_mut().zip(["+15550000001", "+15550000002"]) {
                if let EventBody::Call(c) = &mut event.body {
                    c.to_address = Some(callee.into());
                }
            }
            let mut next = order.iter().map(|&i| events[i].clone());
            for &size in *split {
                let batch: Vec<DomainEvent> = next.by_ref().take(size).collect();
                store(&db, Provider::OpenPhone, &batch).await;
            }
        }
    }
    let client = db.client().await.expect("client");
    let rows = client
        .query(
            "SELECT provider_call_id, status, last_event, to_address FROM calls ORDER BY 1",
            &[],
        )
        .await
        .expect("calls");
    assert_eq!(rows.len(), orders.len() * splits.len());
    for row in rows {
        let (id, status, last, callee): (String, String, String, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        assert_eq!(status, "completed", "call {id}");
        assert_eq!(last, "call.summary.completed", "call {id}");
        assert_eq!(callee, "+15550000002", "call {id}");
    }
}

/// A call's ringing and its end reported at the same instant leave the call
/// ended, whatever order or batches they come in, and the same last event
/// every time: the status by its place in the call's life, the last event by
/// name. The event stored last used to decide both.
#[tokio::test]
async fn a_calls_events_of_one_instant_do_not_depend_on_order() {
    let mut last_events = Vec::new();
    for (i, batches) in orders(
        || call("call.ringing", "ringing", 60),
        || call("call.completed", "completed", 60),
    )
    .into_iter()
    .enumerate()
    {
        let db = TestDb::new().await.expect("db");
        for batch in batches {
            store(&db, Provider::OpenPhone, &batch).await;
        }
        let status: String = one(&db, "SELECT status FROM calls").await;
        assert_eq!(status, "completed", "case {i}");
        let last: String = one(&db, "SELECT last_event FROM calls").await;
        last_events.push(last);
    }
    last_events.dedup();
    assert_eq!(last_events.len(), 1, "{last_events:?}");
}

/// A call's facts come from the event that gives it its status, whatever
/// order or batches its events come in: here the callee, which a forwarded
/// call's end names anew, at the same instant as its ringing. The event
/// stored last used to set them.
#[tokio::test]
async fn a_calls_facts_come_from_the_event_that_gives_its_status_in_any_order() {
    for (i, batches) in orders(
        call_to("call.ringing", "ringing", "+15550000001"),
        call_to("call.completed", "completed", "+15550000002"),
    )
    .into_iter()
    .enumerate()
    {
        let db = TestDb::new().await.expect("db");
        for batch in batches {
            store(&db, Provider::OpenPhone, &batch).await;
        }
        let callee: String = one(&db, "SELECT to_address FROM calls").await;
        assert_eq!(callee, "+15550000002", "case {i}");
        let caller: String = one(&db, "SELECT from_address FROM calls").await;
        assert_eq!(caller, "+16505551234", "case {i}");
    }
}

/// A call event at 60 s naming `callee`, built anew for each arrival.
fn call_to(
    event_name: &'static str,
    status: &'static str,
    callee: &'static str,
) -> impl Fn() -> DomainEvent {
    move || {
        let mut e = call(event_name, status, 60);
        if let EventBody::Call(c) = &mut e.body {
            c.to_address = Some(callee.into());
        }
        e
    }
}

/// Two call objects of one instant with the same status (a call's end and
/// its recording) leave the facts of the same one whatever order or batches
/// they come in: the event's name breaks the tie, in a batch and against the
/// stored row (`status_event`, V14). The one stored last used to give them.
#[tokio::test]
async fn a_calls_objects_of_one_instant_and_status_give_the_same_facts_in_any_order() {
    let end = call_to("call.completed", "completed", "+15550000001");
    let recording = call_to("call.recording.completed", "completed", "+15550000002");
    for (i, batches) in orders(&end, &recording).into_iter().enumerate() {
        let db = TestDb::new().await.expect("db");
        for batch in batches {
            store(&db, Provider::OpenPhone, &batch).await;
        }
        let callee: String = one(&db, "SELECT to_address FROM calls").await;
        assert_eq!(callee, "+15550000002", "case {i}");
    }
    // A call stored before V14 names no event: either object of its instant
    // and status replaces it, and then the same one stands.
    let db = TestDb::new().await.expect("db");
    let client = db.client().await.expect("client");
    client
        .execute(
            "INSERT INTO calls (provider, provider_call_id, to_address, status, status_at,
                                last_event, last_event_at)
             VALUES ('openphone', 'AC1', '+15550000009', 'completed', $1, 'call.completed', $1)",
            &[&at(60)],
        )
        .await
        .expect("a call as stored before");
    store(&db, Provider::OpenPhone, &[recording()]).await;
    store(&db, Provider::OpenPhone, &[end()]).await;
    let callee: String = one(&db, "SELECT to_address FROM calls").await;
    assert_eq!(callee, "+15550000002");
}

/// The worker ranks a batch's call statuses as the database ranks stored
/// ones (`inlet_call_status_rank`): were they to differ, a batch and the
/// stored row would disagree on which of two statuses of one instant stands.
#[tokio::test]
async fn the_worker_and_the_database_rank_call_statuses_alike() {
    let db = TestDb::new().await.expect("db");
    let client = db.client().await.expect("client");
    for status in [
        "queued",
        "initiated",
        "ringing",
        "in-progress",
        "answered",
        "completed",
        "no-answer",
        "busy",
        "failed",
        "canceled",
        "missed",
        "a-status-not-yet-known",
        "",
    ] {
        let stored: i16 = client
            .query_one("SELECT inlet_call_status_rank($1)", &[&status])
            .await
            .expect("rank")
            .get(0);
        assert_eq!(stored, call_status_rank(status), "{status:?}");
    }
}

/// A call stored by a previous version (which knew no ranks) is ranked by
/// its status: a ringing of the same instant, stored after, leaves it ended.
#[tokio::test]
async fn a_call_stored_before_the_upgrade_is_ranked_by_its_status() {
    let db = TestDb::new().await.expect("db");
    let client = db.client().await.expect("client");
    client
        .execute(
            "INSERT INTO calls (provider, provider_call_id, status, status_at, last_event,
                                last_event_at)
             VALUES ('openphone', 'AC1', 'completed', $1, 'call.completed', $1)",
            &[&at(60)],
        )
        .await
        .expect("a call as stored before");
    store(
        &db,
        Provider::OpenPhone,
        &[call("call.ringing", "ringing", 60)],
    )
    .await;
    let status: String = one(&db, "SELECT status FROM calls").await;
    assert_eq!(status, "completed");
}

fn line(status: &str, secs: i64) -> DomainEvent {
    event(
        Provider::Bridge,
        EventBody::LineStatus(LineStatus {
            status: status.into(),
            occurred_at: at(secs),
            data: json!({"status": status}),
        }),
    )
}

#[tokio::test]
async fn only_a_newer_line_status_replaces_the_stored_one() {
    let db = TestDb::new().await.expect("db");
    store(&db, Provider::Bridge, &[line("connected", 10)]).await;
    store(&db, Provider::Bridge, &[line("disconnected", 5)]).await;
    let status: String = one(&db, "SELECT status FROM line_status WHERE line_id = 'L1'").await;
    assert_eq!(status, "connected");
    store(&db, Provider::Bridge, &[line("disconnected", 20)]).await;
    let status: String = one(&db, "SELECT status FROM line_status WHERE line_id = 'L1'").await;
    assert_eq!(status, "disconnected");
}

#[tokio::test]
async fn provider_contacts_and_account_events_are_stored_once() {
    let db = TestDb::new().await.expect("db");
    let contact = |action: &str, secs: i64| {
        event(
            Provider::OpenPhone,
            EventBody::Contact(ContactChange {
                provider_contact_id: "CT1".into(),
                action: action.into(),
                occurred_at: at(secs),
                data: json!({"firstName": "Ada"}),
            }),
        )
    };
    let account = event(
        Provider::Meta,
        EventBody::Account(AccountEvent {
            field: "message_template_status_update".into(),
            event: Some("APPROVED".into()),
            event_key: "k1".into(),
            occurred_at: at(0),
            data: json!({"event": "APPROVED"}),
        }),
    );
    store(&db, Provider::OpenPhone, &[contact("deleted", 2)]).await;
    store(&db, Provider::OpenPhone, &[contact("updated", 1)]).await;
    store(&db, Provider::Meta, &[account.clone(), account.clone()]).await;
    store(&db, Provider::Meta, &[account]).await;
    let deleted: bool = one(&db, "SELECT deleted FROM provider_contacts").await;
    assert!(deleted, "an older update must not revive a deleted contact");
    let accounts: i64 = one(&db, "SELECT count(*) FROM account_events").await;
    assert_eq!(accounts, 1);
}

/// OpenPhone contact records of one instant leave the same record whatever
/// order or batches they come in: a deletion over an update, and of two
/// updates the same one every time. The record stored last used to stay.
#[tokio::test]
async fn provider_contact_records_of_one_instant_do_not_depend_on_order() {
    let contact = |action: &str, name: &str| {
        let action = action.to_owned();
        let name = name.to_owned();
        move || {
            event(
                Provider::OpenPhone,
                EventBody::Contact(ContactChange {
                    provider_contact_id: "CT1".into(),
                    action: action.clone(),
                    occurred_at: at(5),
                    data: json!({"firstName": name}),
                }),
            )
        }
    };
    let pairs = [
        (contact("updated", "Ada"), contact("deleted", "Ada")),
        (contact("updated", "Ada"), contact("updated", "Ada L.")),
    ];
    for (p, (a, b)) in pairs.into_iter().enumerate() {
        let mut outcomes = Vec::new();
        for (i, batches) in orders(&a, &b).into_iter().enumerate() {
            let db = TestDb::new().await.expect("db");
            for batch in batches {
                store(&db, Provider::OpenPhone, &batch).await;
            }
            let client = db.client().await.expect("client");
            let row = client
                .query_one("SELECT deleted, data::text FROM provider_contacts", &[])
                .await
                .expect("record");
            let outcome: (bool, String) = (row.get(0), row.get(1));
            if p == 0 {
                assert!(outcome.0, "a deletion stands, case {i}");
            }
            outcomes.push(outcome);
        }
        outcomes.dedup();
        assert_eq!(outcomes.len(), 1, "pair {p}: {outcomes:?}");
    }
}

/// A reaction event by `reactor` on one message.
fn reaction_by(reactor: &str, id: &str, emoji: Option<&str>, secs: i64) -> DomainEvent {
    event(
        Provider::Meta,
        EventBody::Reaction(Reaction {
            provider_event_id: id.into(),
            target_message_id: "wamid.target".into(),
            from_address: reactor.into(),
            emoji: emoji.map(str::to_owned),
            occurred_at: at(secs),
            raw: json!({}),
        }),
    )
}

fn consent(address: &str, id: &str, opted_out: bool, secs: i64) -> ConsentChange {
    ConsentChange {
        address: address.into(),
        opted_out,
        keyword: if opted_out { "STOP" } else { "START" }.into(),
        provider_message_id: id.into(),
        occurred_at: at(secs),
    }
}

/// Two reports of one line's state at the same instant with different data
/// leave the same report whatever order or batches they come in.
#[tokio::test]
async fn line_states_of_one_instant_do_not_depend_on_order() {
    let report = |session: &'static str| {
        move || {
            event(
                Provider::Bridge,
                EventBody::LineStatus(LineStatus {
                    status: "connected".into(),
                    occurred_at: at(5),
                    data: json!({"status": "connected", "session": session}),
                }),
            )
        }
    };
    let mut outcomes = Vec::new();
    for batches in orders(report("s1"), report("s2")) {
        let db = TestDb::new().await.expect("db");
        for batch in batches {
            store(&db, Provider::Bridge, &batch).await;
        }
        let data: String = one(&db, "SELECT data::text FROM line_status").await;
        outcomes.push(data);
    }
    outcomes.dedup();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
}

/// A redelivered event (its ack lost after the commit, or a provider's retry
/// after the gateway's dedup window) leaves the rows it set untouched: the
/// same row version, the same `updated_at`. An identical copy used to rewrite
/// the reaction, the consent decision, the contact record and the line state.
#[tokio::test]
async fn a_redelivered_event_leaves_its_rows_untouched() {
    let db = TestDb::new().await.expect("db");
    let meta = vec![reaction("r1", Some("👍"), 5)];
    let stop = consent("16505550000", "wamid.stop", true, 5);
    let openphone = vec![event(
        Provider::OpenPhone,
        EventBody::Contact(ContactChange {
            provider_contact_id: "CT1".into(),
            action: "updated".into(),
            occurred_at: at(5),
            data: json!({"firstName": "Ada"}),
        }),
    )];
    let bridge = vec![line("connected", 5)];
    let versions = "SELECT concat_ws(' / ',
                        (SELECT xmin::text || updated_at::text FROM reactions),
                        (SELECT xmin::text || updated_at::text FROM contacts
                         WHERE address = '16505550000'),
                        (SELECT xmin::text || updated_at::text FROM provider_contacts),
                        (SELECT xmin::text || updated_at::text FROM line_status))";
    let mut seen = Vec::new();
    for _copy in 0..2 {
        store(&db, Provider::Meta, &meta).await;
        record_consents(&db, &[&stop]).await;
        store(&db, Provider::OpenPhone, &openphone).await;
        store(&db, Provider::Bridge, &bridge).await;
        let rows: String = one(&db, versions).await;
        assert_eq!(rows.split(" / ").count(), 4, "a row is missing: {rows}");
        seen.push(rows);
    }
    assert_eq!(seen[0], seen[1]);
}

async fn record_consents(db: &TestDb, changes: &[&ConsentChange]) {
    let mut client = db.client().await.expect("client");
    let tx = client.transaction().await.expect("transaction");
    apply_consents(&tx, Provider::Meta, changes)
        .await
        .expect("consents applied");
    tx.commit().await.expect("commit");
}

// Meta's timestamps are whole seconds, so two decisions often share one; a
// redelivery (the ack lost after the commit) must not then undo the later.
#[tokio::test]
async fn decisions_of_the_same_second_end_the_same_in_any_order_and_after_a_redelivery() {
    let db = TestDb::new().await.expect("db");
    // STOP and START in one second, one or two batches, either order, with
    // either redelivered: an opt-out every time.
    let cases: [(&str, &[&[bool]]); 6] = [
        ("a1", &[&[true], &[false]]),
        ("a2", &[&[false], &[true]]),
        ("a3", &[&[true], &[false], &[true], &[false]]),
        ("a4", &[&[false], &[true], &[false]]),
        ("a5", &[&[true, false]]),
        ("a6", &[&[false, true]]),
    ];
    for (address, batches) in cases {
        let stop = consent(address, "wamid.stop", true, 5);
        let start = consent(address, "wamid.start", false, 5);
        for batch in batches {
            let changes: Vec<&ConsentChange> = batch
                .iter()
                .map(|&out| if out { &stop } else { &start })
                .collect();
            record_consents(&db, &changes).await;
        }
        let sql = format!("SELECT opted_out FROM contacts WHERE address = '{address}'");
        assert!(one::<bool>(&db, &sql).await, "{address}: {batches:?}");
    }
    // A later opt-in still wins.
    record_consents(&db, &[&consent("a1", "wamid.later", false, 6)]).await;
    let opted_out: bool = one(&db, "SELECT opted_out FROM contacts WHERE address = 'a1'").await;
    assert!(!opted_out);

    // A reaction and its removal (same id, same second): removed in either
    // order, one batch or two, and after the reaction is redelivered.
    let orders: [(&str, &[&[bool]]); 5] = [
        ("r1", &[&[true], &[false]]),
        ("r2", &[&[false], &[true]]),
        ("r3", &[&[true], &[false], &[true]]),
        ("r4", &[&[true, false]]),
        ("r5", &[&[false, true]]),
    ];
    for (reactor, batches) in orders {
        for batch in batches {
            let events: Vec<DomainEvent> = batch
                .iter()
                .map(|&added| reaction_by(reactor, "wamid.r", added.then_some("👍"), 5))
                .collect();
            store(&db, Provider::Meta, &events).await;
        }
        let sql = format!("SELECT emoji FROM reactions WHERE reactor = '{reactor}'");
        let emoji: Option<String> = one(&db, &sql).await;
        assert_eq!(emoji, None, "{reactor}: {batches:?}");
    }

    // Two line states of one instant: the same one stands in either order.
    let db = TestDb::new().await.expect("db");
    store(&db, Provider::Bridge, &[line("connected", 7)]).await;
    store(&db, Provider::Bridge, &[line("disconnected", 7)]).await;
    store(&db, Provider::Bridge, &[line("connected", 7)]).await;
    let status: String = one(&db, "SELECT status FROM line_status WHERE line_id = 'L1'").await;
    assert_eq!(status, "disconnected");
}
