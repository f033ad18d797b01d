//! Gemini on both sides: Gemini clients on other providers, other clients on
//! a Gemini provider, passthrough, model listing and Google-style errors.

use serde_json::{Value, json};

use crate::Harness;

fn data_chunks(body: &str) -> Vec<Value> {
    body.split("\n\n")
        .filter_map(|frame| frame.trim().strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).unwrap())
        .collect()
}

#[tokio::test]
async fn openai_client_on_a_gemini_provider() {
    let mut harness = Harness::start().await;
    let response = harness
        .post_chat(json!({
            "model": "gem/tool",
            "messages": [{"role": "system", "content": "Short."}, {"role": "user", "content": "Weather?"}],
            "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]
        }))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Hello from Gemini"
    );
    assert_eq!(
        body["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "weather"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    let sent = harness.upstream.last_body();
    assert_eq!(sent["__path"], "tool:generateContent");
    assert_eq!(sent["systemInstruction"]["parts"][0]["text"], "Short.");
    assert_eq!(
        sent["contents"][0],
        json!({"role": "user", "parts": [{"text": "Weather?"}]})
    );
    harness.stop().await;
    let record = &harness.store().recent_requests(1).unwrap()[0];
    assert_eq!(
        (record.prompt_tokens, record.completion_tokens),
        (Some(8), Some(5))
    );
}

#[tokio::test]
async fn gemini_client_on_an_openai_provider() {
    let harness = Harness::start().await;
    let response = harness
        .post_gemini(
            "mock/echo",
            "generateContent",
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "systemInstruction": {"parts": [{"text": "Sys"}]}}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["candidates"][0]["content"]["parts"][0]["text"],
        "Hello from the mock"
    );
    assert_eq!(body["candidates"][0]["finishReason"], "STOP");
    assert_eq!(body["usageMetadata"]["promptTokenCount"], 7);
    assert_eq!(
        harness.upstream.last_body()["messages"][0],
        json!({"role": "system", "content": "Sys"})
    );
}

#[tokio::test]
async fn gemini_client_streams_from_an_anthropic_provider() {
    let harness = Harness::start().await;
    let response = harness
        .http
        .post(harness.url("/v1beta/models/claude/plain:streamGenerateContent?alt=sse"))
        .header("x-goog-api-key", &harness.key)
        .json(&json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let chunks = data_chunks(&response.text().await.unwrap());
    let text: String = chunks
        .iter()
        .filter_map(|chunk| chunk["candidates"][0]["content"]["parts"][0]["text"].as_str())
        .collect();
    assert_eq!(text, "Hello from Claude");
    assert_eq!(
        chunks.last().unwrap()["candidates"][0]["finishReason"],
        "STOP"
    );
    assert_eq!(
        chunks.last().unwrap()["usageMetadata"]["candidatesTokenCount"],
        6
    );
    assert_eq!(harness.upstream.last_body()["stream"], true);
}

#[tokio::test]
async fn gemini_passthrough_streams_and_counts_usage() {
    let mut harness = Harness::start().await;
    let response = harness
        .http
        .post(harness.url("/v1beta/models/gem/flash:streamGenerateContent?alt=sse"))
        .header("x-goog-api-key", &harness.key)
        .json(&json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "safetySettings": []}))
        .send()
        .await
        .unwrap();
    let chunks = data_chunks(&response.text().await.unwrap());
    assert_eq!(chunks.len(), 3);
    let sent = harness.upstream.last_body();
    assert_eq!(sent["__path"], "flash:streamGenerateContent");
    assert_eq!(sent["safetySettings"], json!([]));
    harness.stop().await;
    let record = &harness.store().recent_requests(1).unwrap()[0];
    assert_eq!(
        (record.prompt_tokens, record.completion_tokens),
        (Some(8), Some(5))
    );
}

#[tokio::test]
async fn gemini_models_and_errors() {
    let harness = Harness::start().await;
    let models: Value = harness
        .http
        .get(harness.url(&format!("/v1beta/models?key={}", harness.key)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        models["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|model| model["name"] == "models/gem/flash")
    );

    let response = harness
        .http
        .post(harness.url("/v1beta/models/gem/flash:generateContent"))
        .header("x-goog-api-key", "sy-wrong")
        .json(&json!({"contents": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(body["error"]["code"], 401);

    let response = harness
        .post_gemini("nobody/x", "generateContent", json!({"contents": []}))
        .await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["status"],
        "NOT_FOUND"
    );

    let response = harness
        .post_gemini("mock/echo", "generateContent", json!({"contents": 5}))
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["status"],
        "INVALID_ARGUMENT"
    );

    // countTokens: estimated for a provider that is not Gemini.
    let response = harness
        .post_gemini(
            "mock/echo",
            "countTokens",
            json!({"contents": [{"role": "user", "parts": [{"text": "hello there, how are you"}]}]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let counted = response.json::<Value>().await.unwrap();
    assert!(counted["totalTokens"].as_u64().unwrap() > 0, "{counted}");

    let response = harness
        .post_gemini("mock/echo", "embedSomething", json!({}))
        .await;
    assert_eq!(response.status(), 404);
}
