//! The dashboard over HTTP, for `switchyard serve`: the same Leptos pages
//! as the desktop (embedded at compile time), a sign-in with the dashboard
//! password or a one-time link, sessions in `HttpOnly`, `SameSite=Strict`
//! cookies, and the management API: `POST /dashboard/api/call` runs one
//! [`switchyard_api_types::Operation`] through the [`Manager`], and
//! `GET /dashboard/api/events` streams the manager's events as server-sent
//! events. Every answer carries a strict CSP and the usual security
//! headers; nothing but the static page shell is reachable without a
//! session or a management token, on loopback too.
//!
//! The router is merged into the gateway's, so the gateway's `Host` and
//! `Origin` checks run first.

mod api;
mod assets;
mod session;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use switchyard_manage::Manager;

pub use session::SIGNIN_PATH;

/// Where the dashboard lives: pages at `/dashboard/`, its API below `/dashboard/api/`.
pub const PREFIX: &str = "/dashboard";

/// How the dashboard is reached.
#[derive(Debug, Clone, Copy, Default)]
pub struct DashboardOptions {
    /// Served over TLS by Switchyard itself: cookies are `Secure`.
    pub tls: bool,
}

/// What every dashboard handler shares.
#[derive(Clone)]
pub(crate) struct DashboardState {
    manager: Arc<Manager>,
    options: DashboardOptions,
    limiter: Arc<session::LoginLimiter>,
}

/// The dashboard's routes, to merge into the gateway's router.
pub fn router(manager: Arc<Manager>, options: DashboardOptions) -> Router {
    let state = DashboardState {
        manager,
        options,
        limiter: Arc::new(session::LoginLimiter::default()),
    };
    Router::new()
        .route(
            "/dashboard",
            get(|| async { Redirect::permanent("/dashboard/") }),
        )
        .route("/dashboard/", get(assets::index))
        .route("/dashboard/signin", get(session::signin_link))
        .route("/dashboard/api/session", get(session::status))
        .route("/dashboard/api/login", post(session::login))
        .route("/dashboard/api/logout", post(session::logout))
        .route("/dashboard/api/call", post(api::call))
        .route("/dashboard/api/events", get(api::events))
        .route("/dashboard/{*path}", get(assets::file))
        .layer(middleware::from_fn_with_state(options, security_headers))
        .with_state(state)
}

/// The content security policy: the page's own scripts and wasm only, no
/// framing, no other origins.
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

async fn security_headers(
    axum::extract::State(options): axum::extract::State<DashboardOptions>,
    request: Request,
    next: Next,
) -> Response {
    let api = request.uri().path().starts_with("/dashboard/api/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let fixed = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            header::HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
        (
            header::HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=(), usb=()",
        ),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if options.tls {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    if api {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
