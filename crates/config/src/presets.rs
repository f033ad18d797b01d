//! Built-in API-key providers: sensible defaults (wire format, base URL,
//! prefix, a starter model list) so adding one takes only its key. The model
//! list can be refreshed from the provider's own models endpoint.

use serde::Serialize;
use serde_json::Value;
use switchyard_store::{Provider, ProviderKind};

use reqwest::header::HeaderMap;
use switchyard_protocol::Dialect;
use switchyard_providers::{ApiKeyFamily, ProviderApi, RequestHeaders, UpstreamCall};

/// Defaults for one well-known provider.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderPreset {
    /// Identifier used with `--preset`.
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Wire format.
    pub kind: ProviderKind,
    /// Default model prefix.
    pub prefix: &'static str,
    /// API base URL (the chat path is appended).
    pub base_url: &'static str,
    /// Starter model list.
    pub models: &'static [&'static str],
}

/// Every built-in provider.
pub const PRESETS: &[ProviderPreset] = &[
    ProviderPreset {
        id: "openai",
        name: "OpenAI",
        kind: ProviderKind::OpenaiCompatible,
        prefix: "openai",
        base_url: "https://api.openai.com/v1",
        models: &["gpt-5", "gpt-5-mini", "gpt-4.1", "gpt-4o-mini"],
    },
    ProviderPreset {
        id: "anthropic",
        name: "Anthropic",
        kind: ProviderKind::AnthropicCompatible,
        prefix: "anthropic",
        base_url: "https://api.anthropic.com/v1",
        models: &[
            "claude-opus-4-6",
            "claude-sonnet-4-5-20250929",
            "claude-haiku-4-5-20251001",
        ],
    },
    ProviderPreset {
        id: "gemini",
        name: "Gemini (AI Studio)",
        kind: ProviderKind::Gemini,
        prefix: "gemini",
        base_url: "https://generativelanguage.googleapis.com/v1beta",
        models: &[
            "gemini-2.5-pro",
            "gemini-2.5-flash",
            "gemini-3-flash-preview",
        ],
    },
    ProviderPreset {
        id: "openrouter",
        name: "OpenRouter",
        kind: ProviderKind::OpenaiCompatible,
        prefix: "openrouter",
        base_url: "https://openrouter.ai/api/v1",
        models: &[
            "anthropic/claude-sonnet-4.5",
            "openai/gpt-5",
            "google/gemini-2.5-pro",
        ],
    },
    ProviderPreset {
        id: "glm",
        name: "GLM (Z.ai)",
        kind: ProviderKind::AnthropicCompatible,
        prefix: "glm",
        base_url: "https://api.z.ai/api/anthropic/v1",
        models: &["glm-4.7", "glm-4.5-air"],
    },
    ProviderPreset {
        id: "minimax",
        name: "MiniMax",
        kind: ProviderKind::AnthropicCompatible,
        prefix: "minimax",
        base_url: "https://api.minimax.io/anthropic/v1",
        models: &["MiniMax-M2.1"],
    },
    ProviderPreset {
        id: "kimi",
        name: "Kimi (Moonshot)",
        kind: ProviderKind::OpenaiCompatible,
        prefix: "kimi",
        base_url: "https://api.moonshot.ai/v1",
        models: &["kimi-latest", "kimi-k2-0905-preview", "kimi-k2-thinking"],
    },
    ProviderPreset {
        id: "deepseek",
        name: "DeepSeek",
        kind: ProviderKind::OpenaiCompatible,
        prefix: "deepseek",
        base_url: "https://api.deepseek.com",
        models: &["deepseek-chat", "deepseek-reasoner"],
    },
    ProviderPreset {
        id: "groq",
        name: "Groq",
        kind: ProviderKind::OpenaiCompatible,
        prefix: "groq",
        base_url: "https://api.groq.com/openai/v1",
        models: &["llama-3.3-70b-versatile", "openai/gpt-oss-120b"],
    },
    ProviderPreset {
        id: "xai",
        name: "xAI",
        kind: ProviderKind::OpenaiCompatible,
        prefix: "xai",
        base_url: "https://api.x.ai/v1",
        models: &["grok-4", "grok-code-fast-1"],
    },
    ProviderPreset {
        id: "mistral",
        name: "Mistral",
        kind: ProviderKind::OpenaiCompatible,
        prefix: "mistral",
        base_url: "https://api.mistral.ai/v1",
        models: &[
            "mistral-large-latest",
            "codestral-latest",
            "devstral-medium-latest",
        ],
    },
];

/// The preset called `id`.
pub fn preset(id: &str) -> Option<&'static ProviderPreset> {
    PRESETS.iter().find(|preset| preset.id == id)
}

/// Errors from listing a provider's models.
#[derive(Debug, thiserror::Error)]
pub enum ModelListError {
    /// The provider could not be reached.
    #[error("cannot reach provider {provider:?}: {reason}")]
    Unreachable {
        /// Provider name.
        provider: String,
        /// What failed (never the key or URL).
        reason: String,
    },
    /// The provider answered with an error status.
    #[error("provider {provider:?} answered {status} to the models request")]
    Status {
        /// Provider name.
        provider: String,
        /// HTTP status.
        status: u16,
    },
    /// The answer was not a model list.
    #[error("provider {provider:?} sent a model list that cannot be read")]
    Unreadable {
        /// Provider name.
        provider: String,
    },
}

/// Asks the provider's own models endpoint which models it offers, with
/// the key of one of its accounts.
pub async fn fetch_models(
    http: &reqwest::Client,
    provider: &Provider,
    api_key: &str,
) -> Result<Vec<String>, ModelListError> {
    let url = format!("{}/models", provider.base_url.trim_end_matches('/'));
    // Authorized as the provider's requests are, by its API-key family.
    let dialect = Dialect::of_provider(provider.kind);
    let mut headers = RequestHeaders::default();
    ApiKeyFamily::of(dialect).authorize(
        &UpstreamCall {
            upstream: dialect,
            client: dialect,
            client_headers: &HeaderMap::new(),
            model: "",
            token: api_key,
            meta: &serde_json::Map::new(),
            body: &[],
        },
        &mut headers,
    );
    if headers.invalid.is_some() {
        return Err(ModelListError::Unreachable {
            provider: provider.name.clone(),
            reason: "the key is not valid in a header".into(),
        });
    }
    let request = http.get(url).headers(headers.map);
    let response = request
        .send()
        .await
        .map_err(|error| ModelListError::Unreachable {
            provider: provider.name.clone(),
            reason: if error.is_connect() {
                "could not connect".into()
            } else if error.is_timeout() {
                "timed out".into()
            } else {
                "the request failed".into()
            },
        })?;
    if !response.status().is_success() {
        return Err(ModelListError::Status {
            provider: provider.name.clone(),
            status: response.status().as_u16(),
        });
    }
    let unreadable = || ModelListError::Unreadable {
        provider: provider.name.clone(),
    };
    let body: Value = switchyard_providers::side_call::side_json(response)
        .await
        .ok_or_else(unreadable)?;
    let mut models: Vec<String> = if let Some(data) = body.get("data").and_then(Value::as_array) {
        data.iter()
            .filter_map(|model| model.get("id").and_then(Value::as_str))
            .map(str::to_owned)
            .collect()
    } else if let Some(list) = body.get("models").and_then(Value::as_array) {
        list.iter()
            .filter_map(|model| model.get("name").and_then(Value::as_str))
            .map(|name| name.strip_prefix("models/").unwrap_or(name).to_owned())
            .collect()
    } else {
        return Err(unreadable());
    };
    models.sort();
    models.dedup();
    Ok(models)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_have_unique_ids_and_prefixes_and_https_urls() {
        for (index, preset) in PRESETS.iter().enumerate() {
            assert!(preset.base_url.starts_with("https://"), "{}", preset.id);
            assert!(!preset.models.is_empty(), "{}", preset.id);
            for other in &PRESETS[index + 1..] {
                assert_ne!(preset.id, other.id);
                assert_ne!(preset.prefix, other.prefix);
            }
        }
        assert_eq!(
            preset("glm").unwrap().kind,
            ProviderKind::AnthropicCompatible
        );
    }
}
