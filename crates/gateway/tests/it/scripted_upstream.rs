//! An OpenAI-compatible upstream whose answers are scripted per API key (so
//! per account): rate limits with `Retry-After`, quota and auth errors,
//! server errors, slow first bytes and requests that never finish. It records
//! which key and model each request came with.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A normal answer (JSON, or SSE when the request streams), 100 tokens in, 50 out.
    Ok,
    /// A normal answer with these extra headers.
    OkWithHeaders(Vec<(&'static str, String)>),
    /// An error status with an OpenAI error body and extra headers.
    Error(u16, &'static str, Vec<(&'static str, String)>),
    /// Waits this long before answering normally.
    SlowFirstByte(Duration),
    /// Never answers; counts in `abandoned` when the connection is dropped.
    Hang,
    /// `200 text/event-stream` with only a comment, no event.
    EmptyStream,
    /// A normal stream whose frames each come this long after the previous.
    SlowStream(Duration),
}

/// A running scripted upstream.
#[derive(Clone)]
pub struct ScriptedUpstream {
    pub address: SocketAddr,
    scripts: Arc<Mutex<HashMap<String, VecDeque<Reply>>>>,
    /// (API key, model) of every request, in order.
    pub seen: Arc<Mutex<Vec<(String, String)>>>,
    /// Hanging requests whose connection was dropped by the gateway.
    pub abandoned: Arc<AtomicUsize>,
}

impl ScriptedUpstream {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = Self {
            address: listener.local_addr().unwrap(),
            scripts: Arc::default(),
            seen: Arc::default(),
            abandoned: Arc::default(),
        };
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .with_state(upstream.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        upstream
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.address)
    }

    /// Queues answers for requests made with `key`; after them, `Reply::Ok`.
    pub fn script(&self, key: &str, replies: impl IntoIterator<Item = Reply>) {
        self.scripts
            .lock()
            .unwrap()
            .entry(key.to_owned())
            .or_default()
            .extend(replies);
    }

    /// The keys requests came with, in order.
    pub fn keys_seen(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// The models requested, in order.
    pub fn models_seen(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|(_, model)| model.clone())
            .collect()
    }
}

/// Counts a hanging request as abandoned when its future is dropped.
struct AbandonGuard(Arc<AtomicUsize>);

impl Drop for AbandonGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

async fn chat(
    State(upstream): State<ScriptedUpstream>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    upstream
        .seen
        .lock()
        .unwrap()
        .push((key.clone(), model.clone()));
    let reply = upstream
        .scripts
        .lock()
        .unwrap()
        .get_mut(&key)
        .and_then(VecDeque::pop_front)
        .unwrap_or(Reply::Ok);
    let stream = body["stream"].as_bool().unwrap_or(false);
    match reply {
        Reply::Ok => answer(&model, stream, Vec::new()),
        Reply::OkWithHeaders(extra) => answer(&model, stream, extra),
        Reply::Error(status, message, extra) => {
            let mut response = (
                StatusCode::from_u16(status).unwrap(),
                Json(json!({"error": {"message": message, "type": "error", "param": null, "code": null}})),
            )
                .into_response();
            add_headers(&mut response, extra);
            response
        }
        Reply::SlowFirstByte(wait) => {
            tokio::time::sleep(wait).await;
            answer(&model, stream, Vec::new())
        }
        Reply::SlowStream(gap) => {
            let mut response = answer(&model, true, Vec::new());
            let body = std::mem::take(response.body_mut());
            let text = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            let frames: Vec<String> = String::from_utf8_lossy(&text)
                .split_inclusive("\n\n")
                .map(str::to_owned)
                .collect();
            let frames = futures_util::StreamExt::then(
                futures_util::stream::iter(frames),
                move |frame| async move {
                    tokio::time::sleep(gap).await;
                    Ok::<_, std::convert::Infallible>(frame)
                },
            );
            *response.body_mut() = axum::body::Body::from_stream(frames);
            response
        }
        Reply::EmptyStream => (
            [(header::CONTENT_TYPE, "text/event-stream")],
            ": nothing to say\n\n",
        )
            .into_response(),
        Reply::Hang => {
            let _guard = AbandonGuard(Arc::clone(&upstream.abandoned));
            tokio::time::sleep(Duration::from_secs(60)).await;
            answer(&model, stream, Vec::new())
        }
    }
}

fn add_headers(response: &mut Response, extra: Vec<(&'static str, String)>) {
    for (name, value) in extra {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
}

fn answer(model: &str, stream: bool, extra: Vec<(&'static str, String)>) -> Response {
    let usage = json!({"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150});
    let mut response = if stream {
        let chunk = |delta: Value, finish: Value, usage: Option<&Value>| {
            let mut chunk = json!({
                "id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 1,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            });
            if let Some(usage) = usage {
                chunk["choices"] = json!([]);
                chunk["usage"] = usage.clone();
            }
            format!("data: {chunk}\n\n")
        };
        let body = [
            chunk(
                json!({"role": "assistant", "content": "scripted "}),
                Value::Null,
                None,
            ),
            chunk(json!({"content": "answer"}), json!("stop"), None),
            chunk(Value::Null, Value::Null, Some(&usage)),
            "data: [DONE]\n\n".to_owned(),
        ]
        .concat();
        ([(header::CONTENT_TYPE, "text/event-stream")], body).into_response()
    } else {
        Json(json!({
            "id": "chatcmpl-scripted", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "scripted answer"}, "finish_reason": "stop"}],
            "usage": usage,
        }))
        .into_response()
    };
    add_headers(&mut response, extra);
    response
}
