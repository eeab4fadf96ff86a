//! A TCP proxy a test can cut and restore: a broker (or database) outage for
//! one test, without stopping the shared service every other test uses. It
//! can also hold new connections (accepted, then silent, as a service that
//! hangs) and silence open ones ([`ToggleProxy::silence_open`]).

use crate::Blackhole;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Forwards `127.0.0.1:<port>` to a target until cut.
pub struct ToggleProxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    // The local port of every client connection accepted so far.
    clients: Arc<Mutex<Vec<u16>>>,
    // Connections forwarding now.
    open: Arc<AtomicUsize>,
    // While true, new connections wait, silent, before reaching the target.
    held: watch::Sender<bool>,
    // Bumped on every cut: open connections watch it and close.
    generation: watch::Sender<u64>,
}

impl ToggleProxy {
    /// Starts forwarding to `target` (e.g. `127.0.0.1:5672`).
    pub async fn start(target: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let up = Arc::new(AtomicBool::new(true));
        let (generation, _) = watch::channel(0u64);
        let accept_up = up.clone();
        let accept_gen = generation.clone();
        let clients = Arc::new(Mutex::new(Vec::new()));
        let accepted = clients.clone();
        let open = Arc::new(AtomicUsize::new(0));
        let counted = open.clone();
        let (held, _) = watch::channel(false);
        let accept_held = held.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, peer)) = listener.accept().await {
                if !accept_up.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                if let Ok(mut ports) = accepted.lock() {
                    ports.push(peer.port());
                }
                let mut cut = accept_gen.subscribe();
                let mut hold = accept_held.subscribe();
                let counted = counted.clone();
                tokio::spawn(async move {
                    if hold.wait_for(|held| !*held).await.is_err() {
                        return;
                    }
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    counted.fetch_add(1, Ordering::SeqCst);
                    tokio::select! {
                        _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                    counted.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Ok(ToggleProxy {
            addr,
            up,
            clients,
            open,
            held,
            generation,
        })
    }

    /// The address to connect to instead of the target.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The local port of each client connection accepted so far (with the
    /// proxy's own port, what a [`crate::Blackhole`] needs to cut them).
    pub fn client_ports(&self) -> Vec<u16> {
        self.clients.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Silences every connection open through the proxy now: iptables drops
    /// all their packets, both ways, until the returned guard is dropped (as
    /// when the service's host dies or the network splits). New connections
    /// still get through. Fails when none is open (nothing to cut).
    pub fn silence_open(&self) -> anyhow::Result<Blackhole> {
        let port = self.addr.port();
        let open: Vec<(u16, u16)> = self
            .client_ports()
            .into_iter()
            .map(|client| (client, port))
            .collect();
        anyhow::ensure!(!open.is_empty(), "no connection is open through the proxy");
        Blackhole::connections(&open)
    }

    /// Connections forwarding to the target now (held ones not counted).
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Accepts new connections but keeps them silent, as a service that hangs
    /// before it answers, until [`ToggleProxy::release`].
    pub fn hold(&self) {
        self.held.send_replace(true);
    }

    /// Lets held connections through to the target.
    pub fn release(&self) {
        self.held.send_replace(false);
    }

    /// Drops every open connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}
