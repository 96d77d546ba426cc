//! What the simulator makes of a request once it has arrived (steps 2-4 of the path in
//! `super::handlers`): the key, the body, the limiter, the faults. Nothing here waits; the
//! handler sleeps the latency, the generation or the refusal delay around it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use http::header::AUTHORIZATION;
use http::{HeaderMap, StatusCode};
use serde_json::Value;

use super::faults::Fault;
use super::handlers::{Shared, lock};
use super::headers::hint_headers;
use super::limiter::Limit;
use super::request::{Endpoint, Work, parse};
use super::responses::{self as body, Meta};
use super::sse::{self, Cut};
use super::stats::{Outcome, Tracker};

const OVERLOADED: &str = "The server is overloaded or not ready yet.";

/// What to do once the latency has passed.
pub(super) enum Reply {
    Json(StatusCode, HeaderMap, Value, Outcome),
    Stream(HeaderMap, sse::Plan),
    Drop,
    /// The work is done (and recorded), then the connection is cut before the answer.
    CompletedThenDropped,
}

impl Reply {
    /// Whether this is a refusal over a limit: a 429, or a 503 that stands for one.
    pub(super) fn refuses(&self) -> bool {
        // (A limit's 503, under `refuse_with_503`, is recorded as the refusal it is.)
        matches!(self, Reply::Json(_, _, _, Outcome::RateLimited))
    }

    /// Whether the request was admitted to the work: a refusal (401, 400, 429...) is
    /// answered at once; an answer, a stream or a drop after the work takes the generation.
    pub(super) fn generates(&self) -> bool {
        match self {
            Reply::Json(status, ..) => status.is_success(),
            Reply::Stream(..) | Reply::CompletedThenDropped => true,
            Reply::Drop => false,
        }
    }
}

/// A place among the requests served at once (see `SimulatorBuilder::concurrency_limit`),
/// given back when dropped.
pub(super) struct Slot<'s>(&'s AtomicU32);

impl<'s> Slot<'s> {
    /// Takes a place if fewer than `limit` are taken.
    fn take(in_service: &'s AtomicU32, limit: u32) -> Option<Slot<'s>> {
        let taken = in_service.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < limit).then_some(n + 1)
        });
        taken.ok().map(|_| Slot(in_service))
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[allow(clippy::too_many_arguments)] // one request's parts, each used once
pub(super) fn decide<'s>(
    sim: &'s Shared,
    headers: &HeaderMap,
    bytes: &[u8],
    kind: Endpoint,
    id: String,
    mut out: HeaderMap,
    tracker: &mut Tracker,
    slot: &mut Option<Slot<'s>>,
) -> Reply {
    if !authorized(headers, &sim.api_key) {
        let value = body::error(
            "Invalid API key provided. You can find your API key at https://api.together.xyz/settings/api-keys.",
            "invalid_request_error",
            None,
            Some("invalid_api_key"),
        );
        return Reply::Json(StatusCode::UNAUTHORIZED, out, value, Outcome::Unauthorized);
    }
    let job = match parse(kind, bytes, sim.context_window) {
        Ok(job) => job,
        Err((status, message, param)) => {
            let kind = "invalid_request_error";
            return error(status, out, Outcome::OtherError, &message, kind, param);
        }
    };
    if let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()) {
        sim.recorder.saw_key(key, job.prompt.as_deref());
    }
    tracker.set_prompt(job.prompt.clone());
    let limiter = (sim.model_limiters.iter())
        .find(|(model, _)| *model == job.model)
        .map_or(&sim.limiter, |(_, limiter)| limiter);
    if let Some(limit) = sim.concurrency {
        // Refused before the limits count it: it never started.
        *slot = Slot::take(&sim.in_service, limit);
        if slot.is_none() {
            let status = if sim.overloaded_refusals {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::TOO_MANY_REQUESTS
            };
            let message = "Too many requests in progress. Retry when one has finished.";
            let kind = "concurrency_limited";
            return error(status, out, Outcome::RateLimited, message, kind, None);
        }
    }
    let verdict = lock(limiter).check(job.cost());
    if let Some((limit, _)) = verdict.refused
        && limit != Limit::Credit
        && sim.overloaded_refusals
    {
        // As nginx's `limit_req`: a bare 503, nothing said of the limit. Counted as the
        // refusal by the limit it is.
        let (status, outcome) = (StatusCode::SERVICE_UNAVAILABLE, Outcome::RateLimited);
        return error(status, out, outcome, OVERLOADED, "server_error", None);
    }
    sim.reporter.write(&verdict, &mut out);
    if let Some((limit, wait)) = verdict.refused {
        if limit == Limit::Credit {
            let (status, value) = sim.reporter.out_of_credit();
            return Reply::Json(status, out, value, Outcome::CreditLimited);
        }
        let (message, kind) = if limit == Limit::Tokens {
            (
                "Request was rejected due to token rate limiting. Slow down and retry later.",
                "dynamic_token_limited",
            )
        } else {
            (
                "Request was rejected due to request rate limiting. Slow down and retry later.",
                "dynamic_request_limited",
            )
        };
        let outcome = Outcome::RateLimited;
        hint_headers(sim.dialect, wait, &mut out);
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            out,
            outcome,
            message,
            kind,
            None,
        );
    }
    let fault = lock(&sim.faults).draw(job.stream);
    let mut cut = None;
    match fault {
        Some(Fault::Drop) => return Reply::Drop,
        Some(Fault::Overloaded) => {
            let (status, outcome) = (StatusCode::SERVICE_UNAVAILABLE, Outcome::Overloaded);
            return error(status, out, outcome, OVERLOADED, "server_error", None);
        }
        Some(Fault::ServerError) => {
            let (status, outcome) = (StatusCode::INTERNAL_SERVER_ERROR, Outcome::ServerError);
            return error(
                status,
                out,
                outcome,
                "Internal server error",
                "server_error",
                None,
            );
        }
        Some(Fault::Status(status)) => {
            let (message, kind, outcome) = status_error(status);
            return error(status, out, outcome, &message, kind, None);
        }
        Some(Fault::BreakStream { after }) => cut = Some((after, Cut::Break)),
        Some(Fault::StreamError { after }) => cut = Some((after, Cut::Error)),
        Some(Fault::Delay(_) | Fault::DropAfterCompletion) | None => {}
    }
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let meta = Meta {
        id,
        created,
        model: job.model,
    };
    let p = job.prompt_tokens;
    let value = match (&job.work, job.stream) {
        (Work::Text { words, finish }, true) => {
            let chunks = if kind == Endpoint::Chat {
                body::chat_chunks(&meta, words, finish, p)
            } else {
                body::completion_chunks(&meta, words, finish, p)
            };
            let plan = sse::Plan {
                chunks,
                cut,
                error: body::error(OVERLOADED, "server_error", None, None),
                delay: sim.chunk_delay,
            };
            return Reply::Stream(out, plan);
        }
        (Work::Text { words, finish }, false) if kind == Endpoint::Chat => {
            body::chat(&meta, words, finish, p)
        }
        (Work::Text { words, finish }, false) => body::completion(&meta, words, finish, p),
        (Work::Embed { inputs, dimensions }, _) => {
            body::embeddings(&meta.model, inputs, *dimensions)
        }
        (Work::List, _) => body::models(),
        (Work::Rerank(req), _) => body::rerank(&meta, req, p),
    };
    if fault == Some(Fault::DropAfterCompletion) {
        // The answer was made; it is never sent.
        drop(value);
        return Reply::CompletedThenDropped;
    }
    Reply::Json(StatusCode::OK, out, value, Outcome::Success)
}

/// An error answer with Together's body.
fn error(
    status: StatusCode,
    out: HeaderMap,
    outcome: Outcome,
    message: &str,
    kind: &str,
    param: Option<&str>,
) -> Reply {
    Reply::Json(
        status,
        out,
        body::error(message, kind, param, None),
        outcome,
    )
}

fn authorized(headers: &HeaderMap, key: &str) -> bool {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| given.trim() == key)
}

/// A message, type and outcome for an injected status.
fn status_error(status: StatusCode) -> (String, &'static str, Outcome) {
    let reason = status.canonical_reason().unwrap_or("Error");
    let invalid = "invalid_request_error";
    match status.as_u16() {
        402 => (
            "Payment required: your organization has reached its spending limit.".into(),
            invalid,
            Outcome::OtherError,
        ),
        403 => (
            "Input validation error: `inputs` tokens + `max_new_tokens` exceed the context window."
                .into(),
            invalid,
            Outcome::OtherError,
        ),
        404 => (
            "The requested model was not found.".into(),
            invalid,
            Outcome::OtherError,
        ),
        429 => (
            "Request was rejected due to request rate limiting.".into(),
            "dynamic_request_limited",
            Outcome::RateLimited,
        ),
        500 => (reason.into(), "server_error", Outcome::ServerError),
        503 => (OVERLOADED.into(), "server_error", Outcome::Overloaded),
        400..=499 => (reason.into(), invalid, Outcome::OtherError),
        _ => (reason.into(), "server_error", Outcome::OtherError),
    }
}
