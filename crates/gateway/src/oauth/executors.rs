//! Request shaping per subscription service, where its backend differs from
//! the public API of its wire format: authentication headers, the client
//! identification it expects, and body rules (Codex always streams and
//! stores nothing; Claude subscription tokens need Claude Code's system
//! prompt first).

use axum::http::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::credentials::Credentials;
use crate::dialect::Dialect;
use crate::routing::Candidate;

/// Anthropic API version sent when the client did not name one.
pub(crate) const ANTHROPIC_VERSION: &str = "2023-06-01";
/// Beta flag that lets a Claude subscription token call the Messages API.
const CLAUDE_OAUTH_BETA: &str = "oauth-2025-04-20";
/// The system prompt Claude subscription tokens must start with.
const CLAUDE_CODE_SYSTEM: &str = "You are Claude Code, Anthropic's official CLI for Claude.";
/// Instructions Codex requires when the client sent none.
const CODEX_DEFAULT_INSTRUCTIONS: &str = "You are a helpful coding assistant.";

/// Whether the service only answers streams (the client may still get JSON:
/// the stream is collected).
pub(crate) fn forces_stream(candidate: &Candidate) -> bool {
    subscription(candidate) == Some("codex")
}

fn subscription(candidate: &Candidate) -> Option<&str> {
    candidate.provider.provider.subscription.as_deref()
}

/// Whether the service changes request bodies (so a passthrough body must
/// be copied first).
pub(crate) fn shapes_body(candidate: &Candidate) -> bool {
    matches!(subscription(candidate), Some("claude-code" | "codex"))
}

/// Adjusts the upstream body for the service.
pub(crate) fn shape_body(candidate: &Candidate, body: &mut Value) {
    let Some(object) = body.as_object_mut() else {
        return;
    };
    match subscription(candidate) {
        Some("claude-code") => {
            let system = object.remove("system");
            let mut blocks = vec![json!({"type": "text", "text": CLAUDE_CODE_SYSTEM})];
            match system {
                Some(Value::String(text)) if text.starts_with(CLAUDE_CODE_SYSTEM) => {
                    blocks = vec![json!({"type": "text", "text": text})];
                }
                Some(Value::String(text)) if !text.is_empty() => {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                Some(Value::Array(existing)) => {
                    let already = existing
                        .first()
                        .and_then(|b| b["text"].as_str())
                        .is_some_and(|text| text.starts_with(CLAUDE_CODE_SYSTEM));
                    if already {
                        blocks = existing;
                    } else {
                        blocks.extend(existing);
                    }
                }
                _ => {}
            }
            object.insert("system".into(), Value::Array(blocks));
        }
        Some("codex") => {
            object.insert("stream".into(), Value::Bool(true));
            object.insert("store".into(), Value::Bool(false));
            let has_instructions = object
                .get("instructions")
                .and_then(Value::as_str)
                .is_some_and(|text| !text.is_empty());
            if !has_instructions {
                object.insert("instructions".into(), CODEX_DEFAULT_INSTRUCTIONS.into());
            }
            for unsupported in [
                "max_output_tokens",
                "temperature",
                "top_p",
                "user",
                "metadata",
                "service_tier",
                "stream_options",
            ] {
                object.remove(unsupported);
            }
        }
        _ => {}
    }
}

/// Adds authentication and the service's identification headers.
pub(crate) fn authorize(
    request: reqwest::RequestBuilder,
    candidate: &Candidate,
    upstream: Dialect,
    client_dialect: Dialect,
    credentials: &Credentials,
    client_headers: &HeaderMap,
) -> reqwest::RequestBuilder {
    let token = &credentials.token;
    let client_says = |name: &str| {
        (client_dialect == Dialect::AnthropicMessages)
            .then(|| client_headers.get(name).cloned())
            .flatten()
    };
    match subscription(candidate) {
        Some("claude-code") => {
            let mut betas = vec![
                CLAUDE_OAUTH_BETA.to_owned(),
                "claude-code-20250219".to_owned(),
            ];
            if let Some(client) =
                client_says("anthropic-beta").and_then(|v| v.to_str().ok().map(str::to_owned))
            {
                for beta in client.split(',').map(str::trim).filter(|b| !b.is_empty()) {
                    if !betas.iter().any(|known| known == beta) {
                        betas.push(beta.to_owned());
                    }
                }
            }
            request
                .bearer_auth(token)
                .header(
                    "anthropic-version",
                    client_says("anthropic-version")
                        .unwrap_or(HeaderValue::from_static(ANTHROPIC_VERSION)),
                )
                .header("anthropic-beta", betas.join(","))
                .header("x-app", "cli")
        }
        Some("codex") => {
            let mut request = request
                .bearer_auth(token)
                .header("originator", "codex_cli_rs")
                .header("openai-beta", "responses=experimental")
                .header("accept", "text/event-stream");
            if let Some(account_id) = candidate
                .account
                .meta
                .get("account_id")
                .and_then(Value::as_str)
            {
                request = request.header("chatgpt-account-id", account_id);
            }
            request
        }
        Some("github-copilot") => request
            .bearer_auth(token)
            .header("copilot-integration-id", "vscode-chat")
            .header("editor-version", "vscode/1.104.0")
            .header("editor-plugin-version", "copilot-chat/0.31.0")
            .header("user-agent", "GitHubCopilotChat/0.31.0")
            .header("openai-intent", "conversation-panel")
            .header("x-github-api-version", "2025-04-01"),
        Some("qwen") => request
            .bearer_auth(token)
            .header("x-dashscope-authtype", "qwen-oauth"),
        _ => match upstream {
            Dialect::OpenAiChat | Dialect::OpenAiResponses | Dialect::Ollama => {
                request.bearer_auth(token)
            }
            Dialect::Gemini => request.header("x-goog-api-key", token),
            Dialect::AnthropicMessages => {
                let mut request = request.header("x-api-key", token).header(
                    "anthropic-version",
                    client_says("anthropic-version")
                        .unwrap_or(HeaderValue::from_static(ANTHROPIC_VERSION)),
                );
                if let Some(beta) = client_says("anthropic-beta") {
                    request = request.header("anthropic-beta", beta);
                }
                request
            }
        },
    }
}
