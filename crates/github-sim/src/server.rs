//! Starting the simulator: in-process for tests (`Simulator::start`) or standalone (`run`).

use std::future::Future;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::config::{DEFAULT_TOKEN, SimConfig};
use crate::control::Control;
use crate::shared::Shared;

/// Entry point.
pub struct Simulator;

impl Simulator {
    /// Starts a simulator with the default configuration on `127.0.0.1:0`.
    pub async fn start() -> std::io::Result<SimulatorHandle> {
        Self::start_with(SimConfig::default()).await
    }

    pub async fn start_with(config: SimConfig) -> std::io::Result<SimulatorHandle> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Starts a simulator listening on `addr` (port 0 picks a free one).
    pub async fn start_on(addr: SocketAddr, config: SimConfig) -> std::io::Result<SimulatorHandle> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let base = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let token = config
            .tokens
            .first()
            .map(|(t, _)| t.clone())
            .unwrap_or_else(|| DEFAULT_TOKEN.to_string());
        let shared = Shared::new(base.trim_end_matches('/').to_string(), config);
        let app = crate::http::router(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            // Small JSON answers: without TCP_NODELAY each waits for Nagle's delayed ACK.
            let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
                let _ = stream.set_nodelay(true);
            });
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(SimulatorHandle {
            control: Control { shared },
            addr,
            token,
            shutdown: Some(tx),
        })
    }
}

/// A running simulator; stops when dropped. Dereferences to [`Control`] for the control API.
#[derive(Debug)]
pub struct SimulatorHandle {
    control: Control,
    addr: SocketAddr,
    token: String,
    shutdown: Option<oneshot::Sender<()>>,
}

impl SimulatorHandle {
    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        self.control.shared.lock().world.base.clone()
    }

    /// Base URL for a GitHub client (GitHub's REST paths are served at the root).
    pub fn api_url(&self) -> String {
        self.url()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The first configured token (`sim-token` by default).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The web page of PR `number` of `repo` (`owner/name`): its `html_url`, served without a
    /// token and outside the API's request log. An unknown PR's page answers 404.
    pub fn pr_page_url(&self, repo: &str, number: u64) -> String {
        format!("{}/{}/pull/{number}", self.url(), self.canonical(repo))
    }

    /// The web page listing the PRs of `repo` (`owner/name`).
    pub fn pulls_page_url(&self, repo: &str) -> String {
        format!("{}/{}/pulls", self.url(), self.canonical(repo))
    }

    /// `repo` spelled as the repository is named (names resolve case-insensitively).
    fn canonical(&self, repo: &str) -> String {
        let g = self.control.shared.lock();
        repo.split_once('/')
            .and_then(|(o, n)| g.world.repo(o, n))
            .map_or_else(|| repo.to_string(), |r| r.full_name())
    }

    pub fn control(&self) -> &Control {
        &self.control
    }
}

impl Deref for SimulatorHandle {
    type Target = Control;
    fn deref(&self) -> &Control {
        &self.control
    }
}

impl Drop for SimulatorHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Serves the simulator on `addr` until Ctrl-C (for a standalone command).
pub async fn run(addr: SocketAddr, config: SimConfig) -> std::io::Result<()> {
    run_until(addr, config, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

/// Serves the simulator on `addr` until `shutdown` completes.
pub async fn run_until(
    addr: SocketAddr,
    config: SimConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let base = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}"));
    let shared: Arc<Shared> = Shared::new(base.trim_end_matches('/').to_string(), config);
    tracing::info!(%local, "GitHub simulator listening");
    axum::serve(listener, crate::http::router(shared))
        .with_graceful_shutdown(shutdown)
        .await
}
