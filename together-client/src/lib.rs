//! A thin typed [Together AI](https://www.together.ai) client that does not fail on rate
//! limits, and tells you how close you are to them.
//!
//! ```no_run
//! use together_client::{ChatRequest, Together};
//!
//! # async fn run() -> Result<(), together_client::Error> {
//! let client = Together::from_env()?; // TOGETHER_API_KEY, optional TOGETHER_BASE_URL
//! let response = client
//!     .chat()
//!     .create(ChatRequest::new("meta-llama/Llama-3.3-70B-Instruct-Turbo").user("Hello!"))
//!     .await?;
//! println!("{}", response.text());
//! println!("requests left this window: {:?}", response.rate_limits().requests.remaining);
//! # Ok(())
//! # }
//! ```
//!
//! The same against a local stand-in for the API (this one runs: wiremock on 127.0.0.1, the
//! only place a plain `http://` base URL is accepted):
//!
//! ```
//! use together_client::{ChatRequest, Together};
//! use wiremock::matchers::{method, path};
//! use wiremock::{Mock, MockServer, ResponseTemplate};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), together_client::Error> {
//! let server = MockServer::start().await;
//! Mock::given(method("POST"))
//!     .and(path("/v1/chat/completions"))
//!     .respond_with(
//!         ResponseTemplate::new(200)
//!             .insert_header("x-ratelimit-remaining", "59")
//!             .set_body_json(serde_json::json!({
//!                 "id": "c-1", "object": "chat.completion", "created": 0, "model": "m",
//!                 "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!"}}]
//!             })),
//!     )
//!     .mount(&server)
//!     .await;
//!
//! let client = Together::builder()
//!     .api_key("test-key")
//!     .base_url(format!("{}/v1", server.uri()))
//!     .build()?;
//! let response = client.chat().create(ChatRequest::new("m").user("Hello!")).await?;
//! assert_eq!(response.text(), "Hi!");
//! assert_eq!(response.rate_limits().requests.remaining, Some(59));
//! # Ok(())
//! # }
//! ```
//!
//! # What it does for you
//! - **Typed endpoints**: [`Together::chat`] (plain and [streamed](Chat::stream)),
//!   [`completions`](Together::completions), [`embeddings`](Together::embeddings),
//!   [`models`](Together::models), [`rerank`](Together::rerank), typed from Together's
//!   OpenAPI spec; every type keeps the fields it does not know.
//! - **Typed errors**: [`Error`] tells a rate limit from overload, auth, payment, a prompt too
//!   long, a bad request, a missing model, a server error, a timeout, a dropped connection;
//!   each carries what the API said ([`ApiError`]).
//! - **Retries, one budget per call**: every call is a `#[retry]` method driven by the
//!   client's [`Policy`](retry_core::Policy) ([`DEFAULT_POLICY`] unless set), which sees
//!   those typed errors; server hints (`retry-after-ms`, `Retry-After`, `x-ratelimit-reset`)
//!   are obeyed. A call makes at most `attempts` requests.
//! - **Pacing**: requests go through a
//!   [`RateLimitMiddleware`](retry_core::middleware::RateLimitMiddleware) that learns the
//!   account's pace from Together's headers and, after a 429, holds every request to the host
//!   until the cooldown ends, then releases them in order: a hundred tasks do not retry at
//!   once, and a retry never waits twice (see [`ApiError::held_by_limiter`]).
//! - **Visibility**: every response has `rate_limits()` ([`RateLimits`]); a streak of 429s
//!   logs one warning and calls your callback ([`TogetherBuilder::on_rate_limit_streak`]);
//!   [`Together::usage`] adds up requests, tokens, 429s and time waited per model, and the
//!   same figures go to the `metrics` facade (see the README for the series).
//! - **An optional cache** for deterministic requests, with single-flight ([`CacheConfig`]).
//! - **Safe by default**: the key never shows in `Debug`, `Display` or logs; a plain
//!   `http://` base URL is refused unless it is loopback.
//!
//! # Where things are
//! Every type and handle has one path, the crate root. Inside: `client.rs` holds the client
//! and its shared state (built by `builder.rs`); `endpoints.rs` the handles, which make a
//! `call.rs` call (one retried request, JSON in and out) or open a `stream.rs` [`ChatStream`]
//! (its bytes decoded by `sse.rs`); `types/` the bodies, from Together's OpenAPI spec;
//! `setters.rs` the setter methods of the builder and the request types;
//! `error.rs` and `api_error.rs` what fails; `rate_limits.rs`, `usage.rs` and `alert.rs` what
//! the client sees of its limits; [`report`] and [`batch`] build on all of it; `sim`
//! (feature `sim`) is the server the tests and examples run against.

#![warn(missing_docs)]

mod alert;
mod api_error;
pub mod batch;
mod builder;
mod cache;
mod call;
mod client;
mod endpoints;
mod error;
mod rate_limits;
pub mod report;
mod setters;
mod sse;
mod stream;
mod types;
mod usage;

#[cfg(feature = "sim")]
pub mod sim;

pub use alert::{DEFAULT_ALERT_AFTER, RateLimitAlert};
pub use builder::TogetherBuilder;
pub use cache::CacheConfig;
pub use client::{DEFAULT_BASE_URL, DEFAULT_POLICY, Together};
pub use endpoints::{Chat, Completions, Embeddings, Models, Rerank};
pub use error::{ApiError, DecodeError, Error};
pub use rate_limits::{Bucket, RateLimits};
pub use stream::ChatStream;
pub use types::chat::{ChatChoice, ChatChunk, ChatRequest, ChatResponse, ChunkChoice, Delta};
pub use types::completions::{CompletionChoice, CompletionRequest, CompletionResponse, PromptPart};
pub use types::embeddings::{Embedding, EmbeddingInput, EmbeddingsRequest, EmbeddingsResponse};
pub use types::message::{
    Content, ContentPart, FunctionCall, FunctionDef, JsonSchema, Message, ResponseFormat, Tool,
    ToolCall,
};
pub use types::models::{ModelInfo, ModelList, Pricing};
pub use types::rerank::{Documents, RerankDocument, RerankRequest, RerankResponse, RerankResult};
pub use types::{Extra, FinishReason, Role, Usage};
pub use usage::{ClientUsage, MAX_MODELS, ModelUsage, NO_MODEL, OTHER_MODEL};

/// Entry points for the fuzz targets (`together-client/fuzz`) and property tests. Not part
/// of the API: no stability promise, may change in any release.
#[doc(hidden)]
pub mod __fuzz {
    pub use crate::sse::decode_sse;
}

/// The retry engine this client is built on, re-exported: [`Policy`](retry_core::Policy),
/// [`Classify`](retry_core::Classify), the middleware.
pub use retry_core;
