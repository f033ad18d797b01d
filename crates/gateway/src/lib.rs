//! Switchyard's gateway core: the HTTP server clients talk to, routing each
//! request to a provider connection, and recording what happened.
//!
//! Architecture invariant: this crate knows nothing of Tauri or any GUI. The
//! desktop shell and the headless `switchyard` binary both start it through
//! [`start`] and stop it through [`RunningGateway::shutdown`].

mod auth;
pub mod dialect;
mod error;
pub mod presets;
mod routes;
pub mod settings;
mod upstream;
mod usage;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::serve::ListenerExt;
use switchyard_store::{Store, StoreError};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use dialect::Dialect;
pub use error::ApiError;
pub use routes::router;
pub use settings::{ListenAddress, Settings};
pub use usage::UsageRecorder;

/// Errors that stop the gateway from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another program already listens on the address.
    #[error(
        "{address} is already in use by another program; choose another port (--port, SWITCHYARD_PORT or `switchyard config set port N`) or stop that program"
    )]
    AddressInUse {
        /// The address that was taken.
        address: SocketAddr,
    },
    /// Binding failed for another reason (permissions, no such interface, ...).
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address that could not be bound.
        address: SocketAddr,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The usage writer thread could not be started.
    #[error("cannot start the usage writer: {0}")]
    UsageWriter(std::io::Error),
    /// The HTTP client could not be built (TLS back-end missing).
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),
}

/// Shared state of the running gateway, cloned into every handler.
#[derive(Clone)]
pub struct RouterState {
    /// Connection used by request handlers for short reads (providers, keys, settings).
    store: Arc<Mutex<Store>>,
    /// HTTP client for upstream requests; one pool for all providers.
    http: reqwest::Client,
    /// Queue to the usage writer.
    usage: UsageRecorder,
}

impl RouterState {
    /// Builds the state around an open store and a usage recorder.
    pub fn new(store: Store, usage: UsageRecorder) -> Result<Self, StartError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            store: Arc::new(Mutex::new(store)),
            http,
            usage,
        })
    }

    /// Runs `read` against the store. Handlers only do short reads here.
    fn with_store<T>(&self, read: impl FnOnce(&Store) -> T) -> T {
        let store = self
            .store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        read(&store)
    }
}

/// A gateway that is accepting requests.
pub struct RunningGateway {
    local_addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    usage: UsageRecorder,
}

impl RunningGateway {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections, lets open requests finish, and writes all
    /// pending usage records before returning.
    pub async fn shutdown(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match (&mut self.server).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "gateway server ended with an error"),
            Err(error) => tracing::warn!(%error, "gateway server task failed"),
        }
        let usage = self.usage.clone();
        let _ = tokio::task::spawn_blocking(move || usage.flush()).await;
    }

    /// Waits until the server ends on its own (it only ends after [`Self::shutdown`]
    /// or a fatal accept error).
    pub async fn wait(&mut self) -> std::io::Result<()> {
        match (&mut self.server).await {
            Ok(result) => result,
            Err(error) => Err(std::io::Error::other(error)),
        }
    }
}

/// Opens the database in `data_dir`, binds `address` and serves in the background.
pub async fn start(data_dir: &Path, address: SocketAddr) -> Result<RunningGateway, StartError> {
    let store = Store::open_in_dir(data_dir)?;
    let usage =
        UsageRecorder::start(Store::open_in_dir(data_dir)?).map_err(StartError::UsageWriter)?;
    let listener = TcpListener::bind(address).await.map_err(|source| {
        if source.kind() == std::io::ErrorKind::AddrInUse {
            StartError::AddressInUse { address }
        } else {
            StartError::Bind { address, source }
        }
    })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| StartError::Bind { address, source })?;
    let state = RouterState::new(store, usage.clone())?;
    let (shutdown, shutdown_signal) = oneshot::channel::<()>();
    let service = routes::service(state);
    // Streams are written one small frame at a time: without TCP_NODELAY,
    // Nagle's algorithm holds frames back for tens of milliseconds.
    let listener = listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
    });
    let server = tokio::spawn(async move {
        axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                let _ = shutdown_signal.await;
            })
            .await
    });
    tracing::info!(%local_addr, "gateway listening");
    Ok(RunningGateway {
        local_addr,
        shutdown: Some(shutdown),
        server,
        usage,
    })
}

/// The platform's data directory for Switchyard (e.g. `~/.local/share/switchyard`).
pub fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("dev", "switchyard", "switchyard")
        .map(|dirs| dirs.data_dir().to_owned())
}
