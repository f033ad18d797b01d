//! The wire dialects the gateway speaks, on either side, and dispatch to the
//! matching codec of `switchyard-protocol`. A request is translated only when
//! the client's dialect differs from the upstream's; otherwise it is passed
//! through with the model name replaced.

use serde_json::Value;
use switchyard_protocol::{
    ChatRequest, ChatResponse, DecodeError, StreamEvent, anthropic_messages, gemini, openai_chat,
};
use switchyard_store::ProviderKind;

/// A wire format for chat requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// OpenAI Chat Completions.
    OpenAiChat,
    /// Anthropic Messages.
    AnthropicMessages,
    /// Google Gemini `generateContent`.
    Gemini,
}

impl Dialect {
    /// The dialect a client uses on this path (OpenAI's unless known otherwise).
    pub fn for_path(path: &str) -> Self {
        if path.starts_with("/v1/messages") {
            Self::AnthropicMessages
        } else if path.starts_with("/v1beta/") {
            Self::Gemini
        } else {
            Self::OpenAiChat
        }
    }

    /// The dialect a provider connection speaks.
    pub fn of_provider(kind: ProviderKind) -> Self {
        match kind {
            ProviderKind::OpenaiCompatible => Self::OpenAiChat,
            ProviderKind::AnthropicCompatible => Self::AnthropicMessages,
            ProviderKind::Gemini => Self::Gemini,
        }
    }

    /// Path of the chat endpoint under a provider's base URL.
    pub(crate) fn upstream_path(self, model: &str, stream: bool) -> String {
        match self {
            Self::OpenAiChat => "/chat/completions".into(),
            Self::AnthropicMessages => "/messages".into(),
            Self::Gemini if stream => format!("/models/{model}:streamGenerateContent?alt=sse"),
            Self::Gemini => format!("/models/{model}:generateContent"),
        }
    }

    /// Whether the model is named in the request body (Gemini names it in the URL).
    pub(crate) fn model_in_body(self) -> bool {
        self != Self::Gemini
    }

    /// A string found in every stream event that carries usage, to skip the rest cheaply.
    pub(crate) fn usage_marker(self) -> &'static str {
        match self {
            Self::OpenAiChat | Self::AnthropicMessages => "\"usage\"",
            Self::Gemini => "\"usageMetadata\"",
        }
    }

    /// Decodes a client request; `stream` is used where the dialect puts it in the URL.
    pub(crate) fn decode_request(
        self,
        body: &Value,
        stream: bool,
    ) -> Result<ChatRequest, DecodeError> {
        match self {
            Self::OpenAiChat => openai_chat::decode_request_value(body),
            Self::AnthropicMessages => anthropic_messages::decode_request_value(body),
            Self::Gemini => gemini::decode_request_value(body, "", stream),
        }
    }

    pub(crate) fn encode_request(self, request: &ChatRequest) -> Value {
        match self {
            Self::OpenAiChat => openai_chat::encode_request(request),
            Self::AnthropicMessages => anthropic_messages::encode_request(request),
            Self::Gemini => gemini::encode_request(request),
        }
    }

    pub(crate) fn decode_response(self, body: &[u8]) -> Result<ChatResponse, DecodeError> {
        match self {
            Self::OpenAiChat => openai_chat::decode_response(body),
            Self::AnthropicMessages => anthropic_messages::decode_response(body),
            Self::Gemini => gemini::decode_response(body),
        }
    }

    pub(crate) fn encode_response(self, response: &ChatResponse, created: u64) -> Value {
        match self {
            Self::OpenAiChat => openai_chat::encode_response(response, created),
            Self::AnthropicMessages => anthropic_messages::encode_response(response),
            Self::Gemini => gemini::encode_response(response),
        }
    }

    pub(crate) fn stream_decoder(self) -> StreamDecoder {
        match self {
            Self::OpenAiChat => StreamDecoder::OpenAi(openai_chat::StreamDecoder::default()),
            Self::AnthropicMessages => {
                StreamDecoder::Anthropic(anthropic_messages::StreamDecoder::default())
            }
            Self::Gemini => StreamDecoder::Gemini(gemini::StreamDecoder::default()),
        }
    }

    pub(crate) fn stream_encoder(
        self,
        model: &str,
        created: u64,
        include_usage: bool,
    ) -> StreamEncoder {
        match self {
            Self::OpenAiChat => StreamEncoder::OpenAi(openai_chat::StreamEncoder::new(
                model,
                created,
                include_usage,
            )),
            Self::AnthropicMessages => {
                StreamEncoder::Anthropic(anthropic_messages::StreamEncoder::new(model))
            }
            Self::Gemini => StreamEncoder::Gemini(gemini::StreamEncoder::new(model)),
        }
    }
}

/// Decodes an upstream SSE stream of either dialect into canonical events.
pub(crate) enum StreamDecoder {
    OpenAi(openai_chat::StreamDecoder),
    Anthropic(anthropic_messages::StreamDecoder),
    Gemini(gemini::StreamDecoder),
}

impl StreamDecoder {
    /// Decodes one SSE event.
    pub(crate) fn push(
        &mut self,
        event_name: &str,
        data: &str,
    ) -> Result<Vec<StreamEvent>, DecodeError> {
        match self {
            Self::OpenAi(decoder) => decoder.push(data),
            Self::Anthropic(decoder) => decoder.push(event_name, data),
            Self::Gemini(decoder) => decoder.push(data),
        }
    }

    /// Events that close the stream when the upstream ends.
    pub(crate) fn finish(&mut self) -> Vec<StreamEvent> {
        match self {
            Self::OpenAi(decoder) => decoder.finish(),
            Self::Gemini(decoder) => decoder.finish(),
            Self::Anthropic(_) => Vec::new(),
        }
    }
}

/// Encodes canonical events as a client's SSE frames.
pub(crate) enum StreamEncoder {
    OpenAi(openai_chat::StreamEncoder),
    Anthropic(anthropic_messages::StreamEncoder),
    Gemini(gemini::StreamEncoder),
}

impl StreamEncoder {
    pub(crate) fn push(&mut self, event: &StreamEvent) -> Vec<String> {
        match self {
            Self::OpenAi(encoder) => encoder.push(event),
            Self::Anthropic(encoder) => encoder.push(event),
            Self::Gemini(encoder) => encoder.push(event),
        }
    }

    pub(crate) fn finish(&mut self) -> Vec<String> {
        match self {
            Self::OpenAi(encoder) => encoder.finish(),
            Self::Anthropic(encoder) => encoder.finish(),
            Self::Gemini(encoder) => encoder.finish(),
        }
    }
}
