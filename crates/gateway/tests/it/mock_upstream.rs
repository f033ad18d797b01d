//! An in-process upstream that speaks OpenAI's Chat Completions wire format:
//! JSON answers, SSE chunks with a usage chunk and `[DONE]`, and errors.
//! Its behaviour is scripted by the model name.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

/// The API key the mock accepts.
pub const UPSTREAM_KEY: &str = "sk-upstream-test-0123456789";

/// A running mock upstream.
#[derive(Clone)]
pub struct MockUpstream {
    pub address: SocketAddr,
    /// Bodies received, in order.
    pub received: Arc<Mutex<Vec<Value>>>,
    /// The same bodies byte for byte.
    pub received_raw: Arc<Mutex<Vec<String>>>,
    /// Released by tests of the `gated` model to let the rest of its stream go.
    pub gate: Arc<Notify>,
}

impl MockUpstream {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mock = Self {
            address: listener.local_addr().unwrap(),
            received: Arc::default(),
            received_raw: Arc::default(),
            gate: Arc::new(Notify::new()),
        };
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/messages", post(messages))
            .route(
                "/v1/messages/count_tokens",
                post(|Json(body): Json<Value>| async move {
                    Json(json!({"input_tokens": 40 + body["messages"].as_array().map_or(0, Vec::len)}))
                }),
            )
            .route(
                "/v1/embeddings",
                post(|Json(body): Json<Value>| async move {
                    Json(json!({
                        "object": "list",
                        "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}],
                        "model": body["model"],
                        "usage": {"prompt_tokens": 3, "total_tokens": 3}
                    }))
                }),
            )
            .route("/v1beta/models/{*target}", post(gemini))
            .with_state(mock.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        mock
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.address)
    }

    pub fn gemini_base_url(&self) -> String {
        format!("http://{}/v1beta", self.address)
    }

    pub fn last_body(&self) -> Value {
        self.received.lock().unwrap().last().cloned().unwrap()
    }
}

fn openai_error(status: StatusCode, message: &str, code: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}})),
    )
        .into_response()
}

fn chunk(model: &str, delta: Value, finish_reason: Value) -> String {
    let chunk = json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    });
    format!("data: {chunk}\n\n")
}

async fn chat(State(mock): State<MockUpstream>, headers: HeaderMap, raw: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&raw) else {
        return openai_error(StatusCode::BAD_REQUEST, "not JSON", "invalid_json");
    };
    mock.received_raw
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(&raw).into_owned());
    mock.received.lock().unwrap().push(body.clone());
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        == Some(&format!("Bearer {UPSTREAM_KEY}"));
    if !authorized {
        return openai_error(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided",
            "invalid_api_key",
        );
    }
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    match model.as_str() {
        "fail-429" => {
            return openai_error(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("Rate limit reached for key {UPSTREAM_KEY}"),
                "rate_limit_exceeded",
            );
        }
        "fail-500-text" => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "<html>upstream exploded</html>",
            )
                .into_response();
        }
        _ => {}
    }
    if model == "broken" {
        // One chunk, then the connection breaks.
        let first = chunk(
            &model,
            json!({"role": "assistant", "content": "Hal"}),
            Value::Null,
        );
        // The pause lets the first chunk leave before the connection breaks.
        let frames = futures_util::stream::unfold(0, move |step| {
            let first = first.clone();
            async move {
                match step {
                    0 => Some((Ok(Bytes::from(first)), 1)),
                    1 => {
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        Some((Err(std::io::Error::other("upstream crashed")), 2))
                    }
                    _ => None,
                }
            }
        });
        return Response::builder()
            .header(header::CONTENT_TYPE, "text/event-stream")
            .body(Body::from_stream(frames))
            .unwrap();
    }
    if body["stream"] == json!(true) {
        let (frames, receiver) = mpsc::channel::<Bytes>(8);
        let gate = (model == "gated").then(|| mock.gate.clone());
        let include_usage = body["stream_options"]["include_usage"] == json!(true);
        tokio::spawn(async move {
            let _ = frames
                .send(
                    chunk(
                        &model,
                        json!({"role": "assistant", "content": "Hel"}),
                        Value::Null,
                    )
                    .into(),
                )
                .await;
            if let Some(gate) = gate {
                gate.notified().await;
            }
            let _ = frames
                .send(chunk(&model, json!({"content": "lo"}), Value::Null).into())
                .await;
            let _ = frames
                .send(chunk(&model, json!({}), json!("stop")).into())
                .await;
            if include_usage {
                let usage = json!({
                    "id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1_700_000_000,
                    "model": model, "choices": [],
                    "usage": {"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13},
                });
                let _ = frames.send(format!("data: {usage}\n\n").into()).await;
            }
            let _ = frames.send(Bytes::from_static(b"data: [DONE]\n\n")).await;
        });
        let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
            receiver
                .recv()
                .await
                .map(|frame| (Ok::<_, Infallible>(frame), receiver))
        });
        return Response::builder()
            .header(header::CONTENT_TYPE, "text/event-stream")
            .body(Body::from_stream(body))
            .unwrap();
    }
    Json(json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": "Hello from the mock"},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    }))
    .into_response()
}

fn anthropic_event(name: &str, payload: Value) -> Bytes {
    format!("event: {name}\ndata: {payload}\n\n").into()
}

/// Anthropic Messages: `tool` models answer with a tool call, others with text.
async fn messages(
    State(mock): State<MockUpstream>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    mock.received.lock().unwrap().push(body.clone());
    let authorized = headers
        .get("x-api-key")
        .and_then(|value| value.to_str().ok())
        == Some(UPSTREAM_KEY)
        && headers.contains_key("anthropic-version");
    if !authorized {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})),
        )
            .into_response();
    }
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    if model == "overloaded" {
        return (
            StatusCode::from_u16(529).unwrap(),
            Json(json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})),
        )
            .into_response();
    }
    let tool = model == "tool";
    // `stream-only` streams even when asked not to, as some providers do.
    if body["stream"] != json!(true) && model != "stream-only" {
        let content = if tool {
            json!([{"type": "text", "text": "Looking."}, {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}}])
        } else {
            json!([{"type": "text", "text": "Hello from Claude"}])
        };
        return Json(json!({
            "id": "msg_mock", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": if tool { "tool_use" } else { "end_turn" }, "stop_sequence": null,
            "usage": {"input_tokens": 12, "output_tokens": 4, "cache_read_input_tokens": 3}
        }))
        .into_response();
    }
    let mut events = vec![
        anthropic_event(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_mock", "type": "message", "role": "assistant", "model": model, "content": [], "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 12, "output_tokens": 1}}}),
        ),
        anthropic_event(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        anthropic_event("ping", json!({"type": "ping"})),
        anthropic_event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello "}}),
        ),
        anthropic_event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "from Claude"}}),
        ),
        anthropic_event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
    ];
    if tool {
        events.extend([
            anthropic_event("content_block_start", json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}}})),
            anthropic_event("content_block_delta", json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"city\": "}})),
            anthropic_event("content_block_delta", json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"Oslo\"}"}})),
            anthropic_event("content_block_stop", json!({"type": "content_block_stop", "index": 1})),
        ]);
    }
    events.extend([
        anthropic_event("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": if tool { "tool_use" } else { "end_turn" }, "stop_sequence": null}, "usage": {"output_tokens": 6}})),
        anthropic_event("message_stop", json!({"type": "message_stop"})),
    ]);
    let body = futures_util::stream::iter(events.into_iter().map(Ok::<_, Infallible>));
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(body))
        .unwrap()
}

/// Gemini generateContent / streamGenerateContent: `tool` answers with a call.
async fn gemini(
    State(mock): State<MockUpstream>,
    Path(target): Path<String>,
    headers: HeaderMap,
    Json(mut body): Json<Value>,
) -> Response {
    body["__path"] = json!(target);
    mock.received.lock().unwrap().push(body.clone());
    if headers
        .get("x-goog-api-key")
        .and_then(|value| value.to_str().ok())
        != Some(UPSTREAM_KEY)
    {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({"error": {"code": 403, "message": "API key not valid.", "status": "PERMISSION_DENIED"}})),
        )
            .into_response();
    }
    let (model, action) = target.rsplit_once(':').unwrap();
    let tool = model == "tool";
    let usage = json!({"promptTokenCount": 8, "candidatesTokenCount": 5, "totalTokenCount": 13});
    let text_chunk = |text: &str| json!({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}], "modelVersion": model, "responseId": "gem-1"});
    if action == "generateContent" {
        let mut parts = vec![json!({"text": "Hello from Gemini"})];
        if tool {
            parts.push(json!({"functionCall": {"name": "weather", "args": {"city": "Oslo"}}}));
        }
        return Json(json!({
            "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": usage, "modelVersion": model, "responseId": "gem-1"
        }))
        .into_response();
    }
    let mut chunks = vec![text_chunk("Hello "), text_chunk("from Gemini")];
    if tool {
        chunks.push(json!({"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "weather", "args": {"city": "Oslo"}}}]}, "index": 0}], "modelVersion": model}));
    }
    chunks.push(json!({"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP", "index": 0}], "usageMetadata": usage, "modelVersion": model}));
    let frames = chunks
        .into_iter()
        .map(|chunk| Ok::<_, Infallible>(Bytes::from(format!("data: {chunk}\r\n\r\n"))));
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(futures_util::stream::iter(frames)))
        .unwrap()
}
