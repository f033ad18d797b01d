//! Forwarding a chat request to an OpenAI-compatible provider and relaying its
//! answer: JSON as one body, SSE event by event as it arrives, with token usage
//! observed on the side for the request log.

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::Response;
use eventsource_stream::{Event, Eventsource};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Map, Value};
use switchyard_store::Provider;

use crate::routes::{PendingRecord, response_with};
use crate::{ApiError, RouterState};

/// A parsed chat request: the client's JSON with the fields routing needs.
#[derive(Debug)]
pub(crate) struct ChatRequest {
    /// The model as the client named it, `prefix/model`.
    pub(crate) model: String,
    /// Whether the client asked for a stream.
    pub(crate) stream: bool,
    /// The whole request object, forwarded with the model name replaced.
    body: Map<String, Value>,
}

impl ChatRequest {
    /// Parses and checks a request body.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let value: Value = serde_json::from_slice(body).map_err(|error| {
            ApiError::bad_request(
                "invalid_json",
                format!("the request body is not valid JSON: {error}"),
            )
        })?;
        let Value::Object(body) = value else {
            return Err(ApiError::bad_request(
                "invalid_json",
                "the request body must be a JSON object",
            ));
        };
        let model = match body.get("model") {
            Some(Value::String(model)) if !model.is_empty() => model.clone(),
            Some(_) => {
                return Err(ApiError::bad_request(
                    "invalid_model",
                    "'model' must be a non-empty string such as \"openai/gpt-4o-mini\"",
                ));
            }
            None => {
                return Err(ApiError::bad_request(
                    "missing_model",
                    "you must provide a 'model' parameter such as \"openai/gpt-4o-mini\"",
                ));
            }
        };
        let stream = match body.get("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(stream)) => *stream,
            Some(_) => {
                return Err(ApiError::bad_request(
                    "invalid_stream",
                    "'stream' must be true or false",
                ));
            }
        };
        Ok(Self {
            model,
            stream,
            body,
        })
    }
}

/// The enabled provider whose prefix starts `model` (`prefix/upstream-model`).
pub(crate) fn resolve_provider(state: &RouterState, model: &str) -> Result<Provider, ApiError> {
    let Some((prefix, upstream_model)) = model.split_once('/') else {
        return Err(ApiError::model_not_found(format!(
            "the model {model:?} does not exist: name models as <provider prefix>/<model>, see GET /v1/models"
        )));
    };
    if upstream_model.is_empty() {
        return Err(ApiError::model_not_found(format!(
            "the model {model:?} names no model after the prefix {prefix:?}"
        )));
    }
    let provider = state
        .with_store(|store| store.provider_by_prefix(prefix))
        .map_err(|error| {
            tracing::error!(%error, "cannot read providers");
            ApiError::internal("the gateway could not read its database")
        })?;
    match provider {
        Some(provider) if provider.enabled => Ok(provider),
        Some(provider) => Err(ApiError::model_not_found(format!(
            "the model {model:?} belongs to provider {:?}, which is disabled",
            provider.name
        ))),
        None => Err(ApiError::model_not_found(format!(
            "the model {model:?} does not exist: no provider has the prefix {prefix:?}"
        ))),
    }
}

/// Sends the request to `provider` and relays the answer to the client.
pub(crate) async fn forward_chat(
    state: &RouterState,
    provider: Provider,
    request: ChatRequest,
    pending: PendingRecord,
) -> Response {
    let ChatRequest {
        model, mut body, ..
    } = request;
    let upstream_model = model
        .split_once('/')
        .map_or(model.as_str(), |(_, upstream_model)| upstream_model);
    body.insert("model".into(), Value::String(upstream_model.to_owned()));

    let url = format!(
        "{}/chat/completions",
        provider.base_url.trim_end_matches('/')
    );
    let sent = state
        .http
        .post(url)
        .bearer_auth(&provider.api_key)
        .json(&body)
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(error) => {
            return pending.fail(ApiError::upstream_unreachable(format!(
                "cannot reach provider {:?}: {}",
                provider.name,
                describe_transport_error(&error)
            )));
        }
    };

    let status = response.status();
    if !status.is_success() {
        return relay_upstream_error(&provider, response, pending).await;
    }
    let is_event_stream = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/event-stream"));
    if is_event_stream {
        relay_event_stream(response, pending)
    } else {
        relay_json(&provider, response, pending).await
    }
}

/// Relays a complete JSON answer and records its usage.
async fn relay_json(
    provider: &Provider,
    response: reqwest::Response,
    mut pending: PendingRecord,
) -> Response {
    let status = response.status();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(error) => {
            return pending.fail(ApiError::upstream_unreachable(format!(
                "provider {:?} broke off its answer: {}",
                provider.name,
                describe_transport_error(&error)
            )));
        }
    };
    if let Some(usage) = usage_in(&body) {
        usage.apply(&mut pending);
    }
    pending.finish(status);
    response_with(status, &content_type, Body::from(body))
}

/// Relays an SSE answer event by event, never holding more than one event.
fn relay_event_stream(response: reqwest::Response, pending: PendingRecord) -> Response {
    let events = response.bytes_stream().eventsource();
    let relay = EventRelay {
        pending: Some(pending),
        usage: None,
    };
    let frames = futures_util::stream::unfold(
        (Box::pin(events), relay),
        |(mut events, mut relay)| async move {
            let frame = relay.next_frame(events.next().await)?;
            Some((
                Ok::<Bytes, std::convert::Infallible>(frame),
                (events, relay),
            ))
        },
    );
    let mut response = response_with(
        StatusCode::OK,
        "text/event-stream",
        Body::from_stream(frames),
    );
    response.headers_mut().insert(
        CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-cache"),
    );
    response
}

/// State of one relayed stream: the request record and the usage seen so far.
struct EventRelay {
    /// `None` once the stream has ended and been recorded.
    pending: Option<PendingRecord>,
    usage: Option<TokenUsage>,
}

impl EventRelay {
    /// Turns the next upstream item into the bytes to send; `None` ends the stream.
    fn next_frame<E: std::fmt::Display>(
        &mut self,
        item: Option<Result<Event, E>>,
    ) -> Option<Bytes> {
        match item {
            Some(Ok(event)) => {
                // Only the few chunks that mention usage are parsed.
                if event.data.contains("\"usage\"")
                    && let Some(usage) = usage_in(event.data.as_bytes())
                {
                    self.usage = Some(usage);
                }
                Some(encode_event(&event))
            }
            Some(Err(error)) => {
                let mut pending = self.pending.take()?;
                tracing::warn!(%error, "upstream stream broke off");
                let error = ApiError::upstream_unreachable(format!(
                    "the provider's stream broke off: {error}"
                ));
                if let Some(usage) = self.usage.take() {
                    usage.apply(&mut pending);
                }
                pending.finish(StatusCode::BAD_GATEWAY);
                Some(Bytes::from(format!("data: {}\n\n", error.to_json())))
            }
            None => {
                let mut pending = self.pending.take()?;
                if let Some(usage) = self.usage.take() {
                    usage.apply(&mut pending);
                }
                pending.finish(StatusCode::OK);
                None
            }
        }
    }
}

/// Writes one SSE event back in wire form.
fn encode_event(event: &Event) -> Bytes {
    let mut frame = String::with_capacity(event.data.len() + 16);
    if !event.event.is_empty() && event.event != "message" {
        frame.push_str("event: ");
        frame.push_str(&event.event);
        frame.push('\n');
    }
    for line in event.data.split('\n') {
        frame.push_str("data: ");
        frame.push_str(line);
        frame.push('\n');
    }
    frame.push('\n');
    Bytes::from(frame)
}

/// Passes on an upstream error with its status. An OpenAI-style error body is
/// kept as is (clients match on its `code`); anything else is wrapped.
async fn relay_upstream_error(
    provider: &Provider,
    response: reqwest::Response,
    pending: PendingRecord,
) -> Response {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let text = redact(&text, &provider.api_key);
    let upstream_json = serde_json::from_str::<Value>(&text)
        .ok()
        .filter(|value| value.get("error").is_some_and(Value::is_object));
    match upstream_json {
        Some(json) => {
            pending.finish(status);
            response_with(status, "application/json", Body::from(json.to_string()))
        }
        None => {
            let detail: String = text.chars().take(500).collect();
            pending.fail(ApiError::upstream_status(
                status,
                format!(
                    "provider {:?} answered {}: {}",
                    provider.name,
                    status.as_u16(),
                    detail.trim()
                ),
            ))
        }
    }
}

/// Removes every occurrence of `secret` from `text`.
fn redact(text: &str, secret: &str) -> String {
    if secret.len() < 4 {
        return text.to_owned();
    }
    text.replace(secret, "[redacted]")
}

/// Describes a transport error without the URL (which may carry credentials).
fn describe_transport_error(error: &reqwest::Error) -> &'static str {
    if error.is_connect() {
        "could not connect (is the base URL right and the server up?)"
    } else if error.is_timeout() {
        "the connection timed out"
    } else if error.is_body() || error.is_decode() {
        "the connection broke off while reading the answer"
    } else {
        "the request failed"
    }
}

/// Token counts as OpenAI reports them.
#[derive(Debug, Clone, Copy, Deserialize)]
struct TokenUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

impl TokenUsage {
    fn apply(self, pending: &mut PendingRecord) {
        pending.record.prompt_tokens = self.prompt_tokens;
        pending.record.completion_tokens = self.completion_tokens;
    }
}

/// The `usage` object of an OpenAI response or chunk, if present and not null.
fn usage_in(json: &[u8]) -> Option<TokenUsage> {
    #[derive(Deserialize)]
    struct WithUsage {
        usage: Option<TokenUsage>,
    }
    serde_json::from_slice::<WithUsage>(json).ok()?.usage
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rejects_bad_bodies() {
        assert_eq!(ChatRequest::parse(b"{").unwrap_err().code, "invalid_json");
        assert_eq!(ChatRequest::parse(b"[]").unwrap_err().code, "invalid_json");
        assert_eq!(ChatRequest::parse(b"{}").unwrap_err().code, "missing_model");
        assert_eq!(
            ChatRequest::parse(br#"{"model":1}"#).unwrap_err().code,
            "invalid_model"
        );
        assert_eq!(
            ChatRequest::parse(br#"{"model":"a/b","stream":"yes"}"#)
                .unwrap_err()
                .code,
            "invalid_stream"
        );
        let ok = ChatRequest::parse(br#"{"model":"a/b","stream":true}"#).unwrap();
        assert!(ok.stream);
    }

    #[test]
    fn events_are_written_back_in_wire_form() {
        let event = Event {
            event: "message".into(),
            data: "{\"a\":1}\nsecond".into(),
            id: String::new(),
            retry: None,
        };
        assert_eq!(
            encode_event(&event),
            Bytes::from("data: {\"a\":1}\ndata: second\n\n")
        );
    }

    #[test]
    fn usage_is_read_when_present() {
        let usage = usage_in(br#"{"usage":{"prompt_tokens":3,"completion_tokens":5}}"#).unwrap();
        assert_eq!(
            (usage.prompt_tokens, usage.completion_tokens),
            (Some(3), Some(5))
        );
        assert!(usage_in(br#"{"usage":null}"#).is_none());
        assert!(usage_in(b"[DONE]").is_none());
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(redact("bad key sk-12345", "sk-12345"), "bad key [redacted]");
    }
}
