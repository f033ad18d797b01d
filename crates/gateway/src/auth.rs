//! API-key check for `/v1`: a Bearer key created with `switchyard key create`.
//! The `allow_unauthenticated_loopback` setting lets clients on this machine
//! skip the key; requests from elsewhere always need one.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;

use crate::settings::Settings;
use crate::{ApiError, RouterState};

/// The local API key a request was authorised with, if any.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallerKey(pub(crate) Option<i64>);

/// Middleware: rejects requests without a valid key, unless the caller is local
/// and the setting allows it. Stores the key id in the request's extensions.
pub(crate) async fn require_api_key(
    State(state): State<RouterState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = bearer_token(&request).map(str::to_owned);
    let (key_id, allow_loopback) = state.with_store(|store| {
        let key_id = match &presented {
            Some(key) => store.verify_api_key(key),
            None => Ok(None),
        };
        let settings = Settings::load(store);
        (key_id, settings.map(|s| s.allow_unauthenticated_loopback))
    });
    let key_id = key_id.map_err(|error| {
        tracing::error!(%error, "cannot check API key");
        ApiError::internal("the gateway could not read its database")
    })?;
    let allow_loopback = allow_loopback.unwrap_or(false);

    match (key_id, presented.is_some()) {
        (Some(id), _) => {
            request.extensions_mut().insert(CallerKey(Some(id)));
        }
        (None, false) if allow_loopback && peer_is_loopback(&request) => {
            request.extensions_mut().insert(CallerKey(None));
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
    Ok(next.run(request).await)
}

/// Whether the connection comes from this machine. Without connection info
/// (a router used outside `axum::serve`) the peer counts as remote.
fn peer_is_loopback(request: &Request) -> bool {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(peer)| peer.ip().is_loopback())
}

fn bearer_token(request: &Request) -> Option<&str> {
    let value = request.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}
