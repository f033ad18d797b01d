//! The hub's API under `/sync/v1`, served by `switchyard serve` beside
//! `/v1` (behind the same `Host`/`Origin` checks). Devices authenticate
//! with the credential they got by linking (`Authorization: Bearer syd-…`);
//! only `space` and `link` are open, and wrong pairing codes are limited.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use switchyard_store::{PushOutcome, PushedItem, RecordKind, Store, StoreError};

use crate::crypto::E2E_PREFIX;
use crate::wire::{
    BASE_PATH, ConflictItem, ConflictReport, E2eParameters, ErrorAnswer, ErrorBody, LeaseAnswer,
    LeaseRequest, LinkAnswer, LinkRequest, MAX_BODY_BYTES, MAX_ITEMS, PullAnswer, PullItem,
    PushAnswer, PushRequest, PushResult, SpaceAnswer, UsageReport,
};

/// Longest a pull waits for news.
const MAX_WAIT: Duration = Duration::from_secs(25);

/// How long a refresh lease lasts by the hub's clock unless its holder's
/// new tokens arrive first (then it ends at once).
const LEASE_MS: i64 = 45_000;

/// Wrong pairing codes allowed per client address per window before
/// linking pauses for it.
const LINK_FAILURES: usize = 10;

/// Wrong pairing codes allowed from all addresses together per window.
const LINK_FAILURES_IN_ALL: usize = 200;

/// The window of [`LINK_FAILURES`].
const LINK_FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Most bytes of one request to the hub.
const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

/// The hub's state: its own database connection, a wake-up for waiting
/// pulls and the recent wrong pairing codes.
pub struct Hub {
    store: Mutex<Store>,
    changed: tokio::sync::Notify,
    link_failures: Mutex<LinkFailures>,
}

/// Wrong pairing codes lately, per client address and in all.
#[derive(Default)]
struct LinkFailures {
    by_address: std::collections::HashMap<std::net::IpAddr, VecDeque<Instant>>,
    all: VecDeque<Instant>,
}

impl LinkFailures {
    fn prune(times: &mut VecDeque<Instant>) {
        while times
            .front()
            .is_some_and(|at| at.elapsed() > LINK_FAILURE_WINDOW)
        {
            times.pop_front();
        }
    }

    /// Whether `address` may try a code now.
    fn allows(&mut self, address: std::net::IpAddr) -> bool {
        Self::prune(&mut self.all);
        self.by_address.retain(|_, times| {
            Self::prune(times);
            !times.is_empty()
        });
        self.all.len() < LINK_FAILURES_IN_ALL
            && self
                .by_address
                .get(&address)
                .is_none_or(|times| times.len() < LINK_FAILURES)
    }

    fn record(&mut self, address: std::net::IpAddr) {
        self.all.push_back(Instant::now());
        self.by_address
            .entry(address)
            .or_default()
            .push_back(Instant::now());
    }
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

/// The hub's routes for the installation in `data_dir`.
pub fn router(data_dir: &Path) -> Result<Router, StoreError> {
    let store = Store::open_in_dir(data_dir)?;
    store.sync_space()?;
    let hub = Arc::new(Hub {
        store: Mutex::new(store),
        changed: tokio::sync::Notify::new(),
        link_failures: Mutex::new(LinkFailures::default()),
    });
    Ok(Router::new()
        .route(&format!("{BASE_PATH}/space"), get(space))
        .route(&format!("{BASE_PATH}/link"), post(link))
        .route(&format!("{BASE_PATH}/pull"), get(pull))
        .route(&format!("{BASE_PATH}/push"), post(push))
        .route(
            &format!("{BASE_PATH}/conflicts"),
            get(conflicts).post(report_conflict),
        )
        .route(
            &format!("{BASE_PATH}/conflicts/{{id}}/resolve"),
            post(resolve_conflict),
        )
        .route(&format!("{BASE_PATH}/lease"), post(lease))
        .route(&format!("{BASE_PATH}/usage"), post(usage))
        .route(
            &format!("{BASE_PATH}/device"),
            axum::routing::delete(unlink),
        )
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(hub))
}

/// An error answer of the hub's API.
#[derive(Debug)]
struct HubError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl HubError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", message)
    }
}

impl From<StoreError> for HubError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(message) => Self::new(StatusCode::CONFLICT, "conflict", message),
            StoreError::NotFound(message) => Self::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{message} not found"),
            ),
            StoreError::Invalid(message) => Self::invalid(message),
            other => {
                tracing::error!(error = %other, "sync hub: database error");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the hub's database failed; try again",
                )
            }
        }
    }
}

impl From<JsonRejection> for HubError {
    fn from(rejection: JsonRejection) -> Self {
        Self::new(rejection.status(), "invalid", rejection.body_text())
    }
}

impl From<QueryRejection> for HubError {
    fn from(rejection: QueryRejection) -> Self {
        Self::invalid(rejection.body_text())
    }
}

impl IntoResponse for HubError {
    fn into_response(self) -> Response {
        let body = ErrorAnswer {
            error: ErrorBody {
                code: self.code.into(),
                message: self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

type HubResult<T> = Result<Json<T>, HubError>;

impl Hub {
    fn with_store<T>(
        &self,
        run: impl FnOnce(&Store) -> Result<T, StoreError>,
    ) -> Result<T, HubError> {
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        run(&store).map_err(HubError::from)
    }

    /// The device presenting `headers`' credential.
    fn device(&self, headers: &HeaderMap) -> Result<String, HubError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| token.starts_with(switchyard_store::DEVICE_TOKEN_PREFIX))
            .ok_or_else(|| {
                HubError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "send the device credential as 'Authorization: Bearer syd-…'",
                )
            })?;
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        match store.sync_device_by_token(token) {
            Ok(Some(device)) => Ok(device),
            Ok(None) => Err(HubError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this device credential is not known to the hub",
            )),
            Err(StoreError::NotFound(_)) => Err(HubError::new(
                StatusCode::UNAUTHORIZED,
                "device_revoked",
                "this device was revoked by the hub",
            )),
            Err(other) => Err(other.into()),
        }
    }

    fn space_answer(&self) -> Result<SpaceAnswer, HubError> {
        let space = self.with_store(Store::sync_space)?;
        Ok(SpaceAnswer {
            space_id: space.space_id,
            e2e: match (space.e2e_salt, space.e2e_check) {
                (Some(salt), Some(check)) => Some(E2eParameters { salt, check }),
                _ => None,
            },
            empty: space.items == 0,
        })
    }
}

#[derive(Debug, Deserialize)]
struct SpaceQuery {
    code: Option<String>,
}

/// What a device needs before linking: asked with its pairing code (or
/// its credential), so the end-to-end check value is not given to anyone.
async fn space(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<SpaceQuery>, QueryRejection>,
) -> HubResult<SpaceAnswer> {
    let Query(query) = query?;
    if headers.contains_key(header::AUTHORIZATION) {
        hub.device(&headers)?;
        return hub.space_answer().map(Json);
    }
    hub.admit_code_attempt(peer.ip())?;
    let code = query.code.unwrap_or_default();
    if !hub.with_store(|store| store.pairing_code_is_valid(&code))? {
        return Err(hub.wrong_code(peer.ip()));
    }
    hub.space_answer().map(Json)
}

impl Hub {
    /// Refuses an address that gave too many wrong codes lately.
    fn admit_code_attempt(&self, address: std::net::IpAddr) -> Result<(), HubError> {
        let mut failures = self.link_failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.allows(address) {
            Ok(())
        } else {
            Err(HubError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "too many wrong pairing codes lately; try again in 15 minutes",
            ))
        }
    }

    /// Records a wrong code from `address` and says so.
    fn wrong_code(&self, address: std::net::IpAddr) -> HubError {
        self.link_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(address);
        HubError::new(
            StatusCode::UNAUTHORIZED,
            "bad_code",
            "this pairing code is wrong, used or expired; make a new one on the hub",
        )
    }
}

async fn link(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    request: Result<Json<LinkRequest>, JsonRejection>,
) -> HubResult<LinkAnswer> {
    let Json(request) = request?;
    hub.admit_code_attempt(peer.ip())?;
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(HubError::invalid(
            "a device name has 1 to 100 printable characters",
        ));
    }
    if let Some(e2e) = &request.e2e
        && (e2e.salt.len() > 100 || !e2e.check.starts_with(E2E_PREFIX) || e2e.check.len() > 1000)
    {
        return Err(HubError::invalid(
            "end-to-end parameters of the wrong shape",
        ));
    }
    let e2e = request
        .e2e
        .as_ref()
        .map(|e2e| (e2e.salt.as_str(), e2e.check.as_str()));
    let redeemed = hub.with_store(|store| store.redeem_pairing_code(&request.code, name, e2e));
    let redeemed = match redeemed {
        Err(error) if error.code == "conflict" => {
            return Err(HubError::new(
                StatusCode::CONFLICT,
                "mode_mismatch",
                error.message,
            ));
        }
        other => other?,
    };
    let Some((device_id, token)) = redeemed else {
        return Err(hub.wrong_code(peer.ip()));
    };
    tracing::info!(device = %device_id, name, "sync: a device linked");
    let space = hub.space_answer()?;
    Ok(Json(LinkAnswer {
        device_id,
        token,
        space_id: space.space_id,
    }))
}

#[derive(Debug, Deserialize)]
struct PullQuery {
    #[serde(default)]
    since: i64,
    #[serde(default)]
    wait: u64,
    /// The newest conflict and the open count the device knows: other
    /// values answer at once.
    conflicts: Option<i64>,
    open: Option<i64>,
}

async fn pull(
    State(hub): State<Arc<Hub>>,
    headers: HeaderMap,
    query: Result<Query<PullQuery>, QueryRejection>,
) -> HubResult<PullAnswer> {
    let device = hub.device(&headers)?;
    let Query(query) = query?;
    let deadline = Instant::now() + Duration::from_secs(query.wait).min(MAX_WAIT);
    loop {
        let notified = hub.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // A device revoked while it waited gets nothing more.
        hub.device(&headers)?;
        let (items, space, conflicts) = hub.with_store(|store| {
            Ok((
                store.pull_sync_items(query.since, MAX_ITEMS as i64 + 1)?,
                store.sync_space()?,
                store.sync_conflict_summary()?,
            ))
        })?;
        let now = Instant::now();
        let news = query.conflicts.is_some_and(|known| known != conflicts.0)
            || query.open.is_some_and(|known| known != conflicts.1);
        if !items.is_empty() || news || now >= deadline || space.version < query.since {
            let more = items.len() > MAX_ITEMS;
            let items: Vec<PullItem> = items
                .into_iter()
                .take(MAX_ITEMS)
                .map(|item| PullItem {
                    kind: item.kind,
                    name: item.name,
                    version: item.version,
                    body: item.body,
                    device: item.device,
                })
                .collect();
            tracing::debug!(%device, items = items.len(), "sync: pulled");
            return Ok(Json(PullAnswer {
                space_id: space.space_id,
                version: space.version,
                items,
                more,
                newest_conflict: conflicts.0,
                open_conflicts: conflicts.1,
            }));
        }
        // Woken by a push here; the periodic look covers changes made by
        // another process on the same database.
        let nap = (deadline - now).min(Duration::from_secs(1));
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep(nap) => {}
        }
    }
}

async fn push(
    State(hub): State<Arc<Hub>>,
    headers: HeaderMap,
    request: Result<Json<PushRequest>, JsonRejection>,
) -> HubResult<PushAnswer> {
    let device = hub.device(&headers)?;
    let Json(request) = request?;
    if request.items.len() > MAX_ITEMS {
        return Err(HubError::invalid(format!(
            "at most {MAX_ITEMS} records in one push"
        )));
    }
    if !(16..=128).contains(&request.request_id.len()) {
        return Err(HubError::invalid("request_id has 16 to 128 characters"));
    }
    let space = hub.with_store(Store::sync_space)?;
    let e2e = space.e2e_salt.is_some();
    for item in &request.items {
        check_item(item, e2e)?;
    }
    let items: Vec<PushedItem> = request
        .items
        .iter()
        .map(|item| PushedItem {
            kind: item.kind.clone(),
            name: item.name.clone(),
            base: item.base,
            body: item.body.clone(),
        })
        .collect();
    let outcomes =
        hub.with_store(|store| store.push_sync_items(&device, &request.request_id, &items));
    let outcomes = match outcomes {
        Err(HubError {
            code: "conflict",
            message,
            ..
        }) => {
            return Err(HubError::new(StatusCode::CONFLICT, "replayed", message));
        }
        other => other?,
    };
    let accepted = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, PushOutcome::Accepted(_)))
        .count();
    if accepted > 0 {
        hub.changed.notify_waiters();
    }
    tracing::debug!(%device, accepted, pushed = items.len(), "sync: pushed");
    Ok(Json(PushAnswer {
        space_id: space.space_id,
        results: outcomes
            .into_iter()
            .map(|outcome| match outcome {
                PushOutcome::Accepted(version) => PushResult {
                    accepted: true,
                    version,
                    body: None,
                    device: None,
                },
                PushOutcome::Conflict(current) => PushResult {
                    accepted: false,
                    version: current.version,
                    body: current.body,
                    device: Some(current.device),
                },
            })
            .collect(),
    }))
}

/// Refuses a record of the wrong shape: an unknown kind, an odd name, a
/// body too large, or a body in the other mode than the space's (so a
/// plain secret never reaches an end-to-end hub).
fn check_item(item: &crate::wire::PushItem, e2e: bool) -> Result<(), HubError> {
    if RecordKind::parse(&item.kind).is_none() {
        return Err(HubError::invalid(format!(
            "unknown record kind {:?}",
            item.kind
        )));
    }
    if item.name.is_empty() || item.name.len() > 512 || item.name.chars().any(char::is_control) {
        return Err(HubError::invalid(
            "a record's name has 1 to 512 printable characters",
        ));
    }
    if item.base < 0 {
        return Err(HubError::invalid("a record's base version is not negative"));
    }
    let Some(body) = &item.body else {
        return Ok(());
    };
    if body.len() > MAX_BODY_BYTES {
        return Err(HubError::invalid(format!(
            "{} {}: a record's body is at most {MAX_BODY_BYTES} bytes",
            item.kind, item.name
        )));
    }
    match (e2e, body.starts_with(E2E_PREFIX)) {
        (true, false) => Err(HubError::new(
            StatusCode::CONFLICT,
            "mode_mismatch",
            "this hub's sync is end-to-end encrypted: records must arrive sealed",
        )),
        (false, true) => Err(HubError::new(
            StatusCode::CONFLICT,
            "mode_mismatch",
            "this hub's sync is not end-to-end encrypted",
        )),
        (false, false) => match serde_json::from_str::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(_)) => Ok(()),
            _ => Err(HubError::invalid(format!(
                "{} {}: a record's body is a JSON object",
                item.kind, item.name
            ))),
        },
        (true, true) => Ok(()),
    }
}

async fn conflicts(
    State(hub): State<Arc<Hub>>,
    headers: HeaderMap,
) -> HubResult<Vec<ConflictItem>> {
    hub.device(&headers)?;
    hub.with_store(|store| store.list_sync_conflicts(false))
        .map(Json)
}

async fn report_conflict(
    State(hub): State<Arc<Hub>>,
    headers: HeaderMap,
    request: Result<Json<ConflictReport>, JsonRejection>,
) -> HubResult<serde_json::Value> {
    let device = hub.device(&headers)?;
    let Json(report) = request?;
    let space = hub.with_store(Store::sync_space)?;
    check_item(
        &crate::wire::PushItem {
            kind: report.kind.clone(),
            name: report.name.clone(),
            base: 0,
            body: report.loser_body.clone(),
        },
        space.e2e_salt.is_some(),
    )?;
    let id = hub.with_store(|store| {
        store.record_sync_conflict(
            &device,
            &report.kind,
            &report.name,
            report.winner_version,
            report.loser_body.as_deref(),
        )
    })?;
    tracing::warn!(%device, kind = %report.kind, name = %report.name, id, "sync: concurrent edits; the first to reach the hub stands");
    hub.changed.notify_waiters();
    Ok(Json(serde_json::json!({ "id": id })))
}

async fn resolve_conflict(
    State(hub): State<Arc<Hub>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<i64>,
) -> HubResult<serde_json::Value> {
    hub.device(&headers)?;
    hub.with_store(|store| store.resolve_sync_conflict(id))?;
    hub.changed.notify_waiters();
    Ok(Json(serde_json::json!({ "resolved": id })))
}

async fn lease(
    State(hub): State<Arc<Hub>>,
    headers: HeaderMap,
    request: Result<Json<LeaseRequest>, JsonRejection>,
) -> HubResult<LeaseAnswer> {
    let device = hub.device(&headers)?;
    let Json(request) = request?;
    if request.subject.is_empty() || request.subject.len() > 512 {
        return Err(HubError::invalid(
            "a lease's subject is an account, prefix/label",
        ));
    }
    let account = RecordKind::Account.as_str();
    hub.with_store(|store| {
        let version = store.sync_item_version(account, &request.subject)?;
        if request.end {
            store.end_sync_lease(&request.subject, &device)?;
            return Ok(LeaseAnswer {
                granted: false,
                version,
            });
        }
        let granted = store.take_sync_lease(&request.subject, &device, LEASE_MS)?;
        Ok(LeaseAnswer { granted, version })
    })
    .map(Json)
}

async fn usage(
    State(hub): State<Arc<Hub>>,
    headers: HeaderMap,
    request: Result<Json<UsageReport>, JsonRejection>,
) -> HubResult<serde_json::Value> {
    let device = hub.device(&headers)?;
    let Json(report) = request?;
    if report.rows.len() > 10_000 {
        return Err(HubError::invalid("at most 10000 usage rows at once"));
    }
    hub.with_store(|store| store.set_sync_usage(&device, &report.rows))?;
    Ok(Json(serde_json::json!({ "rows": report.rows.len() })))
}

async fn unlink(State(hub): State<Arc<Hub>>, headers: HeaderMap) -> HubResult<serde_json::Value> {
    let device = hub.device(&headers)?;
    hub.with_store(|store| store.revoke_sync_device(&device))?;
    tracing::info!(%device, "sync: a device unlinked itself");
    Ok(Json(serde_json::json!({ "unlinked": device })))
}
