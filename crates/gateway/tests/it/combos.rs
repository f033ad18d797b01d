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
