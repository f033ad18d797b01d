//! Checks every request passes before routing: the `Host` it names (DNS
//! rebinding), the web page it comes from (`Origin`), and, on routes that
//! take a body, that the body arrives whole and within the size limit in
//! time (slow clients).
//!
//! A web page can make a browser send requests to `127.0.0.1`: through a
//! domain that resolves there (rebinding: the browser then sends the
//! attacker's `Host`), or cross-site with a body a form can send. The gateway
//! answers only `Host`s it is known by (IP addresses, `localhost`, the
//! `allowed_hosts` setting) and browser requests from its own origin or one
//! in `cors_origins`; everything else is a 403 in the caller's dialect.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONNECTION, HOST, ORIGIN};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::routing::RoutingConfig;
use crate::{ApiError, RouterState};
use switchyard_config::settings::Settings;
use switchyard_protocol::Dialect;

/// Middleware: refuses requests for a foreign `Host` or from a foreign
/// `Origin`; leaves the routing snapshot it read in the request's extensions
/// for the API-key check.
pub(crate) async fn check_host_and_origin(
    State(state): State<RouterState>,
    mut request: Request,
    next: Next,
) -> Response {
    let dialect = Dialect::for_path(request.uri().path());
    let config = match state.config() {
        Ok(config) => config,
        Err(error) => return error.into_response_for(dialect),
    };
    let host = request
        .headers()
        .get(HOST)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()));
    if let Some(host) = &host
        && !host_allowed(host, &config.settings)
    {
        return ApiError::forbidden_origin(format!(
            "requests for host {host:?} are refused (DNS rebinding defence); add it to the allowed_hosts setting if the gateway is reached by that name"
        ))
        .into_response_for(dialect);
    }
    if let Some(origin) = request.headers().get(ORIGIN) {
        let origin = origin.to_str().unwrap_or("").to_ascii_lowercase();
        if !origin_allowed(&origin, host.as_deref(), &config.settings) {
            return ApiError::forbidden_origin(format!(
                "requests from the web page origin {origin:?} are refused; add it to the cors_origins setting to allow it"
            ))
            .into_response_for(dialect);
        }
    }
    request.extensions_mut().insert(config);
    next.run(request).await
}

/// Whether `host` (a `Host` header, port included) names this gateway.
pub(crate) fn host_allowed(host: &str, settings: &Settings) -> bool {
    let name = host_name(host);
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>().is_ok()
        || name == "localhost"
        || name.ends_with(".localhost")
        || settings.allowed_hosts.contains(&name)
}

/// The host of a `Host` header without its port, lower case.
fn host_name(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    if host.starts_with('[') {
        // [::1]:20128
        return host
            .split_once(']')
            .map_or(host.clone(), |(address, _)| format!("{address}]"));
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name.to_owned(),
        _ => host,
    }
}

/// Whether a browser request from `origin` may be served: an origin in
/// `cors_origins`, or the gateway's own (same host, as a page it served).
pub(crate) fn origin_allowed(origin: &str, host: Option<&str>, settings: &Settings) -> bool {
    if settings
        .cors_origins
        .iter()
        .any(|allowed| allowed == origin)
    {
        return true;
    }
    let Some(host) = host else {
        return false;
    };
    let host = host.trim().to_ascii_lowercase();
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|rest| rest == host)
}

/// Whether CORS headers may be sent for `origin`: only origins listed in
/// `cors_origins` (read from the snapshot [`check_host_and_origin`] left).
pub(crate) fn cors_allows(origin: &HeaderValue, parts: &axum::http::request::Parts) -> bool {
    let Some(config) = parts.extensions.get::<Arc<RoutingConfig>>() else {
        return false;
    };
    let origin = origin.to_str().unwrap_or("").to_ascii_lowercase();
    config.settings.cors_origins.contains(&origin)
}

/// Largest request body accepted (images in base64 make chat requests large).
pub(crate) const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Middleware for routes that take a body: reads it whole, at most
/// [`MAX_BODY_BYTES`], within the `request_read_timeout_secs` setting, so a
/// client sending a byte a second cannot hold a connection and a handler
/// never waits on a client. Runs after the API-key check, so a refused
/// request never waits for its body.
pub(crate) async fn read_body_in_time(
    State(state): State<RouterState>,
    request: Request,
    next: Next,
) -> Response {
    let dialect = Dialect::for_path(request.uri().path());
    let deadline = request
        .extensions()
        .get::<Arc<RoutingConfig>>()
        .map(|config| config.settings.request_read_timeout)
        .or_else(|| state.config().ok().map(|c| c.settings.request_read_timeout))
        .unwrap_or_default();
    let (parts, body) = request.into_parts();
    let read = tokio::time::timeout(deadline, axum::body::to_bytes(body, MAX_BODY_BYTES)).await;
    let body = match read {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => {
            // Too large, or the client broke off: what is left unread makes
            // the connection unusable.
            return closing(
                ApiError {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    ..ApiError::bad_request(
                        "request_too_large",
                        format!(
                            "the request body is larger than {MAX_BODY_BYTES} bytes, or was cut off"
                        ),
                    )
                }
                .into_response_for(dialect),
            );
        }
        Err(_) => {
            return closing(
                ApiError {
                    status: StatusCode::REQUEST_TIMEOUT,
                    ..ApiError::bad_request(
                        "request_timeout",
                        format!(
                            "the request body did not arrive within {}s (setting request_read_timeout_secs)",
                            deadline.as_secs()
                        ),
                    )
                }
                .into_response_for(dialect),
            );
        }
    };
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// `response` with `Connection: close`: for answers sent before the request
/// body was read, so the client does not send its next request on a
/// connection the server is about to close.
pub(crate) fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(hosts: &[&str], origins: &[&str]) -> Settings {
        Settings {
            allowed_hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            cors_origins: origins.iter().map(|o| (*o).to_owned()).collect(),
            ..Settings::default()
        }
    }

    #[test]
    fn loopback_and_addresses_are_hosts_and_rebinding_names_are_not() {
        let plain = settings(&[], &[]);
        for host in [
            "127.0.0.1:20128",
            "localhost:20128",
            "LOCALHOST",
            "[::1]:20128",
            "192.168.1.5:20128",
            "app.localhost",
        ] {
            assert!(host_allowed(host, &plain), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:20128",
            "127.0.0.1.evil.example",
        ] {
            assert!(!host_allowed(host, &plain), "{host}");
        }
        assert!(host_allowed(
            "router.lan:443",
            &settings(&["router.lan"], &[])
        ));
    }

    #[test]
    fn origins_are_the_gateways_own_or_listed() {
        let listed = settings(&[], &["https://app.example"]);
        assert!(origin_allowed(
            "https://app.example",
            Some("127.0.0.1:1"),
            &listed
        ));
        assert!(origin_allowed(
            "http://127.0.0.1:1",
            Some("127.0.0.1:1"),
            &listed
        ));
        assert!(!origin_allowed(
            "http://evil.example",
            Some("127.0.0.1:1"),
            &listed
        ));
        assert!(!origin_allowed("null", Some("127.0.0.1:1"), &listed));
        assert!(!origin_allowed(
            "http://127.0.0.1:2",
            Some("127.0.0.1:1"),
            &listed
        ));
    }
}
