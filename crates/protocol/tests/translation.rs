//! Translation through the canonical model: decode with one dialect, encode
//! with another, and check that meaning survives (text, tool calls and their
//! JSON arguments, stop reason, usage), for requests, responses and streams.

use serde_json::{Value, json};
use switchyard_protocol::{
    ChatResponse, Part, ResponseCollector, Role, StopReason, StreamEvent, ToolChoice, Usage,
    anthropic_messages as anthropic, openai_chat as openai,
};

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

fn openai_tool_turn() -> Value {
    json!({
        "model": "gpt-x",
        "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": [
                {"type": "text", "text": "Weather in Paris and Rome?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
            ]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_2", "content": "24C"}
        ],
        "tools": [{"type": "function", "function": {"name": "weather", "description": "Weather now",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
        "tool_choice": "required",
        "max_completion_tokens": 300,
        "stream": true,
        "stream_options": {"include_usage": true},
        "seed": 7
    })
}

#[test]
fn openai_request_becomes_a_valid_anthropic_request() {
    let request = openai::decode_request(&bytes(&openai_tool_turn())).unwrap();
    assert_eq!(request.system, ["Be terse."]);
    assert_eq!(request.tool_choice, Some(ToolChoice::Required));
    assert!(request.include_usage);
    assert_eq!(request.extra.get("seed"), Some(&json!(7)));
    // The two tool messages answer one turn: one user message holds both results.
    assert_eq!(request.messages.len(), 3);
    assert_eq!(request.messages[2].role, Role::User);
    assert_eq!(request.messages[2].content.len(), 2);

    let encoded = anthropic::encode_request(&request);
    assert_eq!(encoded["system"], "Be terse.");
    assert_eq!(encoded["max_tokens"], 300);
    assert_eq!(encoded["tool_choice"], json!({"type": "any"}));
    assert_eq!(
        encoded["tools"][0]["input_schema"]["required"],
        json!(["city"])
    );
    let messages = encoded["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3);
    assert_eq!(
        messages[0]["content"][1]["source"],
        json!({"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="})
    );
    assert_eq!(messages[1]["content"][0]["input"], json!({"city": "Paris"}));
    assert_eq!(messages[2]["role"], "user");
    assert_eq!(messages[2]["content"][1]["tool_use_id"], "call_2");
    assert_eq!(messages[2]["content"][1]["content"][0]["text"], "24C");
    // Decoding what we encode gives the same conversation back.
    let again = anthropic::decode_request(&bytes(&encoded)).unwrap();
    assert_eq!(again.messages, request.messages);
}

#[test]
fn anthropic_request_becomes_a_valid_openai_request() {
    let body = json!({
        "model": "claude-x",
        "max_tokens": 1024,
        "system": [{"type": "text", "text": "You are helpful.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": "What is 2+2? Use the tool."},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Use calc.", "signature": "sig=="},
                {"type": "tool_use", "id": "toolu_1", "name": "calc", "input": {"expr": "2+2"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "4"},
                {"type": "text", "text": "Now explain."}
            ]}
        ],
        "tools": [{"name": "calc", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "calc", "disable_parallel_tool_use": true},
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "stop_sequences": ["END"]
    });
    let request = anthropic::decode_request(&bytes(&body)).unwrap();
    let encoded = openai::encode_request(&request);
    let messages = encoded["messages"].as_array().unwrap();
    assert_eq!(
        messages[0],
        json!({"role": "system", "content": "You are helpful."})
    );
    assert_eq!(
        messages[2]["tool_calls"][0]["function"],
        json!({"name": "calc", "arguments": "{\"expr\":\"2+2\"}"})
    );
    // Tool results come first, as `tool` messages, then the user's text.
    assert_eq!(
        messages[3],
        json!({"role": "tool", "tool_call_id": "toolu_1", "content": "4"})
    );
    assert_eq!(
        messages[4],
        json!({"role": "user", "content": "Now explain."})
    );
    assert_eq!(
        encoded["tool_choice"],
        json!({"type": "function", "function": {"name": "calc"}})
    );
    assert_eq!(encoded["parallel_tool_calls"], false);
    assert_eq!(encoded["stop"], json!(["END"]));
    assert_eq!(encoded["reasoning_effort"], "low");
}

fn sample_response() -> ChatResponse {
    ChatResponse {
        id: "abc".into(),
        model: "m".into(),
        content: vec![
            Part::Text("Checking.".into()),
            Part::ToolCall {
                id: "call_9".into(),
                name: "lookup".into(),
                arguments: "{\"q\":\"rust\"}".into(),
            },
        ],
        stop_reason: Some(StopReason::ToolUse),
        usage: Some(Usage {
            input_tokens: 30,
            output_tokens: 12,
            cache_read_tokens: 10,
            ..Usage::default()
        }),
    }
}

#[test]
fn responses_survive_both_directions() {
    let response = sample_response();
    let via_anthropic =
        anthropic::decode_response(&bytes(&anthropic::encode_response(&response))).unwrap();
    assert_eq!(via_anthropic.content, response.content);
    assert_eq!(via_anthropic.stop_reason, response.stop_reason);
    assert_eq!(via_anthropic.usage, response.usage);

    let openai_body = openai::encode_response(&response, 1_700_000_000);
    assert_eq!(openai_body["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(openai_body["usage"]["prompt_tokens"], 30);
    let via_openai = openai::decode_response(&bytes(&openai_body)).unwrap();
    assert_eq!(via_openai.content, response.content);
    assert_eq!(via_openai.stop_reason, response.stop_reason);
}

/// An OpenAI stream: text, then a tool call whose arguments arrive in pieces.
fn openai_chunks() -> Vec<String> {
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-x",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        .to_string()
    };
    vec![
        chunk(json!({"role": "assistant", "content": ""}), Value::Null),
        chunk(json!({"content": "Let me "}), Value::Null),
        chunk(json!({"content": "check."}), Value::Null),
        chunk(json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "weather", "arguments": ""}}]}), Value::Null),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"ci"}}]}), Value::Null),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "ty\":\"Oslo\"}"}}]}), Value::Null),
        chunk(json!({}), json!("tool_calls")),
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-x", "choices": [],
               "usage": {"prompt_tokens": 21, "completion_tokens": 9, "total_tokens": 30}}).to_string(),
        "[DONE]".to_string(),
    ]
}

fn decode_openai(chunks: &[String]) -> Vec<StreamEvent> {
    let mut decoder = openai::StreamDecoder::default();
    let mut events = Vec::new();
    for chunk in chunks {
        events.extend(decoder.push(chunk).unwrap());
    }
    events.extend(decoder.finish());
    events
}

/// Splits SSE frames into (event name, data) pairs.
fn parse_frames(frames: &[String]) -> Vec<(String, String)> {
    frames
        .iter()
        .map(|frame| {
            let mut name = String::new();
            let mut data = String::new();
            for line in frame.lines() {
                if let Some(rest) = line.strip_prefix("event: ") {
                    name = rest.to_owned();
                } else if let Some(rest) = line.strip_prefix("data: ") {
                    data = rest.to_owned();
                }
            }
            (name, data)
        })
        .collect()
}

fn collect(events: Vec<StreamEvent>) -> ChatResponse {
    let mut collector = ResponseCollector::default();
    for event in events {
        collector.push(event);
    }
    collector.finish()
}

#[test]
fn openai_stream_becomes_an_anthropic_stream() {
    let events = decode_openai(&openai_chunks());
    let mut encoder = anthropic::StreamEncoder::new("claude-x");
    let mut frames = Vec::new();
    for event in &events {
        frames.extend(encoder.push(event));
    }
    frames.extend(encoder.finish());
    let parsed = parse_frames(&frames);
    let names: Vec<&str> = parsed.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let delta: Value = serde_json::from_str(&parsed[9].1).unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(delta["usage"]["output_tokens"], 9);

    // Decoding the Anthropic stream again gives the same answer.
    let mut decoder = anthropic::StreamDecoder::default();
    let mut again = Vec::new();
    for (name, data) in &parsed {
        again.extend(decoder.push(name, data).unwrap());
    }
    let response = collect(again);
    assert_eq!(
        response.content,
        vec![
            Part::Text("Let me check.".into()),
            Part::ToolCall {
                id: "call_1".into(),
                name: "weather".into(),
                arguments: "{\"city\":\"Oslo\"}".into()
            },
        ]
    );
    assert_eq!(response.stop_reason, Some(StopReason::ToolUse));
    assert_eq!(response.usage.unwrap().input_tokens, 21);
}

#[test]
fn anthropic_stream_becomes_an_openai_stream() {
    let anthropic_events = [
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x", "content": [], "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 15, "output_tokens": 1, "cache_read_input_tokens": 5}}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Hmm."}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig"}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        ("ping", json!({"type": "ping"})),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi"}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 1}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "calc", "input": {}}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\"a\":"}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "1}"}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 2}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 7}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ];
    let mut decoder = anthropic::StreamDecoder::default();
    let mut encoder = openai::StreamEncoder::new("claude-x", 1, true);
    let mut frames = Vec::new();
    for (name, payload) in &anthropic_events {
        for event in decoder.push(name, &payload.to_string()).unwrap() {
            frames.extend(encoder.push(&event));
        }
    }
    frames.extend(encoder.finish());
    assert_eq!(frames.last().unwrap(), "data: [DONE]\n\n");
    let chunks: Vec<String> = parse_frames(&frames)
        .into_iter()
        .map(|(_, data)| data)
        .collect();
    let usage_chunk: Value = serde_json::from_str(&chunks[chunks.len() - 2]).unwrap();
    assert_eq!(usage_chunk["usage"]["prompt_tokens"], 20);
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 7);
    let finish: Value = serde_json::from_str(&chunks[chunks.len() - 3]).unwrap();
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");

    let response = collect(decode_openai(&chunks));
    assert_eq!(
        response.content,
        vec![
            Part::Reasoning {
                text: "Hmm.".into(),
                signature: None
            },
            Part::Text("Hi".into()),
            Part::ToolCall {
                id: "toolu_1".into(),
                name: "calc".into(),
                arguments: "{\"a\":1}".into()
            },
        ]
    );
}

#[test]
fn decoders_reject_garbage_without_panicking() {
    let inputs: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"\xff\xfe".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"{}".to_vec(),
        br#"{"model": 5}"#.to_vec(),
        br#"{"model": "m", "messages": {}}"#.to_vec(),
        br#"{"model": "m", "messages": [1, "x", null]}"#.to_vec(),
        br#"{"model": "m", "messages": [{"role": "wizard"}]}"#.to_vec(),
        // A block without a type (one of a type newer than the codec is dropped).
        br#"{"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": [{"text": "x"}]}]}"#.to_vec(),
        br#"{"model": "m", "max_tokens": -1, "messages": []}"#.to_vec(),
        br#"{"model": "m", "messages": [], "tools": [{"function": 3}]}"#.to_vec(),
    ];
    for input in &inputs {
        assert!(
            openai::decode_request(input).is_err(),
            "{}",
            String::from_utf8_lossy(input)
        );
        assert!(
            anthropic::decode_request(input).is_err(),
            "{}",
            String::from_utf8_lossy(input)
        );
        let _ = openai::decode_response(input);
        let _ = anthropic::decode_response(input);
        let text = String::from_utf8_lossy(input);
        let _ = openai::StreamDecoder::default().push(&text);
        let _ = anthropic::StreamDecoder::default().push("message_start", &text);
    }
}

mod gemini_dialect {
    use super::*;
    use switchyard_protocol::gemini;

    #[test]
    fn openai_request_becomes_a_gemini_request() {
        let request = openai::decode_request(&bytes(&openai_tool_turn())).unwrap();
        let encoded = gemini::encode_request(&request);
        assert_eq!(
            encoded["systemInstruction"],
            json!({"parts": [{"text": "Be terse."}]})
        );
        let contents = encoded["contents"].as_array().unwrap();
        assert_eq!(contents[0]["role"], "user");
        assert_eq!(
            contents[0]["parts"][1]["inlineData"]["mimeType"],
            "image/png"
        );
        assert_eq!(contents[1]["role"], "model");
        assert_eq!(
            contents[1]["parts"][0]["functionCall"]["args"],
            json!({"city": "Paris"})
        );
        // Function responses carry the name of the call they answer.
        assert_eq!(
            contents[2]["parts"][1]["functionResponse"]["name"],
            "weather"
        );
        assert_eq!(
            contents[2]["parts"][1]["functionResponse"]["response"],
            json!({"result": "24C"})
        );
        assert_eq!(
            encoded["toolConfig"]["functionCallingConfig"]["mode"],
            "ANY"
        );
        assert_eq!(encoded["generationConfig"]["maxOutputTokens"], 300);
        assert_eq!(
            encoded["tools"][0]["functionDeclarations"][0]["name"],
            "weather"
        );
    }

    #[test]
    fn gemini_request_in_snake_case_decodes() {
        let body = json!({
            "system_instruction": {"parts": [{"text": "Sys"}]},
            "contents": [
                {"role": "user", "parts": [{"text": "Call f twice"}]},
                {"role": "model", "parts": [{"function_call": {"name": "f", "args": {"n": 1}}}, {"functionCall": {"name": "f", "args": {"n": 2}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"result": "one"}}}, {"functionResponse": {"name": "f", "response": {"result": "two"}}}]}
            ],
            "generation_config": {"max_output_tokens": 50, "response_mime_type": "application/json"}
        });
        let request = gemini::decode_request(&bytes(&body), "gemini-x", true).unwrap();
        assert_eq!(request.system, ["Sys"]);
        assert!(request.stream);
        assert_eq!(request.max_tokens, Some(50));
        let ids: Vec<String> = request.messages[1]
            .content
            .iter()
            .filter_map(|part| match part {
                Part::ToolCall { id, .. } => Some(id.clone()),
                _ => None,
            })
            .collect();
        let answered: Vec<String> = request.messages[2]
            .content
            .iter()
            .filter_map(|part| match part {
                Part::ToolResult { call_id, .. } => Some(call_id.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(ids, answered);
        assert_ne!(ids[0], ids[1]);
        // And it reaches an OpenAI upstream as tool messages matching the calls.
        let openai_body = openai::encode_request(&request);
        assert_eq!(openai_body["messages"][3]["tool_call_id"], json!(ids[0]));
        assert_eq!(openai_body["messages"][3]["content"], "one");
    }

    #[test]
    fn openai_stream_becomes_a_gemini_stream_and_back() {
        let events = decode_openai(&openai_chunks());
        let mut encoder = gemini::StreamEncoder::new("gemini-x");
        let mut frames = Vec::new();
        for event in &events {
            frames.extend(encoder.push(event));
        }
        frames.extend(encoder.finish());
        let chunks: Vec<Value> = parse_frames(&frames)
            .into_iter()
            .map(|(_, data)| serde_json::from_str(&data).unwrap())
            .collect();
        let call = chunks
            .iter()
            .find_map(|chunk| chunk["candidates"][0]["content"]["parts"][0].get("functionCall"))
            .unwrap();
        assert_eq!(call["args"], json!({"city": "Oslo"}));
        assert_eq!(
            chunks.last().unwrap()["candidates"][0]["finishReason"],
            "STOP"
        );
        assert_eq!(
            chunks.last().unwrap()["usageMetadata"]["promptTokenCount"],
            21
        );

        let mut decoder = gemini::StreamDecoder::default();
        let mut again = Vec::new();
        for chunk in &chunks {
            again.extend(decoder.push(&chunk.to_string()).unwrap());
        }
        again.extend(decoder.finish());
        let response = collect(again);
        assert_eq!(response.content[0], Part::Text("Let me check.".into()));
        assert!(
            matches!(&response.content[1], Part::ToolCall { name, arguments, .. } if name == "weather" && arguments == "{\"city\":\"Oslo\"}")
        );
        assert_eq!(response.stop_reason, Some(StopReason::ToolUse));
    }

    #[test]
    fn gemini_responses_survive() {
        let response = sample_response();
        let back = gemini::decode_response(&bytes(&gemini::encode_response(&response))).unwrap();
        assert_eq!(back.content[0], response.content[0]);
        assert!(matches!(&back.content[1], Part::ToolCall { name, .. } if name == "lookup"));
        assert_eq!(back.stop_reason, Some(StopReason::ToolUse));
        assert_eq!(back.usage.unwrap().input_tokens, 30);
    }

    #[test]
    fn gemini_decoders_reject_garbage_without_panicking() {
        for input in [
            &b""[..],
            b"null",
            b"[]",
            b"{}",
            br#"{"contents": 3}"#,
            br#"{"contents": [{"role": "alien", "parts": []}]}"#,
            br#"{"contents": [{"parts": 1}]}"#,
        ] {
            assert!(
                gemini::decode_request(input, "m", false).is_err(),
                "{}",
                String::from_utf8_lossy(input)
            );
            let _ = gemini::decode_response(input);
            let _ = gemini::StreamDecoder::default().push(&String::from_utf8_lossy(input));
        }
    }
}

mod ollama_dialect {
    use super::*;
    use switchyard_protocol::ollama;

    #[test]
    fn ollama_request_defaults_to_streaming_and_matches_tool_results() {
        let body = json!({
            "model": "m",
            "messages": [
                {"role": "system", "content": "Sys"},
                {"role": "user", "content": "Weather?", "images": ["aGVsbG8="]},
                {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "weather", "arguments": {"city": "Oslo"}}}]},
                {"role": "tool", "content": "12C", "tool_name": "weather"}
            ],
            "options": {"temperature": 0.2, "num_predict": 64},
            "format": "json"
        });
        let request = ollama::decode_request_value(&body).unwrap();
        assert!(request.stream);
        assert_eq!(request.max_tokens, Some(64));
        let encoded = openai::encode_request(&request);
        let messages = encoded["messages"].as_array().unwrap();
        assert_eq!(
            messages[1]["content"][1]["image_url"]["url"],
            "data:image/png;base64,aGVsbG8="
        );
        let call_id = messages[2]["tool_calls"][0]["id"].clone();
        assert_eq!(
            messages[3],
            json!({"role": "tool", "tool_call_id": call_id, "content": "12C"})
        );
        assert_eq!(encoded["response_format"], json!({"type": "json_object"}));
    }

    #[test]
    fn openai_stream_becomes_ollama_lines() {
        let events = decode_openai(&openai_chunks());
        let mut encoder = ollama::StreamEncoder::new("mock/gpt", "2026-11-23T00:00:00Z");
        let mut lines = Vec::new();
        for event in &events {
            lines.extend(encoder.push(event));
        }
        lines.extend(encoder.finish());
        let parsed: Vec<Value> = lines
            .iter()
            .map(|line| serde_json::from_str(line.trim_end()).unwrap())
            .collect();
        let text: String = parsed
            .iter()
            .filter_map(|line| line["message"]["content"].as_str())
            .collect();
        assert_eq!(text, "Let me check.");
        let call = parsed
            .iter()
            .find_map(|line| line["message"].get("tool_calls"))
            .unwrap();
        assert_eq!(call[0]["function"]["arguments"], json!({"city": "Oslo"}));
        let last = parsed.last().unwrap();
        assert_eq!(last["done"], true);
        assert_eq!(last["prompt_eval_count"], 21);

        let mut decoder = ollama::StreamDecoder::default();
        let mut again = Vec::new();
        for line in &lines {
            again.extend(decoder.push(line.trim_end()).unwrap());
        }
        let response = collect(again);
        assert_eq!(response.content[0], Part::Text("Let me check.".into()));
        assert_eq!(response.stop_reason, Some(StopReason::ToolUse));
    }

    #[test]
    fn ollama_decoder_rejects_garbage_without_panicking() {
        for input in [
            json!(null),
            json!([]),
            json!({}),
            json!({"model": "m", "messages": 4}),
            json!({"model": "m", "messages": [{"role": "x"}]}),
            json!({"model": "m", "messages": [{"role": "user", "content": 5}]}),
        ] {
            assert!(ollama::decode_request_value(&input).is_err(), "{input}");
        }
        let _ = ollama::decode_response(b"\xff");
        let _ = ollama::StreamDecoder::default().push("{");
    }
}

mod responses_dialect {
    use super::*;
    use switchyard_protocol::openai_responses as responses;

    #[test]
    fn responses_request_round_trips_through_openai_chat() {
        let body = json!({
            "model": "gpt-x",
            "instructions": "Be brief.",
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
                {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": "{\"city\":\"Oslo\"}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "12C"}
            ],
            "tools": [{"type": "function", "name": "weather", "parameters": {"type": "object"}}, {"type": "web_search"}],
            "reasoning": {"effort": "high"},
            "max_output_tokens": 99,
            "stream": true
        });
        let request = responses::decode_request_value(&body).unwrap();
        assert_eq!(request.system, ["Be brief."]);
        assert_eq!(request.tools.len(), 1);
        assert_eq!(request.messages.len(), 3);
        let chat = openai::encode_request(&request);
        assert_eq!(chat["messages"][2]["tool_calls"][0]["id"], "call_1");
        assert_eq!(
            chat["messages"][3],
            json!({"role": "tool", "tool_call_id": "call_1", "content": "12C"})
        );
        assert_eq!(chat["reasoning_effort"], "high");
        let again = responses::encode_request(&request);
        assert_eq!(again["input"][1]["type"], "function_call");
        assert_eq!(
            again["input"][2],
            json!({"type": "function_call_output", "call_id": "call_1", "output": "12C"})
        );
        assert_eq!(again["instructions"], "Be brief.");
    }

    #[test]
    fn openai_stream_becomes_a_responses_stream_and_back() {
        let events = decode_openai(&openai_chunks());
        let mut encoder = responses::StreamEncoder::new("gpt-x", 1);
        let mut frames = Vec::new();
        for event in &events {
            frames.extend(encoder.push(event));
        }
        frames.extend(encoder.finish());
        let parsed = parse_frames(&frames);
        let names: Vec<&str> = parsed.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names[0], "response.created");
        assert!(names.contains(&"response.function_call_arguments.delta"));
        assert_eq!(*names.last().unwrap(), "response.completed");
        let completed: Value = serde_json::from_str(&parsed.last().unwrap().1).unwrap();
        assert_eq!(
            completed["response"]["output"][1]["arguments"],
            "{\"city\":\"Oslo\"}"
        );
        assert_eq!(completed["response"]["usage"]["input_tokens"], 21);
        let sequence: Vec<u64> = parsed
            .iter()
            .map(|(_, data)| {
                serde_json::from_str::<Value>(data).unwrap()["sequence_number"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert!(sequence.windows(2).all(|pair| pair[1] == pair[0] + 1));

        let mut decoder = responses::StreamDecoder::default();
        let mut again = Vec::new();
        for (name, data) in &parsed {
            again.extend(decoder.push(name, data).unwrap());
        }
        let response = collect(again);
        assert_eq!(response.content[0], Part::Text("Let me check.".into()));
        assert!(
            matches!(&response.content[1], Part::ToolCall { id, arguments, .. } if id == "call_1" && arguments == "{\"city\":\"Oslo\"}")
        );
        assert_eq!(response.stop_reason, Some(StopReason::ToolUse));
    }

    #[test]
    fn responses_survive() {
        let response = sample_response();
        let back =
            responses::decode_response(&bytes(&responses::encode_response(&response, 1))).unwrap();
        assert_eq!(back.content, response.content);
        assert_eq!(back.stop_reason, Some(StopReason::ToolUse));
        assert_eq!(back.usage, response.usage);
    }

    #[test]
    fn responses_decoder_rejects_garbage() {
        for input in [
            json!(null),
            json!({}),
            json!({"model": "m"}),
            json!({"model": "m", "input": 3}),
            json!({"model": "m", "input": [{"type": "alien"}]}),
            json!({"model": "m", "input": [{"role": "user", "content": [{"type": "video"}]}]}),
        ] {
            assert!(responses::decode_request_value(&input).is_err(), "{input}");
        }
    }
}

/// What current Claude Code sends: a system message inside `messages` (under
/// a beta flag), server tools, block types other dialects cannot express, and
/// both `temperature` and `top_p`.
#[test]
fn claude_code_requests_translate_to_openai() {
    let body = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {"role": "system", "content": "The user switched to plan mode."},
            {"role": "assistant", "content": [
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "x"}},
                {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
                {"type": "text", "text": "Searched."}
            ]},
            {"role": "user", "content": [
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}},
                {"type": "a_block_type_from_next_year", "payload": 1}
            ]}
        ],
        "tools": [
            {"name": "Bash", "description": "Run a command", "input_schema": {"type": "object", "properties": {}}},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
        ],
        "temperature": 1,
        "top_p": 0.9,
        "context_management": {"edits": []}
    });
    let request = anthropic::decode_request(&bytes(&body)).unwrap();
    assert_eq!(
        request.system,
        ["You are Claude Code.", "The user switched to plan mode."]
    );
    assert_eq!(request.messages.len(), 3);
    assert_eq!(
        request.messages[1].content,
        [Part::Text("Searched.".into())]
    );
    assert_eq!(request.messages[2].content, [Part::Text("notes".into())]);
    assert_eq!(request.tools.len(), 1, "server tools run only at Anthropic");

    let openai_body = openai::encode_request(&request);
    let roles: Vec<&str> = openai_body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["role"].as_str().unwrap())
        .collect();
    assert!(
        roles
            .iter()
            .all(|role| ["system", "user", "assistant", "tool"].contains(role))
    );
    // Back to Anthropic: both sampling fields would be refused by current models.
    let again = anthropic::encode_request(&request);
    assert_eq!(again["temperature"], json!(1.0));
    assert!(again.get("top_p").is_none());
    assert!(
        again["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["role"] != "system")
    );
}

#[test]
fn anthropic_roles_other_than_user_assistant_system_are_refused() {
    let body =
        json!({"model": "m", "max_tokens": 5, "messages": [{"role": "tool", "content": "x"}]});
    let error = anthropic::decode_request(&bytes(&body)).unwrap_err();
    assert!(
        error.message.contains("messages.0.role"),
        "{}",
        error.message
    );
}
