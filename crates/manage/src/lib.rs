//! Everything a dashboard can do, as one list of operations
//! ([`switchyard_api_types::Operation`]) run by a [`Manager`]. The desktop
//! carries operations in one Tauri command, a server in its HTTP API
//! (`switchyard-dashboard`), the CLI with `--remote` over that API; events
//! for live pages go out through [`Manager::subscribe`]. No Tauri, no HTTP
//! server here.

mod connect;
mod operation;
pub mod password;
pub mod views;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use switchyard_api_types::{CommandError, GatewayState, HostKind, ManageEvent, Overview};
use switchyard_config::settings::endpoint_url;
use switchyard_providers::ProviderTable;
use switchyard_store::Store;
use tokio::sync::{broadcast, mpsc};

pub use views::{ManageResult, store_error};

/// Events kept for slow listeners before the oldest are dropped.
const EVENT_BACKLOG: usize = 256;

/// Runs management operations against one data folder.
pub struct Manager {
    data_dir: PathBuf,
    listen_address: SocketAddr,
    host: HostKind,
    gateway_state: Mutex<GatewayState>,
    /// `None` when the database could not be opened (shown on the Overview).
    store: Mutex<Option<Store>>,
    providers: ProviderTable,
    events: broadcast::Sender<ManageEvent>,
    /// Where a pasted or linked login callback goes while a browser login waits.
    pending_login: Mutex<Option<mpsc::Sender<String>>>,
    started: Instant,
    version: String,
    /// Webhook deliveries under way (a short-lived CLI waits for them).
    deliveries: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// This installation's sync with a hub (opened on first use).
    sync: std::sync::OnceLock<Arc<switchyard_sync::SyncClient>>,
}

/// Who asked for an operation: as the record shows it, and the team
/// member it was (members manage only their own keys and usage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `desktop`, `cli`, `token deploy-bot`, `user alice (browser ...)`.
    pub name: String,
    /// The member asking; `None` for an administrator.
    pub member: Option<String>,
}

impl Actor {
    /// An administrator called `name` in the record.
    pub fn admin(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            member: None,
        }
    }
}

impl Manager {
    /// A manager for `data_dir`, whose gateway listens on `listen_address`;
    /// `store` is its own connection (or why none could be opened).
    pub fn new(
        data_dir: &Path,
        listen_address: SocketAddr,
        host: HostKind,
        store: Result<Store, String>,
        gateway_state: GatewayState,
    ) -> Self {
        let (gateway_state, store) = match store {
            Ok(store) => (gateway_state, Some(store)),
            Err(message) => (GatewayState::Failed { message }, None),
        };
        Self {
            data_dir: data_dir.to_owned(),
            listen_address,
            host,
            gateway_state: Mutex::new(gateway_state),
            store: Mutex::new(store),
            providers: ProviderTable::for_data_dir(data_dir),
            events: broadcast::channel(EVENT_BACKLOG).0,
            pending_login: Mutex::new(None),
            started: Instant::now(),
            version: env!("CARGO_PKG_VERSION").into(),
            deliveries: Mutex::new(Vec::new()),
            sync: std::sync::OnceLock::new(),
        }
    }

    /// This installation's sync with a hub: one per manager, with its own
    /// database connection. `serve` and the desktop spawn its background task.
    pub fn sync_client(&self) -> ManageResult<Arc<switchyard_sync::SyncClient>> {
        if let Some(client) = self.sync.get() {
            return Ok(Arc::clone(client));
        }
        let client =
            switchyard_sync::SyncClient::open(&self.data_dir).map_err(|error| CommandError {
                kind: "storage".into(),
                message: error.to_string(),
            })?;
        Ok(Arc::clone(self.sync.get_or_init(|| client)))
    }

    /// Sends `event` to the webhooks in the background.
    pub(crate) fn deliver(&self, event: switchyard_gateway::webhooks::WebhookEvent) {
        let handle = tokio::spawn(switchyard_gateway::webhooks::deliver(
            self.data_dir.clone(),
            event,
        ));
        let mut deliveries = lock(&self.deliveries);
        deliveries.retain(|delivery| !delivery.is_finished());
        deliveries.push(handle);
    }

    /// Waits for the webhook deliveries under way (at most `limit`).
    pub async fn finish_deliveries(&self, limit: std::time::Duration) {
        let pending: Vec<_> = std::mem::take(&mut *lock(&self.deliveries));
        let _ = tokio::time::timeout(limit, futures_join(pending)).await;
    }

    /// The version the Overview and `/health` report (the binary's).
    pub fn with_version(mut self, version: &str) -> Self {
        self.version = version.into();
        self
    }

    /// The version reported.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The data folder.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Where the gateway listens.
    pub fn listen_address(&self) -> SocketAddr {
        self.listen_address
    }

    /// The `/v1` URL clients use.
    pub fn endpoint_url(&self) -> String {
        endpoint_url(self.listen_address)
    }

    /// Seconds since this manager started.
    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// The subscription services, with `endpoints.json` overrides.
    pub fn providers(&self) -> &ProviderTable {
        &self.providers
    }

    /// The gateway's lifecycle state.
    pub fn gateway_state(&self) -> GatewayState {
        lock(&self.gateway_state).clone()
    }

    /// Records the gateway's lifecycle state.
    pub fn set_gateway_state(&self, state: GatewayState) {
        *lock(&self.gateway_state) = state;
    }

    /// Runs `read` against the store, or fails if it could not be opened.
    pub fn with_store<T>(&self, read: impl FnOnce(&Store) -> ManageResult<T>) -> ManageResult<T> {
        match &*lock(&self.store) {
            Some(store) => read(store),
            None => Err(no_database()),
        }
    }

    /// Runs `write` against the store, or fails if it could not be opened.
    pub fn with_store_mut<T>(
        &self,
        write: impl FnOnce(&mut Store) -> ManageResult<T>,
    ) -> ManageResult<T> {
        match &mut *lock(&self.store) {
            Some(store) => write(store),
            None => Err(no_database()),
        }
    }

    /// Receives every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<ManageEvent> {
        self.events.subscribe()
    }

    /// Publishes an event to every dashboard.
    pub fn publish(&self, name: &str, payload: impl Serialize) {
        let payload = serde_json::to_value(payload).unwrap_or(serde_json::Value::Null);
        // No listener is not an error.
        let _ = self.events.send(ManageEvent {
            name: name.to_owned(),
            payload,
        });
    }

    /// Remembers where to send a login callback.
    pub(crate) fn set_pending_login(&self, sender: mpsc::Sender<String>) {
        *lock(&self.pending_login) = Some(sender);
    }

    /// Forgets the waiting login.
    pub(crate) fn clear_pending_login(&self) {
        *lock(&self.pending_login) = None;
    }

    /// Hands a login callback (`code`, `state`) to the waiting login;
    /// false when no login waits.
    pub fn deliver_login_callback(&self, code: &str, state: &str) -> bool {
        let query = format!(
            "?code={}&state={}",
            url::form_urlencoded::byte_serialize(code.as_bytes()).collect::<String>(),
            url::form_urlencoded::byte_serialize(state.as_bytes()).collect::<String>()
        );
        lock(&self.pending_login)
            .as_ref()
            .is_some_and(|sender| sender.try_send(query).is_ok())
    }

    /// Everything the Overview page shows.
    pub fn overview(&self) -> ManageResult<Overview> {
        let (providers_total, providers_enabled, requests_served) = match &*lock(&self.store) {
            Some(store) => {
                let providers = store.list_providers().map_err(store_error)?;
                let enabled = providers.iter().filter(|provider| provider.enabled).count();
                (
                    providers.len() as u64,
                    enabled as u64,
                    store.usage_totals().map_err(store_error)?.requests,
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
            host: self.host,
            version: self.version.clone(),
        })
    }
}

async fn futures_join(handles: Vec<tokio::task::JoinHandle<()>>) {
    for handle in handles {
        let _ = handle.await;
    }
}

fn no_database() -> CommandError {
    CommandError {
        kind: "storage".into(),
        message: "the database could not be opened; see the Overview".into(),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
