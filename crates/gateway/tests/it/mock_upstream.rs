//! An in-process upstream that speaks OpenAI's Chat Completions wire format:
//! JSON answers, SSE chunks with a usage chunk and `[DONE]`, and errors.
//! Its behaviour is scripted by the model name.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
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
    /// Released by tests of the `gated` model to let the rest of its stream go.
    pub gate: Arc<Notify>,
}

impl MockUpstream {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mock = Self {
            address: listener.local_addr().unwrap(),
            received: Arc::default(),
            gate: Arc::new(Notify::new()),
        };
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .with_state(mock.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        mock
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.address)
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

async fn chat(
    State(mock): State<MockUpstream>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
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
