//! A mock provider the multi-process tests share: OpenAI chat completions
//! (the model `limited` answers 429 with `Retry-After`), recording each
//! request's model and `Authorization`, and an OAuth token endpoint that
//! rotates refresh tokens and refuses a token used twice, as Qwen's does;
//! and the client side: a provider added pointing at it, a chat request.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};

/// What the mock provider saw.
#[derive(Default)]
pub(crate) struct Upstream {
    /// Chat requests' models, in order.
    pub(crate) chats: Mutex<Vec<String>>,
    /// Chat requests' `Authorization`, in order.
    pub(crate) authorizations: Mutex<Vec<String>>,
    /// Refresh tokens still valid (each is used once: rotation).
    pub(crate) valid_refresh: Mutex<HashSet<String>>,
    /// Tokens granted.
    pub(crate) refreshes: AtomicUsize,
    /// Refresh tokens presented a second time.
    pub(crate) reused: AtomicUsize,
    issued: AtomicU64,
}

async fn chat(
    State(upstream): State<Arc<Upstream>>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> axum::response::Response {
    let authorization = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    upstream.authorizations.lock().unwrap().push(authorization);
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    upstream.chats.lock().unwrap().push(model.clone());
    if model == "limited" {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "30")],
            axum::Json(json!({"error": {"message": "rate limited", "type": "rate_limit_error"}})),
        )
            .into_response();
    }
    axum::Json(json!({
        "id": "chatcmpl-mock", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    }))
    .into_response()
}

/// An OAuth token endpoint that rotates refresh tokens and refuses reuse.
async fn token(State(upstream): State<Arc<Upstream>>, body: String) -> axum::response::Response {
    let presented = body
        .split('&')
        .find_map(|pair| pair.strip_prefix("refresh_token="))
        .unwrap_or_default()
        .to_owned();
    if !upstream.valid_refresh.lock().unwrap().remove(&presented) {
        upstream.reused.fetch_add(1, Ordering::SeqCst);
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant", "error_description": "refresh token already used"})),
        )
            .into_response();
    }
    // A slow token endpoint widens the window for a second refresher.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let n = upstream.issued.fetch_add(1, Ordering::SeqCst) + 1;
    upstream.refreshes.fetch_add(1, Ordering::SeqCst);
    let next = format!("rt-{n}");
    upstream.valid_refresh.lock().unwrap().insert(next.clone());
    // The first grant is already inside the refresh lead (20 minutes).
    let expires_in = if n == 1 { 600 } else { 7200 };
    axum::Json(json!({
        "access_token": format!("at-{n}"), "refresh_token": next,
        "token_type": "Bearer", "expires_in": expires_in
    }))
    .into_response()
}

/// Starts the mock on a free loopback port (`rt-0` is a valid refresh
/// token); its address and what it sees.
pub(crate) async fn start_upstream() -> (String, Arc<Upstream>) {
    let upstream = Arc::new(Upstream::default());
    upstream.valid_refresh.lock().unwrap().insert("rt-0".into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(chat))
        .route("/oauth/token", axum::routing::post(token))
        .with_state(Arc::clone(&upstream));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}"), upstream)
}

/// A two-thread runtime for a test's clients and mocks.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Adds the OpenAI-compatible provider `prefix` at `base_url` with one model.
pub(crate) fn add_provider(
    cli: &super::Cli,
    prefix: &str,
    base_url: &str,
    api_key: &str,
    model: &str,
) {
    cli.ok(&[
        "provider",
        "add",
        "--name",
        prefix,
        "--prefix",
        prefix,
        "--base-url",
        base_url,
        "--api-key",
        api_key,
        "--model",
        model,
    ]);
}

/// A chat request for `model` through the gateway at `base`; its status
/// and answer (502 when no answer came at all).
pub(crate) async fn ask(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    model: &str,
) -> (StatusCode, Value) {
    match http
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
        .timeout(Duration::from_secs(30))
        .send()
        .await
    {
        Ok(response) => {
            let status = response.status();
            (status, response.json().await.unwrap_or(Value::Null))
        }
        Err(_) => (StatusCode::BAD_GATEWAY, Value::Null),
    }
}
