//! Request shaping per subscription service, where its backend differs from
//! the public API of its wire format: authentication headers, the client
//! identification it expects, body rules (Codex always streams and stores
//! nothing; Claude subscription tokens need Claude Code's system prompt
//! first), and envelopes (the Gemini CLI's Code Assist backend takes a
//! Gemini request as `{model, project, request}` at `v1internal:<method>` and
//! answers `{response: ...}`).

use axum::http::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::credentials::Credentials;
use crate::dialect::Dialect;
use crate::routing::Candidate;
use crate::transport::ChatRequest;

/// Anthropic API version sent when the client did not name one.
pub(crate) const ANTHROPIC_VERSION: &str = "2023-06-01";
/// Beta flags Claude Code sends with a subscription token; the first lets
/// the token call the Messages API at all.
const CLAUDE_CODE_BETAS: &[&str] = &[
    "oauth-2025-04-20",
    "claude-code-20250219",
    "interleaved-thinking-2025-05-14",
];
/// The system prompt Claude subscription tokens must start with.
const CLAUDE_CODE_SYSTEM: &str = "You are Claude Code, Anthropic's official CLI for Claude.";
/// How Claude Code (2.1.220, on `@anthropic-ai/sdk` 0.94.0 and Node 22)
/// identifies itself; sent when the client is not Claude Code itself, whose
/// own values are relayed instead. `x-stainless-os` and `-arch` follow.
const CLAUDE_CODE_HEADERS: &[(&str, &str)] = &[
    ("user-agent", "claude-cli/2.1.220 (external, cli)"),
    ("x-app", "cli"),
    ("anthropic-dangerous-direct-browser-access", "true"),
    ("x-stainless-lang", "js"),
    ("x-stainless-package-version", "0.94.0"),
    ("x-stainless-runtime", "node"),
    ("x-stainless-runtime-version", "v22.19.0"),
    ("x-stainless-retry-count", "0"),
    ("x-stainless-timeout", "600"),
];
/// Instructions Codex requires when the client sent none.
const CODEX_DEFAULT_INSTRUCTIONS: &str = "You are a helpful coding assistant.";

/// How Kiro's IDE introduces itself to CodeWhisperer.
pub(crate) const KIRO_USER_AGENT: &str = "aws-sdk-js/1.0.18 ua/2.1 os/linux lang/js md/nodejs api/codewhispererstreaming#1.0.18 m/E KiroIDE";

/// Gemini CLI's version in the user agent Code Assist sees.
const GEMINI_CLI_VERSION: &str = "0.55.0";

/// Whether the service only answers streams (the client may still get JSON:
/// the stream is collected).
pub(crate) fn forces_stream(candidate: &Candidate) -> bool {
    matches!(subscription(candidate), Some("codex" | "kiro"))
}

/// Whether an answer with `status` means the access token was refused, so
/// one refresh and retry is worth it (CodeWhisperer says 403 for an expired
/// bearer token).
pub(crate) fn token_refused(candidate: &Candidate, status: reqwest::StatusCode) -> bool {
    status == reqwest::StatusCode::UNAUTHORIZED
        || (status == reqwest::StatusCode::FORBIDDEN && subscription(candidate) == Some("kiro"))
}

/// The model-not-found answer some services give with another status:
/// CodeWhisperer says 400 with `reason: INVALID_MODEL_ID`. Clients need a 404
/// to tell "wrong model name" from a malformed request.
pub(crate) fn unknown_model(
    candidate: &Candidate,
    status: reqwest::StatusCode,
    body: Option<&Value>,
) -> bool {
    subscription(candidate) == Some("kiro")
        && status == reqwest::StatusCode::BAD_REQUEST
        && body.is_some_and(|body| body["reason"] == "INVALID_MODEL_ID")
}

/// A random UUID (version 4) in its usual text form.
pub(crate) fn uuid_v4() -> String {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Path of the chat endpoint under the provider's base URL.
pub(crate) fn upstream_path(
    candidate: &Candidate,
    upstream: Dialect,
    model: &str,
    stream: bool,
) -> String {
    match subscription(candidate) {
        Some("gemini-cli") if stream => ":streamGenerateContent?alt=sse".into(),
        Some("gemini-cli") => ":generateContent".into(),
        // Claude Code calls the SDK's beta Messages endpoint.
        Some("claude-code") => "/messages?beta=true".into(),
        _ => upstream.upstream_path(model, stream),
    }
}

/// Whether answers come wrapped as `{"response": <answer>, ...}`, in JSON
/// and in each stream event.
pub(crate) fn wraps_response(candidate: &Candidate) -> bool {
    subscription(candidate) == Some("gemini-cli")
}

/// The answer inside a `{"response": ...}` envelope, or `None` when `text`
/// is no envelope (an error, a keep-alive).
pub(crate) fn unwrap_response(text: &str) -> Option<String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(mut envelope)) => {
            envelope.remove("response").map(|inner| inner.to_string())
        }
        _ => None,
    }
}

fn subscription(candidate: &Candidate) -> Option<&str> {
    candidate.provider.provider.subscription.as_deref()
}

/// Whether the service changes request bodies (so a passthrough body must
/// be copied first).
pub(crate) fn shapes_body(candidate: &Candidate) -> bool {
    matches!(
        subscription(candidate),
        Some("claude-code" | "codex" | "gemini-cli" | "kiro" | "iflow")
    )
}

/// Adjusts the upstream body for the service.
pub(crate) fn shape_body(candidate: &Candidate, credentials: &Credentials, body: &mut Value) {
    if subscription(candidate) == Some("gemini-cli") {
        // Code Assist's `CAGenerateContentRequest`.
        let request = std::mem::take(body);
        let mut prompt_id = [0u8; 8];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut prompt_id);
        *body = json!({
            "model": candidate.upstream_model,
            "project": credentials.meta.get("project_id"),
            "user_prompt_id": prompt_id.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "request": request,
        });
        return;
    }
    let Some(object) = body.as_object_mut() else {
        return;
    };
    match subscription(candidate) {
        // iFlow's streams carry usage only when asked, as its CLI does.
        Some("iflow") if object.get("stream") == Some(&Value::Bool(true)) => {
            let options = object.entry("stream_options").or_insert_with(|| json!({}));
            if let Some(options) = options.as_object_mut() {
                options.insert("include_usage".into(), Value::Bool(true));
            }
        }
        Some("kiro") => {
            // A new conversation each time: the whole history is sent.
            if let Some(Value::Object(state)) = object.get_mut("conversationState") {
                state.insert("conversationId".into(), uuid_v4().into());
            }
            if let Some(arn) = credentials.meta.get("profile_arn") {
                object.insert("profileArn".into(), arn.clone());
            }
        }
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
                    // Claude Code itself leads with other blocks (its billing
                    // line) before the prompt: its system is left as sent.
                    let already = existing.iter().take(3).any(|block| {
                        block["text"]
                            .as_str()
                            .is_some_and(|text| text.starts_with(CLAUDE_CODE_SYSTEM))
                    });
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
    request: ChatRequest,
    candidate: &Candidate,
    upstream: Dialect,
    client_dialect: Dialect,
    credentials: &Credentials,
    client_headers: &HeaderMap,
) -> ChatRequest {
    let token = &credentials.token;
    let client_says = |name: &str| {
        (client_dialect == Dialect::AnthropicMessages)
            .then(|| client_headers.get(name).cloned())
            .flatten()
    };
    match subscription(candidate) {
        Some("claude-code") => {
            let mut betas: Vec<String> =
                CLAUDE_CODE_BETAS.iter().map(|b| (*b).to_owned()).collect();
            if let Some(client) =
                client_says("anthropic-beta").and_then(|v| v.to_str().ok().map(str::to_owned))
            {
                for beta in client.split(',').map(str::trim).filter(|b| !b.is_empty()) {
                    if !betas.iter().any(|known| known == beta) {
                        betas.push(beta.to_owned());
                    }
                }
            }
            let mut request = request
                .bearer_auth(token)
                .header(
                    "anthropic-version",
                    client_says("anthropic-version")
                        .unwrap_or(HeaderValue::from_static(ANTHROPIC_VERSION)),
                )
                .header("anthropic-beta", betas.join(","));
            for (name, value) in claude_code_identity(client_dialect, client_headers) {
                request = request.header(name, value);
            }
            request
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
        Some("iflow") => {
            let mut request = request
                .bearer_auth(token)
                .header("user-agent", super::iflow::USER_AGENT);
            for (name, value) in super::iflow::signed_headers(token, switchyard_store::now_millis())
            {
                request = request.header(name, value);
            }
            request
        }
        Some("kiro") => request
            .bearer_auth(token)
            .header("accept", "application/vnd.amazon.eventstream")
            .header(
                "x-amz-target",
                "AmazonCodeWhispererStreamingService.GenerateAssistantResponse",
            )
            .header("user-agent", KIRO_USER_AGENT)
            .header("x-amz-user-agent", KIRO_USER_AGENT)
            .header("x-amzn-kiro-agent-mode", "vibe")
            .header("amz-sdk-invocation-id", uuid_v4())
            .header("amz-sdk-request", "attempt=1; max=1"),
        Some("gemini-cli") => request.bearer_auth(token).header(
            "user-agent",
            format!(
                "GeminiCLI/{GEMINI_CLI_VERSION}/{} ({}; {}; terminal)",
                candidate.upstream_model,
                node_platform(),
                node_arch()
            ),
        ),
        _ => match upstream {
            Dialect::OpenAiChat | Dialect::OpenAiResponses | Dialect::Ollama | Dialect::Kiro => {
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

/// The identification headers of a request to Claude's API: those of the
/// client when it is Claude Code (its user agent says `claude-cli/`), so its
/// own version, session and SDK details go along unchanged, else Claude
/// Code's as listed in [`CLAUDE_CODE_HEADERS`].
fn claude_code_identity(
    client_dialect: Dialect,
    client_headers: &HeaderMap,
) -> Vec<(String, HeaderValue)> {
    let is_claude_code = client_dialect == Dialect::AnthropicMessages
        && client_headers
            .get("user-agent")
            .and_then(|agent| agent.to_str().ok())
            .is_some_and(|agent| agent.starts_with("claude-cli/"));
    if is_claude_code {
        return client_headers
            .iter()
            .filter(|(name, _)| {
                let name = name.as_str();
                matches!(
                    name,
                    "user-agent" | "x-app" | "anthropic-dangerous-direct-browser-access"
                ) || name.starts_with("x-stainless-")
                    || name.starts_with("x-claude-code-")
            })
            .map(|(name, value)| (name.as_str().to_owned(), value.clone()))
            .collect();
    }
    let stainless_os = match std::env::consts::OS {
        "macos" => "MacOS",
        "windows" => "Windows",
        "linux" => "Linux",
        other => other,
    };
    CLAUDE_CODE_HEADERS
        .iter()
        .map(|(name, value)| ((*name).to_owned(), HeaderValue::from_static(value)))
        .chain([
            (
                "x-stainless-os".to_owned(),
                HeaderValue::from_static(stainless_os),
            ),
            (
                "x-stainless-arch".to_owned(),
                HeaderValue::from_static(node_arch()),
            ),
        ])
        .collect()
}

/// The platform as Node.js names it (the Gemini CLI's user agent uses it).
fn node_platform() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        "windows" => "win32",
        other => other,
    }
}

/// The architecture as Node.js names it.
fn node_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_assist_envelopes_are_opened() {
        assert_eq!(
            unwrap_response(r#"{"response":{"candidates":[]},"traceId":"t"}"#).as_deref(),
            Some(r#"{"candidates":[]}"#)
        );
        assert_eq!(unwrap_response(r#"{"candidates":[]}"#), None);
        assert_eq!(unwrap_response("[DONE]"), None);
    }

    #[test]
    fn claude_code_identity_is_relayed_from_claude_code_and_filled_in_for_others() {
        let mut from_claude_code = HeaderMap::new();
        for (name, value) in [
            ("user-agent", "claude-cli/2.0.1 (external, cli)"),
            ("x-claude-code-session-id", "session-1"),
            ("x-stainless-lang", "js"),
            ("authorization", "Bearer sy-local"),
        ] {
            from_claude_code.insert(name, HeaderValue::from_static(value));
        }
        let relayed = claude_code_identity(Dialect::AnthropicMessages, &from_claude_code);
        let names: Vec<&str> = relayed.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            ["user-agent", "x-claude-code-session-id", "x-stainless-lang"]
        );
        assert_eq!(relayed[0].1, "claude-cli/2.0.1 (external, cli)");

        let mut from_sdk = HeaderMap::new();
        from_sdk.insert(
            "user-agent",
            HeaderValue::from_static("Anthropic/Python 0.60"),
        );
        from_sdk.insert("x-stainless-lang", HeaderValue::from_static("python"));
        let filled = claude_code_identity(Dialect::AnthropicMessages, &from_sdk);
        let value = |name: &str| {
            filled
                .iter()
                .find(|(header, _)| header == name)
                .map(|(_, value)| value.clone())
        };
        assert_eq!(
            value("user-agent").unwrap(),
            "claude-cli/2.1.220 (external, cli)"
        );
        assert_eq!(value("x-stainless-lang").unwrap(), "js");
        assert_eq!(value("x-app").unwrap(), "cli");
        assert!(value("x-stainless-os").is_some() && value("x-stainless-arch").is_some());
    }

    #[test]
    fn uuids_have_the_version_4_shape() {
        let id = uuid_v4();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, uuid_v4());
    }
}
