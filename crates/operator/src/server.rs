//! The HTTP server in front of `/webhook`, `/metrics` and the probes, on a port GitHub reaches from
//! the internet: a cap on connections and a time limit on request headers, so that neither many
//! connections nor slow ones (a slowloris) can hold the process's descriptors and memory.
//!
//! `axum::serve` has neither limit, so connections are accepted here and each is served by hyper
//! with a header read timeout, which also closes a keep-alive connection left idle that long.
//! Past the cap a new connection is closed as soon as it is accepted, rather than left waiting in
//! the kernel's queue where no timeout reaches it. The body's own limits (time, size, the budget
//! of bodies in flight) are the webhook handler's.

use std::{future::Future, sync::Arc, time::Duration};

use axum::Router;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tracing::{debug, warn};

use crate::metrics::Metrics;

/// Connections served at once by default; GitHub opens one per delivery, Prometheus and the
/// kubelet one each.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// How long a client has to send a request's headers (and an idle keep-alive connection to start
/// its next request) by default.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Connection-level limits.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting and waits for the
/// connections in flight to finish their requests (the caller bounds that wait).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    metrics: Metrics,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(error) => {
                // Out of descriptors or a connection reset before it was accepted: the listener
                // itself is fine. Wait a moment so an exhausted process is not spun on.
                warn!(%error, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics.http_connection_refused();
            debug!(
                max = limits.max_connections,
                "connection refused: the server holds its maximum"
            );
            drop(stream);
            continue;
        };
        // Small JSON answers: without TCP_NODELAY each waits for Nagle's delayed ACK.
        let _ = stream.set_nodelay(true);
        let open = metrics.http_connection();
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                debug!(%error, "connection ended with an error");
            }
            drop(open);
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
