//! Property tests: every decoder, fed arbitrary bytes or arbitrary JSON, returns
//! a value or a `DecodeError` with a message, and never panics.

use proptest::prelude::*;
use serde_json::{Map, Value};
use switchyard_protocol::{anthropic_messages, gemini, ollama, openai_chat, openai_responses};

/// Arbitrary JSON, biased towards the shapes the decoders look at.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-z_]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("user"),
            Just("assistant"),
            Just("system"),
            Just("tool"),
            Just("model"),
            Just("text"),
            Just("tool_use"),
            Just("tool_result"),
            Just("image"),
            Just("thinking"),
            Just("function"),
            Just("image_url"),
            Just("[DONE]"),
            Just("message_start"),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let keys = prop_oneof![
            Just("model"),
            Just("messages"),
            Just("role"),
            Just("content"),
            Just("type"),
            Just("text"),
            Just("tools"),
            Just("tool_calls"),
            Just("function"),
            Just("arguments"),
            Just("name"),
            Just("id"),
            Just("input"),
            Just("tool_use_id"),
            Just("contents"),
            Just("parts"),
            Just("functionCall"),
            Just("functionResponse"),
            Just("system"),
            Just("stream"),
            Just("max_tokens"),
            Just("choices"),
            Just("delta"),
            Just("usage"),
            Just("candidates"),
            Just("message"),
            Just("index"),
            Just("source"),
            Just("tool_choice"),
            Just("response_format"),
            Just("stop"),
            Just("images"),
            Just("done"),
        ]
        .prop_map(str::to_owned);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((keys, inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn check<T>(result: Result<T, switchyard_protocol::DecodeError>) {
    if let Err(error) = result {
        assert!(!error.message.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn request_decoders_never_panic_on_json(value in json_value()) {
        check(openai_chat::decode_request_value(&value));
        check(anthropic_messages::decode_request_value(&value));
        check(gemini::decode_request_value(&value, "m", false));
        check(ollama::decode_request_value(&value));
        check(openai_responses::decode_request_value(&value));
        let bytes = serde_json::to_vec(&value).unwrap();
        check(openai_chat::decode_response(&bytes));
        check(anthropic_messages::decode_response(&bytes));
        check(gemini::decode_response(&bytes));
        check(ollama::decode_response(&bytes));
        check(openai_responses::decode_response(&bytes));
    }

    #[test]
    fn stream_decoders_never_panic(values in prop::collection::vec(json_value(), 0..8)) {
        let mut openai = openai_chat::StreamDecoder::default();
        let mut anthropic = anthropic_messages::StreamDecoder::default();
        let mut gemini = gemini::StreamDecoder::default();
        let mut ollama = ollama::StreamDecoder::default();
        let mut responses = openai_responses::StreamDecoder::default();
        for value in &values {
            let data = value.to_string();
            check(openai.push(&data));
            check(anthropic.push("message", &data));
            check(gemini.push(&data));
            check(ollama.push(&data));
            check(responses.push("response.output_text.delta", &data));
        }
        responses.finish();
        openai.finish();
        gemini.finish();
        ollama.finish();
    }

    #[test]
    fn decoders_never_panic_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        check(openai_chat::decode_request(&bytes));
        check(anthropic_messages::decode_request(&bytes));
        check(gemini::decode_request(&bytes, "m", true));
        let text = String::from_utf8_lossy(&bytes);
        check(openai_chat::StreamDecoder::default().push(&text));
        check(anthropic_messages::StreamDecoder::default().push("x", &text));
    }
}
