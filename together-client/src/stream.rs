//! [`ChatStream`]: a chat completion streamed as server-sent events (decoded in `sse.rs`),
//! retried only until its first chunk.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::stream::{self, BoxStream, Stream, StreamExt};
use http::Extensions;
use retry_core::retry;

use crate::call::Call;
use crate::client::Together;
use crate::error::Error;
use crate::rate_limits::RateLimits;
use crate::sse::{Events, Next, events, read_event};
use crate::types::chat::ChatChunk;

/// A streamed chat completion: a [`Stream`] of [`ChatChunk`]s, from
/// [`Chat::stream`](crate::Chat::stream).
///
/// The request was retried (with the client's policy) until its first chunk arrived; from then
/// on nothing is retried: a dropped connection, an `error` object sent inside the stream, or a
/// stream that ends before `data: [DONE]` is yielded as an `Err`, and the stream ends after it.
///
/// ```no_run
/// use futures_util::StreamExt;
/// use together_client::{ChatRequest, Together};
///
/// # async fn run() -> Result<(), together_client::Error> {
/// let client = Together::from_env()?;
/// let mut stream = client
///     .chat()
///     .stream(ChatRequest::new("meta-llama/Llama-3.3-70B-Instruct-Turbo").user("Count to 5."))
///     .await?;
/// while let Some(chunk) = stream.next().await {
///     print!("{}", chunk?.delta_text());
/// }
/// # Ok(())
/// # }
/// ```
pub struct ChatStream {
    chunks: BoxStream<'static, Result<ChatChunk, Error>>,
    rate_limits: RateLimits,
}

impl fmt::Debug for ChatStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatStream")
            .field("rate_limits", &self.rate_limits)
            .finish_non_exhaustive()
    }
}

impl ChatStream {
    /// The rate limits and request id of the streamed response's headers.
    pub fn rate_limits(&self) -> &RateLimits {
        &self.rate_limits
    }

    /// Reads the whole stream and joins the first choice's text.
    pub async fn text(mut self) -> Result<String, Error> {
        let mut text = String::new();
        while let Some(chunk) = self.next().await {
            text.push_str(chunk?.delta_text());
        }
        Ok(text)
    }
}

impl Stream for ChatStream {
    type Item = Result<ChatChunk, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.chunks.poll_next_unpin(cx)
    }
}

/// The stream for `call`, once its first chunk (or its `[DONE]`) has arrived.
struct Opened {
    first: Option<ChatChunk>,
    events: Option<Events>,
    rate_limits: RateLimits,
}

impl Together {
    /// Opens a chat stream: retried until the first chunk, then handed over as it is.
    pub(crate) async fn open_stream(&self, call: Call) -> Result<ChatStream, Error> {
        let mut extensions = Extensions::new();
        let opened = self.open_retried(&call, &mut extensions).await?;
        let client = self.clone();
        let idle = self.inner.timeout;
        let limits = std::sync::Arc::new(opened.rate_limits.clone());
        let rest = stream::unfold(opened.events, move |events| {
            let (client, limits) = (client.clone(), limits.clone());
            async move {
                let mut events = events?;
                match client.next_event(&mut events, idle).await {
                    Next::Chunk(chunk) => Some((Ok(chunk), Some(events))),
                    Next::Done => None,
                    Next::Failed(error) => Some((Err(with_limits(error, &limits)), None)),
                }
            }
        });
        Ok(ChatStream {
            chunks: stream::iter(opened.first.map(Ok)).chain(rest).boxed(),
            rate_limits: opened.rate_limits,
        })
    }

    #[retry(policy = self.inner.policy)]
    async fn open_retried(
        &self,
        call: &Call,
        extensions: &mut Extensions,
    ) -> Result<Opened, Error> {
        let open = self.open_once(call, extensions);
        match self.inner.timeout {
            Some(limit) => tokio::time::timeout(limit, open).await?,
            None => open.await,
        }
    }

    /// One attempt at opening: the request, then events up to the first chunk.
    async fn open_once(&self, call: &Call, extensions: &mut Extensions) -> Result<Opened, Error> {
        let response = self.attempt(call, extensions).await?;
        let rate_limits = RateLimits::from_headers(response.headers());
        self.inner
            .usage
            .book(call.model_name())
            .limits(&rate_limits);
        let mut events = events(response.bytes_stream());
        match read_event(&mut events, &self.inner.key).await {
            Next::Chunk(chunk) => Ok(Opened {
                first: Some(chunk),
                events: Some(events),
                rate_limits,
            }),
            Next::Done => Ok(Opened {
                first: None,
                events: None,
                rate_limits,
            }),
            Next::Failed(error) => Err(with_limits(error, &rate_limits)),
        }
    }

    /// Reads events up to the next chunk, `[DONE]` or failure, waiting at most `idle`.
    async fn next_event(&self, events: &mut Events, idle: Option<Duration>) -> Next {
        match idle {
            Some(idle) => tokio::time::timeout(idle, read_event(events, &self.inner.key))
                .await
                .unwrap_or_else(|elapsed| Next::Failed(elapsed.into())),
            None => read_event(events, &self.inner.key).await,
        }
    }
}

/// Puts the stream response's rate limits on an error found inside it.
fn with_limits(mut error: Error, limits: &RateLimits) -> Error {
    if let Some(api) = error.api_mut()
        && api.rate_limits.is_empty()
    {
        api.rate_limits = limits.clone();
        if api.request_id.is_none() {
            api.request_id = limits.request_id.clone();
        }
    }
    error
}
