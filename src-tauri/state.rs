//! What the shell keeps while running: where the data lives, where the
//! gateway listens, and the gateway itself once started.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use switchyard_api_types::{GatewayState, HostKind, LinkView};
use switchyard_config::settings::{DATA_DIR_ENV, ListenAddress, Settings};
use switchyard_gateway::RunningGateway;
use switchyard_gateway::quota::{WindowStanding, window_start};
use switchyard_manage::{Manager, store_error};
use switchyard_store::{QuotaWindow, Store, StoreError, UsageQuery, now_millis};

use crate::tray_model::{TrayAccount, TraySnapshot, time_until};

/// Shared state of the desktop app, managed by Tauri.
pub(crate) struct DesktopState {
    /// The management operations, the store and the gateway's state.
    manager: Arc<Manager>,
    running: Mutex<Option<RunningGateway>>,
    /// Links the dashboard has not taken yet.
    pending_links: Mutex<Vec<LinkView>>,
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
        let manager = Manager::new(
            &data_dir,
            listen_address,
            HostKind::Desktop,
            opened,
            gateway_state,
        )
        .with_version(env!("CARGO_PKG_VERSION"));
        Self {
            manager: Arc::new(manager),
            running: Mutex::new(None),
            pending_links: Mutex::new(Vec::new()),
        }
    }

    /// The management operations.
    pub(crate) fn manager(&self) -> &Arc<Manager> {
        &self.manager
    }

    /// The data directory.
    pub(crate) fn data_dir(&self) -> &std::path::Path {
        self.manager.data_dir()
    }

    /// Runs `read` against the store, or fails if it could not be opened.
    pub(crate) fn with_store<T>(
        &self,
        read: impl FnOnce(&Store) -> Result<T, switchyard_api_types::CommandError>,
    ) -> Result<T, switchyard_api_types::CommandError> {
        self.manager.with_store(read)
    }

    /// Hands a login callback (`code`, `state`) to the waiting login;
    /// false when no login waits.
    pub(crate) fn deliver_login_callback(&self, code: &str, state: &str) -> bool {
        self.manager.deliver_login_callback(code, state)
    }

    /// Keeps a validated link for the dashboard.
    pub(crate) fn queue_link(&self, link: LinkView) {
        lock(&self.pending_links).push(link);
    }

    /// The links not yet handled, each given out once.
    pub(crate) fn take_links(&self) -> Vec<LinkView> {
        std::mem::take(&mut *lock(&self.pending_links))
    }

    /// The `/v1` URL clients should use.
    pub(crate) fn endpoint_url(&self) -> String {
        self.manager.endpoint_url()
    }

    /// Starts the gateway unless configuration already failed; records the outcome.
    pub(crate) async fn start_gateway(&self) {
        if !matches!(self.gateway_state(), GatewayState::Starting) {
            return;
        }
        // A device linked to a hub asks it before refreshing an account's
        // tokens (the same account may live on the user's other devices).
        let coordinator = self.manager.sync_client().ok().map(|sync| {
            sync.spawn();
            std::sync::Arc::new(switchyard_sync::HubLease(sync))
                as std::sync::Arc<dyn switchyard_gateway::RefreshCoordinator>
        });
        let started = switchyard_gateway::start_serving(
            self.manager.data_dir(),
            self.manager.listen_address(),
            switchyard_providers::ProviderTable::for_data_dir(self.manager.data_dir()),
            switchyard_gateway::Serving {
                refresh_coordinator: coordinator,
                ..switchyard_gateway::Serving::default()
            },
        )
        .await;
        match started {
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

    /// Requests recorded by the running gateway (a counter that changes as
    /// they are stored), or `None` while it is not running.
    pub(crate) fn recorded(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        lock(&self.running).as_ref().map(RunningGateway::recorded)
    }

    /// Stops the gateway, letting open requests (streams included) finish
    /// for up to ten seconds, and writes usage.
    pub(crate) async fn stop_gateway(&self) {
        let running = lock(&self.running).take();
        if let Some(gateway) = running {
            if tokio::time::timeout(QUIT_DRAIN_LIMIT, gateway.shutdown())
                .await
                .is_err()
            {
                tracing::warn!("open requests did not finish in time; stopping anyway");
            }
            self.set_gateway_state(GatewayState::Stopped);
        }
    }

    /// Pauses a running gateway, or starts a paused or failed one again.
    pub(crate) async fn pause_or_resume(&self) {
        match self.gateway_state() {
            GatewayState::Running => self.stop_gateway().await,
            GatewayState::Stopped | GatewayState::Failed { .. } => {
                self.set_gateway_state(GatewayState::Starting);
                self.start_gateway().await;
            }
            GatewayState::Starting => {}
        }
    }

    /// Enables a disabled account or disables an enabled one.
    pub(crate) fn toggle_account(&self, id: i64) -> Result<(), StoreError> {
        self.with_store(|store| {
            let account = store.account(id).map_err(store_error)?;
            store
                .set_account_enabled(id, !account.enabled)
                .map(|_| ())
                .map_err(store_error)
        })
        .map_err(|error| StoreError::NotFound(error.message))
    }

    /// Makes `combo` the default for unknown model names, or clears the
    /// default if it already is.
    pub(crate) fn toggle_default_combo(&self, combo: &str) -> Result<(), StoreError> {
        self.with_store(|store| {
            if store
                .setting("default_model")
                .map_err(store_error)?
                .as_deref()
                == Some(combo)
            {
                store
                    .unset_setting("default_model")
                    .map(|_| ())
                    .map_err(store_error)
            } else {
                store
                    .set_setting("default_model", combo)
                    .map_err(store_error)
            }
        })
        .map_err(|error| StoreError::NotFound(error.message))
    }

    /// Whether a kind of notification is on (the default).
    pub(crate) fn notice_enabled(&self, kind: Notice) -> bool {
        let stored = self
            .with_store(|store| store.setting(kind.setting()).map_err(store_error))
            .ok()
            .flatten();
        !matches!(stored.as_deref(), Some("false"))
    }

    /// Whether the periodic update check is on (the default).
    pub(crate) fn update_checks_enabled(&self) -> bool {
        self.flag_setting("check_updates", true)
    }

    /// Whether the dashboard stays loaded while its window is closed
    /// (off by default: the webview is dropped to save memory).
    pub(crate) fn keep_window_loaded(&self) -> bool {
        self.flag_setting("keep_window_loaded", false)
    }

    fn flag_setting(&self, name: &str, default: bool) -> bool {
        let stored = self
            .with_store(|store| store.setting(name).map_err(store_error))
            .ok()
            .flatten();
        match stored.as_deref() {
            Some("true") => true,
            Some("false") => false,
            _ => default,
        }
    }

    /// What the tray shows now.
    pub(crate) fn tray_snapshot(&self, launch_at_login: Option<bool>) -> TraySnapshot {
        let mut snapshot = TraySnapshot {
            endpoint_url: self.endpoint_url(),
            gateway: self.gateway_state(),
            requests_today: 0,
            cost_today_usd: 0.0,
            accounts: Vec::new(),
            combos: Vec::new(),
            default_model: None,
            launch_at_login,
            update_available: None,
            update_note: None,
            sync: None,
        };
        snapshot.sync = self
            .manager
            .sync_client()
            .ok()
            .and_then(|sync| sync.status().ok())
            .filter(|status| status.linked)
            .map(|status| crate::tray_model::TraySync {
                state: status.state,
                last_sync: status.last_sync_at.map(clock_time),
                open_conflicts: status.open_conflicts,
            });
        let filled =
            self.with_store(|store| fill_snapshot(store, &mut snapshot).map_err(store_error));
        if let Err(error) = filled {
            tracing::warn!(error = %error.message, "cannot read the state for the tray");
        }
        snapshot
    }

    /// The gateway's lifecycle state.
    pub(crate) fn gateway_state(&self) -> GatewayState {
        self.manager.gateway_state()
    }

    fn set_gateway_state(&self, state: GatewayState) {
        self.manager.set_gateway_state(state);
    }
}

/// How long Quit waits for open requests.
const QUIT_DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

fn fill_snapshot(store: &Store, snapshot: &mut TraySnapshot) -> Result<(), StoreError> {
    let now = now_millis();
    let today = store.usage_report(&UsageQuery {
        from: Some(window_start(QuotaWindow::Day, now)),
        ..UsageQuery::default()
    })?;
    if let Some(totals) = today.first() {
        snapshot.requests_today = totals.requests;
        snapshot.cost_today_usd = totals.cost_usd;
    }
    snapshot.default_model = store.setting("default_model")?;
    snapshot.combos = store
        .list_combos()?
        .into_iter()
        .map(|combo| combo.name)
        .collect();
    let providers = store.list_providers()?;
    let cooldowns = store.list_cooldowns()?;
    let service_quotas = store.list_service_quotas()?;
    let limits = store.list_quota_limits()?;
    for account in store.list_accounts()? {
        let provider = providers
            .iter()
            .find(|p| p.id == account.provider_id)
            .map_or("?", |p| p.name.as_str());
        let cooling = cooldowns
            .iter()
            .filter(|c| c.account_id == account.id && c.until > now)
            .max_by_key(|c| c.until);
        let status = if !account.enabled {
            "off".to_owned()
        } else if account.needs_login {
            "needs re-login".to_owned()
        } else if let Some(cooldown) = cooling {
            format!(
                "cooling down until {}, {}",
                clock_time(cooldown.until),
                cooldown.reason
            )
        } else {
            "ok".to_owned()
        };
        let mut quotas = Vec::new();
        let mut alert = None;
        for quota in service_quotas.iter().filter(|q| q.account_id == account.id) {
            let resets = quota.resets_at.map_or(String::new(), |at| {
                format!(", resets {}", time_until(at, now))
            });
            quotas.push(format!(
                "{} {:.0}% used{resets}",
                quota.window, quota.used_percent
            ));
            if quota.used_percent >= 90.0 {
                alert = Some(format!(
                    "{} window {:.0}% used",
                    quota.window, quota.used_percent
                ));
            }
        }
        for limit in limits.iter().filter(|l| l.account_id == account.id) {
            let count = store.account_usage_since(account.id, window_start(limit.window, now))?;
            let standing = WindowStanding::of(limit, &count, now);
            quotas.push(format!(
                "{} {} {} / {}, resets {}",
                limit.window.as_str(),
                limit.metric.as_str(),
                standing.used,
                standing.max,
                time_until(standing.resets_at, now)
            ));
            if standing.max > 0 && standing.used * 10 >= standing.max * 9 {
                alert = Some(format!(
                    "{} {} {} of {} used",
                    limit.window.as_str(),
                    limit.metric.as_str(),
                    standing.used,
                    standing.max
                ));
            }
        }
        snapshot.accounts.push(TrayAccount {
            id: account.id,
            name: format!("{provider}/{}", account.label),
            enabled: account.enabled,
            status,
            quotas,
            quota_alert: alert,
        });
    }
    Ok(())
}

/// `14:05` in the machine's time zone.
fn clock_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|time| {
            time.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The kinds of notification, each with its setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notice {
    /// An account started cooling down: requests fall back to others.
    Fallback,
    /// An account needs the user to log in again.
    Relogin,
    /// A quota window is 90% used.
    Quota,
    /// A `switchyard://` link was refused.
    RefusedLink,
    /// An update is available.
    Update,
    /// Sync: a conflict, or this device revoked by its hub.
    Sync,
}

impl Notice {
    /// The setting that turns this kind off (`false`).
    pub(crate) fn setting(self) -> &'static str {
        match self {
            Self::Fallback => "notify_fallback",
            Self::Relogin => "notify_relogin",
            Self::Quota => "notify_quota",
            Self::RefusedLink => "notify_refused_link",
            Self::Update => "notify_update",
            Self::Sync => "notify_sync",
        }
    }
}
