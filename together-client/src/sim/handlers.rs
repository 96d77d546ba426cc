//! The endpoints, and the path every request takes through them:
//!
//! 1. counted on arrival; the inbound share of its latency passes (one half by default,
//!    `SimulatorBuilder::inbound_share`);
//! 2. the key is checked (401), the body parsed (400) and checked against the context window
//!    (403): none of these spends anything from the limiter;
//! 3. the limiter: out of credit (429 `credit_limit`), over the request or token limit (429
//!    `dynamic_request_limited` / `dynamic_token_limited` with the dialect's hint);
//! 4. faults, drawn for an admitted request: 503, 500, another status, a dropped connection,
//!    a broken stream or an error inside it;
//! 5. for an admitted request, the generation (`SimulatorBuilder::generation`); for one
//!    refused over a limit, the refusal delay (`SimulatorBuilder::refusal_delay`);
//! 6. the rest of the latency, then the answer.
//!
//! Steps 2-4 are [`decide`](super::decide); this file routes, waits and answers.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};

use super::Conn;
use super::config::HintDialect;
use super::decide::{Reply, decide};
use super::faults::Faults;
use super::headers::Reporter;
use super::latency::Latency;
use super::limiter::Limiter;
use super::request::Endpoint;
use super::responses as body;
use super::sse;
use super::stats::{Outcome, Recorder, Tracker};

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) api_key: String,
    pub(crate) dialect: HintDialect,
    /// Refusals over a limit are 503s (see `SimulatorBuilder::refuse_with_503`).
    pub(crate) overloaded_refusals: bool,
    /// At most this many requests in their generation at once (see
    /// `SimulatorBuilder::concurrency_limit`), and how many are.
    pub(crate) concurrency: Option<u32>,
    pub(crate) in_service: AtomicU32,
    pub(crate) reporter: Reporter,
    pub(crate) latency: Latency,
    /// The share of the latency before the limiter decides (`SimulatorBuilder::inbound_share`).
    pub(crate) inbound: f64,
    pub(crate) generation: Latency,
    /// Extra time a refusal over a limit takes (`SimulatorBuilder::refusal_delay`).
    pub(crate) refusal_delay: Latency,
    pub(crate) chunk_delay: Duration,
    pub(crate) context_window: u64,
    pub(crate) limiter: Mutex<Limiter>,
    /// The models with limits of their own (see `SimulatorBuilder::model_limit`).
    pub(crate) model_limiters: Vec<(String, Mutex<Limiter>)>,
    pub(crate) faults: Mutex<Faults>,
    pub(crate) recorder: Arc<Recorder>,
    pub(crate) next_id: AtomicU64,
}

/// Locks `m`, whether or not a panic poisoned it (the data are plain numbers).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/models", get(models))
        .route("/v1/rerank", post(rerank))
        .fallback(not_found)
        .with_state(shared)
}

type Args = (State<Arc<Shared>>, Extension<Conn>, HeaderMap, Bytes);

macro_rules! endpoint {
    ($name:ident, $kind:expr) => {
        async fn $name(
            sim: State<Arc<Shared>>,
            conn: Extension<Conn>,
            headers: HeaderMap,
            bytes: Bytes,
        ) -> Response {
            handle((sim, conn, headers, bytes), $kind).await
        }
    };
}

endpoint!(chat, Endpoint::Chat);
endpoint!(completions, Endpoint::Completions);
endpoint!(embeddings, Endpoint::Embeddings);
endpoint!(models, Endpoint::Models);
endpoint!(rerank, Endpoint::Rerank);

async fn not_found(State(sim): State<Arc<Shared>>) -> Response {
    let tracker = sim.recorder.arrive();
    tracker.finish(Some(404), Outcome::OtherError);
    let error = body::error("Not found", "invalid_request_error", None, None);
    (StatusCode::NOT_FOUND, Json(error)).into_response()
}

async fn handle((State(sim), Extension(conn), headers, bytes): Args, kind: Endpoint) -> Response {
    let mut tracker = sim.recorder.arrive();
    let latency = lock(&sim.faults).latency(sim.latency);
    let inbound = latency.mul_f64(sim.inbound);
    sleep(inbound).await;
    tracker.decided();
    let id = format!("sim-{}", sim.next_id.fetch_add(1, Ordering::Relaxed));
    let mut out = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&id) {
        out.insert(HeaderName::from_static("x-request-id"), value);
    }
    let mut slot = None;
    let reply = decide(
        &sim,
        &headers,
        &bytes,
        kind,
        id,
        out,
        &mut tracker,
        &mut slot,
    );
    if reply.generates() {
        let generation = lock(&sim.faults).sample(sim.generation);
        sleep(generation).await;
    } else if reply.refuses() {
        let delay = lock(&sim.faults).sample(sim.refusal_delay);
        sleep(delay).await;
    }
    // The work is done: its slot is free before the answer's way back.
    drop(slot);
    sleep(latency.saturating_sub(inbound)).await;
    match reply {
        Reply::Json(status, headers, value, outcome) => {
            tracker.finish(Some(status.as_u16()), outcome);
            (status, headers, Json(value)).into_response()
        }
        Reply::Stream(mut headers, plan) => {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            (headers, sse::body(plan, tracker)).into_response()
        }
        Reply::Drop => cut(tracker, &conn, Outcome::Dropped).await,
        Reply::CompletedThenDropped => cut(tracker, &conn, Outcome::CompletedThenDropped).await,
    }
}

/// Records `outcome` and closes the connection with no answer.
async fn cut(tracker: Tracker, conn: &Conn, outcome: Outcome) -> Response {
    tracker.finish(None, outcome);
    conn.cut();
    // The connection's task drops this future along with the connection.
    std::future::pending().await
}

async fn sleep(duration: Duration) {
    // A zero sleep would still register a timer, which a paused test clock could jump to.
    if !duration.is_zero() {
        tokio::time::sleep(duration).await;
    }
}
