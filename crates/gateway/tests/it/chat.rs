//! `/v1/chat/completions`, `/v1/models`, auth and errors, end to end.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use switchyard_gateway::StartError;
use switchyard_store::{NewProvider, ProviderKind};

use crate::Harness;
use crate::mock_upstream::UPSTREAM_KEY;

async fn error_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn non_streaming_chat_is_forwarded_and_counted() {
    let mut harness = Harness::start().await;
    let response = harness
        .post_chat(json!({"model": "mock/echo", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Hello from the mock"
    );
    assert_eq!(harness.upstream.last_body()["model"], "echo");
    assert_eq!(harness.upstream.last_body()["messages"][0]["content"], "hi");

    harness.stop().await;
    let store = harness.store();
    let totals = store.usage_totals().unwrap();
    assert_eq!((totals.requests, totals.succeeded), (1, 1));
    assert_eq!((totals.prompt_tokens, totals.completion_tokens), (7, 3));
    let record = &store.recent_requests(1).unwrap()[0];
    assert_eq!(record.model, "mock/echo");
    assert_eq!(record.provider.as_deref(), Some("Mock"));
    assert_eq!(record.status, 200);
    assert!(!record.stream);
}

#[tokio::test]
async fn a_passed_through_request_reaches_the_provider_as_sent_but_for_the_model() {
    // Numbers beyond what a JSON tree keeps (a 23-digit seed, a 17-digit
    // decimal) and members the gateway does not know arrive byte for byte.
    let harness = Harness::start().await;
    let sent = r#"{"model": "mock/echo", "seed": 12345678901234567890123, "temperature": 0.10000000000000000555, "vendor_extension": {"keep": [1, 2.50, "x\u00e9"]}, "messages": [{"role": "user", "content": "hi"}]}"#;
    let response = harness
        .http
        .post(harness.url("/v1/chat/completions"))
        .bearer_auth(&harness.key)
        .header("content-type", "application/json")
        .body(sent)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let received = harness.upstream.received_raw.lock().unwrap().pop().unwrap();
    assert!(received.contains(r#""model":"echo""#), "{received}");
    for member in [
        r#""seed":12345678901234567890123"#,
        r#""temperature":0.10000000000000000555"#,
        r#""vendor_extension":{"keep": [1, 2.50, "x\u00e9"]}"#,
        r#""messages":[{"role": "user", "content": "hi"}]"#,
    ] {
        assert!(received.contains(member), "{member} not in {received}");
    }
}

#[tokio::test]
async fn streaming_is_relayed_chunk_by_chunk() {
    let mut harness = Harness::start().await;
    let response = harness
        .post_chat(json!({
            "model": "mock/gated",
            "stream": true,
            "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "hi"}]
        }))
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut body = response.bytes_stream();

    // The mock holds the rest of its answer until the gate opens, so the first
    // chunk can only arrive if the gateway relays without buffering.
    let mut received = String::new();
    while !received.contains("Hel") {
        let next = tokio::time::timeout(Duration::from_secs(30), body.next())
            .await
            .expect("the first chunk never arrived: the gateway buffers streams")
            .expect("the stream ended before its first chunk")
            .unwrap();
        received.push_str(std::str::from_utf8(&next).unwrap());
    }
    assert!(
        !received.contains("\"lo\""),
        "the gate was still closed: {received}"
    );
    harness.upstream.gate.notify_one();
    while let Some(next) = body.next().await {
        received.push_str(std::str::from_utf8(&next.unwrap()).unwrap());
    }

    let events: Vec<&str> = received
        .split("\n\n")
        .filter(|event| !event.is_empty())
        .map(|event| event.strip_prefix("data: ").unwrap())
        .collect();
    assert_eq!(events.len(), 5, "{received}");
    assert_eq!(*events.last().unwrap(), "[DONE]");
    let text: String = events
        .iter()
        .filter_map(|event| serde_json::from_str::<Value>(event).ok())
        .filter_map(|chunk| {
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, "Hello");

    harness.stop().await;
    let record = &harness.store().recent_requests(1).unwrap()[0];
    assert!(record.stream);
    assert_eq!(record.status, 200);
    assert_eq!(
        (record.prompt_tokens, record.completion_tokens),
        (Some(11), Some(2))
    );
}

#[tokio::test]
async fn unknown_models_are_404_in_openai_format() {
    let harness = Harness::start().await;
    for model in ["nobody/echo", "no-prefix", "mock/"] {
        let (status, body) = error_of(
            harness
                .post_chat(json!({"model": model, "messages": []}))
                .await,
        )
        .await;
        assert_eq!(status, 404, "{model}");
        assert_eq!(body["error"]["code"], "model_not_found", "{model}");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(body["error"]["message"].as_str().unwrap().contains(model));
    }
}

#[tokio::test]
async fn keys_are_required_and_checked() {
    let harness = Harness::start().await;
    let url = harness.url("/v1/models");
    let missing = harness.http.get(&url).send().await.unwrap();
    let (status, body) = error_of(missing).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "invalid_api_key");

    let wrong = harness
        .http
        .get(&url)
        .bearer_auth("sy-wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(wrong).await.0, 401);

    let store = harness.store();
    let revoked = store.create_api_key("old").unwrap();
    store.revoke_api_key(revoked.info.id).unwrap();
    let response = harness
        .http
        .get(&url)
        .bearer_auth(&revoked.key)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response).await.0, 401);

    let ok = harness
        .http
        .get(&url)
        .bearer_auth(&harness.key)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn a_key_revoked_between_usage_batches_is_refused_at_once() {
    // The gateway's own usage batches leave its routing snapshot as it is;
    // a change by another connection must still reach the very next request.
    let harness = Harness::start().await;
    let store = harness.store();
    let key = store.create_api_key("soon revoked").unwrap();
    let chat = || {
        harness
            .http
            .post(harness.url("/v1/chat/completions"))
            .bearer_auth(&key.key)
            .json(&json!({"model": "mock/echo", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(chat().await.unwrap().status(), 200);
        harness.flush_usage().await;
    }
    store.revoke_api_key(key.info.id).unwrap();
    assert_eq!(error_of(chat().await.unwrap()).await.0, 401);
}

#[tokio::test]
async fn loopback_clients_may_skip_the_key_when_the_setting_allows() {
    let harness = Harness::start().await;
    harness
        .store()
        .set_setting("allow_unauthenticated_loopback", "true")
        .unwrap();
    let response = harness
        .http
        .get(harness.url("/v1/models"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // A wrong key is still wrong.
    let wrong = harness
        .http
        .get(harness.url("/v1/models"))
        .bearer_auth("sy-wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
}

#[tokio::test]
async fn malformed_requests_are_400() {
    let harness = Harness::start().await;
    let response = harness
        .http
        .post(harness.url("/v1/chat/completions"))
        .bearer_auth(&harness.key)
        .header("content-type", "application/json")
        .body("{\"model\": ")
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(response).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_json");

    let (status, body) = error_of(harness.post_chat(json!({"messages": []})).await).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "missing_model");
}

#[tokio::test]
async fn unreachable_upstream_is_502() {
    let harness = Harness::start().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    harness
        .store()
        .add_provider(&NewProvider {
            name: "Down".into(),
            kind: ProviderKind::OpenaiCompatible,
            prefix: "down".into(),
            base_url: format!("http://127.0.0.1:{closed_port}/v1"),
            api_key: "sk-down-secret".into(),
            models: vec![],
            enabled: true,
        })
        .unwrap();
    let (status, body) = error_of(
        harness
            .post_chat(json!({"model": "down/x", "messages": []}))
            .await,
    )
    .await;
    assert_eq!(status, 502);
    assert_eq!(body["error"]["code"], "upstream_unreachable");
    assert!(!body.to_string().contains("sk-down-secret"));
}

#[tokio::test]
async fn upstream_errors_keep_their_status_without_leaking_the_key() {
    let harness = Harness::start().await;
    // A server error first: a 429 would cool the account down.
    let (status, body) = error_of(
        harness
            .post_chat(json!({"model": "mock/fail-500-text", "messages": []}))
            .await,
    )
    .await;
    assert_eq!(status, 500);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("upstream exploded")
    );
    let (status, body) = error_of(
        harness
            .post_chat(json!({"model": "mock/fail-429", "messages": []}))
            .await,
    )
    .await;
    assert_eq!(status, 429);
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert!(!body.to_string().contains(UPSTREAM_KEY), "{body}");
    assert!(body.to_string().contains("[redacted]"), "{body}");
}

#[tokio::test]
async fn models_lists_enabled_providers_and_doubled_v1_works() {
    let harness = Harness::start().await;
    let list = |path: &'static str| {
        let request = harness
            .http
            .get(harness.url(path))
            .bearer_auth(&harness.key);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let models = list("/v1/models").await;
    assert_eq!(models["object"], "list");
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "claude/plain",
            "claude/tool",
            "gem/flash",
            "gem/tool",
            "mock/echo",
            "mock/gated"
        ]
    );
    assert_eq!(models["data"][0]["object"], "model");
    assert_eq!(list("/v1/v1/models").await, models);

    harness.store().set_provider_enabled("mock", false).unwrap();
    let remaining = list("/v1/models").await;
    assert!(
        remaining["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["owned_by"] != "Mock")
    );
    let (status, body) = error_of(
        harness
            .post_chat(json!({"model": "mock/echo", "messages": []}))
            .await,
    )
    .await;
    assert_eq!(status, 404);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("disabled")
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let harness = Harness::start().await;
    let (status, body) =
        error_of(harness.http.get(harness.url("/nope")).send().await.unwrap()).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "unknown_url");
    let (status, _) = error_of(
        harness
            .http
            .delete(harness.url("/v1/chat/completions"))
            .bearer_auth(&harness.key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 405);
}

#[tokio::test]
async fn a_taken_port_is_a_clear_error() {
    let harness = Harness::start().await;
    let taken = harness.gateway.as_ref().unwrap().local_addr();
    let error = switchyard_gateway::start(harness.data_dir(), taken)
        .await
        .err()
        .unwrap();
    assert!(
        matches!(error, StartError::AddressInUse { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("already in use"));
}
