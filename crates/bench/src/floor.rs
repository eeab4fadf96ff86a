//! The HTTP floor: an actix-web handler that reads the body and answers 200,
//! nothing else. No gateway can beat it on this machine.

use actix_web::{web, App, HttpResponse, HttpServer};
use std::net::TcpListener;

/// A running floor server.
pub struct Floor {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    handle: actix_web::dev::ServerHandle,
}

async fn swallow(body: web::Bytes) -> HttpResponse {
    // Touch the body so the read cannot be optimised away.
    std::hint::black_box(body.len());
    HttpResponse::Ok().finish()
}

impl Floor {
    /// Starts the floor on a free port with `workers` threads (the gateway's default is one per core).
    pub fn start(workers: usize) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let server = HttpServer::new(|| App::new().default_service(web::to(swallow)))
            .workers(workers)
            .disable_signals()
            .listen(listener)?
            .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Floor {
            base_url: format!("http://127.0.0.1:{port}"),
            handle,
        })
    }

    /// Stops it.
    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}
