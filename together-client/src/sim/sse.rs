//! Server-sent events as Together sends them: `data: {chunk}` events, then `data: [DONE]`.
//!
//! Two faults live here. A broken stream ends its body with an error (once what was sent is
//! flushed), on which hyper closes the connection without the chunked encoding's last chunk:
//! the client sees the body cut short. A stream error sends `data: {"error": {...}}` and ends cleanly, without `[DONE]`.

use std::io;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures_util::stream;
use serde_json::Value;

use super::stats::{Outcome, Tracker};

/// How a stream ends early, after some chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cut {
    /// The connection is cut.
    Break,
    /// An `error` object, then the end.
    Error,
}

/// What a stream sends.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) chunks: Vec<Value>,
    /// An early end after this many chunks (at most all of them: then instead of `[DONE]`).
    pub(crate) cut: Option<(usize, Cut)>,
    /// The `error` object's body, for [`Cut::Error`].
    pub(crate) error: Value,
    /// Time between two chunks.
    pub(crate) delay: Duration,
}

struct State {
    chunks: std::vec::IntoIter<Value>,
    sent: usize,
    cut: Option<(usize, Cut)>,
    error: Value,
    delay: Duration,
    /// `None` once the stream has ended.
    tracker: Option<Tracker>,
}

/// One SSE event carrying `data`.
pub(crate) fn frame(data: &str) -> Bytes {
    Bytes::from(format!("data: {data}\n\n"))
}

/// The body of a streamed answer. The tracker records the stream's outcome when it ends:
/// a success only once `[DONE]` is produced; if the client goes away first, the tracker is
/// dropped with the body and records a cancellation.
pub(crate) fn body(plan: Plan, mut tracker: Tracker) -> Body {
    tracker.sent(200);
    let total = plan.chunks.len();
    let state = State {
        chunks: plan.chunks.into_iter(),
        sent: 0,
        cut: plan.cut.map(|(after, cut)| (after.min(total), cut)),
        error: plan.error,
        delay: plan.delay,
        tracker: Some(tracker),
    };
    Body::from_stream(stream::unfold(state, next))
}

async fn next(mut state: State) -> Option<(io::Result<Bytes>, State)> {
    let tracker = state.tracker.take()?;
    if let Some((after, cut)) = state.cut
        && state.sent == after
    {
        return Some(match cut {
            Cut::Break => {
                // Let hyper flush what was sent first: an error from the body drops its
                // buffered bytes along with the connection.
                for _ in 0..2 {
                    tokio::task::yield_now().await;
                }
                tracker.finish(Some(200), Outcome::BrokenStream);
                (Err(io::Error::other("simulated broken stream")), state)
            }
            Cut::Error => {
                tracker.finish(Some(200), Outcome::StreamError);
                (Ok(frame(&state.error.to_string())), state)
            }
        });
    }
    if state.sent > 0 && !state.delay.is_zero() {
        tokio::time::sleep(state.delay).await;
    }
    match state.chunks.next() {
        Some(chunk) => {
            state.sent += 1;
            state.tracker = Some(tracker);
            Some((Ok(frame(&chunk.to_string())), state))
        }
        None => {
            tracker.finish(Some(200), Outcome::Success);
            Some((Ok(frame("[DONE]")), state))
        }
    }
}
