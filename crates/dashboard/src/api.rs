//! The management API: `POST /dashboard/api/call` runs one operation,
//! `GET /dashboard/api/events` streams the manager's events.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use switchyard_api_types::Operation;
use switchyard_manage::Actor;
use switchyard_store::now_millis;
use tokio::sync::broadcast::error::RecvError;

use crate::DashboardState;
use crate::session::{Refusal, authenticate, read_body};

/// The largest management call accepted (an imported configuration).
pub(crate) const MAX_CALL_BYTES: usize = 8 * 1024 * 1024;

/// `POST /dashboard/api/call` with `{"op": ..., "args": {...}}`. The
/// body is read only once the caller is known.
pub(crate) async fn call(
    State(state): State<DashboardState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Result<Response, Refusal> {
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let caller = authenticate(&state, peer, &headers, true)?;
    let body = read_body(body, MAX_CALL_BYTES).await?;
    let json_content = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim_start().starts_with("application/json"));
    if !json_content {
        return Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid",
            "send the call as application/json",
        ));
    }
    let operation: Operation = serde_json::from_slice(&body).map_err(|error| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("not a management call ({{\"op\": ..., \"args\": {{...}}}}): {error}"),
        )
    })?;
    let actor = Actor {
        name: caller.actor,
        member: caller.member,
    };
    match state.manager.call(operation, &actor).await {
        Ok(answer) => Ok(Json(answer).into_response()),
        Err(error) => Err(Refusal::from_error(error)),
    }
}

/// `GET /dashboard/api/events`: the manager's events as server-sent
/// events (`event:` the name, `data:` the JSON payload) until the session
/// ends.
pub(crate) async fn events(
    State(state): State<DashboardState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Refusal> {
    let caller = authenticate(&state, peer, &headers, false)?;
    let receiver = state.manager.subscribe();
    let ends = caller.expires_at.map(|at| {
        let left = u64::try_from(at - now_millis()).unwrap_or(0);
        tokio::time::Instant::now() + Duration::from_millis(left)
    });
    let events = stream::unfold((receiver, ends), |(mut receiver, ends)| async move {
        loop {
            let next = match ends {
                Some(ends) => tokio::select! {
                    next = receiver.recv() => next,
                    () = tokio::time::sleep_until(ends) => return None,
                },
                None => receiver.recv().await,
            };
            match next {
                Ok(event) => {
                    let sse = Event::default()
                        .event(event.name)
                        .data(event.payload.to_string());
                    return Some((Ok(sse), (receiver, ends)));
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
