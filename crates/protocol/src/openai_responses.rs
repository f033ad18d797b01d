//! OpenAI Responses (`POST /v1/responses`, also Codex CLI's `/codex/responses`):
//! requests with `input` items, `response` objects with `output` items, and the
//! typed `response.*` event stream, to and from the canonical model.

use serde_json::{Map, Value, json};

use crate::{
    BlockKind, BlockTracker, ChatRequest, ChatResponse, DecodeError, Delta, ImageSource, Message,
    Part, Reasoning, ResponseFormat, Role, StopReason, StreamEvent, Tool, ToolChoice, Usage,
    text_of,
};

fn invalid(message: impl Into<String>) -> DecodeError {
    DecodeError::new(message)
}

const KNOWN_FIELDS: &[&str] = &[
    "model",
    "instructions",
    "input",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "max_output_tokens",
    "temperature",
    "top_p",
    "stream",
    "reasoning",
    "text",
];

/// Appends `part` to the conversation, joining the previous message when it
/// has the same role (items of one turn arrive one by one).
fn push_part(messages: &mut Vec<Message>, role: Role, part: Part) {
    match messages.last_mut() {
        Some(last) if last.role == role => last.content.push(part),
        _ => messages.push(Message {
            role,
            content: vec![part],
        }),
    }
}

fn content_parts(content: &Value, what: &str) -> Result<Vec<Part>, DecodeError> {
    match content {
        Value::String(text) => Ok(vec![Part::Text(text.clone())]),
        Value::Array(parts) => parts
            .iter()
            .map(|part| match part.get("type").and_then(Value::as_str) {
                Some("input_text") | Some("output_text") | Some("text") => Ok(Part::Text(
                    part.get("text")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                )),
                Some("refusal") => Ok(Part::Text(
                    part.get("refusal")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                )),
                Some("input_image") => {
                    let url = part
                        .get("image_url")
                        .and_then(Value::as_str)
                        .ok_or_else(|| {
                            invalid(format!("{what}: input_image needs an image_url"))
                        })?;
                    Ok(Part::Image(
                        match url
                            .strip_prefix("data:")
                            .and_then(|rest| rest.split_once(";base64,"))
                        {
                            Some((media_type, data)) => ImageSource::Base64 {
                                media_type: media_type.to_owned(),
                                data: data.to_owned(),
                            },
                            None => ImageSource::Url(url.to_owned()),
                        },
                    ))
                }
                Some(other) => Err(invalid(format!(
                    "{what}: content type {other:?} is not supported"
                ))),
                None => Err(invalid(format!("{what}: each content part needs a type"))),
            })
            .collect(),
        _ => Err(invalid(format!(
            "{what}: content must be a string or an array"
        ))),
    }
}

/// Decodes a request body already parsed as JSON.
pub fn decode_request_value(value: &Value) -> Result<ChatRequest, DecodeError> {
    let object = value
        .as_object()
        .ok_or_else(|| invalid("the request body must be a JSON object"))?;
    let model = match object.get("model") {
        Some(Value::String(model)) if !model.is_empty() => model.clone(),
        _ => return Err(invalid("Missing required parameter: 'model'.")),
    };
    let mut request = ChatRequest {
        model,
        stream: object
            .get("stream")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        include_usage: true,
        ..ChatRequest::default()
    };
    if let Some(instructions) = object.get("instructions").and_then(Value::as_str) {
        request.system.push(instructions.to_owned());
    }
    match object.get("input") {
        Some(Value::String(text)) => request.messages.push(Message {
            role: Role::User,
            content: vec![Part::Text(text.clone())],
        }),
        Some(Value::Array(items)) => {
            for (position, item) in items.iter().enumerate() {
                let what = format!("input[{position}]");
                let kind = item
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("message");
                match kind {
                    "message" => {
                        let content =
                            content_parts(item.get("content").unwrap_or(&Value::Null), &what)?;
                        match item.get("role").and_then(Value::as_str) {
                            Some("system") | Some("developer") => request.system.push(
                                content
                                    .iter()
                                    .filter_map(|part| match part {
                                        Part::Text(text) => Some(text.as_str()),
                                        _ => None,
                                    })
                                    .collect::<Vec<_>>()
                                    .join("\n"),
                            ),
                            Some("user") => {
                                for part in content {
                                    push_part(&mut request.messages, Role::User, part);
                                }
                            }
                            Some("assistant") => {
                                for part in content {
                                    push_part(&mut request.messages, Role::Assistant, part);
                                }
                            }
                            _ => {
                                return Err(invalid(format!(
                                    "{what}.role must be user, assistant, system or developer"
                                )));
                            }
                        }
                    }
                    "function_call" => push_part(
                        &mut request.messages,
                        Role::Assistant,
                        Part::ToolCall {
                            id: item
                                .get("call_id")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned(),
                            name: item
                                .get("name")
                                .and_then(Value::as_str)
                                .ok_or_else(|| invalid(format!("{what}.name is required")))?
                                .to_owned(),
                            arguments: item
                                .get("arguments")
                                .and_then(Value::as_str)
                                .unwrap_or("{}")
                                .to_owned(),
                        },
                    ),
                    "function_call_output" => {
                        let output = match item.get("output") {
                            Some(Value::String(text)) => vec![Part::Text(text.clone())],
                            Some(other @ Value::Array(_)) => content_parts(other, &what)?,
                            _ => Vec::new(),
                        };
                        push_part(
                            &mut request.messages,
                            Role::User,
                            Part::ToolResult {
                                call_id: item
                                    .get("call_id")
                                    .and_then(Value::as_str)
                                    .ok_or_else(|| invalid(format!("{what}.call_id is required")))?
                                    .to_owned(),
                                content: output,
                                is_error: false,
                            },
                        );
                    }
                    "reasoning" => {
                        let text: String = item
                            .get("summary")
                            .and_then(Value::as_array)
                            .map(|summary| {
                                summary
                                    .iter()
                                    .filter_map(|part| part.get("text").and_then(Value::as_str))
                                    .collect::<Vec<_>>()
                                    .join("\n")
                            })
                            .unwrap_or_default();
                        push_part(
                            &mut request.messages,
                            Role::Assistant,
                            Part::Reasoning {
                                text,
                                signature: item
                                    .get("encrypted_content")
                                    .and_then(Value::as_str)
                                    .map(str::to_owned),
                            },
                        );
                    }
                    other => {
                        return Err(invalid(format!("{what}.type {other:?} is not supported")));
                    }
                }
            }
        }
        None | Some(Value::Null) => return Err(invalid("Missing required parameter: 'input'.")),
        Some(_) => return Err(invalid("'input' must be a string or an array of items")),
    }
    for tool in object
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        // Built-in tools (web search and the like) only work on OpenAI itself.
        if tool.get("type").and_then(Value::as_str) != Some("function") {
            continue;
        }
        request.tools.push(Tool {
            name: tool
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("each function tool needs a name"))?
                .to_owned(),
            description: tool
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
            parameters: tool
                .get("parameters")
                .cloned()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        });
    }
    request.tool_choice = match object.get("tool_choice") {
        Some(Value::String(choice)) => match choice.as_str() {
            "auto" => Some(ToolChoice::Auto),
            "none" => Some(ToolChoice::None),
            "required" => Some(ToolChoice::Required),
            other => return Err(invalid(format!("unknown tool_choice {other:?}"))),
        },
        Some(Value::Object(choice)) => choice
            .get("name")
            .and_then(Value::as_str)
            .map(|name| ToolChoice::Tool(name.to_owned())),
        _ => None,
    };
    request.parallel_tool_calls = object.get("parallel_tool_calls").and_then(Value::as_bool);
    request.max_tokens = object.get("max_output_tokens").and_then(Value::as_u64);
    request.temperature = object.get("temperature").and_then(Value::as_f64);
    request.top_p = object.get("top_p").and_then(Value::as_f64);
    request.reasoning = object
        .get("reasoning")
        .and_then(|reasoning| reasoning.get("effort"))
        .and_then(Value::as_str)
        .map(|effort| Reasoning::Effort(effort.to_owned()));
    request.response_format = match object.get("text").and_then(|text| text.get("format")) {
        Some(format) => match format.get("type").and_then(Value::as_str) {
            Some("json_object") => Some(ResponseFormat::JsonObject),
            Some("json_schema") => Some(ResponseFormat::JsonSchema {
                name: format
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("response")
                    .to_owned(),
                schema: format.get("schema").cloned().unwrap_or_else(|| json!({})),
                strict: format
                    .get("strict")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            }),
            _ => None,
        },
        None => None,
    };
    request.extra = object
        .iter()
        .filter(|(name, _)| !KNOWN_FIELDS.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    Ok(request)
}

/// Encodes a request for a Responses upstream.
pub fn encode_request(request: &ChatRequest) -> Value {
    let mut input = Vec::new();
    for message in &request.messages {
        let role = match message.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        let mut content = Vec::new();
        let flush = |content: &mut Vec<Value>, input: &mut Vec<Value>| {
            if !content.is_empty() {
                input.push(
                    json!({"type": "message", "role": role, "content": std::mem::take(content)}),
                );
            }
        };
        for part in &message.content {
            match part {
                Part::Text(text) => content.push(json!({
                    "type": if message.role == Role::User { "input_text" } else { "output_text" },
                    "text": text,
                })),
                Part::Image(image) => content.push(json!({
                    "type": "input_image",
                    "image_url": match image {
                        ImageSource::Url(url) => url.clone(),
                        ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
                    },
                })),
                Part::ToolCall { id, name, arguments } => {
                    flush(&mut content, &mut input);
                    input.push(json!({"type": "function_call", "call_id": id, "name": name, "arguments": arguments}));
                }
                Part::ToolResult { call_id, content: result, .. } => {
                    flush(&mut content, &mut input);
                    input.push(json!({"type": "function_call_output", "call_id": call_id, "output": text_of(result)}));
                }
                Part::Reasoning { .. } | Part::RedactedReasoning(_) => {}
            }
        }
        flush(&mut content, &mut input);
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    if !request.system.is_empty() {
        body.insert("instructions".into(), json!(request.system.join("\n\n")));
    }
    body.insert("input".into(), Value::Array(input));
    if !request.tools.is_empty() {
        body.insert(
            "tools".into(),
            request
                .tools
                .iter()
                .map(|tool| json!({"type": "function", "name": tool.name, "description": tool.description, "parameters": tool.parameters}))
                .collect(),
        );
    }
    if let Some(choice) = &request.tool_choice {
        body.insert(
            "tool_choice".into(),
            match choice {
                ToolChoice::Auto => json!("auto"),
                ToolChoice::None => json!("none"),
                ToolChoice::Required => json!("required"),
                ToolChoice::Tool(name) => json!({"type": "function", "name": name}),
            },
        );
    }
    if let Some(parallel) = request.parallel_tool_calls {
        body.insert("parallel_tool_calls".into(), json!(parallel));
    }
    if let Some(max_tokens) = request.max_tokens {
        body.insert("max_output_tokens".into(), json!(max_tokens));
    }
    if let Some(temperature) = request.temperature {
        body.insert("temperature".into(), json!(temperature));
    }
    if let Some(top_p) = request.top_p {
        body.insert("top_p".into(), json!(top_p));
    }
    if let Some(reasoning) = &request.reasoning {
        body.insert(
            "reasoning".into(),
            json!({"effort": reasoning.effort(), "summary": "auto"}),
        );
    }
    match &request.response_format {
        Some(ResponseFormat::JsonObject) => {
            body.insert("text".into(), json!({"format": {"type": "json_object"}}));
        }
        Some(ResponseFormat::JsonSchema {
            name,
            schema,
            strict,
        }) => {
            body.insert(
                "text".into(),
                json!({"format": {"type": "json_schema", "name": name, "schema": schema, "strict": strict}}),
            );
        }
        None => {}
    }
    body.insert("stream".into(), json!(request.stream));
    body.insert("store".into(), json!(false));
    Value::Object(body)
}

fn decode_usage(usage: &Value) -> Usage {
    let number = |value: Option<&Value>| value.and_then(Value::as_u64).unwrap_or(0);
    Usage {
        input_tokens: number(usage.get("input_tokens")),
        output_tokens: number(usage.get("output_tokens")),
        cache_read_tokens: number(
            usage
                .get("input_tokens_details")
                .and_then(|d| d.get("cached_tokens")),
        ),
        cache_write_tokens: 0,
        reasoning_tokens: number(
            usage
                .get("output_tokens_details")
                .and_then(|d| d.get("reasoning_tokens")),
        ),
    }
}

fn encode_usage(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.input_tokens + usage.output_tokens,
    })
}

/// Decodes a `response` object.
pub fn decode_response(body: &[u8]) -> Result<ChatResponse, DecodeError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| invalid(format!("the upstream answer is not valid JSON: {error}")))?;
    Ok(decode_response_value(&value))
}

fn decode_response_value(value: &Value) -> ChatResponse {
    let mut content = Vec::new();
    for item in value
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                for part in item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(text) = part
                        .get("text")
                        .or_else(|| part.get("refusal"))
                        .and_then(Value::as_str)
                    {
                        content.push(Part::Text(text.to_owned()));
                    }
                }
            }
            Some("function_call") => content.push(Part::ToolCall {
                id: item
                    .get("call_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                name: item
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                arguments: item
                    .get("arguments")
                    .and_then(Value::as_str)
                    .unwrap_or("{}")
                    .to_owned(),
            }),
            Some("reasoning") => content.push(Part::Reasoning {
                text: item
                    .get("summary")
                    .and_then(Value::as_array)
                    .map(|summary| {
                        summary
                            .iter()
                            .filter_map(|part| part.get("text").and_then(Value::as_str))
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
                    .unwrap_or_default(),
                signature: item
                    .get("encrypted_content")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            }),
            _ => {}
        }
    }
    let incomplete = value.get("status").and_then(Value::as_str) == Some("incomplete");
    let stop_reason = if incomplete {
        StopReason::MaxTokens
    } else if content
        .iter()
        .any(|part| matches!(part, Part::ToolCall { .. }))
    {
        StopReason::ToolUse
    } else {
        StopReason::EndTurn
    };
    ChatResponse {
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
        stop_reason: Some(stop_reason),
        usage: value
            .get("usage")
            .filter(|usage| usage.is_object())
            .map(decode_usage),
    }
}

fn response_id(id: &str) -> String {
    if id.starts_with("resp_") {
        id.to_owned()
    } else if id.is_empty() {
        "resp_switchyard".to_owned()
    } else {
        format!("resp_{id}")
    }
}

/// The `response` object around `output`.
fn response_object(
    id: &str,
    model: &str,
    created_at: u64,
    status: &str,
    output: Vec<Value>,
    usage: Option<&Usage>,
) -> Value {
    let mut response = json!({
        "id": response_id(id),
        "object": "response",
        "created_at": created_at,
        "status": status,
        "error": null,
        "incomplete_details": if status == "incomplete" { json!({"reason": "max_output_tokens"}) } else { Value::Null },
        "instructions": null,
        "model": model,
        "output": output,
        "parallel_tool_calls": true,
        "tool_choice": "auto",
        "tools": [],
        "temperature": null,
        "top_p": null,
        "metadata": {},
    });
    if let Some(usage) = usage {
        response["usage"] = encode_usage(usage);
    }
    response
}

fn output_items(parts: &[Part]) -> Vec<Value> {
    let mut items = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        match part {
            Part::Text(text) => items.push(json!({
                "type": "message",
                "id": format!("msg_{index}"),
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            })),
            Part::ToolCall {
                id,
                name,
                arguments,
            } => items.push(json!({
                "type": "function_call",
                "id": format!("fc_{index}"),
                "call_id": id,
                "name": name,
                "arguments": arguments,
                "status": "completed",
            })),
            Part::Reasoning { text, signature } => {
                let mut item = json!({
                    "type": "reasoning",
                    "id": format!("rs_{index}"),
                    "summary": [{"type": "summary_text", "text": text}],
                });
                if let Some(signature) = signature {
                    item["encrypted_content"] = json!(signature);
                }
                items.push(item);
            }
            _ => {}
        }
    }
    items
}

/// Encodes a `response` object; `created_at` is Unix seconds.
pub fn encode_response(response: &ChatResponse, created_at: u64) -> Value {
    let status = if response.stop_reason == Some(StopReason::MaxTokens) {
        "incomplete"
    } else {
        "completed"
    };
    response_object(
        &response.id,
        &response.model,
        created_at,
        status,
        output_items(&response.content),
        response.usage.as_ref(),
    )
}

/// Turns Responses stream events into canonical events.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    /// The open block, keyed by whether it is text.
    blocks: BlockTracker<bool>,
    saw_tool_call: bool,
    /// Signature (encrypted reasoning) to attach when the reasoning item ends.
    pending_signature: Option<String>,
}

impl StreamDecoder {
    /// Decodes one SSE event.
    pub fn push(&mut self, event_name: &str, data: &str) -> Result<Vec<StreamEvent>, DecodeError> {
        let event: Value = serde_json::from_str(data)
            .map_err(|error| invalid(format!("a stream event is not valid JSON: {error}")))?;
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or(event_name);
        let mut events = Vec::new();
        match kind {
            "response.created" => {
                let response = event.get("response").unwrap_or(&Value::Null);
                events.push(StreamEvent::Start {
                    id: response
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    model: response
                        .get("model")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                });
            }
            "response.output_item.added" => {
                let item = event.get("item").unwrap_or(&Value::Null);
                match item.get("type").and_then(Value::as_str) {
                    Some("function_call") => {
                        self.saw_tool_call = true;
                        self.start(
                            BlockKind::ToolCall {
                                id: item
                                    .get("call_id")
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                                    .to_owned(),
                                name: item
                                    .get("name")
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                                    .to_owned(),
                            },
                            false,
                            &mut events,
                        );
                    }
                    Some("reasoning") => {
                        self.start(BlockKind::Reasoning, false, &mut events);
                    }
                    _ => {}
                }
            }
            "response.output_text.delta" | "response.refusal.delta" => {
                let index = match self.blocks.open() {
                    Some((index, true)) => index,
                    _ => self.start(BlockKind::Text, true, &mut events),
                };
                events.push(StreamEvent::BlockDelta {
                    index,
                    delta: Delta::Text(
                        event
                            .get("delta")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                    ),
                });
            }
            "response.function_call_arguments.delta" => {
                if let Some((index, _)) = self.blocks.open() {
                    events.push(StreamEvent::BlockDelta {
                        index,
                        delta: Delta::ToolArguments(
                            event
                                .get("delta")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned(),
                        ),
                    });
                }
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                if let Some((index, false)) = self.blocks.open() {
                    events.push(StreamEvent::BlockDelta {
                        index,
                        delta: Delta::Reasoning(
                            event
                                .get("delta")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned(),
                        ),
                    });
                }
            }
            "response.output_item.done" => {
                self.pending_signature = event
                    .get("item")
                    .and_then(|item| item.get("encrypted_content"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                self.close(&mut events);
            }
            "response.completed" | "response.incomplete" => {
                self.close(&mut events);
                let response = event.get("response").unwrap_or(&Value::Null);
                if let Some(usage) = response.get("usage").filter(|usage| usage.is_object()) {
                    events.push(StreamEvent::Usage(decode_usage(usage)));
                }
                events.push(StreamEvent::Finish(if kind == "response.incomplete" {
                    StopReason::MaxTokens
                } else if self.saw_tool_call {
                    StopReason::ToolUse
                } else {
                    StopReason::EndTurn
                }));
            }
            "response.failed" | "error" => events.push(StreamEvent::Error {
                message: event
                    .get("message")
                    .or_else(|| {
                        event
                            .get("response")
                            .and_then(|r| r.get("error"))
                            .and_then(|e| e.get("message"))
                    })
                    .and_then(Value::as_str)
                    .unwrap_or("the upstream reported an error")
                    .to_owned(),
            }),
            _ => {}
        }
        Ok(events)
    }

    /// Closes what is still open when the upstream stream ends.
    pub fn finish(&mut self) -> Vec<StreamEvent> {
        let mut events = Vec::new();
        self.close(&mut events);
        events
    }

    fn start(&mut self, kind: BlockKind, is_text: bool, events: &mut Vec<StreamEvent>) -> usize {
        self.close(events);
        self.blocks.start(is_text, kind, events)
    }

    /// Ends the open block, attaching the signature its item carried.
    fn close(&mut self, events: &mut Vec<StreamEvent>) {
        if let Some((index, _)) = self.blocks.open()
            && let Some(signature) = self.pending_signature.take()
        {
            events.push(StreamEvent::BlockDelta {
                index,
                delta: Delta::Signature(signature),
            });
        }
        self.blocks.close(events);
    }
}

/// The output item being streamed.
#[derive(Debug)]
struct OpenItem {
    kind: BlockKind,
    item_id: String,
    output_index: usize,
    text: String,
    signature: Option<String>,
}

/// Turns canonical events into Responses stream events (`event:` + `data:`).
#[derive(Debug)]
pub struct StreamEncoder {
    id: String,
    model: String,
    created_at: u64,
    sequence: u64,
    started: bool,
    open: Option<OpenItem>,
    /// Completed output items, for `response.completed`.
    output: Vec<Value>,
    stop_reason: Option<StopReason>,
    usage: Option<Usage>,
}

impl StreamEncoder {
    /// An encoder for a client that asked for `model`; `created_at` is Unix seconds.
    pub fn new(model: &str, created_at: u64) -> Self {
        Self {
            id: String::new(),
            model: model.to_owned(),
            created_at,
            sequence: 0,
            started: false,
            open: None,
            output: Vec::new(),
            stop_reason: None,
            usage: None,
        }
    }

    fn event(&mut self, name: &str, mut payload: Value) -> String {
        payload["type"] = json!(name);
        payload["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        format!("event: {name}\ndata: {payload}\n\n")
    }

    fn ensure_started(&mut self, frames: &mut Vec<String>) {
        if self.started {
            return;
        }
        self.started = true;
        let response = response_object(
            &self.id,
            &self.model,
            self.created_at,
            "in_progress",
            Vec::new(),
            None,
        );
        frames.push(self.event("response.created", json!({"response": response.clone()})));
        frames.push(self.event("response.in_progress", json!({"response": response})));
    }

    /// Frames for one event.
    pub fn push(&mut self, event: &StreamEvent) -> Vec<String> {
        let mut frames = Vec::new();
        match event {
            StreamEvent::Start { id, .. } => {
                self.id = id.clone();
                self.ensure_started(&mut frames);
            }
            StreamEvent::BlockStart { kind, .. } => {
                self.ensure_started(&mut frames);
                self.close_item(&mut frames);
                let output_index = self.output.len();
                let (item_id, item) = match kind {
                    BlockKind::Text => {
                        let id = format!("msg_{output_index}");
                        (
                            id.clone(),
                            json!({"type": "message", "id": id, "status": "in_progress", "role": "assistant", "content": []}),
                        )
                    }
                    BlockKind::Reasoning | BlockKind::RedactedReasoning(_) => {
                        let id = format!("rs_{output_index}");
                        (
                            id.clone(),
                            json!({"type": "reasoning", "id": id, "summary": []}),
                        )
                    }
                    BlockKind::ToolCall { id: call_id, name } => {
                        let id = format!("fc_{output_index}");
                        (
                            id.clone(),
                            json!({"type": "function_call", "id": id, "call_id": call_id, "name": name, "arguments": "", "status": "in_progress"}),
                        )
                    }
                };
                frames.push(self.event(
                    "response.output_item.added",
                    json!({"output_index": output_index, "item": item}),
                ));
                match kind {
                    BlockKind::Text => frames.push(self.event(
                        "response.content_part.added",
                        json!({"item_id": item_id, "output_index": output_index, "content_index": 0,
                               "part": {"type": "output_text", "text": "", "annotations": []}}),
                    )),
                    BlockKind::Reasoning => frames.push(self.event(
                        "response.reasoning_summary_part.added",
                        json!({"item_id": item_id, "output_index": output_index, "summary_index": 0,
                               "part": {"type": "summary_text", "text": ""}}),
                    )),
                    _ => {}
                }
                self.open = Some(OpenItem {
                    kind: kind.clone(),
                    item_id,
                    output_index,
                    text: String::new(),
                    signature: None,
                });
            }
            StreamEvent::BlockDelta { delta, .. } => {
                self.ensure_started(&mut frames);
                let Some(open) = &mut self.open else {
                    return frames;
                };
                let (item_id, output_index) = (open.item_id.clone(), open.output_index);
                let (name, payload) = match delta {
                    Delta::Text(text) => {
                        open.text.push_str(text);
                        (
                            "response.output_text.delta",
                            json!({"item_id": item_id, "output_index": output_index, "content_index": 0, "delta": text}),
                        )
                    }
                    Delta::Reasoning(text) => {
                        open.text.push_str(text);
                        (
                            "response.reasoning_summary_text.delta",
                            json!({"item_id": item_id, "output_index": output_index, "summary_index": 0, "delta": text}),
                        )
                    }
                    Delta::ToolArguments(arguments) => {
                        open.text.push_str(arguments);
                        (
                            "response.function_call_arguments.delta",
                            json!({"item_id": item_id, "output_index": output_index, "delta": arguments}),
                        )
                    }
                    Delta::Signature(signature) => {
                        open.signature
                            .get_or_insert_with(String::new)
                            .push_str(signature);
                        return frames;
                    }
                };
                frames.push(self.event(name, payload));
            }
            StreamEvent::BlockStop { .. } => self.close_item(&mut frames),
            StreamEvent::Usage(usage) => self.usage = Some(*usage),
            StreamEvent::Finish(reason) => self.stop_reason = Some(reason.clone()),
            StreamEvent::Error { message } => {
                frames.push(self.event(
                    "error",
                    json!({"code": "upstream_error", "message": message, "param": null}),
                ));
            }
        }
        frames
    }

    fn close_item(&mut self, frames: &mut Vec<String>) {
        let Some(open) = self.open.take() else {
            return;
        };
        let (item_id, output_index) = (open.item_id.clone(), open.output_index);
        let item = match &open.kind {
            BlockKind::Text => {
                frames.push(self.event("response.output_text.done", json!({"item_id": item_id, "output_index": output_index, "content_index": 0, "text": open.text})));
                let part = json!({"type": "output_text", "text": open.text, "annotations": []});
                frames.push(self.event("response.content_part.done", json!({"item_id": item_id, "output_index": output_index, "content_index": 0, "part": part})));
                json!({"type": "message", "id": item_id, "status": "completed", "role": "assistant", "content": [part]})
            }
            BlockKind::Reasoning | BlockKind::RedactedReasoning(_) => {
                let part = json!({"type": "summary_text", "text": open.text});
                if matches!(open.kind, BlockKind::Reasoning) {
                    frames.push(self.event("response.reasoning_summary_text.done", json!({"item_id": item_id, "output_index": output_index, "summary_index": 0, "text": open.text})));
                    frames.push(self.event("response.reasoning_summary_part.done", json!({"item_id": item_id, "output_index": output_index, "summary_index": 0, "part": part})));
                }
                let mut item = json!({"type": "reasoning", "id": item_id, "summary": [part]});
                if let Some(signature) = &open.signature {
                    item["encrypted_content"] = json!(signature);
                }
                item
            }
            BlockKind::ToolCall { id, name } => {
                frames.push(self.event("response.function_call_arguments.done", json!({"item_id": item_id, "output_index": output_index, "arguments": open.text})));
                json!({"type": "function_call", "id": item_id, "call_id": id, "name": name, "arguments": open.text, "status": "completed"})
            }
        };
        frames.push(self.event(
            "response.output_item.done",
            json!({"output_index": output_index, "item": item.clone()}),
        ));
        self.output.push(item);
    }

    /// The closing `response.completed` (or `response.incomplete`) event.
    pub fn finish(&mut self) -> Vec<String> {
        let mut frames = Vec::new();
        self.ensure_started(&mut frames);
        self.close_item(&mut frames);
        let incomplete = self.stop_reason == Some(StopReason::MaxTokens);
        let status = if incomplete {
            "incomplete"
        } else {
            "completed"
        };
        let response = response_object(
            &self.id,
            &self.model,
            self.created_at,
            status,
            std::mem::take(&mut self.output),
            self.usage.as_ref(),
        );
        let name = if incomplete {
            "response.incomplete"
        } else {
            "response.completed"
        };
        frames.push(self.event(name, json!({"response": response})));
        frames
    }
}
