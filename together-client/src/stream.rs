//! [`ChatStream`]: a chat completion streamed as server-sent events, parsed by
//! `eventsource-stream`, retried only until its first chunk.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use eventsource_stream::{EventStreamError, Eventsource};
use futures_util::stream::{self, BoxStream, Stream, StreamExt};
use http::Extensions;
use retry_core::retry;

use crate::call::Call;
use crate::client::Together;
use crate::error::{ApiError, DecodeError, Error};
use crate::rate_limits::RateLimits;
use crate::types::chat::ChatChunk;

/// The events of one response.
type Events =
    BoxStream<'static, Result<eventsource_stream::Event, EventStreamError<reqwest::Error>>>;

/// A streamed chat completion: a [`Stream`] of [`ChatChunk`]s, from
/// [`Chat::stream`](crate::endpoints::Chat::stream).
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

/// What the next event of a stream is.
enum Next {
    Chunk(ChatChunk),
    /// `data: [DONE]`.
    Done,
    Failed(Error),
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
        let mut events: Events = response.bytes_stream().eventsource().boxed();
        match self.read_event(&mut events).await {
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
            Some(idle) => tokio::time::timeout(idle, self.read_event(events))
                .await
                .unwrap_or_else(|elapsed| Next::Failed(elapsed.into())),
            None => self.read_event(events).await,
        }
    }

    async fn read_event(&self, events: &mut Events) -> Next {
        loop {
            let event = match events.next().await {
                None => return Next::Failed(ended_early()),
                Some(Err(EventStreamError::Transport(e))) => return Next::Failed(e.into()),
                Some(Err(e)) => {
                    return Next::Failed(
                        DecodeError::other(format!("malformed event stream: {e}")).into(),
                    );
                }
                Some(Ok(event)) => event,
            };
            let data = event.data.trim();
            if data.is_empty() {
                continue;
            }
            if data == "[DONE]" {
                return Next::Done;
            }
            return self.chunk_or_error(&event.event, data);
        }
    }

    /// One event's data: a chunk, or an `error` object (or an `event: error`).
    fn chunk_or_error(&self, kind: &str, data: &str) -> Next {
        let value: serde_json::Value = match serde_json::from_str(data) {
            Ok(value) => value,
            Err(e) => return Next::Failed(DecodeError::json(e, data.as_bytes()).into()),
        };
        if kind == "error" || value.get("error").is_some_and(|e| !e.is_null()) {
            let mut api = ApiError::from_value(&value);
            if api.message.is_empty() {
                api.message = "the server sent an error inside the stream".into();
            }
            api.redact(&self.inner.key);
            tracing::debug!(target: "together_client", error = %api, "error inside a stream");
            return Next::Failed(Error::from_api(api));
        }
        match serde_json::from_value(value) {
            Ok(chunk) => Next::Chunk(chunk),
            Err(e) => Next::Failed(DecodeError::json(e, data.as_bytes()).into()),
        }
    }
}

/// A stream that ended before `data: [DONE]`: the server failed to finish (transient before
/// the first chunk, when it is retried).
fn ended_early() -> Error {
    Error::Server(Box::new(ApiError {
        message: "the stream ended before `data: [DONE]`".into(),
        kind: Some("stream_incomplete".into()),
        ..ApiError::default()
    }))
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
