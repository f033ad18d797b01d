//! One JSON body extractor per client dialect. [`JsonBody<D>`] reads a
//! route's body whole and checks its content type; every rejection (past
//! the size limit, a content type a browser form can send, a body that
//! could not be read) is an [`ApiError`] that answers in `D`'s error shape.
//! Handlers that log failed requests extract
//! `Result<JsonBody<D>, BodyRejection<D>>` and record the rejection first.

use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use switchyard_protocol::Dialect;

use crate::ApiError;
use crate::guard::MAX_BODY_BYTES;

/// A client dialect, as a type for the extractors.
pub(crate) trait ClientDialect: Send + Sync + 'static {
    /// The dialect its errors are rendered in.
    const DIALECT: Dialect;
}

/// OpenAI Chat Completions clients (and embeddings).
pub(crate) struct OpenAiChatClient;
/// OpenAI Responses clients (Codex).
pub(crate) struct ResponsesClient;
/// Anthropic Messages clients (Claude Code).
pub(crate) struct AnthropicClient;
/// Gemini clients (Gemini CLI, google-genai).
pub(crate) struct GeminiClient;
/// Ollama clients.
pub(crate) struct OllamaClient;

impl ClientDialect for OpenAiChatClient {
    const DIALECT: Dialect = Dialect::OpenAiChat;
}
impl ClientDialect for ResponsesClient {
    const DIALECT: Dialect = Dialect::OpenAiResponses;
}
impl ClientDialect for AnthropicClient {
    const DIALECT: Dialect = Dialect::AnthropicMessages;
}
impl ClientDialect for GeminiClient {
    const DIALECT: Dialect = Dialect::Gemini;
}
impl ClientDialect for OllamaClient {
    const DIALECT: Dialect = Dialect::Ollama;
}

/// A JSON route's body, read for a client speaking `D`.
pub(crate) struct JsonBody<D>(pub(crate) Bytes, pub(crate) PhantomData<D>);

/// Why a body could not be taken, answered in `D`'s error shape.
pub(crate) struct BodyRejection<D>(pub(crate) ApiError, pub(crate) PhantomData<D>);

impl<D: ClientDialect> IntoResponse for BodyRejection<D> {
    fn into_response(self) -> Response {
        self.0.into_response_for(D::DIALECT)
    }
}

impl<S: Send + Sync, D: ClientDialect> FromRequest<S> for JsonBody<D> {
    type Rejection = BodyRejection<D>;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = request.headers().get(CONTENT_TYPE).cloned();
        let body = Bytes::from_request(request, state).await;
        json_body(content_type.as_ref(), body)
            .map(|body| Self(body, PhantomData))
            .map_err(|error| BodyRejection(error, PhantomData))
    }
}

/// The body of a JSON route, or why not: 413 past [`MAX_BODY_BYTES`], 415
/// for a content type a browser form can send without a CORS preflight
/// (`text/plain`, form encodings; a web page must not spend the user's
/// quota with a cross-site POST), 400 for a body that could not be read. A
/// missing content type is accepted (`curl -d` habits aside, several SDKs
/// omit it on retries).
fn json_body(
    content_type: Option<&HeaderValue>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, ApiError> {
    if let Some(content_type) = content_type {
        let essence = content_type
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let is_json = essence == "application/json"
            || (essence.starts_with("application/") && essence.ends_with("+json"));
        if !is_json {
            return Err(ApiError::unsupported_media_type(format!(
                "this route takes a JSON body (Content-Type: application/json), not {essence:?}"
            )));
        }
    }
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                ..ApiError::bad_request(
                    "request_too_large",
                    format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
                )
            }
        } else {
            ApiError::bad_request("invalid_body", rejection.body_text())
        }
    })
}
