//! Errors answered to clients, rendered as OpenAI-style JSON with a matching
//! HTTP status. Messages are written for the person reading their tool's
//! output and never contain secrets or internal details.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use switchyard_protocol::Dialect;

/// The code of [`ApiError::credentials_refused`].
const CREDENTIALS_REFUSED: &str = "upstream_credentials_refused";

/// The code of [`ApiError::budget_exceeded`].
const BUDGET_EXCEEDED: &str = "budget_exceeded";

/// An error answered to an API client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// OpenAI's error `type`, such as `invalid_request_error`.
    pub error_type: &'static str,
    /// OpenAI's error `code`, such as `model_not_found`.
    pub code: &'static str,
    /// Sentence for the user.
    pub message: String,
    /// Seconds after which a retry may succeed, sent as `Retry-After`.
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        error_type: &'static str,
        code: &'static str,
        message: String,
    ) -> Self {
        Self {
            status,
            error_type,
            code,
            message,
            retry_after_secs: None,
        }
    }

    /// 400: the request body or a parameter is wrong.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            code,
            message.into(),
        )
    }

    /// 415: a JSON route got another content type.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request_error",
            "unsupported_media_type",
            message.into(),
        )
    }

    /// 403: the request came from a web page or a host name the gateway does
    /// not serve (DNS rebinding, cross-site requests).
    pub fn forbidden_origin(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            "forbidden_origin",
            message.into(),
        )
    }

    /// 401: no API key, or one that is unknown or revoked.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "invalid_api_key",
            message.into(),
        )
    }

    /// 403: the key is paused (not unknown: its owner stopped it).
    pub fn key_paused(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            "api_key_paused",
            message.into(),
        )
    }

    /// 401: the key's expiry has passed.
    pub fn key_expired(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "api_key_expired",
            message.into(),
        )
    }

    /// 429: the key's budget for a window is spent; `retry_after_secs`
    /// until the window resets. OpenAI's `insufficient_quota` type, sent
    /// with `x-should-retry: false` (the SDKs would otherwise retry).
    pub fn budget_exceeded(message: impl Into<String>, retry_after_secs: u64) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "insufficient_quota",
            BUDGET_EXCEEDED,
            message.into(),
        );
        error.retry_after_secs = Some(retry_after_secs);
        error
    }

    /// 429: the key's requests or tokens per minute are used up.
    pub fn key_rate_limited(message: impl Into<String>, retry_after_secs: u64) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "rate_limit_exceeded",
            message.into(),
        );
        error.retry_after_secs = Some(retry_after_secs);
        error
    }

    /// 403: the key may not use the model it asked for.
    pub fn model_not_allowed(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            "model_not_allowed",
            message.into(),
        )
    }

    /// 404: the model names no enabled provider.
    pub fn model_not_found(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "model_not_found",
            message.into(),
        )
    }

    /// 404 for an unknown path, 405 for a known path with the wrong method.
    pub fn unknown_route(status: StatusCode, method: &str, path: &str) -> Self {
        let message = if status == StatusCode::METHOD_NOT_ALLOWED {
            format!("{method} is not allowed on {path}")
        } else {
            format!("unknown request URL: {method} {path}")
        };
        Self::new(status, "invalid_request_error", "unknown_url", message)
    }

    /// 502: the provider could not be reached or broke off.
    pub fn upstream_unreachable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            "upstream_unreachable",
            message.into(),
        )
    }

    /// The provider did not answer in time (504).
    pub fn upstream_timeout(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_error",
            "upstream_timeout",
            message.into(),
        )
    }

    /// Every account that could serve the request is cooling down or out of
    /// quota (429, with the time to retry in the message).
    pub fn all_accounts_busy(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "all_accounts_cooling_down",
            message.into(),
        )
    }

    /// Every provider that could serve the request is failing (503).
    pub fn providers_unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream_error",
            "providers_unavailable",
            message.into(),
        )
    }

    /// An error the provider answered with, passed on with its status and
    /// typed as OpenAI types that status (SDKs and tools branch on it).
    pub fn upstream_status(status: StatusCode, message: impl Into<String>) -> Self {
        let (error_type, code) = match status.as_u16() {
            401 => ("authentication_error", "invalid_api_key"),
            403 => ("permission_error", "permission_denied"),
            404 => ("invalid_request_error", "model_not_found"),
            429 => ("rate_limit_error", "rate_limit_exceeded"),
            code if code >= 500 => ("upstream_error", "upstream_error"),
            _ => ("invalid_request_error", "upstream_error"),
        };
        Self::new(status, error_type, code, message.into())
    }

    /// 403: the provider refused the credentials of every account that could
    /// serve the request. Not a 401 for Anthropic clients: Claude Code
    /// retries a 401 for minutes and then asks the user to log in to
    /// Anthropic; a 401 for OpenAI-format clients, which stop at it (see
    /// [`ApiError::into_response_for`]). The message says which accounts and
    /// what to do. Sent with `x-should-retry: false`, which the OpenAI and
    /// Anthropic SDKs obey.
    pub fn credentials_refused(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            CREDENTIALS_REFUSED,
            message.into(),
        )
    }

    /// 500: something went wrong inside the gateway.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal_error",
            message.into(),
        )
    }

    /// The OpenAI error object, `{"error": {...}}`.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": null,
                "code": self.code,
            }
        })
    }

    /// The error object in `dialect`'s own shape.
    pub fn to_json_for(&self, dialect: Dialect) -> serde_json::Value {
        match dialect {
            Dialect::OpenAiChat | Dialect::OpenAiResponses | Dialect::Kiro => self.to_json(),
            Dialect::AnthropicMessages => json!({
                "type": "error",
                "error": {"type": anthropic_error_type(self.status), "message": self.message},
            }),
            Dialect::Ollama => json!({ "error": self.message }),
            Dialect::Gemini => json!({
                "error": {
                    "code": self.status.as_u16(),
                    "message": self.message,
                    "status": google_status(self.status),
                }
            }),
        }
    }

    /// The response for a client speaking `dialect`.
    pub fn into_response_for(mut self, dialect: Dialect) -> Response {
        if self.code == CREDENTIALS_REFUSED
            && matches!(
                dialect,
                Dialect::OpenAiChat | Dialect::OpenAiResponses | Dialect::Ollama
            )
        {
            // OpenAI-format clients stop at a 401 (LiteLLM, and so Aider,
            // retries a 403 for a minute as an unknown API error); Claude
            // Code and Gemini clients stop at the 403.
            self.status = StatusCode::UNAUTHORIZED;
            self.error_type = "authentication_error";
        }
        let mut response = (self.status, Json(self.to_json_for(dialect))).into_response();
        if let Some(seconds) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        if self.code == CREDENTIALS_REFUSED || self.code == BUDGET_EXCEEDED {
            response.headers_mut().insert(
                axum::http::HeaderName::from_static("x-should-retry"),
                axum::http::HeaderValue::from_static("false"),
            );
        }
        response
    }
}

/// Anthropic's error `type` for an HTTP status.
fn anthropic_error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 415 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

/// Google's canonical status name for an HTTP status.
fn google_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 413 | 415 | 422 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        405 => "UNIMPLEMENTED",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        502 | 503 | 529 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.to_json())).into_response()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}
