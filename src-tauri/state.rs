//! What the shell keeps while running: where the data lives, where the
//! gateway listens, and the gateway itself once started.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Mutex;

use switchyard_api_types::{GatewayState, Overview};
use switchyard_gateway::RunningGateway;
use switchyard_gateway::settings::{DATA_DIR_ENV, ListenAddress, Settings, endpoint_url};
use switchyard_store::Store;

/// Shared state of the desktop app, managed by Tauri.
pub(crate) struct DesktopState {
    data_dir: PathBuf,
    listen_address: SocketAddr,
    gateway_state: Mutex<GatewayState>,
    /// Read connection for the Overview; `None` if the database could not be opened.
    store: Mutex<Option<Store>>,
    running: Mutex<Option<RunningGateway>>,
}

impl DesktopState {
    /// Works out the data directory and listening address from the
    /// environment and stored settings. Failures become a `Failed` gateway
    /// state shown on the Overview rather than a crash.
    pub(crate) fn from_environment() -> Self {
        let data_dir = std::env::var_os(DATA_DIR_ENV)
            .map(PathBuf::from)
            .or_else(switchyard_gateway::default_data_dir)
            .unwrap_or_else(|| PathBuf::from("switchyard-data"));
        let default_address =
            SocketAddr::from(([127, 0, 0, 1], switchyard_api_types::DEFAULT_PORT));
        let opened = Store::open_in_dir(&data_dir).map_err(|error| error.to_string());
        let resolved = opened.as_ref().map_err(Clone::clone).and_then(|store| {
            let settings = Settings::load(store).map_err(|error| error.to_string())?;
            ListenAddress::from_env()?.resolve(&settings)
        });
        let (listen_address, gateway_state) = match resolved {
            Ok(address) => (address, GatewayState::Starting),
            Err(message) => (default_address, GatewayState::Failed { message }),
        };
        Self {
            data_dir,
            listen_address,
            gateway_state: Mutex::new(gateway_state),
            store: Mutex::new(opened.ok()),
            running: Mutex::new(None),
        }
    }

    /// The `/v1` URL clients should use.
    pub(crate) fn endpoint_url(&self) -> String {
        endpoint_url(self.listen_address)
    }

    /// Starts the gateway unless configuration already failed; records the outcome.
    pub(crate) async fn start_gateway(&self) {
        if !matches!(self.gateway_state(), GatewayState::Starting) {
            return;
        }
        match switchyard_gateway::start(&self.data_dir, self.listen_address).await {
            Ok(gateway) => {
                tracing::info!(address = %gateway.local_addr(), "gateway started");
                *lock(&self.running) = Some(gateway);
                self.set_gateway_state(GatewayState::Running);
            }
            Err(error) => {
                tracing::error!(%error, "gateway did not start");
                self.set_gateway_state(GatewayState::Failed {
                    message: error.to_string(),
                });
            }
        }
    }

    /// Stops the gateway, letting open requests finish and writing usage.
    pub(crate) async fn stop_gateway(&self) {
        let running = lock(&self.running).take();
        if let Some(gateway) = running {
            gateway.shutdown().await;
            self.set_gateway_state(GatewayState::Stopped);
        }
    }

    /// The gateway's lifecycle state.
    pub(crate) fn gateway_state(&self) -> GatewayState {
        lock(&self.gateway_state).clone()
    }

    fn set_gateway_state(&self, state: GatewayState) {
        *lock(&self.gateway_state) = state;
    }

    /// Everything the Overview page shows.
    pub(crate) fn overview(&self) -> Result<Overview, switchyard_store::StoreError> {
        let (providers_total, providers_enabled, requests_served) = match &*lock(&self.store) {
            Some(store) => {
                let providers = store.list_providers()?;
                let enabled = providers.iter().filter(|provider| provider.enabled).count();
                (
                    providers.len() as u64,
                    enabled as u64,
                    store.usage_totals()?.requests,
                )
            }
            None => (0, 0, 0),
        };
        Ok(Overview {
            listen_address: self.listen_address.to_string(),
            endpoint_url: self.endpoint_url(),
            gateway: self.gateway_state(),
            providers_total,
            providers_enabled,
            requests_served,
            data_dir: self.data_dir.display().to_string(),
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
