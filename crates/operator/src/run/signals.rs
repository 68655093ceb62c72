//! Stopping: SIGTERM and Ctrl-C ask for a graceful shutdown, bounded in time; the HTTP server is
//! given a few seconds to finish its requests.

use std::time::Duration;

use tokio::sync::watch;
use tracing::{error, info, warn};

/// How long a graceful shutdown may take. Kubernetes kills the pod after its grace period (30 s in
/// deploy/); a shutdown that has not finished well before then says so and ends.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(20);

/// Resolves once shutdown is asked for.
pub async fn until_shutdown(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// SIGTERM (Kubernetes stopping the pod) and Ctrl-C both ask for a graceful shutdown.
pub async fn forward_signals(shutdown: watch::Sender<bool>) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                warn!(%error, "cannot listen for SIGTERM");
                futures::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        () = terminate => {},
    }
    info!("shutting down: finishing the reconciles in flight");
    let _ = shutdown.send(true);
    tokio::time::sleep(SHUTDOWN_DEADLINE).await;
    error!(after = ?SHUTDOWN_DEADLINE, "shutdown did not finish; exiting");
    std::process::exit(1);
}

/// Waits for the HTTP server to finish its requests in flight, but not for ever: a client holding a
/// connection open must not keep the pod from stopping.
pub async fn stop_server(server: tokio::task::JoinHandle<std::io::Result<()>>) {
    let abort = server.abort_handle();
    match tokio::time::timeout(Duration::from_secs(5), server).await {
        Ok(_) => info!("stopped serving"),
        Err(_) => {
            warn!("connections still open after 5s; closing them");
            abort.abort();
        }
    }
}
