//! Arbitrary bodies on every chat endpoint: the gateway never fails with a 5xx
//! or a panic, and a rejected body gets a 400 in the endpoint's own dialect.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value, json};

use crate::Harness;

/// (path, model as the body names it, whether the model goes in the path)
const ENDPOINTS: &[(&str, &str)] = &[
    ("/v1/chat/completions", "claude/plain"),
    ("/v1/messages", "mock/echo"),
    ("/v1beta/models/mock/echo:generateContent", ""),
    ("/api/chat", "gem/flash"),
];

fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        "[a-z]{0,6}".prop_map(Value::String),
        prop_oneof![
            Just("user"),
            Just("assistant"),
            Just("text"),
            Just("tool_use"),
            Just("tool")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    let json = leaf.prop_recursive(3, 24, 4, |inner| {
        let keys = prop_oneof![
            Just("messages"),
            Just("role"),
            Just("content"),
            Just("type"),
            Just("text"),
            Just("tools"),
            Just("contents"),
            Just("parts"),
            Just("max_tokens"),
            Just("stream"),
            Just("tool_calls"),
        ]
        .prop_map(str::to_owned);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((keys, inner), 0..5)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    });
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        json.prop_map(|value| serde_json::to_vec(&value).unwrap()),
    ]
}

/// Whether `body` is an error in the dialect of `path`.
fn is_dialect_error(path: &str, body: &Value) -> bool {
    if path.starts_with("/v1/messages") {
        body["type"] == "error"
            && body["error"]["type"].is_string()
            && body["error"]["message"].is_string()
    } else if path.starts_with("/v1beta") {
        body["error"]["code"].is_number() && body["error"]["status"].is_string()
    } else if path.starts_with("/api") {
        body["error"].is_string()
    } else {
        body["error"]["message"].is_string() && body["error"]["type"].is_string()
    }
}

#[test]
fn arbitrary_bodies_get_dialect_errors_never_5xx() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let harness = runtime.block_on(Harness::start());
    let mut runner = TestRunner::new(Config {
        cases: 48,
        ..Config::default()
    });
    runner
        .run(&(0..ENDPOINTS.len(), body_strategy()), |(endpoint, raw)| {
            let (path, model) = ENDPOINTS[endpoint];
            // Most bodies get a real model so the decoders, not routing, see them.
            let body = match serde_json::from_slice::<Value>(&raw) {
                Ok(Value::Object(mut object)) if !model.is_empty() => {
                    object.insert("model".into(), json!(model));
                    object.insert("stream".into(), json!(false));
                    serde_json::to_vec(&object).unwrap()
                }
                _ => raw,
            };
            let (status, answer) = runtime.block_on(async {
                let response = harness
                    .http
                    .post(harness.url(path))
                    .header("x-api-key", &harness.key)
                    .header("x-goog-api-key", &harness.key)
                    .bearer_auth(&harness.key)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                (status, response.bytes().await.unwrap())
            });
            prop_assert!(
                status < 500,
                "{path}: {status} for {}",
                String::from_utf8_lossy(&body)
            );
            if status >= 400 {
                let answer: Value = serde_json::from_slice(&answer).unwrap();
                prop_assert!(is_dialect_error(path, &answer), "{path}: {answer}");
            }
            Ok(())
        })
        .unwrap();
}
