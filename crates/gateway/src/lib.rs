//! Switchyard's gateway core: the HTTP server clients talk to, routing each
//! request to a provider connection, and recording what happened.
//!
//! Architecture invariant: this crate knows nothing of Tauri or any GUI. The
//! desktop shell and the headless `switchyard` binary both start it through
//! [`start`] and stop it through [`RunningGateway::shutdown`].

mod auth;
mod commits;
mod credentials;
mod error;
mod extract;
mod guard;
mod health;
mod key_limits;
mod metrics;
pub mod quota;
mod request_log;
mod routes;
pub mod routing;
mod server;
mod transport;
mod upload;
mod upstream;
mod usage;
pub mod webhooks;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchyard_store::{
    Cooldown, QuotaMetric, ReportedQuota, ServiceQuota, Store, StoreError, now_millis,
};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use credentials::{LeaseAnswer, LeaseFuture, RefreshCoordinator};
pub use error::ApiError;
pub use routes::router;
pub use switchyard_config::{ListenAddress, Settings};
pub use switchyard_protocol::Dialect;
pub use transport::UpstreamError;
pub use usage::UsageRecorder;

use health::Health;
use routing::{Candidate, Plan, Planner, RoutingConfig};
use switchyard_providers::ProviderTable;

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
    HttpClient(#[from] transport::UpstreamError),
    /// A serving thread or its runtime could not be started.
    #[error("cannot start the gateway's threads: {0}")]
    Server(std::io::Error),
    /// The TLS certificate or key could not be used.
    #[error("TLS: {0}")]
    Tls(String),
}

/// The handlers' database connection and the routing configuration read
/// through it, kept until the database changes.
struct StoreCell {
    store: Store,
    config: Arc<RoutingConfig>,
    /// SQLite's `data_version` when `config` was read.
    version: i64,
    /// This connection wrote something routing reads (a cooldown).
    stale: bool,
}

/// Shared state of the running gateway, cloned into every handler (one
/// reference count: axum clones it several times per request).
#[derive(Clone)]
pub struct RouterState(Arc<StateParts>);

/// What [`RouterState`] shares.
#[derive(Clone)]
pub struct StateParts {
    /// Connection used by request handlers for short reads and rare writes.
    store: Arc<Mutex<StoreCell>>,
    /// Sends chat requests; a pool of connections per serving thread (see
    /// [`server`]).
    upstream: transport::Upstream,
    /// Queue to the usage writer.
    usage: UsageRecorder,
    /// Circuit breakers and rotation counters.
    health: Arc<Health>,
    /// What providers last reported about each account's limits.
    reported: Arc<Mutex<HashMap<(i64, QuotaMetric), ReportedQuota>>>,
    /// The subscription services with the endpoint overrides of the data
    /// directory's `endpoints.json` (read at start).
    providers: Arc<ProviderTable>,
    /// Refresh locks and exchanged tokens.
    credential_cache: Arc<credentials::CredentialCache>,
    /// Quota-limited accounts' use of their current windows.
    window_counts: Arc<quota::WindowCounts>,
    /// API keys' spending per budget window and use of the last minute.
    key_limits: Arc<key_limits::KeyLimits>,
    /// What `/metrics` reports.
    metrics: Arc<metrics::Metrics>,
    /// Where events for webhooks go (nowhere until started).
    webhooks: webhooks::Dispatcher,
    /// Quota windows already announced as nearly used (account, window, reset).
    quota_announced: Arc<Mutex<std::collections::HashSet<(i64, String, i64)>>>,
    /// When the gateway started, for `/health`.
    started: std::time::Instant,
    /// The version `/health` reports.
    version: Arc<str>,
    /// Who else must agree before an account's tokens are refreshed (a
    /// sync hub), besides the database's lease.
    refresh_coordinator: Option<Arc<dyn credentials::RefreshCoordinator>>,
}

impl std::ops::Deref for RouterState {
    type Target = StateParts;

    fn deref(&self) -> &StateParts {
        &self.0
    }
}

impl RouterState {
    /// Builds the state around an open store and a usage recorder.
    pub fn new(
        store: Store,
        usage: UsageRecorder,
        providers: ProviderTable,
    ) -> Result<Self, StartError> {
        let config = RoutingConfig::load(&store, &providers)?;
        let upstream = transport::Upstream::new(&config.settings)?;
        let reported = store
            .list_reported_quotas()?
            .into_iter()
            .map(|report| ((report.account_id, report.metric), report))
            .collect();
        let version = store.data_version()?;
        Ok(Self(Arc::new(StateParts {
            providers: Arc::new(providers),
            credential_cache: Arc::default(),
            window_counts: Arc::new(quota::WindowCounts::new(
                store.dialect() == switchyard_store::db::Dialect::Postgres,
            )),
            key_limits: Arc::new(key_limits::KeyLimits::new(
                store.dialect() == switchyard_store::db::Dialect::Postgres,
            )),
            metrics: Arc::default(),
            webhooks: webhooks::Dispatcher::default(),
            quota_announced: Arc::default(),
            store: Arc::new(Mutex::new(StoreCell {
                store,
                config: Arc::new(config),
                version,
                stale: false,
            })),
            upstream,
            usage,
            health: Arc::default(),
            reported: Arc::new(Mutex::new(reported)),
            started: std::time::Instant::now(),
            version: Arc::from(env!("CARGO_PKG_VERSION")),
            refresh_coordinator: None,
        })))
    }

    /// The same state asking `coordinator` too before refreshing tokens.
    fn with_refresh_coordinator(&self, coordinator: Arc<dyn RefreshCoordinator>) -> Self {
        Self(Arc::new(StateParts {
            refresh_coordinator: Some(coordinator),
            ..StateParts::clone(&self.0)
        }))
    }

    /// The same state sending events to the webhooks of `data_dir`.
    fn with_webhooks(&self, data_dir: &Path) -> Self {
        Self(Arc::new(StateParts {
            webhooks: webhooks::Dispatcher::start(data_dir),
            ..StateParts::clone(&self.0)
        }))
    }

    /// Queues an event for the webhooks.
    pub(crate) fn emit(&self, event: webhooks::WebhookEvent) {
        self.webhooks.emit(event);
    }

    /// The same state reporting `version` in `/health`.
    fn with_version(&self, version: String) -> Self {
        Self(Arc::new(StateParts {
            version: Arc::from(version),
            ..StateParts::clone(&self.0)
        }))
    }

    /// The same state with a pool of connections to providers of its own.
    fn with_own_connections(&self) -> Self {
        Self(Arc::new(StateParts {
            upstream: self.upstream.for_another_thread(),
            ..StateParts::clone(&self.0)
        }))
    }

    /// The HTTP client for requests to providers other than chat requests
    /// (logins, token refreshes, quotas, model lists).
    fn http(&self) -> &reqwest::Client {
        self.upstream.reqwest()
    }

    fn cell(&self) -> std::sync::MutexGuard<'_, StoreCell> {
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `read` against the store. Handlers only do short reads here.
    fn with_store<T>(&self, read: impl FnOnce(&Store) -> T) -> T {
        read(&self.cell().store)
    }

    /// Runs a write against the store and marks the routing snapshot stale.
    fn with_store_mut<T>(&self, write: impl FnOnce(&Store) -> T) -> T {
        let mut cell = self.cell();
        let result = write(&cell.store);
        cell.stale = true;
        result
    }

    /// The routing configuration, read again if the database changed since.
    fn config(&self) -> Result<Arc<RoutingConfig>, ApiError> {
        let mut cell = self.cell();
        // One read of the WAL-index header when nobody committed since (see
        // `commits`); SQLite is asked only when someone may have.
        let commits = self.usage.commits();
        let header = commits.header();
        if !cell.stale && commits.unchanged(header.as_ref()) {
            return Ok(Arc::clone(&cell.config));
        }
        let version = cell.store.data_version().map_err(database_error)?;
        if (version != cell.version || cell.stale) && cell.store.reachable() {
            match RoutingConfig::load(&cell.store, &self.providers) {
                Ok(config) => {
                    cell.config = Arc::new(config);
                    cell.version = version;
                    cell.stale = false;
                }
                // A replica that lost its database serves from its snapshot
                // and reads again once the database answers.
                Err(error) if error.is_unreachable() => {
                    tracing::warn!(%error, "cannot reach the database: serving from the last snapshot");
                    return Ok(Arc::clone(&cell.config));
                }
                Err(error) => return Err(database_error(error)),
            }
        }
        commits.confirm(header);
        Ok(Arc::clone(&cell.config))
    }

    /// Admits a request made with `policy`'s key under its budgets and
    /// rate limits.
    fn admit_key(&self, policy: &switchyard_store::KeyPolicy) -> Result<(), ApiError> {
        self.key_limits.admit(
            policy,
            now_millis(),
            |since| self.with_store(|store| store.key_cost_since(policy.id, since)),
            |since| self.with_store(|store| store.key_use_since(policy.id, since)),
            &|event| self.emit(event),
        )
    }

    /// Plans where a request for `model` may go.
    fn plan(&self, config: &RoutingConfig, model: &str) -> Result<Plan, ApiError> {
        let reported = self
            .reported
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let window_usage = |limit: &switchyard_store::QuotaLimit, now: i64| {
            let since = quota::window_start(limit.window, now);
            self.window_counts
                .get_or_load(limit.account_id, since, || {
                    self.with_store(|store| store.account_usage_since(limit.account_id, since))
                })
                .inspect_err(|error| tracing::warn!(%error, "cannot count quota usage"))
                .ok()
                .map(|count| quota::WindowStanding::of(limit, &count, now))
        };
        Planner {
            config,
            health: &self.health,
            reported: &reported,
            window_usage: &window_usage,
        }
        .plan(model)
    }

    /// Notes that `provider` answered; its breaker, if open, closes.
    fn provider_is_up(&self, provider: &switchyard_store::Provider) {
        if self.health.provider_answered(provider.id) {
            tracing::info!(provider = %provider.name, "circuit breaker closed");
            self.emit(webhooks::WebhookEvent::new(
                "breaker_closed",
                format!("{} answers again", provider.name),
                serde_json::json!({"provider": provider.name, "prefix": provider.prefix}),
            ));
        }
    }

    /// Learns from a failed attempt: cools the account (or one of its models)
    /// down, or counts the failure against the provider's breaker.
    fn learn_failure(
        &self,
        config: &RoutingConfig,
        candidate: &Candidate,
        failure: health::Failure,
        provider_says: Option<Duration>,
        status: u16,
        body: &str,
    ) {
        let provider = &candidate.provider.provider;
        if failure.trips_breaker() {
            if self.health.provider_failed(provider.id, &config.settings) {
                tracing::warn!(provider = %provider.name, "circuit breaker opened");
                self.emit(webhooks::WebhookEvent::new(
                    "breaker_opened",
                    format!("{} keeps failing: requests skip it for now", provider.name),
                    serde_json::json!({"provider": provider.name, "prefix": provider.prefix}),
                ));
            }
            return;
        }
        self.provider_is_up(provider);
        // An error about one model locks out that model only.
        let model = if health::mentions_model(body, &candidate.upstream_model) {
            candidate.upstream_model.as_str()
        } else {
            ""
        };
        let previous = config.cooldown(candidate.account.id, model);
        let Some((wait, failures)) =
            health::next_cooldown(failure, previous, provider_says, &config.settings)
        else {
            return;
        };
        let cooldown = Cooldown {
            account_id: candidate.account.id,
            model: model.to_owned(),
            until: now_millis() + wait.as_millis() as i64,
            failures,
            status,
            reason: failure.describe().to_owned(),
        };
        tracing::info!(
            provider = %provider.name,
            account = %candidate.account.label,
            model,
            seconds = wait.as_secs(),
            failures,
            "account cooling down"
        );
        // In the routing snapshot at once; stored by the usage writer.
        self.usage
            .change_cooldown(usage::CooldownChange::Set(cooldown.clone()));
        let mut cell = self.cell();
        cell.config = Arc::new(cell.config.with_cooldown(cooldown));
    }

    /// Learns from an answer: the provider is up, and an account that was
    /// cooling down (this was its probe) is well again.
    fn learn_success(&self, config: &RoutingConfig, candidate: &Candidate) {
        self.provider_is_up(&candidate.provider.provider);
        for model in ["", candidate.upstream_model.as_str()] {
            if config.cooldown(candidate.account.id, model).is_some() {
                self.usage.change_cooldown(usage::CooldownChange::End {
                    account_id: candidate.account.id,
                    model: model.to_owned(),
                });
                let mut cell = self.cell();
                let config = cell.config.without_cooldown(candidate.account.id, model);
                cell.config = Arc::new(config);
            }
        }
    }

    /// Keeps what a provider's headers said about an account's limits.
    fn note_reported_quotas(&self, reports: &[ReportedQuota]) {
        let mut reported = self
            .reported
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for report in reports {
            reported.insert((report.account_id, report.metric), report.clone());
        }
    }
}

/// What account maintenance did for one subscription account.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AccountCheck {
    /// `provider/label`.
    pub account: String,
    /// Usage windows read, or why none could be.
    pub windows: Result<Vec<ServiceQuota>, String>,
}

impl RouterState {
    /// Refreshes the tokens of subscription accounts that are due and reads
    /// each service's usage windows into the database.
    pub async fn maintain_accounts(&self) -> Vec<AccountCheck> {
        let Ok(config) = self.config() else {
            return Vec::new();
        };
        let mut checks = Vec::new();
        for entry in config.providers.values() {
            let Some(subscription) = &entry.subscription else {
                continue;
            };
            for account in entry
                .accounts
                .iter()
                .filter(|a| a.enabled && !a.needs_login)
            {
                let candidate = Candidate {
                    target: String::new(),
                    upstream_model: String::new(),
                    provider: Arc::clone(entry),
                    account: account.clone(),
                    probe: false,
                    price: None,
                };
                let windows = match self.credentials(&candidate, false).await {
                    Err(error) => Err(error.message),
                    Ok(credentials) => {
                        let account = self
                            .with_store(|store| store.account(account.id))
                            .unwrap_or_else(|_| account.clone());
                        let read = self
                            .read_quota(subscription, &entry.provider, &account, &credentials.token)
                            .await;
                        if let Ok(windows) = &read {
                            let _ = self.with_store_mut(|store| {
                                store.set_service_quotas(account.id, windows)
                            });
                        }
                        read
                    }
                };
                checks.push(AccountCheck {
                    account: format!("{}/{}", entry.provider.name, account.label),
                    windows,
                });
            }
        }
        checks
    }
}

impl RouterState {
    /// The account's usage windows as its service reports them (none when
    /// the service has no usage endpoint).
    async fn read_quota(
        &self,
        subscription: &switchyard_providers::Subscription,
        provider: &switchyard_store::Provider,
        account: &switchyard_store::Account,
        token: &str,
    ) -> Result<Vec<ServiceQuota>, String> {
        let service = &subscription.service;
        let request = subscription
            .api
            .quota_request(self.http(), service, account, token)?;
        let Some(request) = request else {
            return Ok(Vec::new());
        };
        let response = request
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|_| format!("cannot reach {}'s usage endpoint", service.name))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!(
                "{}'s usage endpoint answered {status}",
                service.name
            ));
        }
        let body: serde_json::Value = switchyard_providers::side_call::side_json(response)
            .await
            .ok_or_else(|| format!("{}'s usage endpoint sent no JSON", service.name))?;
        let models = subscription.api.models_in_quota(&body);
        if !models.is_empty() && models != provider.models {
            let _ =
                self.with_store_mut(|store| store.set_provider_models(&provider.prefix, &models));
        }
        Ok(subscription.api.read_quota(account.id, &body))
    }
}

impl RouterState {
    /// Emits `quota_nearly_used` for each window 90% used, once per window.
    fn announce_quotas(&self, account: &str, windows: &[switchyard_store::ServiceQuota]) {
        for window in windows.iter().filter(|window| window.used_percent >= 90.0) {
            let key = (
                window.account_id,
                window.window.clone(),
                window.resets_at.unwrap_or(0),
            );
            let first = self
                .quota_announced
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(key);
            if first {
                self.emit(webhooks::WebhookEvent::new(
                    "quota_nearly_used",
                    format!(
                        "{account}: its {} window is {:.0}% used",
                        window.window, window.used_percent
                    ),
                    serde_json::json!({
                        "account": account, "window": window.window,
                        "used_percent": window.used_percent, "resets_at": window.resets_at,
                    }),
                ));
            }
        }
    }
}

/// Runs account maintenance once against the database in `data_dir` (what
/// `switchyard quota --refresh` does; a running gateway does it every few
/// minutes).
pub async fn maintain_accounts(data_dir: &Path) -> Result<Vec<AccountCheck>, StartError> {
    let store = Store::open_in_dir(data_dir)?;
    let usage =
        UsageRecorder::start(Store::open_in_dir(data_dir)?).map_err(StartError::UsageWriter)?;
    let state = RouterState::new(store, usage, ProviderTable::for_data_dir(data_dir))?;
    Ok(state.maintain_accounts().await)
}

/// How often a running gateway refreshes tokens and reads usage windows.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(5 * 60);

fn database_error(error: StoreError) -> ApiError {
    tracing::error!(%error, "cannot read the database");
    ApiError::internal("the gateway could not read its database")
}

/// A gateway that is accepting requests.
pub struct RunningGateway {
    local_addr: SocketAddr,
    server: server::Server,
    usage: UsageRecorder,
    maintenance: JoinHandle<()>,
}

impl RunningGateway {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections, lets open requests finish, and writes all
    /// pending usage records before returning.
    pub async fn shutdown(mut self) {
        self.maintenance.abort();
        if let Err(error) = self.server.shutdown().await {
            tracing::warn!(%error, "gateway server ended with an error");
        }
        let usage = self.usage.clone();
        let _ = tokio::task::spawn_blocking(move || usage.flush()).await;
    }

    /// Requests recorded since start; changes each time a batch is stored.
    pub fn recorded(&self) -> tokio::sync::watch::Receiver<u64> {
        self.usage.written()
    }

    /// Waits until every usage record queued so far is written.
    pub async fn flush_usage(&self) {
        let usage = self.usage.clone();
        let _ = tokio::task::spawn_blocking(move || usage.flush()).await;
    }

    /// Waits until the server ends on its own (it only ends after [`Self::shutdown`]
    /// or a fatal accept error).
    pub async fn wait(&mut self) -> std::io::Result<()> {
        self.server.wait().await
    }
}

/// Opens the database in `data_dir`, binds `address` and serves in the background.
pub async fn start(data_dir: &Path, address: SocketAddr) -> Result<RunningGateway, StartError> {
    start_with(data_dir, address, ProviderTable::for_data_dir(data_dir)).await
}

/// [`start`] with the subscription services of `providers` (a test's, or
/// the built-in ones with more added).
pub async fn start_with(
    data_dir: &Path,
    address: SocketAddr,
    providers: ProviderTable,
) -> Result<RunningGateway, StartError> {
    start_serving(data_dir, address, providers, Serving::default()).await
}

/// What a gateway serves besides `/v1`, and how.
#[derive(Default)]
pub struct Serving {
    /// Routes served beside the gateway's own (the dashboard), behind the
    /// same `Host` and `Origin` checks.
    pub extra_routes: Option<axum::Router>,
    /// The version `/health` reports.
    pub version: Option<String>,
    /// Serve HTTPS with this certificate chain and key.
    pub tls: Option<TlsFiles>,
    /// Asked before an account's tokens are refreshed (sync's hub lease).
    pub refresh_coordinator: Option<Arc<dyn RefreshCoordinator>>,
}

/// A PEM certificate chain and its private key.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl TlsFiles {
    /// Reads the files into a rustls acceptor offering HTTP/2 and HTTP/1.1.
    fn acceptor(&self) -> Result<tokio_rustls::TlsAcceptor, StartError> {
        use tokio_rustls::rustls;
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let failed = |message: String| StartError::Tls(message);
        let certs = CertificateDer::pem_file_iter(&self.cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|error| {
                failed(format!(
                    "cannot read certificates from {}: {error}",
                    self.cert.display()
                ))
            })?;
        if certs.is_empty() {
            return Err(failed(format!(
                "{} holds no certificate",
                self.cert.display()
            )));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|error| {
            failed(format!(
                "cannot read a private key from {}: {error}",
                self.key.display()
            ))
        })?;
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|error| failed(error.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|error| failed(format!("the certificate and key do not fit: {error}")))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

/// [`start_with`], also serving `serving`'s routes, over TLS if given.
pub async fn start_serving(
    data_dir: &Path,
    address: SocketAddr,
    providers: ProviderTable,
    serving: Serving,
) -> Result<RunningGateway, StartError> {
    let tls = serving.tls.as_ref().map(TlsFiles::acceptor).transpose()?;
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
    let mut state = RouterState::new(store, usage.clone(), providers)?.with_webhooks(data_dir);
    if let Some(version) = serving.version {
        state = state.with_version(version);
    }
    if let Some(coordinator) = serving.refresh_coordinator {
        state = state.with_refresh_coordinator(coordinator);
    }
    let listener = listener
        .into_std()
        .map_err(|source| StartError::Bind { address, source })?;
    let extras = server::Extras {
        routes: serving.extra_routes,
        tls,
    };
    let server = server::Server::start(listener, &state, &extras)?;
    let maintained = state;
    let maintenance = tokio::spawn(async move {
        loop {
            tokio::time::sleep(MAINTENANCE_EVERY).await;
            for check in maintained.maintain_accounts().await {
                match &check.windows {
                    Err(reason) => {
                        tracing::warn!(account = %check.account, %reason, "account check failed");
                    }
                    Ok(windows) => maintained.announce_quotas(&check.account, windows),
                }
            }
        }
    });
    tracing::info!(%local_addr, "gateway listening");
    Ok(RunningGateway {
        local_addr,
        server,
        usage,
        maintenance,
    })
}

/// The platform's data directory for Switchyard (e.g. `~/.local/share/switchyard`).
pub fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("dev", "switchyard", "switchyard")
        .map(|dirs| dirs.data_dir().to_owned())
}
