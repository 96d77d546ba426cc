//! `POST /completions`: [`CompletionRequest`] and [`CompletionResponse`] (`CompletionRequest`,
//! `CompletionResponse`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Extra, FinishReason, Usage, rate_limited_response};
use crate::rate_limits::RateLimits;

/// A text completion request: a raw prompt for the model to continue.
///
/// ```
/// use together_client::CompletionRequest;
///
/// let request = CompletionRequest::new("mistralai/Mixtral-8x7B-v0.1", "The capital of France is")
///     .max_tokens(4)
///     .temperature(0.0);
/// assert_eq!(serde_json::to_value(&request).unwrap()["max_tokens"], 4);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionRequest {
    /// The model to query.
    pub model: String,
    /// The text to continue.
    #[serde(default)]
    pub prompt: String,
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
    /// Log probabilities of the top `logprobs` tokens (0–20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<u32>,
    /// Include the prompt in the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo: Option<bool>,
    /// How many completions to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Seed for reproducibility.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Not supported by this client's `create` (which sends `false`); kept for round trips.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Fields this type does not know (`min_p`, `logit_bias`, `safety_model`, ...).
    #[serde(flatten)]
    pub extra: Extra,
    /// Whether the client's response cache may answer this request (`None`: the cache
    /// decides, by `temperature == 0.0`). Never sent.
    #[serde(skip)]
    pub cache: Option<bool>,
}

impl CompletionRequest {
    /// A request to continue `prompt` with `model`.
    pub fn new(model: impl Into<String>, prompt: impl Into<String>) -> Self {
        CompletionRequest {
            model: model.into(),
            prompt: prompt.into(),
            ..CompletionRequest::default()
        }
    }
}

crate::setters::setters!(CompletionRequest {
    /// Sets `max_tokens`.
    some max_tokens: u32;
    /// Sets `temperature`.
    some temperature: f64;
    /// Sets `stop` sequences.
    strings stop;
    /// Sets any other field of the request body.
    extra extra;
    /// Opts this request in to (`true`) or out of (`false`) the client's response cache.
    some cache: bool;
});

/// A text completion (`CompletionResponse`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionResponse {
    /// Its id.
    #[serde(default)]
    pub id: String,
    /// Always `text.completion`.
    #[serde(default)]
    pub object: String,
    /// When it was made (Unix seconds).
    #[serde(default)]
    pub created: u64,
    /// The model that answered.
    #[serde(default)]
    pub model: String,
    /// The completions.
    #[serde(default)]
    pub choices: Vec<CompletionChoice>,
    /// Token counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The prompt, when `echo` was set (`PromptPart`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<Vec<PromptPart>>,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
    #[serde(skip)]
    rate_limits: RateLimits,
}

rate_limited_response!(CompletionResponse, usage);

impl CompletionResponse {
    /// The first choice's text, or `""` when there is none.
    pub fn text(&self) -> &str {
        self.choices.first().map_or("", |c| c.text.as_str())
    }
}

/// One completion (`CompletionChoicesData`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionChoice {
    /// Its position.
    #[serde(default)]
    pub index: u32,
    /// The generated text.
    #[serde(default)]
    pub text: String,
    /// Why generation stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<FinishReason>,
    /// The seed used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Log probabilities, when asked for (`LogprobsPart`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The echoed prompt (`PromptPart`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PromptPart {
    /// The prompt's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Its log probabilities (`LogprobsPart`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}
