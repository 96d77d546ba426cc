//! The front ends, one function each: run a row's call against a fresh fault server on the
//! paused clock and report the outcome, the requests sent and the virtual time taken.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use http::StatusCode;
use http::header::ACCEPT;
use retry_core::middleware::{RateLimitMiddleware, RetryMiddleware, delay_hint};
use retry_core::{Class, Classify, Elapsed, retry};
use together_client::batch::{BatchError, BatchOptions, ChatLineError, run_chat};
use together_client::{ChatRequest, Error, Together};
use tokio::time::Instant;

use super::{Cell, Kind, POLICY, Row};
use crate::fault_support::server::FaultServer;
use crate::kit::{Scratch, untimed_http};
use test_kit::Counter;

/// The server for `row` (none for a refused connection) and the base URL to call.
async fn target(row: &Row) -> (Option<FaultServer>, String) {
    if row.kind == Kind::Refused {
        return (None, super::refused_url());
    }
    let script = row.clone();
    let server = FaultServer::start(move |n| script.answer(n)).await;
    let url = server.url.clone();
    (Some(server), url)
}

/// Checks that the server saw every request the front end counted, and builds the cell.
fn finish(server: Option<FaultServer>, outcome: String, sent: u32, start: Instant) -> Cell {
    let elapsed = start.elapsed();
    if let Some(server) = server {
        assert_eq!(
            server.seen(),
            sent,
            "the server saw what was sent: {outcome}"
        );
    }
    Cell {
        outcome,
        requests: sent,
        elapsed,
    }
}

fn chat_body(stream: bool) -> serde_json::Value {
    serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": stream})
}

/// A body that reads as the call's answer: JSON, or a stream that reached `[DONE]`.
fn complete(body: &[u8], stream: bool) -> bool {
    if stream {
        body.ends_with(b"data: [DONE]\n\n")
    } else {
        serde_json::from_slice::<serde_json::Value>(body).is_ok()
    }
}

// ---- (a) `#[retry]` on a function that calls reqwest ----

/// The error of a hand-written reqwest call, as a user of `#[retry]` would write it: the
/// status with the server's hint, the transport error, an unreadable body, a timeout.
#[derive(Debug)]
enum CallError {
    Status(StatusCode, Option<Duration>),
    Http(reqwest::Error),
    Decode,
    Timeout,
}

impl Classify for CallError {
    fn class(&self) -> Class {
        match self {
            CallError::Status(status, _) => status.class(),
            CallError::Http(e) => e.class(),
            CallError::Decode => Class::Permanent,
            CallError::Timeout => Class::Timeout,
        }
    }
    fn retry_after(&self) -> Option<Duration> {
        match self {
            CallError::Status(_, hint) => *hint,
            _ => None,
        }
    }
}

impl From<reqwest::Error> for CallError {
    fn from(e: reqwest::Error) -> Self {
        CallError::Http(e)
    }
}

impl From<Elapsed> for CallError {
    fn from(_: Elapsed) -> Self {
        CallError::Timeout
    }
}

#[retry(policy = POLICY)]
async fn fetch(
    client: &reqwest::Client,
    url: &str,
    stream: bool,
    sent: &AtomicU32,
) -> Result<(), CallError> {
    sent.fetch_add(1, Ordering::SeqCst);
    let mut request = client.post(url).json(&chat_body(stream));
    if stream {
        request = request.header(ACCEPT, "text/event-stream");
    }
    let response = request.send().await?;
    let status = response.status();
    if !status.is_success() {
        return Err(CallError::Status(status, delay_hint(response.headers())));
    }
    let body = response.bytes().await?;
    if complete(&body, stream) {
        Ok(())
    } else {
        Err(CallError::Decode)
    }
}

pub async fn by_macro(row: Row) -> Cell {
    let (server, base) = target(&row).await;
    let sent = AtomicU32::new(0);
    let url = format!("{base}/v1/chat/completions");
    let start = Instant::now();
    let result = fetch(&untimed_http(), &url, row.kind == Kind::Stream, &sent).await;
    let outcome = match result {
        Ok(()) => "Ok".to_owned(),
        Err(CallError::Status(status, _)) => format!("Err(Status {})", status.as_u16()),
        Err(CallError::Http(e)) => format!("Err(Http {})", e.class()),
        Err(CallError::Decode) => "Err(Decode)".to_owned(),
        Err(CallError::Timeout) => "Err(Timeout)".to_owned(),
    };
    finish(server, outcome, sent.load(Ordering::SeqCst), start)
}

// ---- (b) reqwest-middleware: `RetryMiddleware`, alone or over `RateLimitMiddleware` ----

pub async fn by_middleware(row: Row, limiter: bool) -> Cell {
    let (server, base) = target(&row).await;
    let counter = Counter::default();
    let mut stack =
        reqwest_middleware::ClientBuilder::new(untimed_http()).with(RetryMiddleware::new(POLICY));
    if limiter {
        stack = stack.with(RateLimitMiddleware::default());
    }
    let client = stack
        .with(counter.clone())
        .with(crate::kit::on_the_wire::OnTheWire::default())
        .build();
    let stream = row.kind == Kind::Stream;
    let mut request = client
        .post(format!("{base}/v1/chat/completions"))
        .json(&chat_body(stream));
    if stream {
        request = request.header(ACCEPT, "text/event-stream");
    }
    let start = Instant::now();
    let outcome = match request.send().await {
        Err(e) => format!("Err({})", e.class()),
        Ok(response) if !response.status().is_success() => {
            format!("Status {}", response.status().as_u16())
        }
        // The layers hand over the response at its head: the body is the caller's to read.
        Ok(response) => match response.bytes().await {
            Err(e) => format!("Ok, body Err({})", e.class()),
            Ok(body) if complete(&body, stream) => "Ok".to_owned(),
            Ok(_) => "Ok, body unreadable".to_owned(),
        },
    };
    finish(server, outcome, counter.get(), start)
}

// ---- (c) the typed client, and (d) the batch engine through it ----

fn together(base: &str, counter: &Counter) -> Together {
    let stack = reqwest_middleware::ClientBuilder::new(untimed_http())
        .with(RateLimitMiddleware::default())
        .with(counter.clone())
        .with(crate::kit::on_the_wire::OnTheWire::default())
        .build();
    Together::builder()
        .api_key("sk-fault-matrix")
        .base_url(format!("{base}/v1"))
        .policy(POLICY)
        .http_client(stack)
        .build()
        .unwrap()
}

/// `Err(Variant status)`, or `Err(Transport class)` for an error with no answer.
pub fn label(error: &Error) -> String {
    let variant = match error {
        Error::RateLimited(_) => "RateLimited",
        Error::Overloaded(_) => "Overloaded",
        Error::Auth(_) => "Auth",
        Error::Payment(_) => "Payment",
        Error::ContextTooLong(_) => "ContextTooLong",
        Error::BadRequest(_) => "BadRequest",
        Error::NotFound(_) => "NotFound",
        Error::Server(_) => "Server",
        Error::Timeout(_) => "Timeout",
        Error::Transport(_) => return format!("Transport {}", error.class()),
        Error::Decode(_) => "Decode",
        Error::Config(_) => "Config",
        _ => "other",
    };
    match error.status() {
        Some(status) => format!("{variant} {}", status.as_u16()),
        None => variant.to_owned(),
    }
}

fn request() -> ChatRequest {
    ChatRequest::new("m").user("hi")
}

pub async fn by_client(row: Row) -> Cell {
    let (server, base) = target(&row).await;
    let counter = Counter::default();
    let client = together(&base, &counter);
    let start = Instant::now();
    let outcome = if row.kind == Kind::Stream {
        match client.chat().stream(request()).await {
            Err(e) => format!("Err({})", label(&e)),
            Ok(mut stream) => {
                let mut chunks = 0;
                let mut end = "Ok".to_owned();
                while let Some(chunk) = stream.next().await {
                    match chunk {
                        Ok(_) => chunks += 1,
                        Err(e) => {
                            end = format!("Err({}) after {chunks} chunks", label(&e));
                            break;
                        }
                    }
                }
                end
            }
        }
    } else {
        match client.chat().create(request()).await {
            Ok(_) => "Ok".to_owned(),
            Err(e) => format!("Err({})", label(&e)),
        }
    };
    finish(server, outcome, counter.get(), start)
}

pub async fn by_batch(row: Row) -> Cell {
    let (server, base) = target(&row).await;
    let counter = Counter::default();
    let client = together(&base, &counter);
    let line = serde_json::json!({"custom_id": "only", "body": request()});
    let (_dir, input, output) = Scratch::batch("fault-matrix", format!("{line}\n"));
    let options = BatchOptions::new().progress(false).concurrency(1);
    let start = Instant::now();
    let result = run_chat(&client, &input, &output, options).await;
    let written = std::fs::read_to_string(&output).unwrap_or_default();
    let lines: Vec<serde_json::Value> = written
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let outcome = match result {
        Ok(report) => {
            assert_eq!(lines.len(), 1, "one line per id: {written}");
            assert_eq!(lines[0]["custom_id"], "only");
            match (report.succeeded, report.failed) {
                (1, 0) => "Ok line".to_owned(),
                (0, 1) => match lines[0]["error"]["status"].as_u64() {
                    Some(status) => format!("Err line ({status})"),
                    None => "Err line (no status)".to_owned(),
                },
                other => panic!("one line, but {other:?}"),
            }
        }
        Err(BatchError::Fatal { error, .. }) => {
            assert!(lines.is_empty(), "a fatal error writes no line: {written}");
            match error {
                ChatLineError::Api(e) => format!("Fatal ({})", label(&e)),
                ChatLineError::Body(e) => panic!("the line's body: {e}"),
            }
        }
        Err(BatchError::Io(e)) => panic!("batch I/O: {e}"),
        // One line cannot make an outage (`outage_after` is 10 by default).
        Err(e @ BatchError::Outage { .. }) => panic!("batch outage: {e}"),
    };
    finish(server, outcome, counter.get(), start)
}
