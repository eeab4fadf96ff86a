//! One keep-alive HTTP/1.1 connection per load lane, driven by the lane's own task.
//!
//! A pooled client (reqwest) hands each request to a connection task and the answer back,
//! and takes the pool's lock on the way: on two shared cores that cost the load
//! generator about as much CPU per request as the gateway's whole HTTP side, CPU the
//! gateway then lacked. Here a lane owns its connection (hyper's `client::conn`) and polls
//! it together with its request, so a request is the work of one task.

use crate::bodies::SignedRequest;
use anyhow::Context;
use futures::FutureExt;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use std::pin::Pin;
use std::time::Duration;
use tokio::net::TcpStream;

type Conn = Connection<TokioIo<TcpStream>, Full<Bytes>>;

/// Where requests go: the `host:port` of an `http://` base URL.
#[derive(Clone, Debug)]
pub struct Target {
    authority: String,
}

impl Target {
    /// Parses `http://host:port` (a path, if any, is ignored: requests carry their own).
    pub fn parse(base_url: &str) -> anyhow::Result<Self> {
        let uri: hyper::Uri = base_url
            .parse()
            .with_context(|| format!("not a URL: {base_url}"))?;
        anyhow::ensure!(
            uri.scheme_str() == Some("http"),
            "only http:// is supported: {base_url}"
        );
        let authority = uri
            .authority()
            .with_context(|| format!("no host in {base_url}"))?
            .to_string();
        Ok(Target { authority })
    }
}

struct Open {
    sender: SendRequest<Full<Bytes>>,
    conn: Pin<Box<Conn>>,
}

/// A lane's connection: opened on first use, and again after any failure.
pub struct Client {
    target: Target,
    timeout: Duration,
    open: Option<Open>,
}

impl Client {
    /// A client that connects lazily; `timeout` bounds each request, connecting included.
    pub fn new(target: Target, timeout: Duration) -> Self {
        Client {
            target,
            timeout,
            open: None,
        }
    }

    /// Sends one request and reads the whole answer: its status, or `None` when no
    /// answer came in time or the connection failed (the connection is then dropped).
    pub async fn send(&mut self, req: SignedRequest) -> Option<u16> {
        tokio::time::timeout(self.timeout, self.exchange(req))
            .await
            .ok()?
            .ok()
    }

    /// Kept for the next request only when it answered and is still open, so a
    /// failed, timed-out or closed connection is never reused.
    async fn exchange(&mut self, req: SignedRequest) -> anyhow::Result<u16> {
        let mut builder = hyper::Request::post(req.path)
            .header(HOST, self.target.authority.as_str())
            .header(CONTENT_TYPE, "application/json");
        for (name, value) in req.headers {
            builder = builder.header(name, value);
        }
        let request = builder.body(Full::new(Bytes::from(req.body)))?;
        // A connection the server closed while idle ends as soon as it is polled.
        let idle = self
            .open
            .take()
            .and_then(|mut open| open.conn.as_mut().now_or_never().is_none().then_some(open));
        let mut open = match idle {
            Some(open) => open,
            None => connect(&self.target).await?,
        };
        let (answer, ended) = {
            let Open { sender, conn } = &mut open;
            let mut answer = std::pin::pin!(async {
                sender.ready().await?;
                let response = sender.send_request(request).await?;
                let status = response.status().as_u16();
                response.into_body().collect().await?;
                Ok::<u16, hyper::Error>(status)
            });
            tokio::select! {
                biased;
                answer = &mut answer => (answer.map_err(anyhow::Error::from), false),
                ended = conn.as_mut() => {
                    // A server that closes after answering (`Connection: close`, or an
                    // unread body) ends the connection once the answer is in.
                    let answer = match (ended, answer.now_or_never()) {
                        (Err(error), _) => Err(error.into()),
                        (Ok(()), Some(answer)) => answer.map_err(anyhow::Error::from),
                        (Ok(()), None) => Err(anyhow::anyhow!("the server closed the connection before answering")),
                    };
                    (answer, true)
                }
            }
        };
        if answer.is_ok() && !ended {
            self.open = Some(open);
        }
        answer
    }
}

async fn connect(target: &Target) -> anyhow::Result<Open> {
    let stream = TcpStream::connect(&target.authority).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    Ok(Open {
        sender,
        conn: Box::pin(conn),
    })
}
