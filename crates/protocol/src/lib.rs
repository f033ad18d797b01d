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
pub mod gemini;
pub mod kiro;
pub mod ollama;
pub mod openai_chat;
pub mod openai_responses;

pub use canonical::*;

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
