//! A customer's endpoint played by the test: answers as scripted, records
//! every request.

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use std::collections::{HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Wait before answering.
    pub delay: Duration,
    /// `Retry-After` header value.
    pub retry_after: Option<&'static str>,
    /// The body; `answer <status>` when `None`.
    pub body: Option<&'static [u8]>,
}

impl Reply {
    /// Answers `status` at once.
    pub fn status(status: u16) -> Self {
        Reply {
            status,
            delay: Duration::ZERO,
            retry_after: None,
            body: None,
        }
    }

    /// Answers 200 after `delay`.
    pub fn slow(delay: Duration) -> Self {
        Reply {
            delay,
            ..Reply::status(200)
        }
    }
}

/// A request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    /// Headers, lower-case names.
    pub headers: HashMap<String, String>,
    /// Raw body.
    pub body: Vec<u8>,
}

impl Received {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

#[derive(Default)]
struct State {
    script: Mutex<VecDeque<Reply>>,
    received: Mutex<Vec<Received>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// A running receiver.
#[derive(Clone)]
pub struct Receiver {
    /// `http://127.0.0.1:<port>/hook`.
    pub url: String,
    state: Arc<State>,
}

impl Receiver {
    /// Starts a receiver that answers 200 unless scripted otherwise.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(State::default());
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .listen(listener)
        .expect("listen")
        .workers(1)
        .disable_signals()
        .run();
        tokio::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            state,
        }
    }

    /// The next answers, in order (then 200s).
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state
            .script
            .lock()
            .expect("script lock")
            .extend(replies);
    }

    /// The most requests it has been answering at once.
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().expect("received lock").clone()
    }
}

async fn receive(state: web::Data<State>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    state
        .received
        .lock()
        .expect("received lock")
        .push(Received {
            headers,
            body: body.to_vec(),
        });
    let reply = state
        .script
        .lock()
        .expect("script lock")
        .pop_front()
        .unwrap_or(Reply::status(200));
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(reply.delay).await;
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    let status = actix_web::http::StatusCode::from_u16(reply.status).expect("status");
    let mut answer = HttpResponse::build(status);
    if let Some(after) = reply.retry_after {
        answer.insert_header(("retry-after", after));
    }
    match reply.body {
        Some(body) => answer.body(body),
        None => answer.body(format!("answer {}", reply.status)),
    }
}
