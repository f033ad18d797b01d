//! Keys as policies: a paused key and an expired key are refused as such,
//! in each client's dialect; a key limited to some models sees only those
//! in every model list and is refused the others.

use serde_json::{Value, json};
use switchyard_store::hash_api_key;

use crate::Harness;

/// The key's id in the harness's store.
fn key_id(harness: &Harness) -> i64 {
    harness.store().active_key_policies().unwrap()[&hash_api_key(&harness.key)].id
}

async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn chat_in_each_dialect(harness: &Harness, model: &str) -> Vec<(u16, Value)> {
    let openai = harness
        .http
        .post(harness.url("/v1/chat/completions"))
        .bearer_auth(&harness.key)
        .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let anthropic = harness
        .http
        .post(harness.url("/v1/messages"))
        .header("x-api-key", &harness.key)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let gemini = harness
        .http
        .post(harness.url(&format!("/v1beta/models/{model}:generateContent")))
        .header("x-goog-api-key", &harness.key)
        .json(&json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}))
        .send()
        .await
        .unwrap();
    vec![
        answer(openai).await,
        answer(anthropic).await,
        answer(gemini).await,
    ]
}

#[tokio::test]
async fn a_paused_key_is_refused_as_paused_until_resumed() {
    let harness = Harness::start().await;
    let id = key_id(&harness);
    harness.store().set_api_key_paused(id, true).unwrap();
    let answers = chat_in_each_dialect(&harness, "mock/echo").await;
    let (status, openai) = &answers[0];
    assert_eq!(*status, 403, "{openai}");
    assert_eq!(openai["error"]["code"], "api_key_paused", "{openai}");
    assert_eq!(answers[1].0, 403);
    assert_eq!(
        answers[1].1["error"]["type"], "permission_error",
        "{}",
        answers[1].1
    );
    assert_eq!(answers[2].0, 403);
    assert_eq!(
        answers[2].1["error"]["status"], "PERMISSION_DENIED",
        "{}",
        answers[2].1
    );
    assert!(
        answers[2].1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("paused")
    );
    harness.store().set_api_key_paused(id, false).unwrap();
    let answers = chat_in_each_dialect(&harness, "mock/echo").await;
    assert_eq!(answers[0].0, 200, "{}", answers[0].1);
}

#[tokio::test]
async fn an_expired_key_is_refused_as_expired() {
    let harness = Harness::start().await;
    let id = key_id(&harness);
    harness
        .store()
        .set_api_key_policy(id, None, Some(switchyard_store::now_millis() - 1000), &[])
        .unwrap();
    let answers = chat_in_each_dialect(&harness, "mock/echo").await;
    assert_eq!(answers[0].0, 401);
    assert_eq!(
        answers[0].1["error"]["code"], "api_key_expired",
        "{}",
        answers[0].1
    );
    assert_eq!(answers[1].0, 401);
    assert_eq!(answers[2].0, 401);
}

#[tokio::test]
async fn a_key_limited_to_some_models_sees_and_uses_only_those() {
    let harness = Harness::start().await;
    let id = key_id(&harness);
    harness
        .store()
        .set_api_key_policy(id, Some("script"), None, &["mock/*".into()])
        .unwrap();
    let models: Value = harness
        .http
        .get(harness.url("/v1/models"))
        .bearer_auth(&harness.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|model| model["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["mock/echo", "mock/gated"], "{models}");
    for (path, header) in [
        ("/v1beta/models", "x-goog-api-key"),
        ("/api/tags", "authorization"),
    ] {
        let value = if header == "authorization" {
            format!("Bearer {}", harness.key)
        } else {
            harness.key.clone()
        };
        let listed = harness
            .http
            .get(harness.url(path))
            .header(header, value)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            listed.contains("mock/echo") && !listed.contains("claude/") && !listed.contains("gem/"),
            "{path}: {listed}"
        );
    }
    let one = harness
        .http
        .get(harness.url("/v1/models/claude/plain"))
        .bearer_auth(&harness.key)
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 404);
    let answers = chat_in_each_dialect(&harness, "claude/plain").await;
    for (status, body) in &answers {
        assert_eq!(*status, 403, "{body}");
        assert!(body.to_string().contains("may not use"), "{body}");
    }
    assert_eq!(answers[0].1["error"]["code"], "model_not_allowed");
    let allowed = chat_in_each_dialect(&harness, "mock/echo").await;
    assert_eq!(allowed[0].0, 200, "{}", allowed[0].1);
}

/// Prices `mock/echo` so each of the mock's answers costs
/// (prompt 10 + completion 5 tokens at $100/M each) $0.0015.
fn price_the_mock(harness: &Harness) {
    harness
        .store()
        .set_price(&switchyard_store::Price {
            model: "mock/echo".into(),
            input_per_mtok: 100.0,
            output_per_mtok: 100.0,
            cache_read_per_mtok: None,
            cache_write_per_mtok: None,
            per_image: None,
            per_audio_second: None,
        })
        .unwrap();
}

#[tokio::test]
async fn a_spent_budget_refuses_the_next_request_in_each_dialect_until_it_resets() {
    let mut harness = Harness::start().await;
    price_the_mock(&harness);
    let id = key_id(&harness);
    harness
        .store()
        .set_api_key_limits(
            id,
            &switchyard_store::KeyLimits {
                budget_day_usd: Some(0.002),
                ..Default::default()
            },
        )
        .unwrap();
    let mut spent = 0;
    loop {
        let answers = chat_in_each_dialect(&harness, "mock/echo").await;
        if answers[0].0 != 200 {
            // All three dialects are refused alike once spent.
            for (status, body) in &answers {
                assert_eq!(*status, 429, "{body}");
                assert!(body.to_string().contains("daily budget"), "{body}");
            }
            assert_eq!(answers[0].1["error"]["type"], "insufficient_quota");
            assert_eq!(answers[2].1["error"]["status"], "RESOURCE_EXHAUSTED");
            break;
        }
        spent += 1;
        assert!(spent < 5, "the budget never ran out");
    }
    let refused = harness
        .http
        .post(harness.url("/v1/chat/completions"))
        .bearer_auth(&harness.key)
        .json(&json!({"model": "mock/echo", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.headers()["x-should-retry"], "false");
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 24 * 3600, "{retry}");
    // What was spent survives a restart: it is read back from the log.
    harness.restart().await;
    let answers = chat_in_each_dialect(&harness, "mock/echo").await;
    assert_eq!(answers[0].0, 429, "{}", answers[0].1);
}

#[tokio::test]
async fn a_rate_limit_admits_exactly_its_number_under_fifty_concurrent_requests() {
    let harness = Harness::start().await;
    let id = key_id(&harness);
    harness
        .store()
        .set_api_key_limits(
            id,
            &switchyard_store::KeyLimits {
                requests_per_minute: Some(20),
                ..Default::default()
            },
        )
        .unwrap();
    let requests = (0..50).map(|_| {
        harness
            .http
            .post(harness.url("/v1/chat/completions"))
            .bearer_auth(&harness.key)
            .json(&json!({"model": "mock/echo", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
    });
    let answers = futures_util::future::join_all(requests).await;
    let mut ok = 0;
    let mut limited = 0;
    for answer in answers {
        let answer = answer.unwrap();
        match answer.status().as_u16() {
            200 => ok += 1,
            429 => {
                limited += 1;
                let retry: u64 = answer.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((1..=60).contains(&retry), "{retry}");
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((ok, limited), (20, 30));
}
