//! API-key check for `/v1`: a key created with `switchyard key create`, sent
//! as `Authorization: Bearer` or (Anthropic clients) `x-api-key`.
//! The `allow_unauthenticated_loopback` setting lets clients on this machine
//! skip the key; requests from elsewhere always need one.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;

use crate::routing::RoutingConfig;
use switchyard_protocol::Dialect;
use switchyard_store::{KeyPolicy, hash_api_key, now_millis};

use crate::{ApiError, RouterState};

/// The local API key a request was authorised with, if any, and the routing
/// snapshot the check read, which the handler routes with: one look at the
/// database per request.
#[derive(Debug, Clone)]
pub(crate) struct CallerKey {
    pub(crate) key_id: Option<i64>,
    /// The key's policy (its allowed models); `None` without a key.
    pub(crate) policy: Option<Arc<KeyPolicy>>,
    pub(crate) config: Arc<RoutingConfig>,
}

impl CallerKey {
    /// Whether the caller may ask for `model`.
    pub(crate) fn allows(&self, model: &str) -> bool {
        self.policy
            .as_ref()
            .is_none_or(|policy| policy.allows(model))
    }
}

/// Middleware: rejects requests without a valid key, unless the caller is local
/// and the setting allows it. Stores the key id in the request's extensions.
pub(crate) async fn require_api_key(
    State(state): State<RouterState>,
    request: Request,
    next: Next,
) -> Response {
    let dialect = Dialect::for_path(request.uri().path());
    match check_api_key(&state, request).await {
        Ok(request) => next.run(request).await,
        // The body was not read: the connection cannot carry another request.
        Err(error) => crate::guard::closing(error.into_response_for(dialect)),
    }
}

async fn check_api_key(state: &RouterState, mut request: Request) -> Result<Request, ApiError> {
    let presented = presented_key(&request);
    // The key check reads the routing snapshot (the one the Host check
    // read, where it ran): no database query per request.
    let config = match request.extensions().get::<Arc<RoutingConfig>>().cloned() {
        Some(config) => config,
        None => state.config()?,
    };
    let policy = presented.and_then(|key| config.api_keys.get(&hash_api_key(key)).cloned());
    let allow_loopback = config.settings.allow_unauthenticated_loopback;
    let presented = presented.is_some();
    match (policy, presented) {
        (Some(policy), _) => {
            if policy.paused {
                return Err(ApiError::key_paused(format!(
                    "this API key (id {}) is paused; `switchyard key resume {}` or the dashboard resumes it",
                    policy.id, policy.id
                )));
            }
            if policy.expired(now_millis()) {
                return Err(ApiError::key_expired(format!(
                    "this API key (id {}) has expired; give it a new expiry or make a new key",
                    policy.id
                )));
            }
            request.extensions_mut().insert(CallerKey {
                key_id: Some(policy.id),
                policy: Some(policy),
                config,
            });
        }
        (None, false) if allow_loopback && peer_is_loopback(&request) => {
            request.extensions_mut().insert(CallerKey {
                key_id: None,
                policy: None,
                config,
            });
        }
        (None, false) => {
            return Err(ApiError::unauthorized(
                "missing API key: send it as 'Authorization: Bearer <key>' (create one with `switchyard key create`)",
            ));
        }
        (None, true) => {
            return Err(ApiError::unauthorized(
                "invalid API key: it is unknown or was revoked (list keys with `switchyard key list`)",
            ));
        }
    }
    Ok(request)
}

/// Whether the connection comes from this machine. Without connection info
/// (a router used outside `axum::serve`) the peer counts as remote.
fn peer_is_loopback(request: &Request) -> bool {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(peer)| peer.ip().is_loopback())
}

/// The key from `Authorization: Bearer <key>`, else `x-api-key`, else
/// `x-goog-api-key`, else the `key` query parameter (Gemini clients).
fn presented_key(request: &Request) -> Option<&str> {
    let bearer = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
    };
    let query_key = || {
        request
            .uri()
            .query()
            .and_then(|query| query.split('&').find_map(|pair| pair.strip_prefix("key=")))
    };
    bearer
        .or_else(|| header("x-api-key"))
        .or_else(|| header("x-goog-api-key"))
        .or_else(query_key)
        .filter(|token| !token.is_empty())
}
