//! Switchyard's canonical model of a chat exchange, and one codec per wire
//! dialect that translates to and from it.
//!
//! Every dialect decodes requests, responses and stream chunks into the
//! canonical types of [`canonical`], and encodes them back out. Translating
//! from dialect A to dialect B is always "decode with A, encode with B": there
//! are no pairwise translators.
//!
//! Architecture invariant: this crate does no IO and knows nothing of HTTP
//! servers or async runtimes. Stream codecs are small state machines fed one
//! event at a time.

pub mod anthropic_messages;
pub mod canonical;
pub mod dialect;
pub mod embeddings;
pub mod gemini;
pub mod images;
pub mod kiro;
pub mod ollama;
pub mod openai_chat;
pub mod openai_responses;

pub use canonical::*;
pub use dialect::{Dialect, ProviderKind};

/// One SSE frame: `event: <name>` when named, then `data: <payload as JSON>`.
/// Payloads are serialized straight into the frame: encoders call this for
/// every token, mostly with structs of borrowed fields rather than JSON trees.
pub(crate) fn sse_frame(event: Option<&str>, payload: &impl serde::Serialize) -> String {
    let mut frame = Vec::with_capacity(128);
    if let Some(event) = event {
        frame.extend_from_slice(b"event: ");
        frame.extend_from_slice(event.as_bytes());
        frame.push(b'\n');
    }
    frame.extend_from_slice(b"data: ");
    // Serializing strings, numbers and maps with string keys cannot fail.
    let _ = serde_json::to_writer(&mut frame, payload);
    frame.extend_from_slice(b"\n\n");
    String::from_utf8(frame).unwrap_or_default()
}

/// A request or message that cannot be decoded; the message is for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DecodeError {
    /// What is wrong, in the words of the dialect's documentation.
    pub message: String,
}

impl DecodeError {
    /// A decode error saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}
