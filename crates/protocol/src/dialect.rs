//! The wire dialects, on either side of the gateway, and dispatch to the
//! matching codec; the wire formats a provider connection can have
//! ([`ProviderKind`]). A request is translated only when the client's
//! dialect differs from the upstream's; otherwise it is passed through with
//! the model name replaced.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    ChatRequest, ChatResponse, DecodeError, StreamEvent, anthropic_messages, gemini, kiro, ollama,
    openai_chat, openai_responses,
};

/// Wire format and authentication style of a provider connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// An OpenAI-compatible Chat Completions API with a Bearer API key.
    OpenaiCompatible,
    /// An Anthropic-compatible Messages API with an `x-api-key` key.
    AnthropicCompatible,
    /// Google's Gemini `generateContent` API with an `x-goog-api-key` key.
    Gemini,
    /// An OpenAI Responses API (`/responses`) with a Bearer API key.
    OpenaiResponses,
    /// Kiro's CodeWhisperer `generateAssistantResponse`: JSON in, an AWS
    /// event stream out (subscription accounts only).
    Kiro,
}

impl ProviderKind {
    /// Name stored in the database and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenaiCompatible => "openai_compatible",
            Self::AnthropicCompatible => "anthropic_compatible",
            Self::Gemini => "gemini",
            Self::OpenaiResponses => "openai_responses",
            Self::Kiro => "kiro",
        }
    }

    /// The kind named `value` (as [`ProviderKind::as_str`] writes it).
    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::OpenaiCompatible,
            Self::AnthropicCompatible,
            Self::Gemini,
            Self::OpenaiResponses,
            Self::Kiro,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == value)
    }
}

/// A wire format for chat requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// OpenAI Chat Completions.
    OpenAiChat,
    /// OpenAI Responses (and Codex CLI's `/codex/responses`).
    OpenAiResponses,
    /// Anthropic Messages.
    AnthropicMessages,
    /// Google Gemini `generateContent`.
    Gemini,
    /// Ollama's `/api/chat` (client side only: no provider speaks it here).
    Ollama,
    /// Kiro's CodeWhisperer `generateAssistantResponse` (upstream only: it
    /// answers with an AWS event stream, decoded event by event).
    Kiro,
}

impl Dialect {
    /// A short name for logs and the request log, such as `openai-chat`.
    pub fn name(self) -> &'static str {
        match self {
            Self::OpenAiChat => "openai-chat",
            Self::OpenAiResponses => "openai-responses",
            Self::AnthropicMessages => "anthropic",
            Self::Gemini => "gemini",
            Self::Ollama => "ollama",
            Self::Kiro => "kiro",
        }
    }

    /// The dialect a client uses on this path (OpenAI's unless known otherwise).
    pub fn for_path(path: &str) -> Self {
        if path.starts_with("/v1/messages") {
            Self::AnthropicMessages
        } else if path.starts_with("/v1/responses") || path.starts_with("/codex/") {
            Self::OpenAiResponses
        } else if path.starts_with("/v1beta/")
            || (path.starts_with("/v1/models/") && path.contains(':'))
        {
            Self::Gemini
        } else if path.starts_with("/api/") || path.starts_with("/v1/api/") {
            Self::Ollama
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
            ProviderKind::OpenaiResponses => Self::OpenAiResponses,
            ProviderKind::Kiro => Self::Kiro,
        }
    }

    /// Path of the chat endpoint under a provider's base URL.
    pub fn upstream_path(self, model: &str, stream: bool) -> String {
        match self {
            Self::OpenAiChat => "/chat/completions".into(),
            Self::OpenAiResponses => "/responses".into(),
            Self::AnthropicMessages => "/messages".into(),
            Self::Gemini if stream => format!("/models/{model}:streamGenerateContent?alt=sse"),
            Self::Gemini => format!("/models/{model}:generateContent"),
            Self::Ollama => "/api/chat".into(),
            Self::Kiro => "/generateAssistantResponse".into(),
        }
    }

    /// Whether the model is named in the request body (Gemini names it in the URL).
    pub fn model_in_body(self) -> bool {
        self != Self::Gemini
    }

    /// A string found in every stream event that carries usage, to skip the rest cheaply.
    pub fn usage_marker(self) -> &'static str {
        match self {
            Self::OpenAiChat | Self::AnthropicMessages | Self::OpenAiResponses => "\"usage\"",
            Self::Gemini => "\"usageMetadata\"",
            Self::Ollama => "\"eval_count\"",
            Self::Kiro => "Usage",
        }
    }

    /// Content type of a streamed answer in this dialect.
    pub fn stream_content_type(self) -> &'static str {
        match self {
            Self::Ollama => "application/x-ndjson",
            Self::Kiro => "application/vnd.amazon.eventstream",
            _ => "text/event-stream",
        }
    }

    /// Decodes a client request; `stream` is used where the dialect puts it in the URL.
    pub fn decode_request(self, body: &Value, stream: bool) -> Result<ChatRequest, DecodeError> {
        match self {
            Self::OpenAiChat => openai_chat::decode_request_value(body),
            Self::OpenAiResponses => openai_responses::decode_request_value(body),
            Self::AnthropicMessages => anthropic_messages::decode_request_value(body),
            Self::Gemini => gemini::decode_request_value(body, "", stream),
            Self::Ollama => ollama::decode_request_value(body),
            Self::Kiro => Err(DecodeError::new("Kiro is not a client dialect")),
        }
    }

    pub fn encode_request(self, request: &ChatRequest) -> Value {
        match self {
            Self::OpenAiChat => openai_chat::encode_request(request),
            Self::OpenAiResponses => openai_responses::encode_request(request),
            Self::AnthropicMessages => anthropic_messages::encode_request(request),
            Self::Gemini => gemini::encode_request(request),
            Self::Ollama => ollama::encode_request(request),
            Self::Kiro => kiro::encode_request(request),
        }
    }

    pub fn decode_response(self, body: &[u8]) -> Result<ChatResponse, DecodeError> {
        match self {
            Self::OpenAiChat => openai_chat::decode_response(body),
            Self::OpenAiResponses => openai_responses::decode_response(body),
            Self::AnthropicMessages => anthropic_messages::decode_response(body),
            Self::Gemini => gemini::decode_response(body),
            Self::Ollama => ollama::decode_response(body),
            Self::Kiro => Err(DecodeError::new("Kiro answers only with event streams")),
        }
    }

    /// Encodes an answer for a client that asked for `model`, answered at `now`.
    pub fn encode_response(self, response: &ChatResponse, model: &str, now: SystemTime) -> Value {
        match self {
            Self::OpenAiChat => openai_chat::encode_response(response, unix_seconds(now)),
            Self::OpenAiResponses => openai_responses::encode_response(response, unix_seconds(now)),
            Self::AnthropicMessages => anthropic_messages::encode_response(response),
            Self::Gemini => gemini::encode_response(response),
            Self::Ollama => ollama::encode_response(response, model, &rfc3339(now)),
            // Never a client's dialect: answered as OpenAI would be.
            Self::Kiro => openai_chat::encode_response(response, unix_seconds(now)),
        }
    }

    pub fn stream_decoder(self) -> StreamDecoder {
        match self {
            Self::OpenAiChat => StreamDecoder::OpenAi(openai_chat::StreamDecoder::default()),
            Self::OpenAiResponses => {
                StreamDecoder::Responses(openai_responses::StreamDecoder::default())
            }
            Self::AnthropicMessages => {
                StreamDecoder::Anthropic(anthropic_messages::StreamDecoder::default())
            }
            Self::Gemini => StreamDecoder::Gemini(gemini::StreamDecoder::default()),
            Self::Ollama => StreamDecoder::Ollama(ollama::StreamDecoder::default()),
            Self::Kiro => StreamDecoder::Kiro(kiro::StreamDecoder::default()),
        }
    }

    /// An encoder of this dialect's stream for a client that asked for `model`.
    pub fn stream_encoder(
        self,
        model: &str,
        now: SystemTime,
        include_usage: bool,
    ) -> StreamEncoder {
        match self {
            Self::OpenAiChat => StreamEncoder::OpenAi(openai_chat::StreamEncoder::new(
                model,
                unix_seconds(now),
                include_usage,
            )),
            Self::OpenAiResponses => StreamEncoder::Responses(
                openai_responses::StreamEncoder::new(model, unix_seconds(now)),
            ),
            Self::AnthropicMessages => {
                StreamEncoder::Anthropic(anthropic_messages::StreamEncoder::new(model))
            }
            Self::Gemini => StreamEncoder::Gemini(gemini::StreamEncoder::new(model)),
            Self::Ollama => StreamEncoder::Ollama(ollama::StreamEncoder::new(model, &rfc3339(now))),
            // Never a client's dialect: streamed as OpenAI would be.
            Self::Kiro => StreamEncoder::OpenAi(openai_chat::StreamEncoder::new(
                model,
                unix_seconds(now),
                include_usage,
            )),
        }
    }
}

/// Decodes an upstream SSE stream of either dialect into canonical events.
pub enum StreamDecoder {
    OpenAi(openai_chat::StreamDecoder),
    Responses(openai_responses::StreamDecoder),
    Anthropic(anthropic_messages::StreamDecoder),
    Gemini(gemini::StreamDecoder),
    Ollama(ollama::StreamDecoder),
    Kiro(kiro::StreamDecoder),
}

impl StreamDecoder {
    /// Decodes one SSE event.
    pub fn push(&mut self, event_name: &str, data: &str) -> Result<Vec<StreamEvent>, DecodeError> {
        match self {
            Self::OpenAi(decoder) => decoder.push(data),
            Self::Responses(decoder) => decoder.push(event_name, data),
            Self::Anthropic(decoder) => decoder.push(event_name, data),
            Self::Gemini(decoder) => decoder.push(data),
            Self::Ollama(decoder) => decoder.push(data),
            Self::Kiro(decoder) => decoder.push(event_name, data),
        }
    }

    /// Events that close the stream when the upstream ends.
    pub fn finish(&mut self) -> Vec<StreamEvent> {
        match self {
            Self::OpenAi(decoder) => decoder.finish(),
            Self::Responses(decoder) => decoder.finish(),
            Self::Gemini(decoder) => decoder.finish(),
            Self::Ollama(decoder) => decoder.finish(),
            Self::Kiro(decoder) => decoder.finish(),
            Self::Anthropic(_) => Vec::new(),
        }
    }
}

/// Encodes canonical events as a client's SSE frames.
pub enum StreamEncoder {
    OpenAi(openai_chat::StreamEncoder),
    Responses(openai_responses::StreamEncoder),
    Anthropic(anthropic_messages::StreamEncoder),
    Gemini(gemini::StreamEncoder),
    Ollama(ollama::StreamEncoder),
}

impl StreamEncoder {
    pub fn push(&mut self, event: &StreamEvent) -> Vec<String> {
        match self {
            Self::OpenAi(encoder) => encoder.push(event),
            Self::Responses(encoder) => encoder.push(event),
            Self::Anthropic(encoder) => encoder.push(event),
            Self::Gemini(encoder) => encoder.push(event),
            Self::Ollama(encoder) => encoder.push(event),
        }
    }

    pub fn finish(&mut self) -> Vec<String> {
        match self {
            Self::OpenAi(encoder) => encoder.finish(),
            Self::Responses(encoder) => encoder.finish(),
            Self::Anthropic(encoder) => encoder.finish(),
            Self::Gemini(encoder) => encoder.finish(),
            Self::Ollama(encoder) => encoder.finish(),
        }
    }
}

/// Unix time in seconds.
pub fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// RFC 3339 time in UTC, as Ollama writes `created_at`.
pub fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}
