//! A subscription service added the way the built-in ones are: one type
//! implementing `ProviderApi` (its data, its authorization with the body in
//! view, its envelope, its path, its token exchange) and one row in a
//! `ProviderTable`; a login is stored with `providers::save_login`, and
//! requests in two dialects reach the fake upstream through it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use switchyard_gateway::Dialect;
use switchyard_providers::oauth::service::{
    AuthorizeStyle, BodyStyle, DeviceProtocol, Endpoints, LoginKind, Redirect,
};
use switchyard_providers::oauth::{Grant, Service};
use switchyard_providers::{
    self, Exchange, ExchangeError, Exchanged, ProviderApi, ProviderTable, RequestHeaders, Shaping,
    UpstreamCall,
};
use switchyard_store::{ProviderKind, Store};

/// The fake service: OpenAI Chat bodies wrapped as `{"envelope": ...}`,
/// sent to `/generate`, signed over the body, with a token exchanged first.
#[derive(Debug)]
struct FakeService {
    api_base: String,
}

impl ProviderApi for FakeService {
    fn service(&self) -> Option<Service> {
        Some(Service {
            id: "fake-service",
            name: "Fake Service",
            prefix: "fk",
            kind: ProviderKind::OpenaiCompatible,
            models: &["fake-model"],
            login: LoginKind::DeviceCode,
            redirect: Redirect::Ephemeral,
            client_id: "fake-client",
            client_secret: None,
            state_in_token_request: false,
            authorize_style: AuthorizeStyle::Pkce,
            basic_auth: false,
            device: DeviceProtocol::Rfc8628,
            scopes: "",
            extra_authorize_params: &[],
            device_pkce: false,
            token_body: BodyStyle::Form,
            refresh_body: BodyStyle::Form,
            terms_note: None,
            refresh_lead: Duration::from_secs(60),
            endpoints: Endpoints {
                device_url: Some(format!("{}/device", self.api_base)),
                token_url: Some(format!("{}/token", self.api_base)),
                api_base: Some(self.api_base.clone()),
                ..Endpoints::default()
            },
            cli_credentials: None,
        })
    }

    fn authorize(&self, call: &UpstreamCall<'_>, headers: &mut RequestHeaders) {
        headers.bearer(call.token);
        // A signature over the body, as SigV4-style services need.
        let sum: u64 = call.body.iter().map(|byte| u64::from(*byte)).sum();
        headers.add("x-fake-signature", format!("{}:{sum}", call.body.len()));
    }

    fn upstream_path(&self, _upstream: Dialect, _model: &str, _stream: bool) -> String {
        "/generate".into()
    }

    fn shapes_body(&self) -> bool {
        true
    }

    fn shape_body(&self, body: &mut Value, shaping: &Shaping<'_>) {
        *body = json!({"envelope": std::mem::take(body), "tenant": shaping.meta.get("tenant")});
    }

    fn exchange<'a>(
        &'a self,
        exchange: Exchange<'a>,
    ) -> BoxFuture<'a, Result<Exchanged, ExchangeError>> {
        let token = format!("exchanged-{}", exchange.account.api_key);
        Box::pin(async move { Ok(Exchanged::token(token)) })
    }

    fn account_facts(&self, _grant: &Grant) -> (Option<String>, serde_json::Map<String, Value>) {
        let mut meta = serde_json::Map::new();
        meta.insert("tenant".into(), "tenant-7".into());
        (Some("user@fake.example".into()), meta)
    }
}

/// What the fake upstream saw: the signature header check and the body.
type Seen = Arc<Mutex<Vec<(bool, Value)>>>;

async fn generate(
    State(seen): State<Seen>,
    headers: HeaderMap,
    raw: Bytes,
) -> (StatusCode, Json<Value>) {
    let sum: u64 = raw.iter().map(|byte| u64::from(*byte)).sum();
    let signed = headers
        .get("x-fake-signature")
        .and_then(|v| v.to_str().ok())
        == Some(&format!("{}:{sum}", raw.len()));
    let authorized = headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some("Bearer exchanged-fake-access-token");
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    seen.lock()
        .unwrap()
        .push((signed && authorized, body.clone()));
    if !(signed && authorized) || body["tenant"] != "tenant-7" {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({"error": {"message": "unsigned"}})),
        );
    }
    let model = body["envelope"]["model"].clone();
    (
        StatusCode::OK,
        Json(json!({
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_700_000_000,
            "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "hi from the fake service"}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
        })),
    )
}

#[tokio::test]
async fn a_service_added_as_one_type_and_one_row_serves_requests() {
    let seen: Seen = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_base = format!("http://{}/fake/v2", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/fake/v2/generate", post(generate))
        .with_state(Arc::clone(&seen));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let fake: &'static FakeService = Box::leak(Box::new(FakeService { api_base }));
    let table = ProviderTable::builtin().with(fake);
    let subscription = table.subscription("fake-service").unwrap();

    let data_dir = tempfile::tempdir().unwrap();
    let store = Store::open_in_dir(data_dir.path()).unwrap();
    let grant = Grant::imported(
        Some("fake-access-token".into()),
        Some("fake-refresh-token".into()),
        None,
    )
    .unwrap();
    let (provider, account) =
        switchyard_providers::save_login(&store, subscription, &grant, None, None).unwrap();
    assert_eq!(provider.prefix, "fk");
    assert_eq!(account.label, "user@fake.example");
    let key = store.create_api_key("tests").unwrap().key;
    drop(store);

    let gateway =
        switchyard_gateway::start_with(data_dir.path(), "127.0.0.1:0".parse().unwrap(), table)
            .await
            .unwrap();
    let base = format!("http://{}", gateway.local_addr());
    let http = switchyard_providers::tls::http_client().build().unwrap();

    let answer: Value = http
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": "fk/fake-model", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["choices"][0]["message"]["content"], "hi from the fake service",
        "{answer}"
    );

    // Another dialect, translated before the service's envelope.
    let response = http
        .post(format!("{base}/v1/messages"))
        .header("x-api-key", &key)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "fk/fake-model", "max_tokens": 20,
                      "messages": [{"role": "user", "content": "hello"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        answer["content"][0]["text"], "hi from the fake service",
        "{answer}"
    );

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    for (signed, body) in &seen {
        assert!(signed, "{body}");
        assert_eq!(body["envelope"]["model"], "fake-model");
    }
    assert_eq!(seen[1].1["envelope"]["messages"][0]["content"], "hello");
    gateway.shutdown().await;
}
