//! Anthropic Messages (`POST /v1/messages`): requests, responses and the
//! `message_start` … `message_stop` event stream, to and from the canonical model.

use std::borrow::Cow;

use serde_json::{Map, Value, json};

use crate::{
    BlockKind, ChatRequest, ChatResponse, DecodeError, Delta, ImageSource, Message, Part,
    Reasoning, ResponseFormat, Role, StopReason, StreamEvent, Tool, ToolChoice, Usage,
    arguments_object,
};

/// `max_tokens` sent when the client named none (Anthropic requires one).
pub const DEFAULT_MAX_TOKENS: u64 = 8_192;

const KNOWN_FIELDS: &[&str] = &[
    "model",
    "system",
    "messages",
    "tools",
    "tool_choice",
    "max_tokens",
    "temperature",
    "top_p",
    "stop_sequences",
    "stream",
    "thinking",
];

fn invalid(message: impl Into<String>) -> DecodeError {
    DecodeError::new(message)
}

fn text_field<'a>(object: &'a Value, name: &str, what: &str) -> Result<&'a str, DecodeError> {
    object
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{what}.{name}: Field required")))
}

/// Decodes a request body.
pub fn decode_request(body: &[u8]) -> Result<ChatRequest, DecodeError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| invalid(format!("the request body is not valid JSON: {error}")))?;
    decode_request_value(&value)
}

/// Decodes a request body already parsed as JSON.
pub fn decode_request_value(value: &Value) -> Result<ChatRequest, DecodeError> {
    let object = value
        .as_object()
        .ok_or_else(|| invalid("the request body must be a JSON object"))?;
    let model = match object.get("model") {
        Some(Value::String(model)) if !model.is_empty() => model.clone(),
        _ => return Err(invalid("model: Field required")),
    };
    let mut request = ChatRequest {
        model,
        ..ChatRequest::default()
    };
    match object.get("system") {
        None | Some(Value::Null) => {}
        Some(Value::String(system)) => request.system.push(system.clone()),
        Some(Value::Array(blocks)) => {
            for block in blocks {
                request
                    .system
                    .push(text_field(block, "text", "system")?.to_owned());
            }
        }
        Some(_) => {
            return Err(invalid(
                "system: Input should be a string or a list of text blocks",
            ));
        }
    }
    let messages = object
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("messages: Field required"))?;
    for (position, message) in messages.iter().enumerate() {
        let role = match message.get("role").and_then(Value::as_str) {
            Some("user") => Role::User,
            Some("assistant") => Role::Assistant,
            // Mid-conversation system messages (Claude Code sends them, under
            // a beta flag): instructions like the top-level `system`, kept
            // in order after it, as the other dialects' system messages are.
            Some("system") => {
                let what = format!("messages.{position}.content");
                for part in decode_blocks(message.get("content"), &what)? {
                    if let Part::Text(text) = part {
                        request.system.push(text);
                    }
                }
                continue;
            }
            _ => {
                return Err(invalid(format!(
                    "messages.{position}.role: Input should be 'user', 'assistant' or 'system'"
                )));
            }
        };
        let content = decode_blocks(
            message.get("content"),
            &format!("messages.{position}.content"),
        )?;
        request.messages.push(Message { role, content });
    }
    if let Some(tools) = object.get("tools").filter(|tools| !tools.is_null()) {
        for (position, tool) in tools
            .as_array()
            .ok_or_else(|| invalid("tools: Input should be a valid list"))?
            .iter()
            .enumerate()
        {
            // Server tools (`web_search_20250305`, `code_execution_…`) run at
            // Anthropic: no other upstream can run them.
            if tool
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|kind| kind != "custom")
            {
                continue;
            }
            request.tools.push(Tool {
                name: text_field(tool, "name", &format!("tools.{position}"))?.to_owned(),
                description: tool
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                parameters: tool
                    .get("input_schema")
                    .cloned()
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
            });
        }
    }
    if let Some(choice) = object.get("tool_choice").filter(|choice| !choice.is_null()) {
        request.tool_choice = Some(match choice.get("type").and_then(Value::as_str) {
            Some("auto") => ToolChoice::Auto,
            Some("any") => ToolChoice::Required,
            Some("none") => ToolChoice::None,
            Some("tool") => ToolChoice::Tool(text_field(choice, "name", "tool_choice")?.to_owned()),
            _ => {
                return Err(invalid(
                    "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'",
                ));
            }
        });
        if choice
            .get("disable_parallel_tool_use")
            .and_then(Value::as_bool)
            == Some(true)
        {
            request.parallel_tool_calls = Some(false);
        }
    }
    request.max_tokens = match object.get("max_tokens") {
        Some(value) => Some(
            value
                .as_u64()
                .ok_or_else(|| invalid("max_tokens: Input should be a valid integer"))?,
        ),
        None => return Err(invalid("max_tokens: Field required")),
    };
    request.temperature = object.get("temperature").and_then(Value::as_f64);
    request.top_p = object.get("top_p").and_then(Value::as_f64);
    if let Some(stops) = object.get("stop_sequences").and_then(Value::as_array) {
        request.stop = stops
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
    }
    request.stream = match object.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(stream)) => *stream,
        Some(_) => return Err(invalid("stream: Input should be a valid boolean")),
    };
    // Anthropic streams always carry usage.
    request.include_usage = true;
    if let Some(thinking) = object.get("thinking")
        && thinking.get("type").and_then(Value::as_str) == Some("enabled")
    {
        let budget = thinking
            .get("budget_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(4_096);
        request.reasoning = Some(Reasoning::BudgetTokens(budget));
    }
    request.extra = object
        .iter()
        .filter(|(name, _)| !KNOWN_FIELDS.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    Ok(request)
}

fn decode_blocks(content: Option<&Value>, what: &str) -> Result<Vec<Part>, DecodeError> {
    match content {
        Some(Value::String(text)) => Ok(vec![Part::Text(text.clone())]),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .enumerate()
            .filter_map(|(position, block)| {
                decode_block(block, &format!("{what}.{position}")).transpose()
            })
            .collect(),
        _ => Err(invalid(format!(
            "{what}: Input should be a string or a list of content blocks"
        ))),
    }
}

/// Decodes one content block; `None` for a block other dialects cannot
/// express (documents that are not plain text, server tool calls and their
/// results, search results, container uploads, types newer than this codec),
/// which is dropped rather than refused: the real API accepts them, so a
/// translated request must not fail on them.
fn decode_block(block: &Value, what: &str) -> Result<Option<Part>, DecodeError> {
    Ok(Some(match block.get("type").and_then(Value::as_str) {
        Some("text") => Part::Text(text_field(block, "text", what)?.to_owned()),
        Some("image") => {
            let source = block
                .get("source")
                .ok_or_else(|| invalid(format!("{what}.source: Field required")))?;
            match source.get("type").and_then(Value::as_str) {
                Some("base64") => Part::Image(ImageSource::Base64 {
                    media_type: text_field(source, "media_type", what)?.to_owned(),
                    data: text_field(source, "data", what)?.to_owned(),
                }),
                Some("url") => Part::Image(ImageSource::Url(
                    text_field(source, "url", what)?.to_owned(),
                )),
                _ => {
                    return Err(invalid(format!(
                        "{what}.source.type: Input should be 'base64' or 'url'"
                    )));
                }
            }
        }
        // A plain-text document is text to every other dialect.
        Some("document")
            if block["source"]["type"].as_str() == Some("text")
                && block["source"]["data"].is_string() =>
        {
            Part::Text(
                block["source"]["data"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        }
        Some("tool_use") => Part::ToolCall {
            id: text_field(block, "id", what)?.to_owned(),
            name: text_field(block, "name", what)?.to_owned(),
            arguments: block
                .get("input")
                .map_or_else(|| "{}".to_owned(), Value::to_string),
        },
        Some("tool_result") => Part::ToolResult {
            call_id: text_field(block, "tool_use_id", what)?.to_owned(),
            content: match block.get("content") {
                None | Some(Value::Null) => Vec::new(),
                other => decode_blocks(other, &format!("{what}.content"))?,
            },
            is_error: block
                .get("is_error")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        },
        Some("thinking") => Part::Reasoning {
            text: text_field(block, "thinking", what)?.to_owned(),
            signature: block
                .get("signature")
                .and_then(Value::as_str)
                .map(str::to_owned),
        },
        Some("redacted_thinking") => {
            Part::RedactedReasoning(text_field(block, "data", what)?.to_owned())
        }
        Some(_) => return Ok(None),
        None => return Err(invalid(format!("{what}.type: Field required"))),
    }))
}

fn encode_block(part: &Part) -> Value {
    match part {
        Part::Text(text) => json!({"type": "text", "text": text}),
        Part::Image(ImageSource::Base64 { media_type, data }) => {
            json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}})
        }
        Part::Image(ImageSource::Url(url)) => {
            json!({"type": "image", "source": {"type": "url", "url": url}})
        }
        Part::Reasoning { text, signature } => {
            json!({"type": "thinking", "thinking": text, "signature": signature.clone().unwrap_or_default()})
        }
        Part::RedactedReasoning(data) => json!({"type": "redacted_thinking", "data": data}),
        Part::ToolCall {
            id,
            name,
            arguments,
        } => json!({
            "type": "tool_use",
            "id": id,
            "name": name,
            "input": arguments_object(arguments),
        }),
        Part::ToolResult {
            call_id,
            content,
            is_error,
        } => {
            let mut block = json!({
                "type": "tool_result",
                "tool_use_id": call_id,
                "content": content.iter().map(encode_block).collect::<Vec<_>>(),
            });
            if *is_error {
                block["is_error"] = json!(true);
            }
            block
        }
    }
}

/// Encodes a request for an Anthropic-compatible upstream.
pub fn encode_request(request: &ChatRequest) -> Value {
    let mut messages: Vec<Value> = Vec::new();
    let mut last_role = None;
    for message in &request.messages {
        // Reasoning without a signature (from other providers) cannot be sent back.
        let blocks: Vec<Value> = message
            .content
            .iter()
            .filter(|part| {
                !matches!(
                    part,
                    Part::Reasoning {
                        signature: None,
                        ..
                    }
                )
            })
            .map(encode_block)
            .collect();
        if blocks.is_empty() {
            continue;
        }
        let role = match message.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        // Anthropic wants alternating roles: merge consecutive messages of one role.
        if last_role == Some(role)
            && let Some(Value::Array(previous)) =
                messages.last_mut().and_then(|m| m.get_mut("content"))
        {
            previous.extend(blocks);
            continue;
        }
        messages.push(json!({"role": role, "content": blocks}));
        last_role = Some(role);
    }
    let mut system = request.system.join("\n\n");
    match &request.response_format {
        Some(ResponseFormat::JsonObject) => {
            system.push_str("\n\nRespond with a single JSON object and nothing else.");
        }
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            system.push_str(&format!(
                "\n\nRespond with a single JSON object that matches this JSON Schema, and nothing else:\n{schema}"
            ));
        }
        None => {}
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    let budget = request.reasoning.as_ref().map(Reasoning::budget_tokens);
    let max_tokens = request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    body.insert(
        "max_tokens".into(),
        json!(budget.map_or(max_tokens, |budget| max_tokens.max(budget + 1_024))),
    );
    let system = system.trim();
    if !system.is_empty() {
        body.insert("system".into(), json!(system));
    }
    body.insert("messages".into(), Value::Array(messages));
    if !request.tools.is_empty() {
        body.insert(
            "tools".into(),
            request
                .tools
                .iter()
                .map(|tool| {
                    let mut encoded = json!({"name": tool.name, "input_schema": tool.parameters});
                    if let Some(description) = &tool.description {
                        encoded["description"] = json!(description);
                    }
                    encoded
                })
                .collect(),
        );
    }
    if request.tool_choice.is_some() || request.parallel_tool_calls == Some(false) {
        let mut choice = match request.tool_choice.as_ref().unwrap_or(&ToolChoice::Auto) {
            ToolChoice::Auto => json!({"type": "auto"}),
            ToolChoice::None => json!({"type": "none"}),
            ToolChoice::Required => json!({"type": "any"}),
            ToolChoice::Tool(name) => json!({"type": "tool", "name": name}),
        };
        if request.parallel_tool_calls == Some(false) {
            choice["disable_parallel_tool_use"] = json!(true);
        }
        body.insert("tool_choice".into(), choice);
    }
    if let Some(temperature) = request.temperature {
        body.insert("temperature".into(), json!(temperature.clamp(0.0, 1.0)));
    }
    // Current Claude models refuse `temperature` and `top_p` together
    // ("temperature and top_p cannot both be specified"): temperature wins.
    if let Some(top_p) = request.top_p.filter(|_| request.temperature.is_none()) {
        body.insert("top_p".into(), json!(top_p));
    }
    if !request.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(request.stop));
    }
    if request.stream {
        body.insert("stream".into(), json!(true));
    }
    if let Some(budget) = budget {
        body.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": budget}),
        );
    }
    Value::Object(body)
}

fn decode_stop_reason(reason: &str) -> StopReason {
    match reason {
        "max_tokens" | "model_context_window_exceeded" => StopReason::MaxTokens,
        "stop_sequence" => StopReason::StopSequence,
        "tool_use" => StopReason::ToolUse,
        "refusal" => StopReason::Refusal,
        _ => StopReason::EndTurn,
    }
}

fn encode_stop_reason(reason: &StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn | StopReason::ContentFilter => "end_turn",
        StopReason::MaxTokens => "max_tokens",
        StopReason::StopSequence => "stop_sequence",
        StopReason::ToolUse => "tool_use",
        StopReason::Refusal => "refusal",
    }
}

/// Anthropic counts cached input apart from `input_tokens`; the canonical
/// `input_tokens` includes it.
fn decode_usage(usage: &Value) -> Usage {
    let number = |name: &str| usage.get(name).and_then(Value::as_u64).unwrap_or(0);
    let cache_read = number("cache_read_input_tokens");
    let cache_write = number("cache_creation_input_tokens");
    Usage {
        input_tokens: number("input_tokens") + cache_read + cache_write,
        output_tokens: number("output_tokens"),
        cache_read_tokens: cache_read,
        cache_write_tokens: cache_write,
        reasoning_tokens: 0,
    }
}

fn encode_usage(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.input_tokens.saturating_sub(usage.cache_read_tokens + usage.cache_write_tokens),
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
    })
}

/// Decodes a `message` response body.
pub fn decode_response(body: &[u8]) -> Result<ChatResponse, DecodeError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| invalid(format!("the upstream answer is not valid JSON: {error}")))?;
    let content = decode_blocks(value.get("content"), "content")?;
    Ok(ChatResponse {
        id: value
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        model: value
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        content,
        stop_reason: value
            .get("stop_reason")
            .and_then(Value::as_str)
            .map(decode_stop_reason),
        usage: value
            .get("usage")
            .filter(|usage| usage.is_object())
            .map(decode_usage),
    })
}

/// Makes an id look like Anthropic's (`msg_…`).
fn message_id(id: &str) -> String {
    if id.starts_with("msg_") {
        id.to_owned()
    } else if id.is_empty() {
        "msg_switchyard".to_owned()
    } else {
        format!("msg_{id}")
    }
}

/// Encodes a `message` response.
pub fn encode_response(response: &ChatResponse) -> Value {
    json!({
        "id": message_id(&response.id),
        "type": "message",
        "role": "assistant",
        "model": response.model,
        "content": response.content.iter().map(encode_block).collect::<Vec<_>>(),
        "stop_reason": encode_stop_reason(response.stop_reason.as_ref().unwrap_or(&StopReason::EndTurn)),
        "stop_sequence": null,
        "usage": encode_usage(&response.usage.unwrap_or_default()),
    })
}

/// Turns Anthropic stream events into canonical events.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    usage: Usage,
}

/// One stream event's payload, as Anthropic sends it: what the decoder
/// reads, its strings borrowed from the event's data unless they carry
/// escapes. Other fields are skipped; a field of an unexpected type makes
/// the event invalid.
#[derive(serde::Deserialize)]
struct EventPayload<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(default)]
    index: Option<u64>,
    #[serde(borrow, default)]
    message: Option<MessageHead<'a>>,
    #[serde(borrow, default)]
    content_block: Option<BlockHead<'a>>,
    #[serde(borrow, default)]
    delta: Option<DeltaPayload<'a>>,
    #[serde(default)]
    usage: Option<UsagePayload>,
    #[serde(borrow, default)]
    error: Option<ErrorPayload<'a>>,
}

/// `message_start`'s message.
#[derive(serde::Deserialize)]
struct MessageHead<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    usage: Option<UsagePayload>,
}

/// `content_block_start`'s block.
#[derive(serde::Deserialize)]
struct BlockHead<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    data: Option<Cow<'a, str>>,
}

/// The `delta` of `content_block_delta` and of `message_delta`.
#[derive(serde::Deserialize)]
struct DeltaPayload<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    thinking: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    signature: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    partial_json: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    stop_reason: Option<Cow<'a, str>>,
}

/// Token counts; absent or null ones are not reported.
#[derive(serde::Deserialize)]
struct UsagePayload {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
}

impl UsagePayload {
    fn canonical(&self) -> Usage {
        let cache_read = self.cache_read_input_tokens.unwrap_or(0);
        let cache_write = self.cache_creation_input_tokens.unwrap_or(0);
        Usage {
            input_tokens: self.input_tokens.unwrap_or(0) + cache_read + cache_write,
            output_tokens: self.output_tokens.unwrap_or(0),
            cache_read_tokens: cache_read,
            cache_write_tokens: cache_write,
            reasoning_tokens: 0,
        }
    }
}

/// An `error` event's error.
#[derive(serde::Deserialize)]
struct ErrorPayload<'a> {
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
}

fn owned(text: Option<Cow<'_, str>>) -> String {
    text.map(Cow::into_owned).unwrap_or_default()
}

impl StreamDecoder {
    /// Decodes one SSE event (`event:` name and `data:` payload).
    pub fn push(&mut self, event_name: &str, data: &str) -> Result<Vec<StreamEvent>, DecodeError> {
        let payload: EventPayload<'_> = serde_json::from_str(data)
            .map_err(|error| invalid(format!("a stream event is not valid: {error}")))?;
        let kind = payload.kind.as_deref().unwrap_or(event_name);
        let index = payload.index.unwrap_or(0) as usize;
        let mut events = Vec::new();
        match kind {
            "message_start" => {
                let message = payload.message;
                if let Some(usage) = message.as_ref().and_then(|message| message.usage.as_ref()) {
                    self.usage = usage.canonical();
                }
                let (id, model) = message
                    .map(|message| (owned(message.id), owned(message.model)))
                    .unwrap_or_default();
                events.push(StreamEvent::Start { id, model });
            }
            "content_block_start" => {
                let block = payload.content_block;
                let (kind, text) = match block {
                    None => (BlockKind::Text, None),
                    Some(block) => {
                        let kind = match block.kind.as_deref() {
                            Some("thinking") => BlockKind::Reasoning,
                            Some("redacted_thinking") => {
                                BlockKind::RedactedReasoning(owned(block.data))
                            }
                            Some("tool_use") | Some("server_tool_use") => BlockKind::ToolCall {
                                id: owned(block.id),
                                name: owned(block.name),
                            },
                            _ => BlockKind::Text,
                        };
                        (kind, block.text.filter(|text| !text.is_empty()))
                    }
                };
                events.push(StreamEvent::BlockStart { index, kind });
                if let Some(text) = text {
                    events.push(StreamEvent::BlockDelta {
                        index,
                        delta: Delta::Text(text.into_owned()),
                    });
                }
            }
            "content_block_delta" => {
                let Some(delta) = payload.delta else {
                    return Ok(events);
                };
                let delta = match delta.kind.as_deref() {
                    Some("text_delta") => Delta::Text(owned(delta.text)),
                    Some("thinking_delta") => Delta::Reasoning(owned(delta.thinking)),
                    Some("signature_delta") => Delta::Signature(owned(delta.signature)),
                    Some("input_json_delta") => Delta::ToolArguments(owned(delta.partial_json)),
                    _ => return Ok(events),
                };
                events.push(StreamEvent::BlockDelta { index, delta });
            }
            "content_block_stop" => events.push(StreamEvent::BlockStop { index }),
            "message_delta" => {
                if let Some(usage) = &payload.usage {
                    let update = usage.canonical();
                    self.usage.output_tokens = update.output_tokens;
                    if usage.input_tokens.is_some() {
                        self.usage.input_tokens = update.input_tokens;
                        self.usage.cache_read_tokens = update.cache_read_tokens;
                        self.usage.cache_write_tokens = update.cache_write_tokens;
                    }
                }
                events.push(StreamEvent::Usage(self.usage));
                if let Some(reason) = payload.delta.and_then(|delta| delta.stop_reason) {
                    events.push(StreamEvent::Finish(decode_stop_reason(&reason)));
                }
            }
            "error" => events.push(StreamEvent::Error {
                message: payload.error.and_then(|error| error.message).map_or_else(
                    || "the upstream reported an error".to_owned(),
                    Cow::into_owned,
                ),
            }),
            // ping, message_stop and future event types carry nothing canonical.
            _ => {}
        }
        Ok(events)
    }
}

/// Turns canonical events into Anthropic SSE frames (`event:` + `data:`).
#[derive(Debug)]
pub struct StreamEncoder {
    model: String,
    started: bool,
    open_block: Option<usize>,
    stop_reason: Option<StopReason>,
    usage: Usage,
}

fn frame(name: &str, payload: &impl serde::Serialize) -> String {
    crate::sse_frame(Some(name), payload)
}

impl StreamEncoder {
    /// An encoder for a client that asked for `model`.
    pub fn new(model: &str) -> Self {
        Self {
            model: model.to_owned(),
            started: false,
            open_block: None,
            stop_reason: None,
            usage: Usage::default(),
        }
    }

    fn ensure_started(&mut self, id: &str, frames: &mut Vec<String>) {
        if self.started {
            return;
        }
        self.started = true;
        frames.push(frame(
            "message_start",
            &json!({
                "type": "message_start",
                "message": {
                    "id": message_id(id),
                    "type": "message",
                    "role": "assistant",
                    "model": self.model,
                    "content": [],
                    "stop_reason": null,
                    "stop_sequence": null,
                    "usage": encode_usage(&self.usage),
                }
            }),
        ));
    }

    fn close_block(&mut self, frames: &mut Vec<String>) {
        if let Some(index) = self.open_block.take() {
            frames.push(frame(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            ));
        }
    }

    /// Frames for one event.
    pub fn push(&mut self, event: &StreamEvent) -> Vec<String> {
        let mut frames = Vec::new();
        match event {
            StreamEvent::Start { id, .. } => self.ensure_started(id, &mut frames),
            StreamEvent::BlockStart { index, kind } => {
                self.ensure_started("", &mut frames);
                self.close_block(&mut frames);
                let block = match kind {
                    BlockKind::Text => json!({"type": "text", "text": ""}),
                    BlockKind::Reasoning => {
                        json!({"type": "thinking", "thinking": "", "signature": ""})
                    }
                    BlockKind::RedactedReasoning(data) => {
                        json!({"type": "redacted_thinking", "data": data})
                    }
                    BlockKind::ToolCall { id, name } => {
                        json!({"type": "tool_use", "id": id, "name": name, "input": {}})
                    }
                };
                self.open_block = Some(*index);
                frames.push(frame(
                    "content_block_start",
                    &json!({"type": "content_block_start", "index": index, "content_block": block}),
                ));
            }
            StreamEvent::BlockDelta { index, delta } => {
                self.ensure_started("", &mut frames);
                if let Delta::Text(text) = delta {
                    // Most frames: serialized without building a JSON tree.
                    #[derive(serde::Serialize)]
                    struct TextDelta<'a> {
                        r#type: &'static str,
                        index: usize,
                        delta: TextPart<'a>,
                    }
                    #[derive(serde::Serialize)]
                    struct TextPart<'a> {
                        r#type: &'static str,
                        text: &'a str,
                    }
                    frames.push(frame(
                        "content_block_delta",
                        &TextDelta {
                            r#type: "content_block_delta",
                            index: *index,
                            delta: TextPart {
                                r#type: "text_delta",
                                text,
                            },
                        },
                    ));
                    return frames;
                }
                let delta = match delta {
                    Delta::Text(text) => json!({"type": "text_delta", "text": text}),
                    Delta::Reasoning(text) => json!({"type": "thinking_delta", "thinking": text}),
                    Delta::Signature(signature) => {
                        json!({"type": "signature_delta", "signature": signature})
                    }
                    Delta::ToolArguments(json) => {
                        json!({"type": "input_json_delta", "partial_json": json})
                    }
                };
                frames.push(frame(
                    "content_block_delta",
                    &json!({"type": "content_block_delta", "index": index, "delta": delta}),
                ));
            }
            StreamEvent::BlockStop { .. } => self.close_block(&mut frames),
            StreamEvent::Usage(usage) => self.usage = *usage,
            StreamEvent::Finish(reason) => self.stop_reason = Some(reason.clone()),
            StreamEvent::Error { message } => frames.push(frame(
                "error",
                &json!({"type": "error", "error": {"type": "api_error", "message": message}}),
            )),
        }
        frames
    }

    /// The closing frames: `message_delta` with stop reason and usage, then `message_stop`.
    pub fn finish(&mut self) -> Vec<String> {
        let mut frames = Vec::new();
        self.ensure_started("", &mut frames);
        self.close_block(&mut frames);
        let reason = encode_stop_reason(self.stop_reason.as_ref().unwrap_or(&StopReason::EndTurn));
        frames.push(frame(
            "message_delta",
            &json!({
                "type": "message_delta",
                "delta": {"stop_reason": reason, "stop_sequence": null},
                "usage": encode_usage(&self.usage),
            }),
        ));
        frames.push(frame("message_stop", &json!({"type": "message_stop"})));
        frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(decoder: &mut StreamDecoder, name: &str, data: &str) -> Vec<StreamEvent> {
        decoder.push(name, data).expect("a valid event")
    }

    #[test]
    fn stream_usage_reads_null_counts_as_absent_and_later_input_counts() {
        let mut decoder = StreamDecoder::default();
        let start = r#"{"type":"message_start","message":{"id":"msg_1","model":"m","usage":{"input_tokens":10,"output_tokens":1,"cache_read_input_tokens":null,"cache_creation_input_tokens":4,"service_tier":"standard"}}}"#;
        assert_eq!(
            push(&mut decoder, "message_start", start),
            [StreamEvent::Start {
                id: "msg_1".into(),
                model: "m".into()
            }]
        );
        let delta = r#"{"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"output_tokens":9,"input_tokens":20,"cache_read_input_tokens":3}}"#;
        let events = push(&mut decoder, "message_delta", delta);
        let StreamEvent::Usage(usage) = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!(
            (
                usage.input_tokens,
                usage.output_tokens,
                usage.cache_read_tokens
            ),
            (23, 9, 3)
        );
        assert_eq!(events[1], StreamEvent::Finish(StopReason::MaxTokens));
    }

    #[test]
    fn stream_events_named_only_by_the_sse_event_and_errors() {
        let mut decoder = StreamDecoder::default();
        // No "type" in the payload: the SSE event name says what it is.
        let events = push(
            &mut decoder,
            "content_block_delta",
            r#"{"index":2,"delta":{"type":"text_delta","text":"a \"quoted\" word"}}"#,
        );
        assert_eq!(
            events,
            [StreamEvent::BlockDelta {
                index: 2,
                delta: Delta::Text("a \"quoted\" word".into())
            }]
        );
        let events = push(
            &mut decoder,
            "error",
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!(
            events,
            [StreamEvent::Error {
                message: "Overloaded".into()
            }]
        );
        assert!(
            decoder
                .push(
                    "content_block_stop",
                    r#"{"type":"content_block_stop","index":"one"}"#
                )
                .is_err()
        );
        assert!(decoder.push("ping", "not json").is_err());
    }
}
