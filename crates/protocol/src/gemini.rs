//! Google Gemini `generateContent` / `streamGenerateContent`: requests,
//! responses and SSE chunks (each a partial `GenerateContentResponse`), to and
//! from the canonical model. Field names are read in camelCase or snake_case,
//! as the API accepts both; they are written in camelCase.

use serde_json::{Map, Value, json};

use crate::{
    BlockKind, BlockTracker, ChatRequest, ChatResponse, DecodeError, Delta, ImageSource, Message,
    Part, Reasoning, ResponseFormat, Role, StopReason, StreamEvent, Tool, ToolChoice, Usage,
    arguments_object, text_of,
};

fn invalid(message: impl Into<String>) -> DecodeError {
    DecodeError::new(message)
}

/// `object[camel]`, falling back to its snake_case spelling.
fn get<'a>(object: &'a Value, camel: &str) -> Option<&'a Value> {
    if let Some(value) = object.get(camel).filter(|value| !value.is_null()) {
        return Some(value);
    }
    let mut snake = String::with_capacity(camel.len() + 4);
    for character in camel.chars() {
        if character.is_ascii_uppercase() {
            snake.push('_');
            snake.push(character.to_ascii_lowercase());
        } else {
            snake.push(character);
        }
    }
    object.get(&snake).filter(|value| !value.is_null())
}

/// Decodes a request body; `model` comes from the URL and `stream` from the
/// method (`streamGenerateContent`).
pub fn decode_request(body: &[u8], model: &str, stream: bool) -> Result<ChatRequest, DecodeError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| invalid(format!("Invalid JSON payload received. {error}")))?;
    decode_request_value(&value, model, stream)
}

/// Decodes a request body already parsed as JSON.
pub fn decode_request_value(
    value: &Value,
    model: &str,
    stream: bool,
) -> Result<ChatRequest, DecodeError> {
    if !value.is_object() {
        return Err(invalid(
            "Invalid JSON payload received. The request must be an object.",
        ));
    }
    let mut request = ChatRequest {
        model: model.to_owned(),
        stream,
        include_usage: true,
        ..ChatRequest::default()
    };
    if let Some(system) = get(value, "systemInstruction") {
        let text = parts_text(get(system, "parts"));
        if !text.is_empty() {
            request.system.push(text);
        }
    }
    let contents = get(value, "contents")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("* GenerateContentRequest.contents: contents is not specified"))?;
    // Gemini calls carry no ids: number them, and match each response to the
    // oldest unanswered call of the same name.
    let mut next_call = 0_usize;
    let mut unanswered: Vec<(String, String)> = Vec::new();
    for (position, content) in contents.iter().enumerate() {
        let role = match get(content, "role").and_then(Value::as_str) {
            Some("model") => Role::Assistant,
            Some("user") | Some("function") | Some("tool") | None => Role::User,
            Some(other) => {
                return Err(invalid(format!(
                    "* GenerateContentRequest.contents[{position}].role: unknown role {other:?}"
                )));
            }
        };
        let parts = get(content, "parts")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                invalid(format!(
                    "* GenerateContentRequest.contents[{position}].parts: parts is not specified"
                ))
            })?;
        let mut decoded = Vec::new();
        for part in parts {
            if let Some(call) = get(part, "functionCall") {
                let name = get(call, "name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let id = match get(call, "id").and_then(Value::as_str) {
                    Some(id) => id.to_owned(),
                    None => {
                        next_call += 1;
                        format!("call_{next_call}")
                    }
                };
                unanswered.push((id.clone(), name.clone()));
                decoded.push(Part::ToolCall {
                    id,
                    name,
                    arguments: get(call, "args").map_or_else(|| "{}".to_owned(), Value::to_string),
                });
            } else if let Some(response) = get(part, "functionResponse") {
                let name = get(response, "name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let call_id = match get(response, "id").and_then(Value::as_str) {
                    Some(id) => id.to_owned(),
                    None => match unanswered.iter().position(|(_, call)| call == name) {
                        Some(found) => unanswered.remove(found).0,
                        None => format!("call_{name}"),
                    },
                };
                let result = get(response, "response").unwrap_or(&Value::Null);
                let text = match &result {
                    Value::Object(object) if object.len() == 1 && object.contains_key("result") => {
                        match &object["result"] {
                            Value::String(text) => text.clone(),
                            other => other.to_string(),
                        }
                    }
                    other => other.to_string(),
                };
                decoded.push(Part::ToolResult {
                    call_id,
                    content: vec![Part::Text(text)],
                    is_error: result.get("error").is_some(),
                });
            } else if let Some(data) = get(part, "inlineData") {
                decoded.push(Part::Image(ImageSource::Base64 {
                    media_type: get(data, "mimeType")
                        .and_then(Value::as_str)
                        .unwrap_or("image/png")
                        .to_owned(),
                    data: get(data, "data")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                }));
            } else if let Some(file) = get(part, "fileData") {
                decoded.push(Part::Image(ImageSource::Url(
                    get(file, "fileUri")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                )));
            } else if let Some(text) = get(part, "text").and_then(Value::as_str) {
                if get(part, "thought").and_then(Value::as_bool) == Some(true) {
                    decoded.push(Part::Reasoning {
                        text: text.to_owned(),
                        signature: get(part, "thoughtSignature")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                    });
                } else {
                    decoded.push(Part::Text(text.to_owned()));
                }
            }
        }
        request.messages.push(Message {
            role,
            content: decoded,
        });
    }
    if let Some(tools) = get(value, "tools").and_then(Value::as_array) {
        for tool in tools {
            for declaration in get(tool, "functionDeclarations")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                request.tools.push(Tool {
                    name: get(declaration, "name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    description: get(declaration, "description")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    parameters: get(declaration, "parametersJsonSchema")
                        .or_else(|| get(declaration, "parameters"))
                        .cloned()
                        .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
                });
            }
        }
    }
    if let Some(config) =
        get(value, "toolConfig").and_then(|config| get(config, "functionCallingConfig"))
    {
        let allowed: Vec<&str> = get(config, "allowedFunctionNames")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        request.tool_choice = match get(config, "mode").and_then(Value::as_str) {
            Some("ANY") if allowed.len() == 1 => Some(ToolChoice::Tool(allowed[0].to_owned())),
            Some("ANY") => Some(ToolChoice::Required),
            Some("NONE") => Some(ToolChoice::None),
            Some("AUTO") => Some(ToolChoice::Auto),
            _ => None,
        };
    }
    if let Some(config) = get(value, "generationConfig") {
        request.temperature = get(config, "temperature").and_then(Value::as_f64);
        request.top_p = get(config, "topP").and_then(Value::as_f64);
        request.max_tokens = get(config, "maxOutputTokens").and_then(Value::as_u64);
        request.stop = get(config, "stopSequences")
            .and_then(Value::as_array)
            .map(|stops| {
                stops
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if get(config, "responseMimeType").and_then(Value::as_str) == Some("application/json") {
            request.response_format = Some(
                match get(config, "responseJsonSchema").or_else(|| get(config, "responseSchema")) {
                    Some(schema) => ResponseFormat::JsonSchema {
                        name: "response".into(),
                        schema: schema.clone(),
                        strict: false,
                    },
                    None => ResponseFormat::JsonObject,
                },
            );
        }
        if let Some(budget) = get(config, "thinkingConfig")
            .and_then(|thinking| get(thinking, "thinkingBudget"))
            .and_then(Value::as_u64)
            .filter(|budget| *budget > 0)
        {
            request.reasoning = Some(Reasoning::BudgetTokens(budget));
        }
    }
    Ok(request)
}

fn parts_text(parts: Option<&Value>) -> String {
    parts
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter_map(|part| get(part, "text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

fn encode_part(part: &Part, call_names: &[(String, String)]) -> Option<Value> {
    Some(match part {
        Part::Text(text) => json!({"text": text}),
        Part::Image(ImageSource::Base64 { media_type, data }) => {
            json!({"inlineData": {"mimeType": media_type, "data": data}})
        }
        Part::Image(ImageSource::Url(url)) => json!({"fileData": {"fileUri": url}}),
        Part::Reasoning { text, signature } => {
            let mut part = json!({"text": text, "thought": true});
            if let Some(signature) = signature {
                part["thoughtSignature"] = json!(signature);
            }
            part
        }
        Part::RedactedReasoning(_) => return None,
        Part::ToolCall {
            id,
            name,
            arguments,
        } => json!({
            "functionCall": {"id": id, "name": name, "args": arguments_object(arguments)}
        }),
        Part::ToolResult {
            call_id,
            content,
            is_error,
        } => {
            let name = call_names
                .iter()
                .find(|(id, _)| id == call_id)
                .map_or(call_id.as_str(), |(_, name)| name.as_str());
            let text = text_of(content);
            let key = if *is_error { "error" } else { "result" };
            json!({"functionResponse": {"id": call_id, "name": name, "response": {key: text}}})
        }
    })
}

/// Encodes a request body for a Gemini upstream (the model goes in the URL).
pub fn encode_request(request: &ChatRequest) -> Value {
    let call_names: Vec<(String, String)> = request
        .messages
        .iter()
        .flat_map(|message| &message.content)
        .filter_map(|part| match part {
            Part::ToolCall { id, name, .. } => Some((id.clone(), name.clone())),
            _ => None,
        })
        .collect();
    let contents: Vec<Value> = request
        .messages
        .iter()
        .filter_map(|message| {
            let parts: Vec<Value> = message
                .content
                .iter()
                .filter_map(|part| encode_part(part, &call_names))
                .collect();
            (!parts.is_empty()).then(|| {
                json!({
                    "role": match message.role { Role::User => "user", Role::Assistant => "model" },
                    "parts": parts,
                })
            })
        })
        .collect();
    let mut body = Map::new();
    body.insert("contents".into(), Value::Array(contents));
    if !request.system.is_empty() {
        body.insert(
            "systemInstruction".into(),
            json!({"parts": [{"text": request.system.join("\n\n")}]}),
        );
    }
    if !request.tools.is_empty() {
        let declarations: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                let mut declaration =
                    json!({"name": tool.name, "parametersJsonSchema": tool.parameters});
                if let Some(description) = &tool.description {
                    declaration["description"] = json!(description);
                }
                declaration
            })
            .collect();
        body.insert(
            "tools".into(),
            json!([{"functionDeclarations": declarations}]),
        );
    }
    if let Some(choice) = &request.tool_choice {
        let config = match choice {
            ToolChoice::Auto => json!({"mode": "AUTO"}),
            ToolChoice::None => json!({"mode": "NONE"}),
            ToolChoice::Required => json!({"mode": "ANY"}),
            ToolChoice::Tool(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
        };
        body.insert(
            "toolConfig".into(),
            json!({"functionCallingConfig": config}),
        );
    }
    let mut config = Map::new();
    if let Some(temperature) = request.temperature {
        config.insert("temperature".into(), json!(temperature));
    }
    if let Some(top_p) = request.top_p {
        config.insert("topP".into(), json!(top_p));
    }
    if let Some(max_tokens) = request.max_tokens {
        config.insert("maxOutputTokens".into(), json!(max_tokens));
    }
    if !request.stop.is_empty() {
        config.insert("stopSequences".into(), json!(request.stop));
    }
    match &request.response_format {
        Some(ResponseFormat::JsonObject) => {
            config.insert("responseMimeType".into(), json!("application/json"));
        }
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            config.insert("responseMimeType".into(), json!("application/json"));
            config.insert("responseJsonSchema".into(), schema.clone());
        }
        None => {}
    }
    if let Some(reasoning) = &request.reasoning {
        config.insert(
            "thinkingConfig".into(),
            json!({"thinkingBudget": reasoning.budget_tokens(), "includeThoughts": true}),
        );
    }
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }
    Value::Object(body)
}

fn decode_stop_reason(reason: &str) -> StopReason {
    match reason {
        "MAX_TOKENS" => StopReason::MaxTokens,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            StopReason::ContentFilter
        }
        _ => StopReason::EndTurn,
    }
}

fn encode_stop_reason(reason: &StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn | StopReason::StopSequence | StopReason::ToolUse => "STOP",
        StopReason::MaxTokens => "MAX_TOKENS",
        StopReason::ContentFilter | StopReason::Refusal => "SAFETY",
    }
}

fn decode_usage(usage: &Value) -> Usage {
    let number = |name: &str| get(usage, name).and_then(Value::as_u64).unwrap_or(0);
    let reasoning = number("thoughtsTokenCount");
    Usage {
        input_tokens: number("promptTokenCount"),
        output_tokens: number("candidatesTokenCount") + reasoning,
        cache_read_tokens: number("cachedContentTokenCount"),
        cache_write_tokens: 0,
        reasoning_tokens: reasoning,
    }
}

fn encode_usage(usage: &Usage) -> Value {
    let candidates = usage.output_tokens.saturating_sub(usage.reasoning_tokens);
    let mut encoded = json!({
        "promptTokenCount": usage.input_tokens,
        "candidatesTokenCount": candidates,
        "totalTokenCount": usage.input_tokens + usage.output_tokens,
    });
    if usage.cache_read_tokens > 0 {
        encoded["cachedContentTokenCount"] = json!(usage.cache_read_tokens);
    }
    if usage.reasoning_tokens > 0 {
        encoded["thoughtsTokenCount"] = json!(usage.reasoning_tokens);
    }
    encoded
}

/// Decodes a `GenerateContentResponse` body.
pub fn decode_response(body: &[u8]) -> Result<ChatResponse, DecodeError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| invalid(format!("the upstream answer is not valid JSON: {error}")))?;
    let mut decoder = StreamDecoder::default();
    let mut collector = crate::ResponseCollector::default();
    for event in decoder.decode_chunk(&value) {
        collector.push(event);
    }
    for event in decoder.finish() {
        collector.push(event);
    }
    Ok(collector.finish())
}

/// Encodes a `GenerateContentResponse`.
pub fn encode_response(response: &ChatResponse) -> Value {
    let parts: Vec<Value> = response
        .content
        .iter()
        .filter_map(|part| encode_part(part, &[]))
        .collect();
    let mut body = json!({
        "candidates": [{
            "content": {"role": "model", "parts": parts},
            "finishReason": encode_stop_reason(response.stop_reason.as_ref().unwrap_or(&StopReason::EndTurn)),
            "index": 0,
        }],
        "modelVersion": response.model,
        "responseId": response.id,
    });
    if let Some(usage) = &response.usage {
        body["usageMetadata"] = encode_usage(usage);
    }
    body
}

/// Turns Gemini stream chunks into canonical events.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    started: bool,
    /// `Some(thought)` for text and reasoning blocks, `None` for a call.
    blocks: BlockTracker<Option<bool>>,
    saw_tool_call: bool,
    calls: usize,
}

impl StreamDecoder {
    /// Decodes one SSE `data:` payload.
    pub fn push(&mut self, data: &str) -> Result<Vec<StreamEvent>, DecodeError> {
        let chunk: Value = serde_json::from_str(data)
            .map_err(|error| invalid(format!("a stream chunk is not valid JSON: {error}")))?;
        Ok(self.decode_chunk(&chunk))
    }

    fn decode_chunk(&mut self, chunk: &Value) -> Vec<StreamEvent> {
        let mut events = Vec::new();
        if let Some(error) = chunk.get("error") {
            events.push(StreamEvent::Error {
                message: error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("the upstream reported an error")
                    .to_owned(),
            });
            return events;
        }
        if !self.started {
            self.started = true;
            events.push(StreamEvent::Start {
                id: get(chunk, "responseId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                model: get(chunk, "modelVersion")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
        let candidate = get(chunk, "candidates").and_then(|candidates| candidates.get(0));
        if let Some(parts) = candidate
            .and_then(|candidate| get(candidate, "content"))
            .and_then(|content| get(content, "parts"))
            .and_then(Value::as_array)
        {
            for part in parts {
                if let Some(call) = get(part, "functionCall") {
                    self.saw_tool_call = true;
                    self.calls += 1;
                    let id = get(call, "id")
                        .and_then(Value::as_str)
                        .map_or_else(|| format!("call_{}", self.calls), str::to_owned);
                    let kind = BlockKind::ToolCall {
                        id,
                        name: get(call, "name")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                    };
                    // Gemini sends each call whole: a block of one delta.
                    let index = self.blocks.start(None, kind, &mut events);
                    events.push(StreamEvent::BlockDelta {
                        index,
                        delta: Delta::ToolArguments(
                            get(call, "args").map_or_else(|| "{}".to_owned(), Value::to_string),
                        ),
                    });
                    self.blocks.close(&mut events);
                } else if let Some(text) = get(part, "text").and_then(Value::as_str) {
                    let thought = get(part, "thought").and_then(Value::as_bool) == Some(true);
                    let kind = || {
                        if thought {
                            BlockKind::Reasoning
                        } else {
                            BlockKind::Text
                        }
                    };
                    let index = self.blocks.ensure(Some(thought), kind, &mut events);
                    if !text.is_empty() {
                        events.push(StreamEvent::BlockDelta {
                            index,
                            delta: if thought {
                                Delta::Reasoning(text.to_owned())
                            } else {
                                Delta::Text(text.to_owned())
                            },
                        });
                    }
                    if let Some(signature) = get(part, "thoughtSignature").and_then(Value::as_str)
                        && thought
                    {
                        events.push(StreamEvent::BlockDelta {
                            index,
                            delta: Delta::Signature(signature.to_owned()),
                        });
                    }
                }
            }
        }
        if let Some(usage) = get(chunk, "usageMetadata") {
            events.push(StreamEvent::Usage(decode_usage(usage)));
        }
        if let Some(reason) = candidate
            .and_then(|candidate| get(candidate, "finishReason"))
            .and_then(Value::as_str)
        {
            self.blocks.close(&mut events);
            let reason = decode_stop_reason(reason);
            events.push(StreamEvent::Finish(
                if self.saw_tool_call && reason == StopReason::EndTurn {
                    StopReason::ToolUse
                } else {
                    reason
                },
            ));
        }
        events
    }

    /// Closes what is still open when the upstream stream ends.
    pub fn finish(&mut self) -> Vec<StreamEvent> {
        let mut events = Vec::new();
        self.blocks.close(&mut events);
        events
    }
}

/// Turns canonical events into Gemini SSE chunks. Tool calls are sent whole
/// when their block ends, as Gemini does.
#[derive(Debug)]
pub struct StreamEncoder {
    model: String,
    id: String,
    open_call: Option<(String, String, String)>,
    open_reasoning: bool,
    stop_reason: Option<StopReason>,
    usage: Option<Usage>,
}

impl StreamEncoder {
    /// An encoder for a client that asked for `model`.
    pub fn new(model: &str) -> Self {
        Self {
            model: model.to_owned(),
            id: String::new(),
            open_call: None,
            open_reasoning: false,
            stop_reason: None,
            usage: None,
        }
    }

    fn chunk(&self, parts: Value) -> String {
        let chunk = json!({
            "candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}],
            "modelVersion": self.model,
            "responseId": self.id,
        });
        format!("data: {chunk}\n\n")
    }

    /// Frames for one event.
    pub fn push(&mut self, event: &StreamEvent) -> Vec<String> {
        let mut frames = Vec::new();
        match event {
            StreamEvent::Start { id, .. } => self.id = id.clone(),
            StreamEvent::BlockStart { kind, .. } => match kind {
                BlockKind::ToolCall { id, name } => {
                    self.open_call = Some((id.clone(), name.clone(), String::new()));
                }
                BlockKind::Reasoning => self.open_reasoning = true,
                _ => {}
            },
            StreamEvent::BlockDelta { delta, .. } => {
                match delta {
                    Delta::Text(text) => frames.push(self.chunk(json!([{"text": text}]))),
                    Delta::Reasoning(text) => {
                        frames.push(self.chunk(json!([{"text": text, "thought": true}])))
                    }
                    Delta::Signature(signature) if self.open_reasoning => frames.push(self.chunk(
                        json!([{"text": "", "thought": true, "thoughtSignature": signature}]),
                    )),
                    Delta::Signature(_) => {}
                    Delta::ToolArguments(more) => {
                        if let Some((_, _, arguments)) = &mut self.open_call {
                            arguments.push_str(more);
                        }
                    }
                }
            }
            StreamEvent::BlockStop { .. } => {
                self.open_reasoning = false;
                if let Some((id, name, arguments)) = self.open_call.take() {
                    frames.push(self.chunk(json!([{
                        "functionCall": {"id": id, "name": name, "args": arguments_object(&arguments)}
                    }])));
                }
            }
            StreamEvent::Usage(usage) => self.usage = Some(*usage),
            StreamEvent::Finish(reason) => self.stop_reason = Some(reason.clone()),
            StreamEvent::Error { message } => {
                let error =
                    json!({"error": {"code": 502, "message": message, "status": "UNAVAILABLE"}});
                frames.push(format!("data: {error}\n\n"));
            }
        }
        frames
    }

    /// The closing chunk: finish reason and usage.
    pub fn finish(&mut self) -> Vec<String> {
        let reason = encode_stop_reason(self.stop_reason.as_ref().unwrap_or(&StopReason::EndTurn));
        let mut chunk = json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": reason, "index": 0}],
            "modelVersion": self.model,
            "responseId": self.id,
        });
        if let Some(usage) = &self.usage {
            chunk["usageMetadata"] = encode_usage(usage);
        }
        vec![format!("data: {chunk}\n\n")]
    }
}
