//! Who is calling: a browser session (a cookie naming a stored session,
//! plus its CSRF token and the page's `Origin` on every `POST`) or a
//! management token (`Authorization: Bearer sym-...`, for the CLI's
//! `--remote`). Signing in takes the dashboard password, checked against
//! its Argon2id hash with failures limited per address, or a one-time link
//! printed at start while no password is set.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use switchyard_api_types::CommandError;
use switchyard_config::settings::Settings;
use switchyard_manage::{ManageResult, password, store_error};
use switchyard_store::{ManagementEntry, now_millis};
use tokio::sync::Semaphore;

use crate::DashboardState;

/// The session cookie.
const COOKIE: &str = "switchyard_session";

/// The header pages send their session's CSRF token in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// Where a one-time sign-in link goes (`?token=...`).
pub const SIGNIN_PATH: &str = "/dashboard/signin";

/// Failed sign-ins allowed per address in [`FAILURE_WINDOW`].
const FAILURES_PER_ADDRESS: u32 = 5;

/// Failed sign-ins allowed from all addresses together in [`FAILURE_WINDOW`].
const FAILURES_IN_ALL: u32 = 50;

/// The window failed sign-ins are counted in.
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Addresses tracked at most (older windows are dropped first).
const TRACKED_ADDRESSES: usize = 10_000;

/// The largest sign-in body read.
const MAX_LOGIN_BYTES: usize = 4096;

/// Password checks at once (each takes 19 MiB and tens of milliseconds).
const CHECKS_AT_ONCE: usize = 2;

/// Counts failed sign-ins per address and in all.
pub(crate) struct LoginLimiter {
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
    all: Mutex<(Instant, u32)>,
    checks: Semaphore,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self {
            failures: Mutex::new(HashMap::new()),
            all: Mutex::new((Instant::now(), 0)),
            checks: Semaphore::new(CHECKS_AT_ONCE),
        }
    }
}

impl LoginLimiter {
    /// Seconds until `address` may try again, if it is held back now.
    fn held_back(&self, address: IpAddr) -> Option<u64> {
        let now = Instant::now();
        let wait = |(started, count): (Instant, u32), limit: u32| {
            let ends = started + FAILURE_WINDOW;
            (count >= limit && ends > now).then(|| (ends - now).as_secs().max(1))
        };
        let own = lock(&self.failures)
            .get(&address)
            .and_then(|entry| wait(*entry, FAILURES_PER_ADDRESS));
        own.or_else(|| wait(*lock(&self.all), FAILURES_IN_ALL))
    }

    fn failed(&self, address: IpAddr) {
        let now = Instant::now();
        let bump = |entry: &mut (Instant, u32)| {
            if entry.0 + FAILURE_WINDOW <= now {
                *entry = (now, 0);
            }
            entry.1 += 1;
        };
        let mut failures = lock(&self.failures);
        if failures.len() >= TRACKED_ADDRESSES {
            failures.retain(|_, (started, _)| *started + FAILURE_WINDOW > now);
        }
        if failures.len() < TRACKED_ADDRESSES || failures.contains_key(&address) {
            bump(failures.entry(address).or_insert((now, 0)));
        }
        drop(failures);
        bump(&mut lock(&self.all));
    }

    fn succeeded(&self, address: IpAddr) {
        lock(&self.failures).remove(&address);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A refused or failed dashboard request: a status and a [`CommandError`] body.
pub(crate) struct Refusal {
    status: StatusCode,
    error: CommandError,
    retry_after: Option<u64>,
}

impl Refusal {
    pub(crate) fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            error: CommandError {
                kind: kind.into(),
                message: message.into(),
            },
            retry_after: None,
        }
    }

    /// A failed operation, its status from its kind.
    pub(crate) fn from_error(error: CommandError) -> Self {
        let status = match error.kind.as_str() {
            "not_found" => StatusCode::NOT_FOUND,
            "conflict" => StatusCode::CONFLICT,
            "forbidden" => StatusCode::FORBIDDEN,
            "storage" | "internal" => StatusCode::INTERNAL_SERVER_ERROR,
            "unchecked" => StatusCode::BAD_GATEWAY,
            _ => StatusCode::BAD_REQUEST,
        };
        Self {
            status,
            error,
            retry_after: None,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.error)).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// Reads a body of at most `limit` bytes (413 past it).
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, Refusal> {
    axum::body::to_bytes(body, limit).await.map_err(|error| {
        let too_large = std::error::Error::source(&error)
            .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
        if too_large {
            Refusal::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("a dashboard call may have at most {limit} bytes"),
            )
        } else {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!("the request's body could not be read: {error}"),
            )
        }
    })
}

/// Who called, once authenticated.
pub(crate) struct Caller {
    /// For the record: `browser 203.0.113.5` or `token deploy-bot`.
    pub(crate) actor: String,
    /// When the caller's session ends (Unix ms); `None` for tokens.
    pub(crate) expires_at: Option<i64>,
    /// The team member signed in; `None` for an administrator or a token.
    pub(crate) member: Option<String>,
}

/// What a request says about where it came from, proxies considered.
pub(crate) struct Origin {
    address: IpAddr,
    secure: bool,
    host: Option<String>,
}

impl Origin {
    /// Reads the client's address, scheme and host: from the connection,
    /// or from `X-Forwarded-*` when the connection is a trusted proxy.
    pub(crate) fn of(
        state: &DashboardState,
        settings: &Settings,
        peer: SocketAddr,
        headers: &HeaderMap,
    ) -> Self {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::trim)
                .filter(|value| !value.is_empty())
        };
        let mut origin = Self {
            address: peer.ip(),
            secure: state.options.tls,
            host: header("host").map(str::to_ascii_lowercase),
        };
        if settings.is_trusted_proxy(peer.ip()) {
            // The nearest address that is not a trusted proxy is the client.
            if let Some(forwarded) = header("x-forwarded-for") {
                for hop in forwarded.rsplit(',') {
                    match hop.trim().parse::<IpAddr>() {
                        Ok(address) => {
                            origin.address = address;
                            if !settings.is_trusted_proxy(address) {
                                break;
                            }
                        }
                        Err(_) => break,
                    }
                }
            }
            if let Some(proto) = header("x-forwarded-proto") {
                origin.secure = proto.eq_ignore_ascii_case("https");
            }
            if let Some(host) = header("x-forwarded-host") {
                origin.host = Some(host.to_ascii_lowercase());
            }
        }
        origin
    }

    /// The web origin pages of this dashboard have, as browsers write it.
    fn expected(&self) -> Option<String> {
        let scheme = if self.secure { "https" } else { "http" };
        self.host.as_ref().map(|host| format!("{scheme}://{host}"))
    }

    /// Refuses a state-changing browser request whose `Origin` is missing
    /// or is not this dashboard.
    fn check_same_origin(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let sent = headers
            .get(header::ORIGIN)
            .and_then(|value| value.to_str().ok())
            .map(str::to_ascii_lowercase);
        let expected = self.expected();
        let matches = match (&sent, &expected) {
            (Some(sent), Some(expected)) => {
                sent == expected || strip_default_port(sent) == strip_default_port(expected)
            }
            _ => false,
        };
        if matches {
            Ok(())
        } else {
            Err(Refusal::new(
                StatusCode::FORBIDDEN,
                "forbidden_origin",
                format!(
                    "this request came from {} but the dashboard is {}; nothing was changed",
                    sent.as_deref().unwrap_or("no web page (Origin missing)"),
                    expected.as_deref().unwrap_or("unknown (Host missing)")
                ),
            ))
        }
    }
}

fn strip_default_port(origin: &str) -> &str {
    origin
        .strip_suffix(":443")
        .filter(|_| origin.starts_with("https://"))
        .or_else(|| {
            origin
                .strip_suffix(":80")
                .filter(|_| origin.starts_with("http://"))
        })
        .unwrap_or(origin)
}

/// The settings, or a 500 if the database cannot be read.
pub(crate) fn settings(state: &DashboardState) -> Result<Settings, Refusal> {
    state
        .manager
        .with_store(|store| Settings::load(store).map_err(store_error))
        .map_err(Refusal::from_error)
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim_matches('"').to_owned())
        .filter(|value| !value.is_empty() && value.len() <= 128)
}

/// Authenticates a dashboard API request. A browser session's `POST`s
/// must also carry its CSRF token and this dashboard's `Origin`.
pub(crate) fn authenticate(
    state: &DashboardState,
    peer: SocketAddr,
    headers: &HeaderMap,
    changes: bool,
) -> Result<Caller, Refusal> {
    let settings = settings(state)?;
    if let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    {
        let name = state
            .manager
            .with_store(|store| {
                store
                    .check_management_token(token.trim())
                    .map_err(store_error)
            })
            .map_err(Refusal::from_error)?;
        return match name {
            Some(name) => Ok(Caller {
                actor: format!("token {name}"),
                expires_at: None,
                member: None,
            }),
            None => Err(Refusal::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this management token is not valid (revoked, or never made here)",
            )),
        };
    }
    let Some(id) = session_cookie(headers) else {
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "sign in to the dashboard first",
        ));
    };
    let session = state
        .manager
        .with_store(|store| store.dashboard_session(&id).map_err(store_error))
        .map_err(Refusal::from_error)?
        .ok_or_else(|| {
            Refusal::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the session has ended; sign in again",
            )
        })?;
    if changes {
        Origin::of(state, &settings, peer, headers).check_same_origin(headers)?;
        let sent = headers
            .get(CSRF_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if !constant_time_eq(sent.as_bytes(), session.csrf_token.as_bytes()) {
            return Err(Refusal::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "the request lacks this session's CSRF token; nothing was changed",
            ));
        }
    }
    Ok(Caller {
        actor: session.actor,
        expires_at: Some(session.expires_at),
        member: session.member,
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn record(state: &DashboardState, actor: &str, operation: &str, outcome: &str) {
    let entry = ManagementEntry {
        at: now_millis(),
        actor: actor.into(),
        operation: operation.into(),
        detail: String::new(),
        outcome: outcome.into(),
    };
    if let Err(error) = state
        .manager
        .with_store(|store| store.record_management(&entry).map_err(store_error))
    {
        tracing::warn!(error = %error.message, "cannot record a sign-in");
    }
}

/// The `Set-Cookie` value starting session `id` for `seconds`.
fn cookie(id: &str, seconds: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={id}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age={seconds}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn start_session(
    state: &DashboardState,
    settings: &Settings,
    origin: &Origin,
    user: Option<(&str, &str)>,
) -> ManageResult<(String, String, HeaderValue)> {
    let actor = match user {
        Some((name, _)) => format!("user {name} (browser {})", origin.address),
        None => format!("browser {}", origin.address),
    };
    let member = user
        .filter(|(_, role)| *role == "member")
        .map(|(name, _)| name);
    let lifetime = settings.dashboard_session;
    let (id, csrf) = state.manager.with_store(|store| {
        store
            .create_dashboard_session(&actor, lifetime.as_millis() as i64, member)
            .map_err(store_error)
    })?;
    let set_cookie = cookie(&id, lifetime.as_secs(), origin.secure);
    Ok((actor, csrf, set_cookie))
}

/// `GET /dashboard/api/session`: whether this browser is signed in (with
/// its CSRF token) and whether a password is set.
pub(crate) async fn status(
    State(state): State<DashboardState>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let password_set = state
        .manager
        .with_store(|store| store.dashboard_password_hash().map_err(store_error))
        .map_err(Refusal::from_error)?
        .is_some();
    let session = match session_cookie(&headers) {
        Some(id) => state
            .manager
            .with_store(|store| store.dashboard_session(&id).map_err(store_error))
            .map_err(Refusal::from_error)?,
        None => None,
    };
    Ok(Json(json!({
        "signedIn": session.is_some(),
        "passwordSet": password_set,
        "csrfToken": session.as_ref().map(|s| s.csrf_token.clone()),
        "expiresAt": session.as_ref().map(|s| s.expires_at),
        "member": session.as_ref().and_then(|s| s.member.clone()),
        "actor": session.map(|s| s.actor),
    }))
    .into_response())
}

/// The body of `POST /dashboard/api/login`.
#[derive(Deserialize)]
pub(crate) struct Login {
    password: String,
    /// A team user's name; without one, the administrator's password.
    #[serde(default)]
    user: Option<String>,
}

/// `POST /dashboard/api/login`: checks the password (failures limited per
/// address) and starts a session.
pub(crate) async fn login(
    State(state): State<DashboardState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
) -> Result<Response, Refusal> {
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let settings = settings(&state)?;
    let origin = Origin::of(&state, &settings, peer, &headers);
    origin.check_same_origin(&headers)?;
    let actor = format!("browser {}", origin.address);
    if let Some(seconds) = state.limiter.held_back(origin.address) {
        record(&state, &actor, "sign_in", "rate_limited");
        let mut refusal = Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many wrong passwords; try again in {seconds} s"),
        );
        refusal.retry_after = Some(seconds);
        return Err(refusal);
    }
    let body = read_body(body, MAX_LOGIN_BYTES).await?;
    let Login { password, user } = serde_json::from_slice(&body).map_err(|error| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("send {{\"password\": \"...\"}} as JSON: {error}"),
        )
    })?;
    let user = user
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty());
    // A user who does not exist is checked against a real hash all the
    // same, so the answer's timing does not tell names apart.
    let (hash, role) = match &user {
        Some(name) => {
            let found = state
                .manager
                .with_store(|store| store.dashboard_user(name).map_err(store_error))
                .map_err(Refusal::from_error)?;
            match found {
                Some((role, hash)) => (hash, Some(role)),
                None => (password::unusable_hash(), None),
            }
        }
        None => {
            let hash = state
                .manager
                .with_store(|store| store.dashboard_password_hash().map_err(store_error))
                .map_err(Refusal::from_error)?
                .ok_or_else(|| {
                    Refusal::new(
                        StatusCode::CONFLICT,
                        "no_password",
                        "no dashboard password is set: use the sign-in link `switchyard serve` printed, \
                         or set one with `switchyard dashboard password`",
                    )
                })?;
            (hash, Some("admin".to_owned()))
        }
    };
    let matched = {
        let _permit = state.limiter.checks.acquire().await.map_err(|_| {
            Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "internal", "shutting down")
        })?;
        tokio::task::spawn_blocking(move || password::verify_password(&hash, &password))
            .await
            .unwrap_or(false)
    };
    let role = role.filter(|_| matched);
    if role.is_none() {
        state.limiter.failed(origin.address);
        record(&state, &actor, "sign_in", "wrong_password");
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "wrong_password",
            "wrong password",
        ));
    }
    state.limiter.succeeded(origin.address);
    let signed_in = user.as_deref().zip(role.as_deref());
    let (actor, csrf, set_cookie) =
        start_session(&state, &settings, &origin, signed_in).map_err(Refusal::from_error)?;
    record(&state, &actor, "sign_in", "ok");
    let mut response = Json(json!({ "csrfToken": csrf })).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie);
    Ok(response)
}

/// `POST /dashboard/api/logout`: ends the session (CSRF-checked).
pub(crate) async fn logout(
    State(state): State<DashboardState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let caller = authenticate(&state, peer, &headers, true)?;
    if let Some(id) = session_cookie(&headers) {
        state
            .manager
            .with_store(|store| store.end_dashboard_session(&id).map_err(store_error))
            .map_err(Refusal::from_error)?;
    }
    record(&state, &caller.actor, "sign_out", "ok");
    let mut response = Json(json!({})).into_response();
    let secure = settings(&state)
        .map(|settings| Origin::of(&state, &settings, peer, &headers).secure)
        .unwrap_or(true);
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie("", 0, secure));
    Ok(response)
}

/// The query of a sign-in link.
#[derive(Deserialize)]
pub(crate) struct SigninQuery {
    token: Option<String>,
}

/// `GET /dashboard/signin?token=...`: a one-time link starts a session and
/// opens the dashboard's Settings, where a password can be set.
pub(crate) async fn signin_link(
    State(state): State<DashboardState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<SigninQuery>,
) -> Result<Response, Refusal> {
    let settings = settings(&state)?;
    let origin = Origin::of(&state, &settings, peer, &headers);
    let actor = format!("browser {}", origin.address);
    if let Some(seconds) = state.limiter.held_back(origin.address) {
        let mut refusal = Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many failed sign-ins; try again in {seconds} s"),
        );
        refusal.retry_after = Some(seconds);
        return Err(refusal);
    }
    let token = query.token.unwrap_or_default();
    let valid = !token.is_empty()
        && token.len() <= 128
        && state
            .manager
            .with_store(|store| store.take_signin_link(&token).map_err(store_error))
            .map_err(Refusal::from_error)?;
    if !valid {
        state.limiter.failed(origin.address);
        record(&state, &actor, "sign_in_link", "invalid_link");
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "invalid_link",
            "this sign-in link was used already or has expired; restart `switchyard serve` \
             for a new one, or sign in with the dashboard password",
        ));
    }
    let (actor, _csrf, set_cookie) =
        start_session(&state, &settings, &origin, None).map_err(Refusal::from_error)?;
    record(&state, &actor, "sign_in_link", "ok");
    let mut response = Redirect::to("/dashboard/#settings").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_holds_an_address_back_after_five_failures() {
        let limiter = LoginLimiter::default();
        let address: IpAddr = "203.0.113.5".parse().unwrap();
        let other: IpAddr = "203.0.113.6".parse().unwrap();
        for _ in 0..FAILURES_PER_ADDRESS {
            assert!(limiter.held_back(address).is_none());
            limiter.failed(address);
        }
        assert!(limiter.held_back(address).is_some());
        assert!(limiter.held_back(other).is_none());
        limiter.succeeded(address);
        assert!(limiter.held_back(address).is_none());
    }

    #[test]
    fn cookies_are_read_from_any_cookie_header() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; switchyard_session=abc"),
        );
        assert_eq!(session_cookie(&headers).as_deref(), Some("abc"));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert_eq!(strip_default_port("https://x:443"), "https://x");
        assert_eq!(strip_default_port("http://x:8080"), "http://x:8080");
    }
}
