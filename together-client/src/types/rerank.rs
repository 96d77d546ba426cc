//! `POST /rerank`: [`RerankRequest`] and [`RerankResponse`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Extra, Usage, rate_limited_response};
use crate::rate_limits::RateLimits;

/// A rerank request: order `documents` by relevance to `query`.
///
/// ```
/// use together_client::RerankRequest;
///
/// let request = RerankRequest::new("Salesforce/Llama-Rank-V1", "What animals live in Peru?", ["llamas", "pandas"])
///     .top_n(1)
///     .return_documents(true);
/// assert_eq!(serde_json::to_value(&request).unwrap()["documents"][0], "llamas");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RerankRequest {
    /// The rerank model.
    pub model: String,
    /// The search query.
    pub query: String,
    /// The documents: strings, or JSON objects (ranked by `rank_fields`).
    pub documents: Documents,
    /// How many results to return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_n: Option<u32>,
    /// Return the documents with the results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_documents: Option<bool>,
    /// The keys of object documents to rank by (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank_fields: Option<Vec<String>>,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

impl RerankRequest {
    /// A request to rank text `documents` against `query`.
    pub fn new<S: Into<String>>(
        model: impl Into<String>,
        query: impl Into<String>,
        documents: impl IntoIterator<Item = S>,
    ) -> Self {
        RerankRequest {
            model: model.into(),
            query: query.into(),
            documents: Documents::Texts(documents.into_iter().map(Into::into).collect()),
            ..RerankRequest::default()
        }
    }

    /// A request to rank JSON-object `documents` against `query` (see
    /// [`rank_fields`](Self::rank_fields)).
    pub fn objects(
        model: impl Into<String>,
        query: impl Into<String>,
        documents: Vec<serde_json::Map<String, Value>>,
    ) -> Self {
        RerankRequest {
            model: model.into(),
            query: query.into(),
            documents: Documents::Objects(documents),
            ..RerankRequest::default()
        }
    }
}

crate::setters::setters!(RerankRequest {
    /// Sets `top_n`.
    some top_n: u32;
    /// Sets `return_documents`.
    some return_documents: bool;
    /// Sets `rank_fields`.
    strings rank_fields;
});

/// The documents of a [`RerankRequest`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Documents {
    /// Plain texts.
    Texts(Vec<String>),
    /// JSON objects.
    Objects(Vec<serde_json::Map<String, Value>>),
}

impl Default for Documents {
    fn default() -> Self {
        Documents::Texts(Vec::new())
    }
}

/// Ranked results (`RerankResponse`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RerankResponse {
    /// The request's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Always `rerank`.
    #[serde(default)]
    pub object: String,
    /// The model.
    #[serde(default)]
    pub model: String,
    /// The results, most relevant first.
    #[serde(default)]
    pub results: Vec<RerankResult>,
    /// Token counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
    #[serde(skip)]
    rate_limits: RateLimits,
}

rate_limited_response!(RerankResponse, usage);

/// One ranked document.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RerankResult {
    /// Its position in the request's `documents`.
    #[serde(default)]
    pub index: u32,
    /// How relevant it is.
    #[serde(default)]
    pub relevance_score: f64,
    /// The document, when `return_documents` was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<RerankDocument>,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A document returned with a [`RerankResult`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RerankDocument {
    /// Its text (an object document comes as its JSON text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}
