//! Ollama clients: `/api/chat` (NDJSON streams by default), `/api/tags`, errors.

use serde_json::{Value, json};

use crate::Harness;

async fn post(harness: &Harness, path: &str, body: Value) -> reqwest::Response {
    harness
        .http
        .post(harness.url(path))
        .bearer_auth(&harness.key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn ollama_chat_streams_ndjson_by_default() {
    let mut harness = Harness::start().await;
    harness.upstream.gate.notify_one();
    let response = post(
        &harness,
        "/api/chat",
        json!({"model": "mock/gated", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let text = response.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let content: String = lines
        .iter()
        .filter_map(|line| line["message"]["content"].as_str())
        .collect();
    assert_eq!(content, "Hello");
    let last = lines.last().unwrap();
    assert_eq!(last["done"], true);
    assert_eq!(last["done_reason"], "stop");
    assert_eq!(last["eval_count"], 2);
    assert_eq!(last["model"], "gated");
    harness.stop().await;
    let record = &harness.store().recent_requests(1).unwrap()[0];
    assert_eq!(record.endpoint, "/api/chat");
    assert!(record.stream);
}

#[tokio::test]
async fn ollama_chat_without_stream_answers_once() {
    let harness = Harness::start().await;
    let response = post(
        &harness,
        "/v1/api/chat",
        json!({"model": "claude/tool", "stream": false, "messages": [{"role": "user", "content": "weather?"}],
               "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["done"], true);
    assert_eq!(body["message"]["content"], "Looking.");
    assert_eq!(
        body["message"]["tool_calls"][0]["function"]["arguments"],
        json!({"city": "Oslo"})
    );
    assert_eq!(body["prompt_eval_count"], 15);
}

#[tokio::test]
async fn ollama_tags_and_errors() {
    let harness = Harness::start().await;
    let tags: Value = harness.get_json("/api/tags").await;
    assert!(
        tags["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|model| model["name"] == "mock/echo")
    );

    let response = post(
        &harness,
        "/api/chat",
        json!({"model": "nobody/x", "messages": []}),
    )
    .await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("nobody/x"));

    let response = harness
        .http
        .post(harness.url("/api/chat"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.json::<Value>().await.unwrap()["error"].is_string());
}
