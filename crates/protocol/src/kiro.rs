//! Kiro's backend, AWS CodeWhisperer `generateAssistantResponse`: an upstream
//! format only (no client speaks it). The request is a `conversationState`
//! whose history strictly alternates `userInputMessage` and
//! `assistantResponseMessage`, with the newest user turn apart as
//! `currentMessage`; it has no system field (system text leads the first
//! user turn), tools ride on the current turn and tool results on the user
//! turn that answers them. The answer is an AWS event stream; the framing is
//! the caller's business, and this module decodes each event by its
//! `:event-type` and JSON payload (`assistantResponseEvent`, `toolUseEvent`
//! whose `input` comes in string pieces until `stop`, `contextUsageEvent`,
//! ...).

use serde_json::{Map, Value, json};

use crate::{
    BlockKind, BlockTracker, ChatRequest, DecodeError, Delta, ImageSource, Part, Role, StopReason,
    StreamEvent, Usage, text_of,
};

/// The `origin` Kiro's IDE sends.
const ORIGIN: &str = "AI_EDITOR";
/// Context window used to turn Kiro's `contextUsagePercentage` into tokens.
const CONTEXT_TOKENS: f64 = 200_000.0;

/// One turn under construction: text pieces, images, tool results or calls.
#[derive(Default)]
struct Turn {
    texts: Vec<String>,
    images: Vec<Value>,
    tool_results: Vec<Value>,
    tool_uses: Vec<Value>,
}

/// Encodes a request body (without `conversationId` and `profileArn`, which
/// belong to the account and are added when it is sent).
pub fn encode_request(request: &ChatRequest) -> Value {
    let model = request.model.as_str();
    // Consecutive messages of one role merge: Kiro wants strict alternation.
    let mut turns: Vec<(Role, Turn)> = Vec::new();
    for message in &request.messages {
        if turns.last().is_none_or(|(role, _)| *role != message.role) {
            turns.push((message.role, Turn::default()));
        }
        let Some((_, turn)) = turns.last_mut() else {
            continue;
        };
        for part in &message.content {
            encode_part(part, turn);
        }
    }
    if turns
        .first()
        .is_some_and(|(role, _)| *role == Role::Assistant)
    {
        turns.insert(0, (Role::User, Turn::default()));
    }
    // The current message is a user turn; after a trailing assistant turn
    // (a prefill) the model is asked to go on.
    let current = match turns.pop() {
        Some((Role::User, turn)) => turn,
        Some(assistant) => {
            turns.push(assistant);
            Turn {
                texts: vec!["Continue.".into()],
                ..Turn::default()
            }
        }
        None => Turn::default(),
    };
    let system = request.system.join("\n\n");
    let mut history: Vec<Value> = Vec::new();
    let mut system_pending = !system.is_empty();
    for (role, turn) in turns {
        history.push(match role {
            Role::User => {
                let message = user_message(turn, model, system_pending.then_some(&system));
                system_pending = false;
                json!({ "userInputMessage": message })
            }
            Role::Assistant => {
                let mut message = Map::new();
                message.insert("content".into(), joined_or(&turn.texts, "...").into());
                if !turn.tool_uses.is_empty() {
                    message.insert("toolUses".into(), Value::Array(turn.tool_uses));
                }
                json!({ "assistantResponseMessage": message })
            }
        });
    }
    let mut current = user_message(current, model, system_pending.then_some(&system));
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                let description = tool
                    .description
                    .clone()
                    .filter(|text| !text.trim().is_empty())
                    .unwrap_or_else(|| format!("Tool {}", tool.name));
                json!({"toolSpecification": {
                    "name": tool.name,
                    "description": description,
                    "inputSchema": {"json": schema(&tool.parameters)},
                }})
            })
            .collect();
        let context = current
            .entry("userInputMessageContext")
            .or_insert_with(|| Value::Object(Map::new()));
        context["tools"] = Value::Array(tools);
    }
    json!({
        "conversationState": {
            "chatTriggerType": "MANUAL",
            "currentMessage": {"userInputMessage": current},
            "history": history,
        }
    })
}

/// A JSON Schema as Kiro accepts it: an object schema with `required`.
fn schema(parameters: &Value) -> Value {
    match parameters {
        Value::Object(object) if !object.is_empty() => {
            let mut object = object.clone();
            object.entry("required").or_insert_with(|| json!([]));
            Value::Object(object)
        }
        _ => json!({"type": "object", "properties": {}, "required": []}),
    }
}

fn joined_or(texts: &[String], empty: &str) -> String {
    let joined = texts.join("\n\n");
    if joined.trim().is_empty() {
        empty.to_owned()
    } else {
        joined
    }
}

/// A `userInputMessage` for `turn`, with `system` leading its text.
fn user_message(turn: Turn, model: &str, system: Option<&String>) -> Map<String, Value> {
    let mut texts = turn.texts;
    if let Some(system) = system {
        texts.insert(0, system.clone());
    }
    let mut message = Map::new();
    message.insert("content".into(), joined_or(&texts, "Continue.").into());
    message.insert("modelId".into(), model.into());
    message.insert("origin".into(), ORIGIN.into());
    if !turn.images.is_empty() {
        message.insert("images".into(), Value::Array(turn.images));
    }
    if !turn.tool_results.is_empty() {
        message.insert(
            "userInputMessageContext".into(),
            json!({"toolResults": turn.tool_results}),
        );
    }
    message
}

fn encode_part(part: &Part, turn: &mut Turn) {
    match part {
        Part::Text(text) => turn.texts.push(text.clone()),
        Part::Image(ImageSource::Base64 { media_type, data }) => turn.images.push(json!({
            "format": media_type.rsplit('/').next().unwrap_or(media_type),
            "source": {"bytes": data},
        })),
        // Kiro takes image bytes only.
        Part::Image(ImageSource::Url(url)) => turn.texts.push(format!("[Image: {url}]")),
        Part::ToolCall {
            id,
            name,
            arguments,
        } => turn.tool_uses.push(json!({
            "toolUseId": id,
            "name": name,
            "input": crate::arguments_object(arguments),
        })),
        Part::ToolResult {
            call_id,
            content,
            is_error,
        } => turn.tool_results.push(json!({
            "toolUseId": call_id,
            "content": [{"text": text_of(content)}],
            "status": if *is_error { "error" } else { "success" },
        })),
        // Earlier reasoning is not sent back: Kiro has no field for it.
        Part::Reasoning { .. } | Part::RedactedReasoning(_) => {}
    }
}

/// What the open block is: text, reasoning, or the tool call with this id.
#[derive(Debug, PartialEq)]
enum Open {
    Text,
    Reasoning,
    Tool(String),
}

/// Turns Kiro's events (`:event-type` and JSON payload) into canonical events.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    started: bool,
    blocks: BlockTracker<Open>,
    saw_tool_call: bool,
    output_chars: usize,
    context_percent: Option<f64>,
    usage: Option<Usage>,
}

impl StreamDecoder {
    /// Decodes one event. `exception` stands for an event-stream exception
    /// or error message, its payload `{"type", "message"}`.
    pub fn push(
        &mut self,
        event_type: &str,
        payload: &str,
    ) -> Result<Vec<StreamEvent>, DecodeError> {
        let payload: Value = if payload.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(payload).map_err(|error| {
                DecodeError::new(format!("a Kiro event is not valid JSON: {error}"))
            })?
        };
        let mut events = Vec::new();
        if !self.started {
            self.started = true;
            events.push(StreamEvent::Start {
                id: payload["conversationId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                model: String::new(),
            });
        }
        match event_type {
            "assistantResponseEvent" | "codeEvent" => {
                if let Some(text) = payload["content"].as_str().filter(|text| !text.is_empty()) {
                    let index = self
                        .blocks
                        .ensure(Open::Text, || BlockKind::Text, &mut events);
                    self.output_chars += text.chars().count();
                    events.push(StreamEvent::BlockDelta {
                        index,
                        delta: Delta::Text(text.to_owned()),
                    });
                }
            }
            "reasoningContentEvent" => {
                let index =
                    self.blocks
                        .ensure(Open::Reasoning, || BlockKind::Reasoning, &mut events);
                if let Some(text) = payload["text"].as_str().filter(|text| !text.is_empty()) {
                    self.output_chars += text.chars().count();
                    events.push(StreamEvent::BlockDelta {
                        index,
                        delta: Delta::Reasoning(text.to_owned()),
                    });
                }
                if let Some(signature) = payload["signature"].as_str() {
                    events.push(StreamEvent::BlockDelta {
                        index,
                        delta: Delta::Signature(signature.to_owned()),
                    });
                }
            }
            "toolUseEvent" => self.tool_use(&payload, &mut events),
            "contextUsageEvent" => {
                self.context_percent = payload["contextUsagePercentage"].as_f64();
            }
            "metadataEvent" | "metricsEvent" => {
                let counts = payload
                    .get("tokenUsage")
                    .or_else(|| payload.get("metricsEvent"))
                    .unwrap_or(&payload);
                let number = |name: &str| counts[name].as_u64();
                if let (Some(input), Some(output)) = (number("inputTokens"), number("outputTokens"))
                {
                    self.usage = Some(Usage {
                        input_tokens: input,
                        output_tokens: output,
                        cache_read_tokens: number("cacheReadInputTokens").unwrap_or(0),
                        cache_write_tokens: number("cacheWriteInputTokens").unwrap_or(0),
                        ..Usage::default()
                    });
                }
            }
            "invalidStateEvent" | "exception" | "error" => events.push(StreamEvent::Error {
                message: payload["message"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("Kiro reported {event_type}")),
            }),
            // Credits used (`meteringEvent`), ids (`messageMetadataEvent`),
            // follow-up prompts and links have no canonical counterpart.
            _ => {}
        }
        Ok(events)
    }

    fn tool_use(&mut self, payload: &Value, events: &mut Vec<StreamEvent>) {
        let Some(id) = payload["toolUseId"].as_str() else {
            return;
        };
        self.saw_tool_call = true;
        let key = Open::Tool(id.to_owned());
        let index = self.blocks.ensure(
            key,
            || BlockKind::ToolCall {
                id: id.to_owned(),
                name: payload["name"].as_str().unwrap_or_default().to_owned(),
            },
            events,
        );
        let input = match &payload["input"] {
            Value::String(piece) => piece.clone(),
            Value::Null => String::new(),
            whole => whole.to_string(),
        };
        if !input.is_empty() {
            events.push(StreamEvent::BlockDelta {
                index,
                delta: Delta::ToolArguments(input),
            });
        }
        if payload["stop"] == true {
            self.blocks.close(events);
        }
    }

    /// Closes the answer when the upstream stream ends: usage (as reported,
    /// else estimated from the context share and the text length) and why it
    /// stopped.
    pub fn finish(&mut self) -> Vec<StreamEvent> {
        let mut events = Vec::new();
        if !self.started {
            return events;
        }
        self.blocks.close(&mut events);
        let usage = self.usage.take().or_else(|| {
            self.context_percent.map(|percent| Usage {
                input_tokens: (percent / 100.0 * CONTEXT_TOKENS).round() as u64,
                output_tokens: (self.output_chars as u64).div_ceil(4),
                ..Usage::default()
            })
        });
        if let Some(usage) = usage {
            events.push(StreamEvent::Usage(usage));
        }
        events.push(StreamEvent::Finish(if self.saw_tool_call {
            StopReason::ToolUse
        } else {
            StopReason::EndTurn
        }));
        self.started = false;
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Message, ResponseCollector, Tool};

    fn user(text: &str) -> Message {
        Message {
            role: Role::User,
            content: vec![Part::Text(text.into())],
        }
    }

    #[test]
    fn history_alternates_and_the_last_user_turn_is_current() {
        let request = ChatRequest {
            model: "claude-sonnet-4.5".into(),
            system: vec!["Be brief.".into()],
            messages: vec![
                user("hi"),
                user("again"),
                Message {
                    role: Role::Assistant,
                    content: vec![
                        Part::Text("calling".into()),
                        Part::ToolCall {
                            id: "t1".into(),
                            name: "weather".into(),
                            arguments: r#"{"city":"Paris"}"#.into(),
                        },
                    ],
                },
                Message {
                    role: Role::User,
                    content: vec![Part::ToolResult {
                        call_id: "t1".into(),
                        content: vec![Part::Text("18C".into())],
                        is_error: false,
                    }],
                },
            ],
            tools: vec![Tool {
                name: "weather".into(),
                description: None,
                parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
            }],
            ..ChatRequest::default()
        };
        let body = encode_request(&request);
        let state = &body["conversationState"];
        let history = state["history"].as_array().unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(
            history[0]["userInputMessage"]["content"],
            "Be brief.\n\nhi\n\nagain"
        );
        assert_eq!(
            history[1]["assistantResponseMessage"]["toolUses"][0],
            json!({"toolUseId": "t1", "name": "weather", "input": {"city": "Paris"}})
        );
        let current = &state["currentMessage"]["userInputMessage"];
        assert_eq!(current["modelId"], "claude-sonnet-4.5");
        assert_eq!(
            current["userInputMessageContext"]["toolResults"][0]["content"][0]["text"],
            "18C"
        );
        let tool = &current["userInputMessageContext"]["tools"][0]["toolSpecification"];
        assert_eq!(tool["description"], "Tool weather");
        assert_eq!(tool["inputSchema"]["json"]["required"], json!([]));
    }

    #[test]
    fn tool_input_pieces_become_one_call_and_usage_is_estimated() {
        let mut decoder = StreamDecoder::default();
        let mut collector = ResponseCollector::default();
        for (kind, payload) in [
            ("assistantResponseEvent", r#"{"content":"Let me check."}"#),
            (
                "toolUseEvent",
                r#"{"toolUseId":"t1","name":"weather","input":"{\"ci"}"#,
            ),
            (
                "toolUseEvent",
                r#"{"toolUseId":"t1","name":"weather","input":"ty\":\"Paris\"}"}"#,
            ),
            (
                "toolUseEvent",
                r#"{"toolUseId":"t1","name":"weather","stop":true}"#,
            ),
            ("meteringEvent", r#"{"unit":"credit","usage":0.1}"#),
            ("contextUsageEvent", r#"{"contextUsagePercentage":1.5}"#),
        ] {
            decoder
                .push(kind, payload)
                .unwrap()
                .into_iter()
                .for_each(|event| collector.push(event));
        }
        decoder
            .finish()
            .into_iter()
            .for_each(|event| collector.push(event));
        let response = collector.finish();
        assert_eq!(response.content.len(), 2);
        assert_eq!(
            response.content[1],
            Part::ToolCall {
                id: "t1".into(),
                name: "weather".into(),
                arguments: r#"{"city":"Paris"}"#.into()
            }
        );
        assert_eq!(response.stop_reason, Some(StopReason::ToolUse));
        assert_eq!(response.usage.unwrap().input_tokens, 3000);
    }

    #[test]
    fn exceptions_are_errors() {
        let mut decoder = StreamDecoder::default();
        let events = decoder
            .push(
                "exception",
                r#"{"type":"ThrottlingException","message":"slow down"}"#,
            )
            .unwrap();
        assert!(events.contains(&StreamEvent::Error {
            message: "slow down".into()
        }));
    }
}
