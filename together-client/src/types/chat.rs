//! `POST /chat/completions`: [`ChatRequest`], [`ChatResponse`], and the [`ChatChunk`]s of a
//! stream (`ChatCompletionRequest`, `ChatCompletionResponse`, `ChatCompletionChunk`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::message::{Message, ResponseFormat, Tool, ToolCall};
use super::{Extra, FinishReason, Role, Usage, rate_limited_response};
use crate::rate_limits::RateLimits;

/// A chat completion request (`ChatCompletionRequest`).
///
/// Build one with [`ChatRequest::new`] and the setters, or deserialize one (a batch file
/// line's `body`): it round-trips through serde, fields it does not know included.
///
/// ```
/// use together_client::ChatRequest;
///
/// let request = ChatRequest::new("meta-llama/Llama-3.3-70B-Instruct-Turbo")
///     .system("You are terse.")
///     .user("Name a prime.")
///     .max_tokens(16)
///     .temperature(0.0);
/// let json = serde_json::to_value(&request).unwrap();
/// assert_eq!(json["messages"][1]["content"], "Name a prime.");
/// let back: ChatRequest = serde_json::from_value(json).unwrap();
/// assert_eq!(back, request);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The model to query.
    pub model: String,
    /// The conversation so far.
    #[serde(default)]
    pub messages: Vec<Message>,
    /// The most tokens to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Randomness, from 0 (deterministic) up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Sample among the `top_k` likeliest tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// Sequences that end generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    /// Penalty on repeated sequences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition_penalty: Option<f64>,
    /// Penalty on tokens already present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// Penalty by frequency of tokens already present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// Minimum probability relative to the likeliest token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_p: Option<f64>,
    /// Seed for reproducibility.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// How many completions to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Stream the answer as server-sent events. Set by
    /// [`Chat::stream`](crate::endpoints::Chat::stream) and cleared by
    /// [`Chat::create`](crate::endpoints::Chat::create); no need to set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// Which tool to call: `"auto"`, `"none"`, a tool's name, or
    /// `{"type": "function", "function": {"name": ...}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    /// The format the answer must take (JSON mode, a JSON schema).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    /// Fields this type does not know (`reasoning`, `logprobs`, `safety_model`, ...), sent as
    /// they are.
    #[serde(flatten)]
    pub extra: Extra,
    /// Whether the client's response cache may answer this request: `None` lets the cache
    /// decide (`temperature == 0.0`). Never sent.
    #[serde(skip)]
    pub cache: Option<bool>,
    /// The `Idempotency-Key` every attempt of this call sends: `None` draws a fresh one per
    /// call. Set it to a key of your own (a job id) to send the same one again when the same
    /// work is resumed, so that a server that deduplicates bills it once. Never in the body.
    #[serde(skip)]
    pub idempotency_key: Option<String>,
}

impl ChatRequest {
    /// A request to `model` with no messages yet.
    pub fn new(model: impl Into<String>) -> Self {
        ChatRequest {
            model: model.into(),
            ..ChatRequest::default()
        }
    }

    /// Adds a message.
    #[must_use]
    pub fn message(mut self, message: Message) -> Self {
        self.messages.push(message);
        self
    }

    /// Adds a system message.
    #[must_use]
    pub fn system(self, content: impl Into<String>) -> Self {
        self.message(Message::system(content))
    }

    /// Adds a user message.
    #[must_use]
    pub fn user(self, content: impl Into<String>) -> Self {
        self.message(Message::user(content))
    }

    /// Adds an assistant message (an earlier answer, for a multi-turn conversation).
    #[must_use]
    pub fn assistant(self, content: impl Into<String>) -> Self {
        self.message(Message::assistant(content))
    }

    /// Adds a tool the model may call.
    #[must_use]
    pub fn tool(mut self, tool: Tool) -> Self {
        self.tools.get_or_insert_with(Vec::new).push(tool);
        self
    }

    /// Sets `tool_choice` (`"auto"`, `"none"`, or a JSON object naming a function).
    #[must_use]
    pub fn tool_choice(mut self, choice: impl Into<Value>) -> Self {
        self.tool_choice = Some(choice.into());
        self
    }

    /// Sends `key` as the call's `Idempotency-Key` (on every attempt) instead of a fresh one;
    /// see [`idempotency_key`](Self::idempotency_key) the field. A key that is not a valid
    /// header value (a newline, say) is replaced by a fresh one.
    ///
    /// ```
    /// use together_client::ChatRequest;
    ///
    /// let request = ChatRequest::new("m").user("hi").idempotency_key("job-42/line-7");
    /// assert_eq!(request.idempotency_key.as_deref(), Some("job-42/line-7"));
    /// ```
    #[must_use]
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
}

crate::setters::setters!(ChatRequest {
    /// Sets `max_tokens`.
    some max_tokens: u32;
    /// Sets `temperature`; `0.0` makes the request cacheable (see
    /// [`CacheConfig`](crate::CacheConfig)).
    some temperature: f64;
    /// Sets `top_p`.
    some top_p: f64;
    /// Sets `stop` sequences.
    strings stop;
    /// Sets `seed`.
    some seed: u64;
    /// Sets `response_format`.
    some response_format: ResponseFormat;
    /// Sets any other field of the request body.
    extra extra;
    /// Opts this request in to (`true`) or out of (`false`) the client's response cache.
    some cache: bool;
});

/// A chat completion (`ChatCompletionResponse`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// Its id.
    #[serde(default)]
    pub id: String,
    /// Always `chat.completion`.
    #[serde(default)]
    pub object: String,
    /// When it was made (Unix seconds).
    #[serde(default)]
    pub created: u64,
    /// The model that answered.
    #[serde(default)]
    pub model: String,
    /// The answers: one unless the request set `n`.
    #[serde(default)]
    pub choices: Vec<ChatChoice>,
    /// Token counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Fields this type does not know (`prompt`, `warnings`, ...).
    #[serde(flatten)]
    pub extra: Extra,
    #[serde(skip)]
    rate_limits: RateLimits,
}

rate_limited_response!(ChatResponse, usage);

impl ChatResponse {
    /// The first choice's text, or `""` when there is none.
    pub fn text(&self) -> &str {
        self.choices.first().map_or("", |c| c.message.text())
    }
}

/// One answer of a [`ChatResponse`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatChoice {
    /// Its position.
    #[serde(default)]
    pub index: u32,
    /// The message.
    #[serde(default)]
    pub message: Message,
    /// Why generation stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<FinishReason>,
    /// Log probabilities, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One event of a chat stream (`ChatCompletionChunk`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatChunk {
    /// The completion's id (the same in every chunk).
    #[serde(default)]
    pub id: String,
    /// Always `chat.completion.chunk`.
    #[serde(default)]
    pub object: String,
    /// When it was made (Unix seconds).
    #[serde(default)]
    pub created: u64,
    /// The model.
    #[serde(default)]
    pub model: String,
    /// The deltas.
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    /// Token counts, usually on the last chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ChatChunk {
    /// The first choice's new text, or `""`.
    pub fn delta_text(&self) -> &str {
        self.choices
            .first()
            .and_then(|c| c.delta.content.as_deref())
            .unwrap_or_default()
    }
}

/// One choice's delta in a [`ChatChunk`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChunkChoice {
    /// Its position.
    #[serde(default)]
    pub index: u32,
    /// What is new.
    #[serde(default)]
    pub delta: Delta,
    /// Why generation stopped, on the last chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<FinishReason>,
    /// Fields this type does not know (`logprobs`, `seed`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// What one chunk adds to a message.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    /// The author, usually on the first chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// New text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// New reasoning, for models that show it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// Pieces of tool calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// Fields this type does not know (`token_id`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}
