//! The canonical chat model: a superset of what the dialects can say, with
//! escape hatches (`extra` maps, opaque signatures) so nothing is lost when the
//! client and the upstream speak the same dialect.

use serde_json::{Map, Value};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The user, including tool results sent back to the model.
    User,
    /// The model.
    Assistant,
}

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// A URL the upstream fetches (or a `data:` URL).
    Url(String),
    /// Inline bytes, base64-encoded.
    Base64 {
        /// MIME type such as `image/png`.
        media_type: String,
        /// Base64 data without a `data:` prefix.
        data: String,
    },
}

/// One piece of a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Plain text.
    Text(String),
    /// An image.
    Image(ImageSource),
    /// The model's visible reasoning; `signature` must be passed back unchanged.
    Reasoning {
        /// Reasoning text.
        text: String,
        /// Opaque signature that authenticates the reasoning (Anthropic).
        signature: Option<String>,
    },
    /// Reasoning the provider redacted; only the opaque data is kept.
    RedactedReasoning(String),
    /// The model asks for a tool to be called.
    ToolCall {
        /// Id that the result refers back to.
        id: String,
        /// Tool name.
        name: String,
        /// Arguments as JSON text (exactly as the model produced them).
        arguments: String,
    },
    /// The result of a tool call, sent by the user side.
    ToolResult {
        /// Id of the call this answers.
        call_id: String,
        /// Result content (text and images).
        content: Vec<Part>,
        /// Whether the tool failed.
        is_error: bool,
    },
}

/// A message of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Author.
    pub role: Role,
    /// Content, in order.
    pub content: Vec<Part>,
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    /// Name.
    pub name: String,
    /// What it does.
    pub description: Option<String>,
    /// JSON Schema of its arguments.
    pub parameters: Value,
}

/// How the model may use tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// No tool calls.
    None,
    /// At least one tool call.
    Required,
    /// This tool must be called.
    Tool(String),
}

/// Requested output format.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    /// Any JSON object.
    JsonObject,
    /// JSON matching a schema.
    JsonSchema {
        /// Schema name.
        name: String,
        /// The schema.
        schema: Value,
        /// Whether the schema must be followed strictly.
        strict: bool,
    },
}

/// A chat request in canonical form.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    /// Model name as the upstream knows it.
    pub model: String,
    /// System instructions, in order.
    pub system: Vec<String>,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Tools on offer.
    pub tools: Vec<Tool>,
    /// Tool policy, if the client set one.
    pub tool_choice: Option<ToolChoice>,
    /// Whether the model may call several tools at once (None: the default).
    pub parallel_tool_calls: Option<bool>,
    /// Largest number of tokens to generate.
    pub max_tokens: Option<u64>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    pub top_p: Option<f64>,
    /// Stop sequences.
    pub stop: Vec<String>,
    /// Whether the client wants a stream.
    pub stream: bool,
    /// Whether a streaming client asked for token usage.
    pub include_usage: bool,
    /// Output format.
    pub response_format: Option<ResponseFormat>,
    /// Reasoning effort (`low`, `medium`, `high`) or an explicit token budget.
    pub reasoning: Option<Reasoning>,
    /// Fields of the client's dialect that have no canonical meaning; passed on
    /// only when the upstream speaks the same dialect.
    pub extra: Map<String, Value>,
}

/// How much the model should think.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reasoning {
    /// An effort level such as `low`, `medium` or `high`.
    Effort(String),
    /// A token budget for thinking.
    BudgetTokens(u64),
}

impl Reasoning {
    /// A token budget for this setting (for dialects that take budgets).
    pub fn budget_tokens(&self) -> u64 {
        match self {
            Self::BudgetTokens(budget) => *budget,
            Self::Effort(effort) => match effort.as_str() {
                "minimal" | "low" => 1_024,
                "high" => 16_384,
                _ => 4_096,
            },
        }
    }

    /// An effort level for this setting (for dialects that take levels).
    pub fn effort(&self) -> String {
        match self {
            Self::Effort(effort) => effort.clone(),
            Self::BudgetTokens(budget) if *budget <= 2_048 => "low".into(),
            Self::BudgetTokens(budget) if *budget >= 12_000 => "high".into(),
            Self::BudgetTokens(_) => "medium".into(),
        }
    }
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// A natural end.
    EndTurn,
    /// The token limit was reached.
    MaxTokens,
    /// A stop sequence was produced.
    StopSequence,
    /// The model called tools.
    ToolUse,
    /// Output was filtered.
    ContentFilter,
    /// The model refused.
    Refusal,
}

/// Token counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Input tokens, cached ones included.
    pub input_tokens: u64,
    /// Output tokens, reasoning included.
    pub output_tokens: u64,
    /// Input tokens read from the provider's cache.
    pub cache_read_tokens: u64,
    /// Input tokens written to the provider's cache.
    pub cache_write_tokens: u64,
    /// Output tokens spent on reasoning.
    pub reasoning_tokens: u64,
}

/// A complete (non-streamed) answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatResponse {
    /// Upstream id of the answer.
    pub id: String,
    /// Model that answered.
    pub model: String,
    /// Content: text, reasoning and tool calls, in order.
    pub content: Vec<Part>,
    /// Why generation stopped.
    pub stop_reason: Option<StopReason>,
    /// Token counts, when reported.
    pub usage: Option<Usage>,
}

/// The kind of a streamed content block, announced when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockKind {
    /// Text.
    Text,
    /// Reasoning.
    Reasoning,
    /// Redacted reasoning with its opaque data.
    RedactedReasoning(String),
    /// A tool call; arguments follow as deltas.
    ToolCall {
        /// Call id.
        id: String,
        /// Tool name.
        name: String,
    },
}

/// An increment of a streamed block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delta {
    /// More text.
    Text(String),
    /// More reasoning.
    Reasoning(String),
    /// The reasoning block's signature.
    Signature(String),
    /// More tool-call argument JSON.
    ToolArguments(String),
}

/// One event of a canonical stream. Blocks are numbered from 0 in the order
/// they start; a block's deltas come between its start and its stop, and
/// blocks do not interleave.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The answer begins.
    Start {
        /// Upstream id.
        id: String,
        /// Model that answers.
        model: String,
    },
    /// A content block begins.
    BlockStart {
        /// Block number.
        index: usize,
        /// What kind of block.
        kind: BlockKind,
    },
    /// More content for the open block.
    BlockDelta {
        /// Block number.
        index: usize,
        /// The increment.
        delta: Delta,
    },
    /// The open block is complete.
    BlockStop {
        /// Block number.
        index: usize,
    },
    /// Token counts so far (the last one wins).
    Usage(Usage),
    /// Generation ended for this reason.
    Finish(StopReason),
    /// The upstream reported an error mid-stream.
    Error {
        /// What went wrong.
        message: String,
    },
}

/// Appends a tool result to the conversation. Consecutive results answer one
/// assistant turn, so they share one user message (dialects that send each
/// result as its own message are decoded into this shape).
pub fn push_tool_result(messages: &mut Vec<Message>, result: Part) {
    match messages.last_mut() {
        Some(last)
            if last.role == Role::User
                && last
                    .content
                    .iter()
                    .all(|part| matches!(part, Part::ToolResult { .. })) =>
        {
            last.content.push(result)
        }
        _ => messages.push(Message {
            role: Role::User,
            content: vec![result],
        }),
    }
}

/// The text parts of `parts`, concatenated (images, tool calls and the rest are skipped).
pub fn text_of(parts: &[Part]) -> String {
    parts
        .iter()
        .filter_map(|part| match part {
            Part::Text(text) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// Tool-call arguments as a JSON object, for dialects that carry objects
/// rather than JSON text; arguments that are not an object become `{}`.
pub fn arguments_object(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(value @ Value::Object(_)) => value,
        _ => Value::Object(Map::new()),
    }
}

/// Numbers the blocks of a decoded stream and remembers the open one, for
/// dialects whose streams do not number blocks themselves. `K` says what the
/// open block is in the dialect's own terms (text or reasoning, which tool).
#[derive(Debug)]
pub struct BlockTracker<K> {
    next_index: usize,
    open: Option<(usize, K)>,
}

impl<K> Default for BlockTracker<K> {
    fn default() -> Self {
        Self {
            next_index: 0,
            open: None,
        }
    }
}

impl<K: PartialEq> BlockTracker<K> {
    /// The open block's index and key, if a block is open.
    pub fn open(&self) -> Option<(usize, &K)> {
        self.open.as_ref().map(|(index, key)| (*index, key))
    }

    /// Closes the open block and starts a new one of `kind`; returns its index.
    pub fn start(&mut self, key: K, kind: BlockKind, events: &mut Vec<StreamEvent>) -> usize {
        self.close(events);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((index, key));
        events.push(StreamEvent::BlockStart { index, kind });
        index
    }

    /// The open block's index when it is `key`, else a new block of `kind`.
    pub fn ensure(
        &mut self,
        key: K,
        kind: impl FnOnce() -> BlockKind,
        events: &mut Vec<StreamEvent>,
    ) -> usize {
        match &self.open {
            Some((index, open)) if *open == key => *index,
            _ => self.start(key, kind(), events),
        }
    }

    /// Ends the open block, if any.
    pub fn close(&mut self, events: &mut Vec<StreamEvent>) {
        if let Some((index, _)) = self.open.take() {
            events.push(StreamEvent::BlockStop { index });
        }
    }
}

/// Collects a canonical stream into one [`ChatResponse`] (for clients that
/// asked for no stream when the upstream only streams).
#[derive(Debug, Default)]
pub struct ResponseCollector {
    response: ChatResponse,
    open: Option<Part>,
    /// An error event, if the stream carried one.
    pub error: Option<String>,
}

impl ResponseCollector {
    /// Feeds one event.
    pub fn push(&mut self, event: StreamEvent) {
        match event {
            StreamEvent::Start { id, model } => {
                self.response.id = id;
                self.response.model = model;
            }
            StreamEvent::BlockStart { kind, .. } => {
                self.close_open();
                self.open = Some(match kind {
                    BlockKind::Text => Part::Text(String::new()),
                    BlockKind::Reasoning => Part::Reasoning {
                        text: String::new(),
                        signature: None,
                    },
                    BlockKind::RedactedReasoning(data) => Part::RedactedReasoning(data),
                    BlockKind::ToolCall { id, name } => Part::ToolCall {
                        id,
                        name,
                        arguments: String::new(),
                    },
                });
            }
            StreamEvent::BlockDelta { delta, .. } => match (&mut self.open, delta) {
                (Some(Part::Text(text)), Delta::Text(more)) => text.push_str(&more),
                (Some(Part::Reasoning { text, .. }), Delta::Reasoning(more)) => {
                    text.push_str(&more)
                }
                (Some(Part::Reasoning { signature, .. }), Delta::Signature(more)) => {
                    signature.get_or_insert_with(String::new).push_str(&more)
                }
                (Some(Part::ToolCall { arguments, .. }), Delta::ToolArguments(more)) => {
                    arguments.push_str(&more)
                }
                _ => {}
            },
            StreamEvent::BlockStop { .. } => self.close_open(),
            StreamEvent::Usage(usage) => self.response.usage = Some(usage),
            StreamEvent::Finish(reason) => self.response.stop_reason = Some(reason),
            StreamEvent::Error { message } => self.error = Some(message),
        }
    }

    fn close_open(&mut self) {
        if let Some(part) = self.open.take() {
            self.response.content.push(part);
        }
    }

    /// The collected answer.
    pub fn finish(mut self) -> ChatResponse {
        self.close_open();
        self.response
    }
}
