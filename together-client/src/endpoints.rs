//! The endpoints, one handle each: [`Chat`], [`Completions`], [`Embeddings`], [`Models`],
//! [`Rerank`]. Each call is retried with the client's policy and paced by its limiter.

use crate::call::{Cacheable, Call};
use crate::client::Together;
use crate::error::Error;
use crate::stream::ChatStream;
use crate::types::chat::{ChatRequest, ChatResponse};
use crate::types::completions::{CompletionRequest, CompletionResponse};
use crate::types::embeddings::{EmbeddingsRequest, EmbeddingsResponse};
use crate::types::models::ModelList;
use crate::types::rerank::{RerankRequest, RerankResponse};

/// Declares the endpoints' handles: each a `Copy` borrow of the client, with its docs, and the
/// method of [`Together`] that returns it, with its own.
macro_rules! handles {
    ($( $(#[$handle_doc:meta])* $handle:ident, $(#[$method_doc:meta])* $method:ident; )*) => {
        impl Together {
            $(
                $(#[$method_doc])*
                pub fn $method(&self) -> $handle<'_> {
                    $handle { client: self }
                }
            )*
        }

        $(
            $(#[$handle_doc])*
            #[derive(Clone, Copy, Debug)]
            pub struct $handle<'a> {
                client: &'a Together,
            }
        )*
    };
}

handles! {
    /// `POST /chat/completions`; from [`Together::chat`].
    Chat,
    /// `POST /chat/completions`, plain or streamed.
    chat;
    /// `POST /completions`; from [`Together::completions`].
    Completions,
    /// `POST /completions`.
    completions;
    /// `POST /embeddings`; from [`Together::embeddings`].
    Embeddings,
    /// `POST /embeddings`.
    embeddings;
    /// `GET /models`; from [`Together::models`].
    Models,
    /// `GET /models`.
    models;
    /// `POST /rerank`; from [`Together::rerank`].
    Rerank,
    /// `POST /rerank`.
    rerank;
}

impl Chat<'_> {
    /// A chat completion. Retried on rate limits, overload, server errors, timeouts and
    /// dropped connections within the client's policy; answered from the cache when it is on
    /// and the request is deterministic (see [`CacheConfig`](crate::CacheConfig)).
    ///
    /// ```no_run
    /// # async fn run(client: together_client::Together) -> Result<(), together_client::Error> {
    /// use together_client::ChatRequest;
    ///
    /// let response = client
    ///     .chat()
    ///     .create(ChatRequest::new("meta-llama/Llama-3.3-70B-Instruct-Turbo").user("Hi").max_tokens(32))
    ///     .await?;
    /// println!("{}", response.text());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn create(&self, mut request: ChatRequest) -> Result<ChatResponse, Error> {
        request.stream = None;
        let cacheable = Cacheable::IfDeterministic {
            temperature: request.temperature,
            opt: request.cache,
        };
        let call = Call::post("chat/completions", &request)?
            .model(&request.model)
            .idempotency_key(request.idempotency_key.as_deref());
        self.client.json(call, cacheable).await
    }

    /// A streamed chat completion: resolves once the first chunk has arrived (retrying until
    /// then), to a [`ChatStream`] of the chunks. Never cached.
    pub async fn stream(&self, mut request: ChatRequest) -> Result<ChatStream, Error> {
        request.stream = Some(true);
        let mut call = Call::post("chat/completions", &request)?
            .model(&request.model)
            .idempotency_key(request.idempotency_key.as_deref());
        call.stream = true;
        self.client.open_stream(call).await
    }
}

impl Completions<'_> {
    /// A text completion (not streamed), retried and cached like [`Chat::create`].
    pub async fn create(
        &self,
        mut request: CompletionRequest,
    ) -> Result<CompletionResponse, Error> {
        request.stream = None;
        let cacheable = Cacheable::IfDeterministic {
            temperature: request.temperature,
            opt: request.cache,
        };
        let call = Call::post("completions", &request)?.model(&request.model);
        self.client.json(call, cacheable).await
    }
}

impl Embeddings<'_> {
    /// Embeddings of one text or many; cached whenever the cache is on.
    pub async fn create(&self, request: EmbeddingsRequest) -> Result<EmbeddingsResponse, Error> {
        let call = Call::post("embeddings", &request)?.model(&request.model);
        self.client.json(call, Cacheable::Always).await
    }
}

impl Models<'_> {
    /// Every model Together serves (a bare JSON array). Never cached.
    pub async fn list(&self) -> Result<ModelList, Error> {
        self.client
            .json(Call::get("models"), Cacheable::Never)
            .await
    }
}

impl Rerank<'_> {
    /// Documents ranked by relevance to a query; cached whenever the cache is on.
    pub async fn create(&self, request: RerankRequest) -> Result<RerankResponse, Error> {
        let call = Call::post("rerank", &request)?.model(&request.model);
        self.client.json(call, Cacheable::Always).await
    }
}
