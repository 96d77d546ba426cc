//! [`ChatStream`]: a chat completion streamed as server-sent events, parsed by
//! `eventsource-stream`, retried only until its first chunk.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use eventsource_stream::{EventStreamError, Eventsource};
use futures_util::FutureExt;
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

/// The events of a response body.
///
/// Two gaps of eventsource-stream 0.2.3 are closed here. It panics on a body that starts with
/// a byte-order mark (it drops the 3-byte U+FEFF by slicing at byte 1;
/// jpopesculian/eventsource-stream#10, unmerged): so the BOM is stripped here, as the SSE
/// format allows one, and the crate is fed an empty line first, no event, after which its
/// own BOM check never runs. And it waits for a `\n` after a final `\r` (the two could be one
/// CRLF) even once the body has ended, losing the last event of a stream whose lines end in
/// CR: so a body that ends in `\r` gets that `\n`.
fn events<S>(body: S) -> Events
where
    S: Stream<Item = Result<Bytes, reqwest::Error>> + Send + 'static,
{
    let body = Body {
        bytes: body.boxed().fuse(),
        head: Some(Vec::new()),
        cr: false,
    };
    let body = stream::unfold(body, |mut body| async move {
        let next = body.next().await?;
        Some((next, body))
    });
    stream::once(async { Ok(Bytes::from_static(b"\n")) })
        .chain(body)
        .eventsource()
        .boxed()
}

/// A response body as [`events`] hands it on.
struct Body {
    bytes: stream::Fuse<BoxStream<'static, Result<Bytes, reqwest::Error>>>,
    /// `Some` while the first bytes could still be a BOM (it may come split over chunks).
    head: Option<Vec<u8>>,
    /// Whether the last byte handed on was a `\r`.
    cr: bool,
}

impl Body {
    const BOM: &[u8] = b"\xEF\xBB\xBF";

    async fn next(&mut self) -> Option<Result<Bytes, reqwest::Error>> {
        loop {
            let Some(next) = self.bytes.next().await else {
                // The body ended within what could have been a BOM: those bytes are text.
                if let Some(head) = self.head.take().filter(|h| !h.is_empty()) {
                    return Some(Ok(self.hand_on(Bytes::from(head))));
                }
                return std::mem::take(&mut self.cr).then(|| Ok(Bytes::from_static(b"\n")));
            };
            let chunk = match next {
                Ok(chunk) => chunk,
                Err(e) => return Some(Err(e)),
            };
            let Some(head) = self.head.as_mut() else {
                return Some(Ok(self.hand_on(chunk)));
            };
            head.extend_from_slice(&chunk);
            if head.len() < Self::BOM.len() && Self::BOM.starts_with(head) {
                continue;
            }
            let head = Bytes::from(self.head.take().unwrap_or_default());
            let text = if head.starts_with(Self::BOM) {
                head.slice(Self::BOM.len()..)
            } else {
                head
            };
            return Some(Ok(self.hand_on(text)));
        }
    }

    fn hand_on(&mut self, bytes: Bytes) -> Bytes {
        if let Some(&last) = bytes.last() {
            self.cr = last == b'\r';
        }
        bytes
    }
}

/// Reads events up to the next chunk, `[DONE]` or failure; `key` is scrubbed from errors.
async fn read_event(events: &mut Events, key: &str) -> Next {
    match next_in(events, key).await {
        Next::Failed(mut error) => {
            // A malformed event or chunk quotes the text it choked on, which may echo the key.
            error.redact(key);
            Next::Failed(error)
        }
        next => next,
    }
}

async fn next_in(events: &mut Events, key: &str) -> Next {
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
        return chunk_or_error(&event.event, data, key);
    }
}

/// One event's data: a chunk, or an `error` object (or an `event: error`).
fn chunk_or_error(kind: &str, data: &str, key: &str) -> Next {
    let value: serde_json::Value = match serde_json::from_str(data) {
        Ok(value) => value,
        Err(e) => return Next::Failed(DecodeError::json(e, data.as_bytes()).into()),
    };
    if kind == "error" || value.get("error").is_some_and(|e| !e.is_null()) {
        let mut api = ApiError::from_value(&value);
        if api.message.is_empty() {
            api.message = "the server sent an error inside the stream".into();
        }
        // Before the log line below.
        api.redact(key);
        tracing::debug!(target: "together_client", error = %api, "error inside a stream");
        return Next::Failed(Error::from_api(api));
    }
    match serde_json::from_value(value) {
        Ok(chunk) => Next::Chunk(chunk),
        Err(e) => Next::Failed(DecodeError::json(e, data.as_bytes()).into()),
    }
}

/// Decodes an event stream that arrives in `chunks` as [`ChatStream`] reads a response body:
/// the chunks up to `data: [DONE]`, or up to and including the first error (a stream that
/// ends without `[DONE]` ends with one). Errors have `key` scrubbed, as the client's have.
///
/// The entry point of the `sse_chunk` fuzz target and of property tests: see
/// [`crate::__fuzz`].
pub fn decode_sse<I>(chunks: I, key: &str) -> Vec<Result<ChatChunk, Error>>
where
    I: IntoIterator<Item = Vec<u8>>,
    I::IntoIter: Send + 'static,
{
    let body = chunks
        .into_iter()
        .map(|chunk| Ok::<_, reqwest::Error>(Bytes::from(chunk)));
    let mut events = events(stream::iter(body));
    let read = async {
        let mut out = Vec::new();
        loop {
            match read_event(&mut events, key).await {
                Next::Chunk(chunk) => out.push(Ok(chunk)),
                Next::Done => return out,
                Next::Failed(error) => {
                    out.push(Err(error));
                    return out;
                }
            }
        }
    };
    // Every chunk is in memory already: the stream never waits.
    read.now_or_never()
        .expect("an in-memory event stream is always ready")
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
