//! Combos: a model name standing for ordered targets, tried in turn on
//! connection failures, 429s and server errors, never on a bad request.

use serde_json::{Value, json};
use switchyard_store::{ComboStrategy, ComboTarget, NewProvider, ProviderKind};

use crate::Harness;

fn add_combo(harness: &Harness, name: &str, targets: &[&str]) {
    let targets: Vec<ComboTarget> = targets
        .iter()
        .map(|target| ComboTarget::new(*target))
        .collect();
    harness
        .store()
        .add_combo(name, ComboStrategy::Fallback, &targets)
        .unwrap();
}

fn add_dead_provider(harness: &Harness) {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    harness
        .store()
        .add_provider(&NewProvider {
            name: "Dead".into(),
            kind: ProviderKind::OpenaiCompatible,
            prefix: "dead".into(),
            base_url: format!("http://127.0.0.1:{port}/v1"),
            api_key: "sk-dead".into(),
            models: vec![],
            enabled: true,
        })
        .unwrap();
}

#[tokio::test]
async fn a_combo_falls_back_past_unreachable_and_rate_limited_targets() {
    let mut harness = Harness::start().await;
    add_dead_provider(&harness);
    add_combo(
        &harness,
        "resilient",
        &[
            "dead/x",
            "mock/fail-429",
            "mock/fail-500-text",
            "claude/plain",
        ],
    );
    let response = harness
        .post_chat(json!({"model": "resilient", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Hello from Claude"
    );

    // Streams fall back the same way, before anything reached the client.
    let response = harness
        .post_chat(json!({"model": "resilient", "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    let text = response.text().await.unwrap();
    assert!(text.contains("Hello "), "{text}");

    harness.stop().await;
    let records = harness.store().recent_requests(2).unwrap();
    let record = &records[1];
    assert_eq!(record.model, "resilient");
    assert_eq!(record.combo.as_deref(), Some("resilient"));
    assert_eq!(record.provider.as_deref(), Some("Claude"));
    assert_eq!(record.target.as_deref(), Some("claude/plain"));
    assert_eq!(record.status, 200);
    let path: Vec<(&str, u16)> = record
        .attempts
        .iter()
        .map(|attempt| (attempt.target.as_str(), attempt.status))
        .collect();
    assert_eq!(
        path,
        [
            ("dead/x", 502),
            ("mock/fail-429", 429),
            ("mock/fail-500-text", 500),
            ("claude/plain", 200)
        ]
    );
    // The 429 put the Mock account in a cooldown: the stream skipped it.
    let skipped = &records[0].attempts[1];
    assert_eq!(skipped.target, "mock/fail-429");
    assert!(
        skipped.error.as_deref().unwrap().contains("cooling down"),
        "{skipped:?}"
    );
}

#[tokio::test]
async fn a_bad_request_does_not_fall_back() {
    let harness = Harness::start().await;
    add_combo(&harness, "strict", &["claude/plain", "mock/echo"]);
    // The first target translates to Anthropic and rejects the unknown role:
    // the client's mistake, which another provider would not fix.
    let response = harness
        .post_chat(json!({"model": "strict", "messages": [{"role": "wizard", "content": "hi"}]}))
        .await;
    assert_eq!(response.status(), 400);
    let received = harness.upstream.received.lock().unwrap().len();
    assert_eq!(received, 0, "no target should have been called");
}

#[tokio::test]
async fn when_every_target_fails_the_last_error_is_answered() {
    let harness = Harness::start().await;
    add_combo(&harness, "doomed", &["mock/fail-500-text", "mock/fail-429"]);
    let response = harness
        .post_chat(json!({"model": "doomed", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(response.status(), 429);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
}

#[tokio::test]
async fn combos_are_listed_as_models() {
    let harness = Harness::start().await;
    add_combo(&harness, "best", &["mock/echo"]);
    let models: Value = harness.get_json("/v1/models").await;
    assert_eq!(models["data"][0]["id"], "best");
    assert_eq!(models["data"][0]["owned_by"], "switchyard-combo");
}

#[tokio::test]
async fn a_default_model_takes_names_only_the_client_knows() {
    let mut harness = Harness::start().await;
    add_dead_provider(&harness);
    add_combo(&harness, "everyday", &["dead/x", "claude/plain"]);
    let unknown = json!({"model": "claude-sonnet-4-5-20250929", "messages": [{"role": "user", "content": "hi"}]});

    // Without a default, an unknown name is the client's error.
    let response = harness.post_chat(unknown.clone()).await;
    assert_eq!(response.status(), 404);

    // With one, it goes to the default combo (seen at once: no restart).
    harness
        .store()
        .set_setting("default_model", "everyday")
        .unwrap();
    let response = harness.post_chat(unknown).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Hello from Claude"
    );
    // Prefixed names that do not exist stay errors.
    let response = harness
        .post_chat(json!({"model": "nope/x", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(response.status(), 404);

    harness.stop().await;
    let records = harness.store().recent_requests(2).unwrap();
    assert_eq!(records[1].model, "claude-sonnet-4-5-20250929");
    assert_eq!(records[1].combo.as_deref(), Some("everyday"));
}

#[tokio::test]
async fn a_fallback_and_an_opened_breaker_reach_the_webhooks_signed() {
    use std::sync::{Arc, Mutex};
    let received: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
    let sink = Arc::clone(&received);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let sink = Arc::clone(&sink);
            async move {
                let header = |name: &str| headers[name].to_str().unwrap_or_default().to_owned();
                sink.lock().unwrap().push((
                    header("x-switchyard-event"),
                    header("x-switchyard-signature"),
                    body,
                ));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let harness = Harness::start().await;
    add_dead_provider(&harness);
    add_combo(&harness, "resilient", &["dead/x", "mock/echo"]);
    let store = harness.store();
    store.set_setting("breaker_threshold", "1").unwrap();
    let (_, secret) = store
        .add_webhook(&url, "json", &["fallback".into(), "breaker_opened".into()])
        .unwrap();
    drop(store);
    let response = harness
        .post_chat(json!({"model": "resilient", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(response.status(), 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let events: Vec<String> = received
            .lock()
            .unwrap()
            .iter()
            .map(|(e, ..)| e.clone())
            .collect();
        if events.contains(&"fallback".to_owned()) && events.contains(&"breaker_opened".to_owned())
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "events so far: {events:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for (event, signature, body) in received.lock().unwrap().iter() {
        let timestamp: i64 = signature
            .strip_prefix("t=")
            .and_then(|rest| rest.split(',').next())
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            *signature,
            switchyard_gateway::webhooks::signature(&secret, timestamp, body),
            "{event}"
        );
        let parsed: Value = serde_json::from_str(body).unwrap();
        assert_eq!(parsed["event"], *event);
        if event == "fallback" {
            assert_eq!(parsed["data"]["served_by"], "mock/echo");
        }
    }
}
