//! `POST /embeddings`: [`EmbeddingsRequest`] and [`EmbeddingsResponse`].

use serde::{Deserialize, Serialize};

use super::{Extra, Usage, rate_limited_response};
use crate::rate_limits::RateLimits;

/// An embeddings request: one text or many.
///
/// ```
/// use together_client::EmbeddingsRequest;
///
/// let one = EmbeddingsRequest::new("BAAI/bge-large-en-v1.5", "New York City");
/// let many = EmbeddingsRequest::new("BAAI/bge-large-en-v1.5", vec!["a", "b"]);
/// assert_eq!(serde_json::to_value(&one).unwrap()["input"], "New York City");
/// assert_eq!(serde_json::to_value(&many).unwrap()["input"][1], "b");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingsRequest {
    /// The embedding model.
    pub model: String,
    /// The text or texts to embed.
    pub input: EmbeddingInput,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

impl EmbeddingsRequest {
    /// A request to embed `input` with `model`.
    pub fn new(model: impl Into<String>, input: impl Into<EmbeddingInput>) -> Self {
        EmbeddingsRequest {
            model: model.into(),
            input: input.into(),
            extra: Extra::new(),
        }
    }
}

/// What to embed: one string or a list of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EmbeddingInput {
    /// One text.
    One(String),
    /// Several texts, embedded in order.
    Many(Vec<String>),
}

impl Default for EmbeddingInput {
    fn default() -> Self {
        EmbeddingInput::Many(Vec::new())
    }
}

impl From<String> for EmbeddingInput {
    fn from(text: String) -> Self {
        EmbeddingInput::One(text)
    }
}

impl From<&str> for EmbeddingInput {
    fn from(text: &str) -> Self {
        EmbeddingInput::One(text.to_owned())
    }
}

impl From<Vec<String>> for EmbeddingInput {
    fn from(texts: Vec<String>) -> Self {
        EmbeddingInput::Many(texts)
    }
}

impl From<Vec<&str>> for EmbeddingInput {
    fn from(texts: Vec<&str>) -> Self {
        EmbeddingInput::Many(texts.into_iter().map(str::to_owned).collect())
    }
}

/// Embeddings (`EmbeddingsResponse`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingsResponse {
    /// Always `list`.
    #[serde(default)]
    pub object: String,
    /// The model.
    #[serde(default)]
    pub model: String,
    /// One embedding per input, with its index.
    #[serde(default)]
    pub data: Vec<Embedding>,
    /// Token counts, where sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
    #[serde(skip)]
    rate_limits: RateLimits,
}

rate_limited_response!(EmbeddingsResponse, usage);

impl EmbeddingsResponse {
    /// The first embedding's vector, or an empty slice.
    pub fn first(&self) -> &[f32] {
        self.data.first().map_or(&[], |e| e.embedding.as_slice())
    }
}

/// One embedding.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Embedding {
    /// Always `embedding`.
    #[serde(default)]
    pub object: String,
    /// The vector.
    #[serde(default)]
    pub embedding: Vec<f32>,
    /// The position of its input.
    #[serde(default)]
    pub index: u32,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}
