//! OpenAI Chat Completions (`POST /v1/chat/completions`): requests, responses
//! and `chat.completion.chunk` streams, to and from the canonical model.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::{
    BlockKind, BlockTracker, ChatRequest, ChatResponse, DecodeError, Delta, ImageSource, Message,
    Part, Reasoning, ResponseFormat, Role, StopReason, StreamEvent, Tool, ToolChoice, Usage,
    push_tool_result,
};

/// Request fields with a canonical meaning; everything else goes to `extra`.
const KNOWN_FIELDS: &[&str] = &[
    "model",
    "messages",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "stream",
    "stream_options",
    "response_format",
    "reasoning_effort",
];

fn field<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.get(name).filter(|value| !value.is_null())
}

fn expect_object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>, DecodeError> {
    value
        .as_object()
        .ok_or_else(|| DecodeError::new(format!("{what} must be an object")))
}

fn expect_str<'a>(value: &'a Value, what: &str) -> Result<&'a str, DecodeError> {
    value
        .as_str()
        .ok_or_else(|| DecodeError::new(format!("{what} must be a string")))
}

fn optional_u64(object: &Map<String, Value>, name: &str) -> Result<Option<u64>, DecodeError> {
    field(object, name)
        .map(|value| {
            value
                .as_u64()
                .ok_or_else(|| DecodeError::new(format!("'{name}' must be a non-negative integer")))
        })
        .transpose()
}

fn optional_f64(object: &Map<String, Value>, name: &str) -> Result<Option<f64>, DecodeError> {
    field(object, name)
        .map(|value| {
            value
                .as_f64()
                .ok_or_else(|| DecodeError::new(format!("'{name}' must be a number")))
        })
        .transpose()
}

/// Decodes a request body.
pub fn decode_request(body: &[u8]) -> Result<ChatRequest, DecodeError> {
    let value: Value = serde_json::from_slice(body).map_err(|error| {
        DecodeError::new(format!("the request body is not valid JSON: {error}"))
    })?;
    decode_request_value(&value)
}

/// Decodes a request body already parsed as JSON.
pub fn decode_request_value(value: &Value) -> Result<ChatRequest, DecodeError> {
    let object = expect_object(value, "the request body")?;
    let model = match field(object, "model") {
        Some(Value::String(model)) if !model.is_empty() => model.clone(),
        Some(_) => return Err(DecodeError::new("'model' must be a non-empty string")),
        None => return Err(DecodeError::new("you must provide a 'model' parameter")),
    };
    let mut request = ChatRequest {
        model,
        ..ChatRequest::default()
    };
    let messages = field(object, "messages")
        .ok_or_else(|| DecodeError::new("'messages' is a required property"))?
        .as_array()
        .ok_or_else(|| DecodeError::new("'messages' must be an array"))?;
    for (position, message) in messages.iter().enumerate() {
        decode_message(&mut request, message, position)?;
    }
    if let Some(tools) = field(object, "tools") {
        let tools = tools
            .as_array()
            .ok_or_else(|| DecodeError::new("'tools' must be an array"))?;
        for tool in tools {
            let tool = expect_object(tool, "each tool")?;
            let function = tool
                .get("function")
                .ok_or_else(|| DecodeError::new("each tool needs a 'function'"))?;
            let function = expect_object(function, "'function'")?;
            request.tools.push(Tool {
                name: expect_str(
                    function.get("name").unwrap_or(&Value::Null),
                    "the function's 'name'",
                )?
                .to_owned(),
                description: function
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                parameters: function
                    .get("parameters")
                    .cloned()
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
            });
        }
    }
    request.tool_choice = match field(object, "tool_choice") {
        None => None,
        Some(Value::String(choice)) => Some(match choice.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            other => return Err(DecodeError::new(format!("unknown tool_choice {other:?}"))),
        }),
        Some(Value::Object(choice)) => {
            let name = choice
                .get("function")
                .and_then(|function| function.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| DecodeError::new("tool_choice.function.name is required"))?;
            Some(ToolChoice::Tool(name.to_owned()))
        }
        Some(_) => {
            return Err(DecodeError::new(
                "'tool_choice' must be a string or an object",
            ));
        }
    };
    request.parallel_tool_calls = field(object, "parallel_tool_calls").and_then(Value::as_bool);
    request.max_tokens = match optional_u64(object, "max_completion_tokens")? {
        Some(tokens) => Some(tokens),
        None => optional_u64(object, "max_tokens")?,
    };
    request.temperature = optional_f64(object, "temperature")?;
    request.top_p = optional_f64(object, "top_p")?;
    request.stop = match field(object, "stop") {
        None => Vec::new(),
        Some(Value::String(stop)) => vec![stop.clone()],
        Some(Value::Array(stops)) => stops
            .iter()
            .map(|stop| expect_str(stop, "each stop sequence").map(str::to_owned))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(DecodeError::new("'stop' must be a string or an array")),
    };
    request.stream = match field(object, "stream") {
        None => false,
        Some(Value::Bool(stream)) => *stream,
        Some(_) => return Err(DecodeError::new("'stream' must be a boolean")),
    };
    request.include_usage = field(object, "stream_options")
        .and_then(|options| options.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    request.response_format = match field(object, "response_format") {
        None => None,
        Some(format) => {
            let format = expect_object(format, "'response_format'")?;
            match format.get("type").and_then(Value::as_str) {
                Some("json_object") => Some(ResponseFormat::JsonObject),
                Some("json_schema") => {
                    let schema = format
                        .get("json_schema")
                        .and_then(Value::as_object)
                        .ok_or_else(|| {
                            DecodeError::new("response_format.json_schema is required")
                        })?;
                    Some(ResponseFormat::JsonSchema {
                        name: schema
                            .get("name")
                            .and_then(Value::as_str)
                            .unwrap_or("response")
                            .to_owned(),
                        schema: schema.get("schema").cloned().unwrap_or_else(|| json!({})),
                        strict: schema
                            .get("strict")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                    })
                }
                Some("text") | None => None,
                Some(other) => {
                    return Err(DecodeError::new(format!(
                        "unknown response_format type {other:?}"
                    )));
                }
            }
        }
    };
    request.reasoning = field(object, "reasoning_effort")
        .map(|effort| {
            expect_str(effort, "'reasoning_effort'").map(|e| Reasoning::Effort(e.to_owned()))
        })
        .transpose()?;
    request.extra = object
        .iter()
        .filter(|(name, _)| !KNOWN_FIELDS.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    Ok(request)
}

/// Text and images of a `content` that is a string or an array of parts.
fn decode_content(content: Option<&Value>, what: &str) -> Result<Vec<Part>, DecodeError> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(if text.is_empty() {
            Vec::new()
        } else {
            vec![Part::Text(text.clone())]
        }),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| decode_content_part(part, what).transpose())
            .collect(),
        Some(_) => Err(DecodeError::new(format!(
            "{what} content must be a string or an array"
        ))),
    }
}

fn decode_content_part(part: &Value, what: &str) -> Result<Option<Part>, DecodeError> {
    let part = expect_object(part, "each content part")?;
    match part.get("type").and_then(Value::as_str) {
        Some("text") => Ok(Some(Part::Text(
            expect_str(
                part.get("text").unwrap_or(&Value::Null),
                "a text part's 'text'",
            )?
            .to_owned(),
        ))),
        Some("image_url") => {
            let url = part
                .get("image_url")
                .and_then(|image| image.get("url").or(Some(image)))
                .and_then(Value::as_str)
                .ok_or_else(|| DecodeError::new("image_url.url must be a string"))?;
            Ok(Some(Part::Image(image_from_url(url))))
        }
        Some("refusal") => Ok(part
            .get("refusal")
            .and_then(Value::as_str)
            .map(|text| Part::Text(text.to_owned()))),
        Some(other) => Err(DecodeError::new(format!(
            "content part type {other:?} is not supported in {what} messages"
        ))),
        None => Err(DecodeError::new("each content part needs a 'type'")),
    }
}

/// Splits `data:` URLs into inline images; other URLs stay URLs.
fn image_from_url(url: &str) -> ImageSource {
    if let Some(rest) = url.strip_prefix("data:")
        && let Some((media_type, data)) = rest.split_once(";base64,")
    {
        return ImageSource::Base64 {
            media_type: media_type.to_owned(),
            data: data.to_owned(),
        };
    }
    ImageSource::Url(url.to_owned())
}

fn image_to_url(image: &ImageSource) -> String {
    match image {
        ImageSource::Url(url) => url.clone(),
        ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
    }
}

fn decode_message(
    request: &mut ChatRequest,
    message: &Value,
    position: usize,
) -> Result<(), DecodeError> {
    let message = expect_object(message, "each message")?;
    let role = message
        .get("role")
        .and_then(Value::as_str)
        .ok_or_else(|| DecodeError::new(format!("messages[{position}].role is required")))?;
    match role {
        "system" | "developer" => {
            let text: String = decode_content(message.get("content"), "system")?
                .into_iter()
                .filter_map(|part| match part {
                    Part::Text(text) => Some(text),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("\n");
            request.system.push(text);
        }
        "user" => request.messages.push(Message {
            role: Role::User,
            content: decode_content(message.get("content"), "user")?,
        }),
        "assistant" => {
            let mut content = Vec::new();
            for name in ["reasoning_content", "reasoning"] {
                if let Some(text) = message
                    .get(name)
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                {
                    content.push(Part::Reasoning {
                        text: text.to_owned(),
                        signature: None,
                    });
                    break;
                }
            }
            content.extend(decode_content(message.get("content"), "assistant")?);
            if let Some(calls) = field(message, "tool_calls") {
                let calls = calls
                    .as_array()
                    .ok_or_else(|| DecodeError::new("'tool_calls' must be an array"))?;
                for call in calls {
                    let function = call
                        .get("function")
                        .ok_or_else(|| DecodeError::new("each tool call needs a 'function'"))?;
                    content.push(Part::ToolCall {
                        id: call
                            .get("id")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        name: expect_str(
                            function.get("name").unwrap_or(&Value::Null),
                            "a tool call's name",
                        )?
                        .to_owned(),
                        arguments: function
                            .get("arguments")
                            .and_then(Value::as_str)
                            .unwrap_or("{}")
                            .to_owned(),
                    });
                }
            }
            request.messages.push(Message {
                role: Role::Assistant,
                content,
            });
        }
        "tool" => {
            let call_id = expect_str(
                message.get("tool_call_id").unwrap_or(&Value::Null),
                "a tool message's 'tool_call_id'",
            )?;
            let result = Part::ToolResult {
                call_id: call_id.to_owned(),
                content: decode_content(message.get("content"), "tool")?,
                is_error: false,
            };
            push_tool_result(&mut request.messages, result);
        }
        other => {
            return Err(DecodeError::new(format!(
                "messages[{position}].role {other:?} is not one of system, developer, user, assistant, tool"
            )));
        }
    }
    Ok(())
}

fn text_or_parts(parts: &[Part]) -> Value {
    let only_text = parts.iter().all(|part| matches!(part, Part::Text(_)));
    if only_text {
        return Value::String(
            parts
                .iter()
                .filter_map(|part| match part {
                    Part::Text(text) => Some(text.as_str()),
                    _ => None,
                })
                .collect(),
        );
    }
    Value::Array(
        parts
            .iter()
            .filter_map(|part| match part {
                Part::Text(text) => Some(json!({"type": "text", "text": text})),
                Part::Image(image) => {
                    Some(json!({"type": "image_url", "image_url": {"url": image_to_url(image)}}))
                }
                _ => None,
            })
            .collect(),
    )
}

/// Encodes a request for an OpenAI-compatible upstream.
pub fn encode_request(request: &ChatRequest) -> Value {
    let mut messages = Vec::new();
    for system in &request.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    for message in &request.messages {
        match message.role {
            Role::User => {
                let mut rest = Vec::new();
                for part in &message.content {
                    match part {
                        Part::ToolResult {
                            call_id, content, ..
                        } => messages.push(json!({
                            "role": "tool",
                            "tool_call_id": call_id,
                            "content": text_or_parts(content),
                        })),
                        other => rest.push(other.clone()),
                    }
                }
                if !rest.is_empty() {
                    messages.push(json!({"role": "user", "content": text_or_parts(&rest)}));
                }
            }
            Role::Assistant => {
                let text: String = message
                    .content
                    .iter()
                    .filter_map(|part| match part {
                        Part::Text(text) => Some(text.as_str()),
                        _ => None,
                    })
                    .collect();
                let calls: Vec<Value> = message
                    .content
                    .iter()
                    .filter_map(|part| match part {
                        Part::ToolCall {
                            id,
                            name,
                            arguments,
                        } => Some(json!({
                            "id": id,
                            "type": "function",
                            "function": {"name": name, "arguments": arguments},
                        })),
                        _ => None,
                    })
                    .collect();
                let mut encoded = json!({"role": "assistant", "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { Value::String(text) }});
                if !calls.is_empty() {
                    encoded["tool_calls"] = Value::Array(calls);
                }
                messages.push(encoded);
            }
        }
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    body.insert("messages".into(), Value::Array(messages));
    if !request.tools.is_empty() {
        let tools = request
            .tools
            .iter()
            .map(|tool| {
                let mut function = json!({"name": tool.name, "parameters": tool.parameters});
                if let Some(description) = &tool.description {
                    function["description"] = json!(description);
                }
                json!({"type": "function", "function": function})
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = &request.tool_choice {
        body.insert(
            "tool_choice".into(),
            match choice {
                ToolChoice::Auto => json!("auto"),
                ToolChoice::None => json!("none"),
                ToolChoice::Required => json!("required"),
                ToolChoice::Tool(name) => json!({"type": "function", "function": {"name": name}}),
            },
        );
    }
    if let Some(parallel) = request.parallel_tool_calls {
        body.insert("parallel_tool_calls".into(), json!(parallel));
    }
    if let Some(max_tokens) = request.max_tokens {
        body.insert("max_tokens".into(), json!(max_tokens));
    }
    if let Some(temperature) = request.temperature {
        body.insert("temperature".into(), json!(temperature));
    }
    if let Some(top_p) = request.top_p {
        body.insert("top_p".into(), json!(top_p));
    }
    if !request.stop.is_empty() {
        body.insert("stop".into(), json!(request.stop));
    }
    if request.stream {
        body.insert("stream".into(), json!(true));
        // Usage is always requested upstream so it can be recorded; the
        // encoder only shows it to clients that asked.
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    match &request.response_format {
        Some(ResponseFormat::JsonObject) => {
            body.insert("response_format".into(), json!({"type": "json_object"}));
        }
        Some(ResponseFormat::JsonSchema {
            name,
            schema,
            strict,
        }) => {
            body.insert(
                "response_format".into(),
                json!({"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": strict}}),
            );
        }
        None => {}
    }
    if let Some(reasoning) = &request.reasoning {
        body.insert("reasoning_effort".into(), json!(reasoning.effort()));
    }
    Value::Object(body)
}

fn decode_stop_reason(reason: &str) -> StopReason {
    match reason {
        "length" => StopReason::MaxTokens,
        "tool_calls" | "function_call" => StopReason::ToolUse,
        "content_filter" => StopReason::ContentFilter,
        _ => StopReason::EndTurn,
    }
}

fn encode_stop_reason(reason: &StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn | StopReason::StopSequence | StopReason::Refusal => "stop",
        StopReason::MaxTokens => "length",
        StopReason::ToolUse => "tool_calls",
        StopReason::ContentFilter => "content_filter",
    }
}

fn decode_usage(usage: &Value) -> Option<Usage> {
    let usage = usage.as_object()?;
    let number = |value: Option<&Value>| value.and_then(Value::as_u64).unwrap_or(0);
    Some(Usage {
        input_tokens: number(usage.get("prompt_tokens")),
        output_tokens: number(usage.get("completion_tokens")),
        cache_read_tokens: number(
            usage
                .get("prompt_tokens_details")
                .and_then(|d| d.get("cached_tokens")),
        ),
        cache_write_tokens: 0,
        reasoning_tokens: number(
            usage
                .get("completion_tokens_details")
                .and_then(|d| d.get("reasoning_tokens")),
        ),
    })
}

fn encode_usage(usage: &Usage) -> Value {
    json!({
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    })
}

/// Decodes a `chat.completion` response body.
pub fn decode_response(body: &[u8]) -> Result<ChatResponse, DecodeError> {
    let value: Value = serde_json::from_slice(body).map_err(|error| {
        DecodeError::new(format!("the upstream answer is not valid JSON: {error}"))
    })?;
    let choice = value
        .get("choices")
        .and_then(|choices| choices.get(0))
        .ok_or_else(|| DecodeError::new("the upstream answer has no choices"))?;
    let message = choice.get("message").cloned().unwrap_or_else(|| json!({}));
    let mut scratch = ChatRequest::default();
    let mut assistant = message.clone();
    assistant["role"] = json!("assistant");
    decode_message(&mut scratch, &assistant, 0)?;
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
        content: scratch
            .messages
            .pop()
            .map(|m| m.content)
            .unwrap_or_default(),
        stop_reason: choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .map(decode_stop_reason),
        usage: value.get("usage").and_then(decode_usage),
    })
}

/// Encodes a `chat.completion` response; `created` is the Unix time in seconds.
pub fn encode_response(response: &ChatResponse, created: u64) -> Value {
    let text: String = response
        .content
        .iter()
        .filter_map(|part| match part {
            Part::Text(text) => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let reasoning: String = response
        .content
        .iter()
        .filter_map(|part| match part {
            Part::Reasoning { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let calls: Vec<Value> = response
        .content
        .iter()
        .filter_map(|part| match part {
            Part::ToolCall {
                id,
                name,
                arguments,
            } => Some(json!({
                "id": id, "type": "function", "function": {"name": name, "arguments": arguments},
            })),
            _ => None,
        })
        .collect();
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { Value::String(text) },
    });
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    if !reasoning.is_empty() {
        message["reasoning_content"] = Value::String(reasoning);
    }
    let mut body = json!({
        "id": response.id,
        "object": "chat.completion",
        "created": created,
        "model": response.model,
        "choices": [{
            "index": 0,
            "message": message,
            "finish_reason": encode_stop_reason(response.stop_reason.as_ref().unwrap_or(&StopReason::EndTurn)),
        }],
    });
    if let Some(usage) = &response.usage {
        body["usage"] = encode_usage(usage);
    }
    body
}

/// Turns `chat.completion.chunk` payloads into canonical stream events.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    started: bool,
    /// The open block; for tool calls, OpenAI's tool index.
    blocks: BlockTracker<OpenBlock>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenBlock {
    Text,
    Reasoning,
    Tool(u64),
}

impl StreamDecoder {
    /// Decodes one SSE `data:` payload; `[DONE]` yields nothing.
    pub fn push(&mut self, data: &str) -> Result<Vec<StreamEvent>, DecodeError> {
        let mut events = Vec::new();
        if data.trim() == "[DONE]" {
            return Ok(events);
        }
        let chunk: Value = serde_json::from_str(data).map_err(|error| {
            DecodeError::new(format!("a stream chunk is not valid JSON: {error}"))
        })?;
        if let Some(error) = chunk.get("error") {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("the upstream reported an error")
                .to_owned();
            events.push(StreamEvent::Error { message });
            return Ok(events);
        }
        if !self.started {
            self.started = true;
            events.push(StreamEvent::Start {
                id: chunk
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                model: chunk
                    .get("model")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
        if let Some(choice) = chunk.get("choices").and_then(|choices| choices.get(0)) {
            let delta = choice.get("delta").unwrap_or(&Value::Null);
            for name in ["reasoning_content", "reasoning"] {
                if let Some(text) = delta
                    .get(name)
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                {
                    let index = self.blocks.ensure(
                        OpenBlock::Reasoning,
                        || BlockKind::Reasoning,
                        &mut events,
                    );
                    events.push(StreamEvent::BlockDelta {
                        index,
                        delta: Delta::Reasoning(text.to_owned()),
                    });
                    break;
                }
            }
            if let Some(text) = delta
                .get("content")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                let index = self
                    .blocks
                    .ensure(OpenBlock::Text, || BlockKind::Text, &mut events);
                events.push(StreamEvent::BlockDelta {
                    index,
                    delta: Delta::Text(text.to_owned()),
                });
            }
            if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
                for call in calls {
                    let tool_index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
                    let function = call.get("function");
                    let is_open = matches!(
                        self.blocks.open(),
                        Some((_, OpenBlock::Tool(open))) if *open == tool_index
                    );
                    if !is_open {
                        let kind = BlockKind::ToolCall {
                            id: call
                                .get("id")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned(),
                            name: function
                                .and_then(|f| f.get("name"))
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned(),
                        };
                        self.blocks
                            .start(OpenBlock::Tool(tool_index), kind, &mut events);
                    }
                    if let (Some((index, _)), Some(arguments)) = (
                        self.blocks.open(),
                        function
                            .and_then(|f| f.get("arguments"))
                            .and_then(Value::as_str)
                            .filter(|a| !a.is_empty()),
                    ) {
                        events.push(StreamEvent::BlockDelta {
                            index,
                            delta: Delta::ToolArguments(arguments.to_owned()),
                        });
                    }
                }
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.blocks.close(&mut events);
                events.push(StreamEvent::Finish(decode_stop_reason(reason)));
            }
        }
        if let Some(usage) = chunk.get("usage").and_then(decode_usage) {
            events.push(StreamEvent::Usage(usage));
        }
        Ok(events)
    }

    /// Closes what is still open when the upstream stream ends.
    pub fn finish(&mut self) -> Vec<StreamEvent> {
        let mut events = Vec::new();
        self.blocks.close(&mut events);
        events
    }
}

/// Turns canonical stream events into `chat.completion.chunk` SSE frames.
#[derive(Debug)]
pub struct StreamEncoder {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    started: bool,
    /// OpenAI tool index of each tool-call block, by block index.
    tool_indices: Vec<(usize, usize)>,
    stop_reason: Option<StopReason>,
    usage: Option<Usage>,
    /// The start of every chunk frame, up to its delta (empty until the
    /// first chunk, and again when the id changes).
    chunk_head: Vec<u8>,
}

impl StreamEncoder {
    /// An encoder for a client that asked for `model`; `created` is Unix seconds.
    pub fn new(model: &str, created: u64, include_usage: bool) -> Self {
        Self {
            id: String::new(),
            model: model.to_owned(),
            created,
            include_usage,
            started: false,
            tool_indices: Vec::new(),
            stop_reason: None,
            usage: None,
            chunk_head: Vec::new(),
        }
    }

    /// One `chat.completion.chunk` frame. What all of a stream's chunks share
    /// (id, object, created, model) is written once; each chunk serializes
    /// only its delta, straight from borrowed fields (this runs per token).
    fn chunk(&mut self, delta: &impl Serialize, finish_reason: Option<&str>) -> String {
        if self.chunk_head.is_empty() {
            #[derive(Serialize)]
            struct Head<'a> {
                id: &'a str,
                object: &'static str,
                created: u64,
                model: &'a str,
            }
            let head = Head {
                id: &self.id,
                object: "chat.completion.chunk",
                created: self.created,
                model: &self.model,
            };
            // Serializing strings and numbers cannot fail.
            let mut head = serde_json::to_vec(&head).unwrap_or_default();
            head.pop(); // the closing brace: the choices follow
            self.chunk_head.extend_from_slice(b"data: ");
            self.chunk_head.extend_from_slice(&head);
            self.chunk_head
                .extend_from_slice(br#","choices":[{"index":0,"delta":"#);
        }
        let mut frame = Vec::with_capacity(self.chunk_head.len() + 96);
        frame.extend_from_slice(&self.chunk_head);
        let _ = serde_json::to_writer(&mut frame, delta);
        frame.extend_from_slice(br#","finish_reason":"#);
        let _ = serde_json::to_writer(&mut frame, &finish_reason);
        frame.extend_from_slice(b"}]}\n\n");
        String::from_utf8(frame).unwrap_or_default()
    }

    fn ensure_started(&mut self, frames: &mut Vec<String>) {
        if !self.started {
            self.started = true;
            if self.id.is_empty() {
                self.id = "chatcmpl-switchyard".into();
            }
            #[derive(Serialize)]
            struct RoleDelta {
                role: &'static str,
                content: &'static str,
            }
            let role = RoleDelta {
                role: "assistant",
                content: "",
            };
            frames.push(self.chunk(&role, None));
        }
    }

    /// Frames for one event.
    pub fn push(&mut self, event: &StreamEvent) -> Vec<String> {
        let mut frames = Vec::new();
        match event {
            StreamEvent::Start { id, .. } => {
                if !id.is_empty() {
                    self.id = if id.starts_with("chatcmpl") {
                        id.clone()
                    } else {
                        format!("chatcmpl-{id}")
                    };
                    self.chunk_head.clear();
                }
                self.ensure_started(&mut frames);
            }
            StreamEvent::BlockStart { index, kind } => {
                self.ensure_started(&mut frames);
                if let BlockKind::ToolCall { id, name } = kind {
                    let tool_index = self.tool_indices.len();
                    self.tool_indices.push((*index, tool_index));
                    frames.push(self.chunk(
                        &json!({"tool_calls": [{"index": tool_index, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]}),
                        None,
                    ));
                }
            }
            StreamEvent::BlockDelta { index, delta } => {
                self.ensure_started(&mut frames);
                #[derive(Serialize)]
                struct Content<'a> {
                    content: &'a str,
                }
                #[derive(Serialize)]
                struct ReasoningContent<'a> {
                    reasoning_content: &'a str,
                }
                let delta = match delta {
                    Delta::Text(text) => {
                        frames.push(self.chunk(&Content { content: text }, None));
                        return frames;
                    }
                    Delta::Reasoning(text) => {
                        frames.push(self.chunk(
                            &ReasoningContent {
                                reasoning_content: text,
                            },
                            None,
                        ));
                        return frames;
                    }
                    Delta::ToolArguments(arguments) => {
                        let tool_index = self
                            .tool_indices
                            .iter()
                            .find(|(block, _)| block == index)
                            .map_or(0, |(_, tool)| *tool);
                        json!({"tool_calls": [{"index": tool_index, "function": {"arguments": arguments}}]})
                    }
                    Delta::Signature(_) => return frames,
                };
                frames.push(self.chunk(&delta, None));
            }
            StreamEvent::BlockStop { .. } => {}
            StreamEvent::Usage(usage) => self.usage = Some(*usage),
            StreamEvent::Finish(reason) => self.stop_reason = Some(reason.clone()),
            StreamEvent::Error { message } => {
                let error = json!({"error": {"message": message, "type": "upstream_error", "param": null, "code": "upstream_error"}});
                frames.push(format!("data: {error}\n\n"));
            }
        }
        frames
    }

    /// The closing frames: finish reason, usage if asked for, `[DONE]`.
    pub fn finish(&mut self) -> Vec<String> {
        let mut frames = Vec::new();
        self.ensure_started(&mut frames);
        let reason = encode_stop_reason(self.stop_reason.as_ref().unwrap_or(&StopReason::EndTurn));
        frames.push(self.chunk(&json!({}), Some(reason)));
        if self.include_usage {
            let chunk = json!({
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": encode_usage(&self.usage.unwrap_or_default()),
            });
            frames.push(format!("data: {chunk}\n\n"));
        }
        frames.push("data: [DONE]\n\n".into());
        frames
    }
}

#[cfg(test)]
mod stream_encoder_tests {
    use super::*;

    #[test]
    fn chunks_are_written_whole_with_their_shared_head_escaped() {
        let mut encoder = StreamEncoder::new("a \"quoted\" model", 7, false);
        let mut frames = encoder.push(&StreamEvent::Start {
            id: "msg_1".into(),
            model: String::new(),
        });
        frames.extend(encoder.push(&StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::Text("Hi\n".into()),
        }));
        frames.extend(encoder.push(&StreamEvent::Finish(StopReason::MaxTokens)));
        frames.extend(encoder.finish());
        assert_eq!(
            frames[0],
            "data: {\"id\":\"chatcmpl-msg_1\",\"object\":\"chat.completion.chunk\",\"created\":7,\
             \"model\":\"a \\\"quoted\\\" model\",\"choices\":[{\"index\":0,\"delta\":\
             {\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n"
        );
        let chunk = |frame: &str| -> Value {
            serde_json::from_str(frame.strip_prefix("data: ").unwrap().trim_end()).unwrap()
        };
        assert_eq!(
            chunk(&frames[1]),
            json!({"id": "chatcmpl-msg_1", "object": "chat.completion.chunk", "created": 7,
                   "model": "a \"quoted\" model",
                   "choices": [{"index": 0, "delta": {"content": "Hi\n"}, "finish_reason": null}]})
        );
        assert_eq!(chunk(&frames[2])["choices"][0]["finish_reason"], "length");
        assert_eq!(frames[3], "data: [DONE]\n\n");
    }
}
