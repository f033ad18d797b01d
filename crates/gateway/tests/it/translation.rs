//! Translation between dialects through the gateway: OpenAI clients on an
//! Anthropic provider and Anthropic clients on an OpenAI provider, streaming
//! and not, plus Anthropic passthrough and errors in Anthropic's format.

use serde_json::{Value, json};

use crate::Harness;

/// Splits an SSE body into (event name, JSON data) pairs; `[DONE]` is kept as a string.
fn sse_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|frame| !frame.trim().is_empty())
        .map(|frame| {
            let mut name = String::new();
            let mut data = String::new();
            for line in frame.lines() {
                if let Some(rest) = line.strip_prefix("event: ") {
                    name = rest.to_owned();
                } else if let Some(rest) = line.strip_prefix("data: ") {
                    data.push_str(rest);
                }
            }
            let data = serde_json::from_str(&data).unwrap_or(Value::String(data));
            (name, data)
        })
        .collect()
}

fn tool_request() -> Value {
    json!({
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Oslo?"}
        ],
        "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
    })
}

#[tokio::test]
async fn openai_client_on_an_anthropic_provider() {
    let mut harness = Harness::start().await;
    let mut request = tool_request();
    request["model"] = json!("claude/tool");
    let response = harness.post_chat(request).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "Looking.");
    let call = &body["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "weather");
    assert_eq!(
        serde_json::from_str::<Value>(call["function"]["arguments"].as_str().unwrap()).unwrap(),
        json!({"city": "Oslo"})
    );
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(body["usage"]["prompt_tokens"], 15);

    // What the provider received is a proper Anthropic request.
    let sent = harness.upstream.last_body();
    assert_eq!(sent["model"], "tool");
    assert_eq!(sent["system"], "Be brief.");
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "Weather in Oslo?"}]}])
    );
    assert_eq!(
        sent["tools"][0]["input_schema"]["properties"]["city"]["type"],
        "string"
    );
    assert!(sent["max_tokens"].as_u64().unwrap() > 0);

    harness.stop().await;
    let record = &harness.store().recent_requests(1).unwrap()[0];
    assert_eq!(
        (record.prompt_tokens, record.completion_tokens),
        (Some(15), Some(4))
    );
}

#[tokio::test]
async fn openai_client_streams_from_an_anthropic_provider() {
    let harness = Harness::start().await;
    let mut request = tool_request();
    request["model"] = json!("claude/tool");
    request["stream"] = json!(true);
    request["stream_options"] = json!({"include_usage": true});
    let response = harness.post_chat(request).await;
    assert_eq!(response.status(), 200);
    let events = sse_events(&response.text().await.unwrap());
    assert_eq!(events.last().unwrap().1, json!("[DONE]"));
    let chunks: Vec<&Value> = events
        .iter()
        .map(|(_, data)| data)
        .filter(|data| data.is_object())
        .collect();
    let text: String = chunks
        .iter()
        .filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Hello from Claude");
    let arguments: String = chunks
        .iter()
        .filter_map(|chunk| {
            chunk["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&arguments).unwrap(),
        json!({"city": "Oslo"})
    );
    let finish = chunks
        .iter()
        .find_map(|chunk| chunk["choices"][0]["finish_reason"].as_str())
        .unwrap();
    assert_eq!(finish, "tool_calls");
    let usage = chunks
        .iter()
        .find(|chunk| chunk["usage"].is_object())
        .unwrap();
    assert_eq!(usage["usage"]["completion_tokens"], 6);
    assert!(harness.upstream.last_body()["stream"] == json!(true));
}

#[tokio::test]
async fn anthropic_client_on_an_openai_provider() {
    let mut harness = Harness::start().await;
    let response = harness
        .post_messages(json!({
            "model": "mock/echo",
            "max_tokens": 100,
            "system": "Be brief.",
            "messages": [{"role": "user", "content": "hi"}]
        }))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(
        body["content"],
        json!([{"type": "text", "text": "Hello from the mock"}])
    );
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["usage"]["input_tokens"], 7);
    let sent = harness.upstream.last_body();
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(sent["max_tokens"], 100);

    harness.stop().await;
    assert_eq!(
        harness.store().recent_requests(1).unwrap()[0].endpoint,
        "/v1/messages"
    );
}

#[tokio::test]
async fn anthropic_client_streams_from_an_openai_provider() {
    let harness = Harness::start().await;
    harness.upstream.gate.notify_one();
    let response = harness
        .post_messages(json!({
            "model": "mock/echo",
            "max_tokens": 100,
            "stream": true,
            "messages": [{"role": "user", "content": "hi"}]
        }))
        .await;
    assert_eq!(response.status(), 200);
    let events = sse_events(&response.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let text: String = events
        .iter()
        .filter_map(|(_, data)| data["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "Hello");
    assert_eq!(events[5].1["delta"]["stop_reason"], "end_turn");
    // The provider was asked for usage even though the client could not ask.
    assert_eq!(
        harness.upstream.last_body()["stream_options"]["include_usage"],
        true
    );
    assert_eq!(events[5].1["usage"]["output_tokens"], 2);
}

#[tokio::test]
async fn anthropic_passthrough_keeps_events_and_counts_usage() {
    let mut harness = Harness::start().await;
    let response = harness
        .post_messages(json!({
            "model": "claude/plain",
            "max_tokens": 100,
            "stream": true,
            "messages": [{"role": "user", "content": "hi"}],
            "metadata": {"user_id": "u1"}
        }))
        .await;
    let events = sse_events(&response.text().await.unwrap());
    // Passthrough: even pings arrive, untouched.
    assert!(events.iter().any(|(name, _)| name == "ping"));
    assert_eq!(
        harness.upstream.last_body()["metadata"],
        json!({"user_id": "u1"})
    );
    assert_eq!(harness.upstream.last_body()["model"], "plain");

    harness.stop().await;
    let record = &harness.store().recent_requests(1).unwrap()[0];
    assert_eq!(
        (record.prompt_tokens, record.completion_tokens),
        (Some(12), Some(6))
    );
}

#[tokio::test]
async fn a_streamed_answer_is_collected_for_a_non_streaming_client() {
    let mut harness = Harness::start().await;
    let response = harness
        .post_chat(
            json!({"model": "claude/stream-only", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Hello from Claude"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["completion_tokens"], 6);
    harness.stop().await;
    assert_eq!(
        harness.store().recent_requests(1).unwrap()[0].prompt_tokens,
        Some(12)
    );
}

#[tokio::test]
async fn errors_on_the_messages_endpoint_are_in_anthropic_format() {
    let harness = Harness::start().await;
    let response = harness
        .http
        .post(harness.url("/v1/messages"))
        .header("x-api-key", "sy-wrong")
        .json(&json!({"model": "claude/plain", "max_tokens": 5, "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "authentication_error");

    let response = harness
        .post_messages(json!({"model": "nobody/x", "max_tokens": 5, "messages": []}))
        .await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["type"],
        "not_found_error"
    );

    // A translated request that the client's dialect forbids is a 400 in that dialect.
    let response = harness
        .post_messages(json!({"model": "mock/echo", "messages": [{"role": "user", "content": "no max_tokens"}]}))
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_tokens")
    );

    // An upstream error is re-rendered for a client of the other dialect.
    let response = harness
        .post_chat(
            json!({"model": "claude/overloaded", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(response.status(), 529);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Overloaded")
    );
    assert_eq!(body["error"]["code"], "upstream_error");
}

#[tokio::test]
async fn count_tokens_asks_anthropic_providers_and_estimates_otherwise() {
    let harness = Harness::start().await;
    let count = |model: &'static str| {
        let request = harness
            .http
            .post(harness.url("/v1/messages/count_tokens"))
            .header("x-api-key", &harness.key)
            .json(&json!({"model": model, "system": "Be brief.", "messages": [{"role": "user", "content": "How many tokens is this sentence?"}]}));
        async move { request.send().await.unwrap() }
    };
    let from_provider: Value = count("claude/plain").await.json().await.unwrap();
    assert_eq!(from_provider, json!({"input_tokens": 41}));
    for model in ["mock/echo", "nobody/knows"] {
        let response = count(model).await;
        assert_eq!(response.status(), 200, "{model}");
        let estimate = response.json::<Value>().await.unwrap()["input_tokens"]
            .as_u64()
            .unwrap();
        assert!((5..50).contains(&estimate), "{model}: {estimate}");
    }
    let response = harness
        .http
        .post(harness.url("/v1/messages/count_tokens"))
        .header("x-api-key", &harness.key)
        .json(&json!({"model": "claude/plain"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["type"], "error");
}

#[tokio::test]
async fn embeddings_go_to_openai_compatible_providers() {
    let mut harness = Harness::start().await;
    let response = harness
        .http
        .post(harness.url("/v1/embeddings"))
        .bearer_auth(&harness.key)
        .json(&json!({"model": "mock/embed-small", "input": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"][0]["embedding"], json!([0.1, 0.2, 0.3]));
    assert_eq!(body["model"], "embed-small");

    let response = harness
        .http
        .post(harness.url("/v1/embeddings"))
        .bearer_auth(&harness.key)
        .json(&json!({"model": "claude/plain", "input": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    harness.stop().await;
    let records = harness.store().recent_requests(2).unwrap();
    assert_eq!(records[1].endpoint, "/v1/embeddings");
    assert_eq!(records[1].prompt_tokens, Some(3));
}

#[tokio::test]
async fn a_stream_that_breaks_ends_with_an_error_event_in_the_clients_dialect() {
    let mut harness = Harness::start().await;
    let openai = harness
        .post_chat(json!({"model": "mock/broken", "stream": true, "messages": [{"role": "user", "content": "x"}]}))
        .await
        .text()
        .await
        .unwrap();
    let events = sse_events(&openai);
    assert!(
        events[0].1["choices"][0]["delta"]["content"] == "Hal",
        "{openai}"
    );
    assert_eq!(
        events.last().unwrap().1["error"]["code"],
        "upstream_unreachable",
        "{openai}"
    );

    let anthropic = harness
        .post_messages(json!({"model": "mock/broken", "max_tokens": 10, "stream": true, "messages": [{"role": "user", "content": "x"}]}))
        .await
        .text()
        .await
        .unwrap();
    let events = sse_events(&anthropic);
    assert_eq!(events[0].0, "message_start");
    let (name, last) = events.last().unwrap();
    assert_eq!(name, "error", "{anthropic}");
    assert_eq!(last["error"]["type"], "api_error");
    assert!(
        !events.iter().any(|(name, _)| name == "message_stop"),
        "{anthropic}"
    );

    harness.stop().await;
    let records = harness.store().recent_requests(2).unwrap();
    assert!(
        records.iter().all(|record| record.status == 502),
        "{records:?}"
    );
}
