//! Ollama's chat API (`POST /api/chat`): requests, responses and NDJSON
//! streams, to and from the canonical model. Ollama streams unless the request
//! says `"stream": false`, and its tool calls carry no ids: calls are numbered
//! and results matched to them by tool name, in order.

use serde_json::{Map, Value, json};

use crate::{
    BlockKind, BlockTracker, ChatRequest, ChatResponse, DecodeError, Delta, ImageSource, Message,
    Part, Reasoning, ResponseCollector, ResponseFormat, Role, StopReason, StreamEvent, Tool, Usage,
    arguments_object, push_tool_result, text_of,
};

fn invalid(message: impl Into<String>) -> DecodeError {
    DecodeError::new(message)
}

/// Decodes a request body already parsed as JSON.
pub fn decode_request_value(value: &Value) -> Result<ChatRequest, DecodeError> {
    let object = value
        .as_object()
        .ok_or_else(|| invalid("the request body must be a JSON object"))?;
    let model = match object.get("model") {
        Some(Value::String(model)) if !model.is_empty() => model.clone(),
        _ => return Err(invalid("model is required")),
    };
    let mut request = ChatRequest {
        model,
        stream: object
            .get("stream")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        include_usage: true,
        ..ChatRequest::default()
    };
    let messages = match object.get("messages") {
        None | Some(Value::Null) => &Vec::new(),
        Some(Value::Array(messages)) => messages,
        Some(_) => return Err(invalid("messages must be an array")),
    };
    let mut next_call = 0_usize;
    let mut unanswered: Vec<(String, String)> = Vec::new();
    for (position, message) in messages.iter().enumerate() {
        let message = message
            .as_object()
            .ok_or_else(|| invalid(format!("messages[{position}] must be an object")))?;
        let content = match message.get("content") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(content)) => content.clone(),
            Some(_) => {
                return Err(invalid(format!(
                    "messages[{position}].content must be a string"
                )));
            }
        };
        let images = message
            .get("images")
            .and_then(Value::as_array)
            .map(|images| {
                images
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|data| {
                        Part::Image(ImageSource::Base64 {
                            media_type: "image/png".into(),
                            data: data.to_owned(),
                        })
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        match message.get("role").and_then(Value::as_str) {
            Some("system") => request.system.push(content),
            Some("user") => {
                let mut parts = Vec::new();
                if !content.is_empty() {
                    parts.push(Part::Text(content));
                }
                parts.extend(images);
                request.messages.push(Message {
                    role: Role::User,
                    content: parts,
                });
            }
            Some("assistant") => {
                let mut parts = Vec::new();
                if let Some(thinking) = message
                    .get("thinking")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                {
                    parts.push(Part::Reasoning {
                        text: thinking.to_owned(),
                        signature: None,
                    });
                }
                if !content.is_empty() {
                    parts.push(Part::Text(content));
                }
                for call in message
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let function = call.get("function").unwrap_or(&Value::Null);
                    let name = function
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    next_call += 1;
                    let id = format!("call_{next_call}");
                    unanswered.push((id.clone(), name.clone()));
                    let arguments = match function.get("arguments") {
                        Some(Value::String(text)) => text.clone(),
                        Some(other) => other.to_string(),
                        None => "{}".into(),
                    };
                    parts.push(Part::ToolCall {
                        id,
                        name,
                        arguments,
                    });
                }
                request.messages.push(Message {
                    role: Role::Assistant,
                    content: parts,
                });
            }
            Some("tool") => {
                let name = message.get("tool_name").and_then(Value::as_str);
                let found = match name {
                    Some(name) => unanswered.iter().position(|(_, call)| call == name),
                    None => (!unanswered.is_empty()).then_some(0),
                };
                let call_id = match found {
                    Some(found) => unanswered.remove(found).0,
                    None => format!("call_{}", name.unwrap_or("tool")),
                };
                let result = Part::ToolResult {
                    call_id,
                    content: vec![Part::Text(content)],
                    is_error: false,
                };
                push_tool_result(&mut request.messages, result);
            }
            other => {
                return Err(invalid(format!(
                    "messages[{position}].role {:?} is not one of system, user, assistant, tool",
                    other.unwrap_or("")
                )));
            }
        }
    }
    for tool in object
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let function = tool
            .get("function")
            .ok_or_else(|| invalid("each tool needs a function"))?;
        request.tools.push(Tool {
            name: function
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            description: function
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
            parameters: function
                .get("parameters")
                .cloned()
                .unwrap_or_else(|| json!({"type": "object"})),
        });
    }
    request.response_format = match object.get("format") {
        Some(Value::String(format)) if format == "json" => Some(ResponseFormat::JsonObject),
        Some(schema @ Value::Object(_)) => Some(ResponseFormat::JsonSchema {
            name: "response".into(),
            schema: schema.clone(),
            strict: false,
        }),
        _ => None,
    };
    if let Some(options) = object.get("options").and_then(Value::as_object) {
        request.temperature = options.get("temperature").and_then(Value::as_f64);
        request.top_p = options.get("top_p").and_then(Value::as_f64);
        request.max_tokens = options.get("num_predict").and_then(Value::as_u64);
        if let Some(stops) = options.get("stop").and_then(Value::as_array) {
            request.stop = stops
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
        }
    }
    request.reasoning = match object.get("think") {
        Some(Value::Bool(true)) => Some(Reasoning::Effort("medium".into())),
        Some(Value::String(effort)) => Some(Reasoning::Effort(effort.clone())),
        _ => None,
    };
    Ok(request)
}

/// Encodes a request for an Ollama server.
pub fn encode_request(request: &ChatRequest) -> Value {
    let mut messages: Vec<Value> = request
        .system
        .iter()
        .map(|system| json!({"role": "system", "content": system}))
        .collect();
    let mut call_names: Vec<(String, String)> = Vec::new();
    for message in &request.messages {
        let text: String = message
            .content
            .iter()
            .filter_map(|part| match part {
                Part::Text(text) => Some(text.as_str()),
                _ => None,
            })
            .collect();
        match message.role {
            Role::User => {
                for part in &message.content {
                    if let Part::ToolResult {
                        call_id, content, ..
                    } = part
                    {
                        let name = call_names
                            .iter()
                            .find(|(id, _)| id == call_id)
                            .map(|(_, name)| name.clone());
                        let content = text_of(content);
                        messages
                            .push(json!({"role": "tool", "content": content, "tool_name": name}));
                    }
                }
                let images: Vec<&str> = message
                    .content
                    .iter()
                    .filter_map(|part| match part {
                        Part::Image(ImageSource::Base64 { data, .. }) => Some(data.as_str()),
                        _ => None,
                    })
                    .collect();
                if !text.is_empty() || !images.is_empty() {
                    let mut encoded = json!({"role": "user", "content": text});
                    if !images.is_empty() {
                        encoded["images"] = json!(images);
                    }
                    messages.push(encoded);
                }
            }
            Role::Assistant => {
                let calls: Vec<Value> = message
                    .content
                    .iter()
                    .filter_map(|part| match part {
                        Part::ToolCall { id, name, arguments } => {
                            call_names.push((id.clone(), name.clone()));
                            Some(json!({"function": {"name": name, "arguments": arguments_object(arguments)}}))
                        }
                        _ => None,
                    })
                    .collect();
                let mut encoded = json!({"role": "assistant", "content": text});
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
    body.insert("stream".into(), json!(request.stream));
    if !request.tools.is_empty() {
        body.insert(
            "tools".into(),
            request
                .tools
                .iter()
                .map(|tool| json!({"type": "function", "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters}}))
                .collect(),
        );
    }
    let mut options = Map::new();
    if let Some(temperature) = request.temperature {
        options.insert("temperature".into(), json!(temperature));
    }
    if let Some(top_p) = request.top_p {
        options.insert("top_p".into(), json!(top_p));
    }
    if let Some(max_tokens) = request.max_tokens {
        options.insert("num_predict".into(), json!(max_tokens));
    }
    if !request.stop.is_empty() {
        options.insert("stop".into(), json!(request.stop));
    }
    if !options.is_empty() {
        body.insert("options".into(), Value::Object(options));
    }
    match &request.response_format {
        Some(ResponseFormat::JsonObject) => {
            body.insert("format".into(), json!("json"));
        }
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            body.insert("format".into(), schema.clone());
        }
        None => {}
    }
    Value::Object(body)
}

fn done_reason(reason: &StopReason) -> &'static str {
    match reason {
        StopReason::MaxTokens => "length",
        _ => "stop",
    }
}

/// The final fields of an answer: `done`, reason and token counts.
fn finish_fields(target: &mut Value, reason: &StopReason, usage: &Usage) {
    target["done"] = json!(true);
    target["done_reason"] = json!(done_reason(reason));
    target["prompt_eval_count"] = json!(usage.input_tokens);
    target["eval_count"] = json!(usage.output_tokens);
    target["total_duration"] = json!(0);
    target["load_duration"] = json!(0);
    target["prompt_eval_duration"] = json!(0);
    target["eval_duration"] = json!(0);
}

/// Encodes a complete answer; `created_at` is an RFC 3339 time.
pub fn encode_response(response: &ChatResponse, model: &str, created_at: &str) -> Value {
    let mut message = json!({"role": "assistant", "content": ""});
    let mut text = String::new();
    let mut thinking = String::new();
    let mut calls = Vec::new();
    for part in &response.content {
        match part {
            Part::Text(more) => text.push_str(more),
            Part::Reasoning { text: more, .. } => thinking.push_str(more),
            Part::ToolCall {
                name, arguments, ..
            } => calls.push(
                json!({"function": {"name": name, "arguments": arguments_object(arguments)}}),
            ),
            _ => {}
        }
    }
    message["content"] = json!(text);
    if !thinking.is_empty() {
        message["thinking"] = json!(thinking);
    }
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    let mut body = json!({"model": model, "created_at": created_at, "message": message});
    finish_fields(
        &mut body,
        response
            .stop_reason
            .as_ref()
            .unwrap_or(&StopReason::EndTurn),
        &response.usage.unwrap_or_default(),
    );
    body
}

/// Decodes a complete (`"stream": false`) answer.
pub fn decode_response(body: &[u8]) -> Result<ChatResponse, DecodeError> {
    let mut decoder = StreamDecoder::default();
    let mut collector = ResponseCollector::default();
    let text = std::str::from_utf8(body).map_err(|error| invalid(error.to_string()))?;
    for event in decoder.push(text)? {
        collector.push(event);
    }
    for event in decoder.finish() {
        collector.push(event);
    }
    Ok(collector.finish())
}

/// Turns NDJSON lines of an Ollama answer into canonical events.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    started: bool,
    /// `Some(thinking)` for text and reasoning blocks, `None` for a call.
    blocks: BlockTracker<Option<bool>>,
    calls: usize,
}

impl StreamDecoder {
    /// Decodes one line (one JSON object).
    pub fn push(&mut self, line: &str) -> Result<Vec<StreamEvent>, DecodeError> {
        let chunk: Value = serde_json::from_str(line)
            .map_err(|error| invalid(format!("a stream line is not valid JSON: {error}")))?;
        let mut events = Vec::new();
        if let Some(error) = chunk.get("error").and_then(Value::as_str) {
            events.push(StreamEvent::Error {
                message: error.to_owned(),
            });
            return Ok(events);
        }
        if !self.started {
            self.started = true;
            events.push(StreamEvent::Start {
                id: String::new(),
                model: chunk
                    .get("model")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
        let message = chunk.get("message").unwrap_or(&Value::Null);
        for (field, thought) in [("thinking", true), ("content", false)] {
            if let Some(text) = message
                .get(field)
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                let kind = || {
                    if thought {
                        BlockKind::Reasoning
                    } else {
                        BlockKind::Text
                    }
                };
                let index = self.blocks.ensure(Some(thought), kind, &mut events);
                events.push(StreamEvent::BlockDelta {
                    index,
                    delta: if thought {
                        Delta::Reasoning(text.to_owned())
                    } else {
                        Delta::Text(text.to_owned())
                    },
                });
            }
        }
        for call in message
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.calls += 1;
            let function = call.get("function").unwrap_or(&Value::Null);
            let kind = BlockKind::ToolCall {
                id: format!("call_{}", self.calls),
                name: function
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            };
            // Ollama sends each call whole: a block of one delta.
            let index = self.blocks.start(None, kind, &mut events);
            events.push(StreamEvent::BlockDelta {
                index,
                delta: Delta::ToolArguments(
                    function
                        .get("arguments")
                        .map_or_else(|| "{}".into(), Value::to_string),
                ),
            });
            self.blocks.close(&mut events);
        }
        if chunk.get("done").and_then(Value::as_bool) == Some(true) {
            self.blocks.close(&mut events);
            let number = |name: &str| chunk.get(name).and_then(Value::as_u64).unwrap_or(0);
            events.push(StreamEvent::Usage(Usage {
                input_tokens: number("prompt_eval_count"),
                output_tokens: number("eval_count"),
                ..Usage::default()
            }));
            events.push(StreamEvent::Finish(
                match chunk.get("done_reason").and_then(Value::as_str) {
                    Some("length") => StopReason::MaxTokens,
                    _ if self.calls > 0 => StopReason::ToolUse,
                    _ => StopReason::EndTurn,
                },
            ));
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

/// Turns canonical events into Ollama NDJSON lines; tool calls go out whole
/// when their block ends.
#[derive(Debug)]
pub struct StreamEncoder {
    model: String,
    created_at: String,
    open_call: Option<(String, String)>,
    stop_reason: Option<StopReason>,
    usage: Usage,
}

impl StreamEncoder {
    /// An encoder answering as `model`; `created_at` is an RFC 3339 time.
    pub fn new(model: &str, created_at: &str) -> Self {
        Self {
            model: model.to_owned(),
            created_at: created_at.to_owned(),
            open_call: None,
            stop_reason: None,
            usage: Usage::default(),
        }
    }

    fn line(&self, message: Value) -> String {
        format!(
            "{}\n",
            json!({"model": self.model, "created_at": self.created_at, "message": message, "done": false})
        )
    }

    /// Lines for one event.
    pub fn push(&mut self, event: &StreamEvent) -> Vec<String> {
        let mut lines = Vec::new();
        match event {
            StreamEvent::BlockStart {
                kind: BlockKind::ToolCall { name, .. },
                ..
            } => {
                self.open_call = Some((name.clone(), String::new()));
            }
            StreamEvent::BlockDelta { delta, .. } => match delta {
                Delta::Text(text) => {
                    lines.push(self.line(json!({"role": "assistant", "content": text})))
                }
                Delta::Reasoning(text) => lines
                    .push(self.line(json!({"role": "assistant", "content": "", "thinking": text}))),
                Delta::ToolArguments(more) => {
                    if let Some((_, arguments)) = &mut self.open_call {
                        arguments.push_str(more);
                    }
                }
                Delta::Signature(_) => {}
            },
            StreamEvent::BlockStop { .. } => {
                if let Some((name, arguments)) = self.open_call.take() {
                    lines.push(self.line(json!({
                        "role": "assistant",
                        "content": "",
                        "tool_calls": [{"function": {"name": name, "arguments": arguments_object(&arguments)}}],
                    })));
                }
            }
            StreamEvent::Usage(usage) => self.usage = *usage,
            StreamEvent::Finish(reason) => self.stop_reason = Some(reason.clone()),
            StreamEvent::Error { message } => {
                lines.push(format!("{}\n", json!({"error": message})))
            }
            StreamEvent::Start { .. } | StreamEvent::BlockStart { .. } => {}
        }
        lines
    }

    /// The final `"done": true` line with the token counts.
    pub fn finish(&mut self) -> Vec<String> {
        let mut last = json!({"model": self.model, "created_at": self.created_at, "message": {"role": "assistant", "content": ""}});
        finish_fields(
            &mut last,
            self.stop_reason.as_ref().unwrap_or(&StopReason::EndTurn),
            &self.usage,
        );
        vec![format!("{last}\n")]
    }
}
