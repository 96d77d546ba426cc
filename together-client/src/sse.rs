//! Server-sent events into chat chunks: a response body's bytes into `eventsource-stream`
//! events (closing two gaps of that crate), each event into a [`ChatChunk`], an `error`
//! object or `[DONE]`. [`ChatStream`](crate::ChatStream) reads a live body with it;
//! [`decode_sse`] reads one held in memory.

use bytes::Bytes;
use eventsource_stream::{EventStreamError, Eventsource};
use futures_util::FutureExt;
use futures_util::stream::{self, BoxStream, Stream, StreamExt};

use crate::error::{ApiError, DecodeError, Error};
use crate::types::chat::ChatChunk;

/// The events of one response.
pub(crate) type Events =
    BoxStream<'static, Result<eventsource_stream::Event, EventStreamError<reqwest::Error>>>;

/// What the next event of a stream is.
pub(crate) enum Next {
    Chunk(ChatChunk),
    /// `data: [DONE]`.
    Done,
    Failed(Error),
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
pub(crate) fn events<S>(body: S) -> Events
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
pub(crate) async fn read_event(events: &mut Events, key: &str) -> Next {
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

/// Decodes an event stream that arrives in `chunks` as [`ChatStream`](crate::ChatStream) reads a response body:
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
