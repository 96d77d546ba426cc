//! `GET /models`: [`ModelList`] of [`ModelInfo`] (`ModelInfoList`, a bare JSON array).

use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize};

use super::{Extra, rate_limited_response};
use crate::rate_limits::RateLimits;

/// A model Together serves (`ModelInfo`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The name to put in a request's `model`.
    pub id: String,
    /// Always `model`.
    #[serde(default)]
    pub object: String,
    /// When it was added (Unix seconds).
    #[serde(default)]
    pub created: u64,
    /// `chat`, `language`, `code`, `image`, `embedding`, `moderation`, `rerank`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// A human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Who made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// A link to its page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Its license.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Its context window, in tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_length: Option<u64>,
    /// What it costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<Pricing>,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A model's prices (`Pricing`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pricing {
    /// Per hour (dedicated).
    #[serde(default)]
    pub hourly: f64,
    /// Per million input tokens.
    #[serde(default)]
    pub input: f64,
    /// Per million output tokens.
    #[serde(default)]
    pub output: f64,
    /// Base price.
    #[serde(default)]
    pub base: f64,
    /// Fine-tuning price.
    #[serde(default)]
    pub finetune: f64,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The models Together serves. Together answers with a bare JSON array; an
/// OpenAI-style `{"object": "list", "data": [...]}` is read too.
///
/// Derefs to a slice of [`ModelInfo`]:
///
/// ```
/// use together_client::ModelList;
///
/// let list: ModelList = serde_json::from_str(r#"[{"id": "a", "type": "chat"}]"#).unwrap();
/// assert_eq!(list.len(), 1);
/// assert_eq!(list[0].kind.as_deref(), Some("chat"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct ModelList {
    /// The models.
    pub models: Vec<ModelInfo>,
    #[serde(skip)]
    rate_limits: RateLimits,
}

rate_limited_response!(ModelList);

impl<'de> Deserialize<'de> for ModelList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shape {
            Bare(Vec<ModelInfo>),
            Wrapped { data: Vec<ModelInfo> },
        }
        let models = match Shape::deserialize(deserializer)? {
            Shape::Bare(models) | Shape::Wrapped { data: models } => models,
        };
        Ok(ModelList {
            models,
            rate_limits: RateLimits::default(),
        })
    }
}

impl Deref for ModelList {
    type Target = [ModelInfo];

    fn deref(&self) -> &[ModelInfo] {
        &self.models
    }
}

impl IntoIterator for ModelList {
    type Item = ModelInfo;
    type IntoIter = std::vec::IntoIter<ModelInfo>;

    fn into_iter(self) -> Self::IntoIter {
        self.models.into_iter()
    }
}

impl<'a> IntoIterator for &'a ModelList {
    type Item = &'a ModelInfo;
    type IntoIter = std::slice::Iter<'a, ModelInfo>;

    fn into_iter(self) -> Self::IntoIter {
        self.models.iter()
    }
}
