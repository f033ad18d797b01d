//! What a model can do, from its name: the catalogue's rule for the
//! families whose names say it (`text-embedding-3-small`, `dall-e-3`,
//! `whisper-1`, `tts-1`, `rerank-v3.5`, `omni-moderation-latest`, ...).
//! Everything else is taken for a chat model that may do more: a request
//! is refused here only when the name says the model is made for
//! something else, never on a guess about an unknown name.

/// One thing a model can be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// Chat and text completions.
    Chat,
    /// Embeddings.
    Embeddings,
    /// Image generation.
    Images,
    /// Speech out, transcription in.
    Audio,
    /// Reranking documents.
    Rerank,
    /// Moderation.
    Moderation,
}

impl Capability {
    /// The name `/v1/models` lists.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Embeddings => "embeddings",
            Self::Images => "images",
            Self::Audio => "audio",
            Self::Rerank => "rerank",
            Self::Moderation => "moderation",
        }
    }
}

/// What a model can do, by its name as the provider knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// The capabilities the name says.
    pub listed: &'static [Capability],
    /// Whether the name marks a model made for only those (a request for
    /// anything else is refused); otherwise the list is the least it does.
    pub only: bool,
}

impl Capabilities {
    /// Whether the model may be asked for `capability`.
    pub fn allows(self, capability: Capability) -> bool {
        !self.only || self.listed.contains(&capability)
    }
}

/// What the model called `model` can do.
pub fn capabilities(model: &str) -> Capabilities {
    // Asked per request: no allocation for the usual lower-case names.
    let name = model.rsplit('/').next().unwrap_or(model);
    let name: std::borrow::Cow<'_, str> = if name.bytes().any(|b| b.is_ascii_uppercase()) {
        name.to_ascii_lowercase().into()
    } else {
        name.into()
    };
    let only = |listed: &'static [Capability]| Capabilities { listed, only: true };
    if name.contains("embed") || name.starts_with("bge-") || name.starts_with("e5-") {
        only(&[Capability::Embeddings])
    } else if name.contains("rerank") {
        only(&[Capability::Rerank])
    } else if name.contains("moderation") {
        only(&[Capability::Moderation])
    } else if name.starts_with("whisper")
        || name.starts_with("tts-")
        || name.contains("-tts")
        || name.contains("transcribe")
    {
        only(&[Capability::Audio])
    } else if name.starts_with("dall-e")
        || name.starts_with("gpt-image")
        || name.starts_with("imagen")
    {
        only(&[Capability::Images])
    } else if name.contains("-image") {
        // Gemini's image models chat too.
        Capabilities {
            listed: &[Capability::Chat, Capability::Images],
            only: false,
        }
    } else if name.contains("audio") || name.contains("realtime") {
        Capabilities {
            listed: &[Capability::Chat, Capability::Audio],
            only: false,
        }
    } else {
        Capabilities {
            listed: &[Capability::Chat],
            only: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_say_what_a_model_is_for() {
        use Capability::*;
        for (model, wanted, allowed) in [
            ("text-embedding-3-small", Embeddings, true),
            ("text-embedding-3-small", Chat, false),
            ("gemini-embedding-001", Chat, false),
            ("openai/gpt-4o", Chat, true),
            ("gpt-4o", Embeddings, true), // unknown: not refused on a guess
            ("bge-m3", Embeddings, true),
            ("bge-m3", Chat, false),
            ("dall-e-3", Images, true),
            ("dall-e-3", Chat, false),
            ("whisper-1", Audio, true),
            ("tts-1-hd", Chat, false),
            ("gpt-4o-mini-tts", Audio, true),
            ("rerank-v3.5", Rerank, true),
            ("omni-moderation-latest", Chat, false),
            ("gemini-2.5-flash-image", Chat, true),
            ("gemini-2.5-flash-image", Images, true),
        ] {
            assert_eq!(
                capabilities(model).allows(wanted),
                allowed,
                "{model} {wanted:?}"
            );
        }
        assert_eq!(capabilities("gpt-4o").listed, &[Chat]);
    }
}
