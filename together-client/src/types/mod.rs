//! The request and response types of each endpoint, typed from Together's OpenAPI spec.
//!
//! Every type keeps the fields it does not know in `extra` (`#[serde(flatten)]`), so a field
//! the API adds tomorrow neither breaks parsing nor gets lost on a round trip; most fields the
//! spec calls required are still read leniently (a default when missing).

pub(crate) mod chat;
pub(crate) mod completions;
pub(crate) mod embeddings;
pub(crate) mod message;
pub(crate) mod models;
pub(crate) mod rerank;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::rate_limits::RateLimits;

/// The fields of a JSON object a type does not know, kept as they came.
pub type Extra = serde_json::Map<String, serde_json::Value>;

/// Token counts of a request (`UsageData`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Tokens generated.
    #[serde(default)]
    pub completion_tokens: u64,
    /// Both.
    #[serde(default)]
    pub total_tokens: u64,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Why generation stopped (`FinishReason`). A value the spec does not list is kept as
/// [`Other`](FinishReason::Other).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum FinishReason {
    /// A stop sequence was generated.
    Stop,
    /// The end-of-sequence token was generated.
    Eos,
    /// `max_tokens` was reached.
    Length,
    /// The model called tools.
    ToolCalls,
    /// The model called a function (deprecated).
    FunctionCall,
    /// Any other reason, as sent.
    Other(String),
}

impl FinishReason {
    /// The reason as the API writes it.
    pub fn as_str(&self) -> &str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Eos => "eos",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::FunctionCall => "function_call",
            FinishReason::Other(other) => other,
        }
    }
}

impl From<String> for FinishReason {
    fn from(value: String) -> Self {
        match value.as_str() {
            "stop" => FinishReason::Stop,
            "eos" => FinishReason::Eos,
            "length" => FinishReason::Length,
            "tool_calls" => FinishReason::ToolCalls,
            "function_call" => FinishReason::FunctionCall,
            _ => FinishReason::Other(value),
        }
    }
}

impl From<FinishReason> for String {
    fn from(value: FinishReason) -> Self {
        match value {
            FinishReason::Other(other) => other,
            known => known.as_str().to_owned(),
        }
    }
}

impl fmt::Display for FinishReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who wrote a message. A role the spec does not list is kept as [`Other`](Role::Other).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Role {
    /// Instructions to the model.
    System,
    /// The user.
    User,
    /// The model.
    #[default]
    Assistant,
    /// The result of a tool call.
    Tool,
    /// The result of a function call (deprecated).
    Function,
    /// Any other role, as sent.
    Other(String),
}

impl Role {
    /// The role as the API writes it.
    pub fn as_str(&self) -> &str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
            Role::Function => "function",
            Role::Other(other) => other,
        }
    }
}

impl From<String> for Role {
    fn from(value: String) -> Self {
        match value.as_str() {
            "system" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" => Role::Tool,
            "function" => Role::Function,
            _ => Role::Other(value),
        }
    }
}

impl From<Role> for String {
    fn from(value: Role) -> Self {
        match value {
            Role::Other(other) => other,
            known => known.as_str().to_owned(),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A response type that carries the rate limits of the response it came from.
pub(crate) trait WithRateLimits {
    fn set_rate_limits(&mut self, limits: RateLimits);

    /// The token counts the answer reported, if its type has them.
    fn token_usage(&self) -> Option<&Usage> {
        None
    }
}

/// Implements `rate_limits()` and [`WithRateLimits`] for a response type with a
/// `rate_limits: RateLimits` field.
macro_rules! rate_limited_response {
    (@methods $ty:ty) => {
        impl $ty {
            /// The rate limits and request id the response reported (its `x-ratelimit-*`,
            /// `x-tokenlimit-*` and `x-request-id` headers).
            pub fn rate_limits(&self) -> &$crate::RateLimits {
                &self.rate_limits
            }
        }
    };
    ($ty:ty, usage) => {
        $crate::types::rate_limited_response!(@methods $ty);

        impl $crate::types::WithRateLimits for $ty {
            fn set_rate_limits(&mut self, limits: $crate::RateLimits) {
                self.rate_limits = limits;
            }

            fn token_usage(&self) -> Option<&$crate::Usage> {
                self.usage.as_ref()
            }
        }
    };
    ($ty:ty) => {
        $crate::types::rate_limited_response!(@methods $ty);

        impl $crate::types::WithRateLimits for $ty {
            fn set_rate_limits(&mut self, limits: $crate::RateLimits) {
                self.rate_limits = limits;
            }
        }
    };
}
pub(crate) use rate_limited_response;
