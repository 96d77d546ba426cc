//! The API key never shows: not in `Debug` (client, builder, errors), not in `Display` (every
//! error), not in anything `tracing` writes at any level during a failing run with retries,
//! not in a panic message, even when the server echoes the key back in its bodies and
//! headers.
//!
//! Every check that the key is absent comes with a check that the text it searched is the
//! real thing (the echo reached the client and was replaced, the events were captured), so
//! none can pass on an empty string.

#[path = "kit/mod.rs"]
mod kit;

use std::error::Error as _;
use std::net::TcpListener;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures_util::StreamExt;
use retry_core::Policy;
use retry_core::middleware::RateLimitMiddleware;
use serde_json::{Value, json};
use together_client::{ChatRequest, Error, Together, TogetherBuilder};
use tracing_subscriber::fmt::format::FmtSpan;

use crate::kit::client::{Sink, fast};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A key no output would contain by accident.
const KEY: &str = "sk-test-SECRET-4f1c9e";

/// What the client writes where a server echoed the key.
const REDACTED: &str = "[redacted]";

/// Everything `tracing` writes, at every level, from every thread of this test binary: one
/// global subscriber, set before any test emits anything (every test calls this first), so
/// no callsite is ever cached as "no one listens".
fn captured() -> &'static Mutex<Vec<u8>> {
    static BUFFER: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    BUFFER.get_or_init(|| {
        let buffer: &'static Mutex<Vec<u8>> = Box::leak(Box::default());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_span_events(FmtSpan::FULL)
            .with_ansi(false)
            .with_writer(move || Sink(buffer))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        buffer
    })
}

fn logs() -> String {
    String::from_utf8_lossy(&captured().lock().unwrap()).into_owned()
}

/// The kit's fast policy, with steps of at most 5 ms and a 1 s deadline.
fn policy(attempts: u32) -> Policy {
    fast(attempts)
        .max_delay(Duration::from_millis(5))
        // Held 429s cost no attempt: the deadline is what ends a run of them.
        .deadline(Duration::from_secs(1))
}

fn builder(base_url: String) -> TogetherBuilder {
    Together::builder()
        .api_key(KEY)
        .base_url(base_url)
        .policy(policy(3))
        .rate_limit(RateLimitMiddleware::builder().initial_rate(1000.0).build())
}

fn client(server: &MockServer) -> Together {
    builder(format!("{}/v1", server.uri())).build().unwrap()
}

/// An error body that echoes the key in every field the client reads.
fn echo_body() -> Value {
    json!({
        "id": format!("req-{KEY}"),
        "error": {
            "message": format!("Invalid API key provided: Bearer {KEY}"),
            "type": format!("invalid_api_key:{KEY}"),
            "code": format!("{KEY}"),
            "param": format!("authorization={KEY}"),
        }
    })
}

/// A response of `status` echoing the key in its body and in its request-id header.
fn echo(status: u16) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("x-request-id", format!("req-{KEY}").as_str())
        .insert_header("retry-after-ms", "2")
        .set_body_json(echo_body())
}

async fn server_answering(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/v1/models"))
        .respond_with(echo(status))
        .mount(&server)
        .await;
    server
}

/// Every way `error` can be shown: `Display`, `Debug`, pretty `Debug`, its sources, what
/// the API said.
fn every_rendering(error: &Error) -> String {
    let mut out = format!("{error}\n{error:?}\n{error:#?}\n");
    let mut source = error.source();
    while let Some(inner) = source {
        out.push_str(&format!("{inner}\n{inner:?}\n"));
        source = inner.source();
    }
    if let Some(api) = error.api() {
        out.push_str(&format!("{api}\n{api:?}\n{:?}\n", api.rate_limits));
    }
    out
}

fn assert_hidden(text: &str, what: &str) {
    assert!(!text.contains(KEY), "{what} shows the key:\n{text}");
}

/// The message of a panic payload (`panic!` with a format makes a `String`).
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .unwrap_or_default(),
    }
}

#[test]
fn debug_of_the_client_and_its_builder_hides_the_key() {
    captured();
    // Blanks around the key are trimmed: the trimmed key must not show either.
    let builder = builder("https://api.together.ai/v1".into()).api_key(format!("  {KEY}\n"));
    for shown in [format!("{builder:?}"), format!("{builder:#?}")] {
        assert_hidden(&shown, "the builder's Debug");
        assert!(shown.contains(REDACTED), "{shown}");
    }
    let client = builder.clone().build().unwrap();
    for shown in [
        format!("{client:?}"),
        format!("{client:#?}"),
        format!("{:?}", client.clone()),
        format!("{:?}", client.http_client()),
        format!("{:?}", client.rate_limiter()),
        format!("{:?}", client.policy()),
    ] {
        assert_hidden(&shown, "the client's Debug");
    }
    assert!(format!("{client:?}").contains("api_key: \"[redacted]\""));
}

#[test]
fn a_key_that_cannot_be_a_header_is_not_quoted_in_the_error() {
    captured();
    let error = builder("https://api.together.ai/v1".into())
        .api_key(format!("{KEY}\u{7}bell"))
        .build()
        .unwrap_err();
    let shown = every_rendering(&error);
    assert_hidden(&shown, "a configuration error");
    assert!(matches!(error, Error::Config(_)), "{shown}");
    assert!(shown.contains("cannot go in an HTTP header"), "{shown}");
}

/// Each status the client types, the server echoing the key everywhere: every variant's
/// `Display` and `Debug` show what it said, with the key replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_from_an_answer_hides_the_echoed_key() {
    captured();
    for status in [400, 401, 402, 403, 404, 408, 429, 500, 502, 503, 504] {
        let server = server_answering(status).await;
        let client = builder(format!("{}/v1", server.uri()))
            .policy(policy(2))
            .build()
            .unwrap();
        let error = client.models().list().await.unwrap_err();
        let shown = every_rendering(&error);
        assert_hidden(&shown, &format!("the error of a {status}"));
        // The echo arrived and was replaced, in the message and the request id.
        let api = error.api().expect("an answer of the API");
        assert_eq!(api.status.map(|s| s.as_u16()), Some(status));
        assert_eq!(
            api.message, "Invalid API key provided: Bearer [redacted]",
            "{status}"
        );
        assert_eq!(api.request_id.as_deref(), Some("req-[redacted]"));
        assert_eq!(
            api.rate_limits.request_id.as_deref(),
            Some("req-[redacted]")
        );
        assert!(error.to_string().contains(REDACTED), "{error}");
    }
}

/// A 429 that keeps coming: retried to the end of the deadline (the limiter holds each, so
/// they cost no attempt), and the last one is what the caller gets; the streak alert's copy
/// of it is scrubbed too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_run_hides_the_key_in_the_error_and_the_alert() {
    captured();
    let server = server_answering(429).await;
    let alerts = Arc::new(Mutex::new(Vec::new()));
    let seen = alerts.clone();
    let client = builder(format!("{}/v1", server.uri()))
        .alert_after(2)
        .on_rate_limit_streak(move |alert| seen.lock().unwrap().push(format!("{alert:?}")))
        .build()
        .unwrap();
    let error = client.models().list().await.unwrap_err();
    assert!(matches!(error, Error::RateLimited(_)), "{error:?}");
    assert!(server.received_requests().await.unwrap().len() >= 3);
    assert_hidden(&every_rendering(&error), "a 429");
    let alerts = alerts.lock().unwrap();
    assert_eq!(alerts.len(), 1);
    assert_hidden(&alerts[0], "the rate-limit alert");
    assert!(alerts[0].contains(REDACTED), "{}", alerts[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_hides_the_key() {
    captured();
    // A port that was free a moment ago: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = builder(format!("http://127.0.0.1:{port}/v1"))
        .build()
        .unwrap();
    let error = client.models().list().await.unwrap_err();
    let shown = every_rendering(&error);
    assert!(matches!(error, Error::Transport(_)), "{shown}");
    assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");
    assert_hidden(&shown, "a transport error");
}

/// A stream whose error object, or whose malformed chunk, echoes the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_inside_a_stream_hide_the_key() {
    captured();
    let chunk = json!({
        "id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
        "choices": [{"index": 0, "delta": {"content": "hi"}}]
    });
    let bodies = [
        format!("data: {chunk}\n\ndata: {}\n\n", echo_body()),
        // Not JSON: the decode error quotes the body.
        format!("data: {chunk}\n\ndata: {{\"echo\": Bearer {KEY}}}\n\n"),
        // JSON, not a chunk: serde's message quotes the value it choked on.
        format!("data: {chunk}\n\ndata: {{\"choices\": \"Bearer {KEY}\"}}\n\n"),
    ];
    for body in bodies {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", "text/event-stream")
                    .set_body_string(body.clone()),
            )
            .mount(&server)
            .await;
        let stream = client(&server)
            .chat()
            .stream(ChatRequest::new("m").user("hi"))
            .await
            .unwrap();
        let items: Vec<_> = stream.collect().await;
        assert_eq!(items.len(), 2, "{body}");
        let error = items[1].as_ref().unwrap_err();
        let shown = every_rendering(error);
        assert_hidden(&shown, "an error inside a stream");
        assert!(shown.contains(REDACTED), "{shown}");
    }
}

/// A 200 whose body does not decode and echoes the key (a proxy or test server that echoes
/// the request): the decode error keeps the start of the body, and serde's message quotes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_decode_hides_the_key() {
    captured();
    let server = MockServer::start().await;
    Mock::given(path("/v1/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": format!("Bearer {KEY}"),
            "headers": {"authorization": format!("Bearer {KEY}")},
        })))
        .mount(&server)
        .await;
    let error = client(&server).models().list().await.unwrap_err();
    let shown = every_rendering(&error);
    assert!(matches!(error, Error::Decode(_)), "{shown}");
    assert_hidden(&shown, "a decode error");
    assert!(shown.contains(REDACTED), "{shown}");
}

/// A failing run with retries (429s, then a 401; a stream error; a refused connection), with
/// every `tracing` event and span of every crate captured at `TRACE`: the key is nowhere in
/// it, nor is the `Authorization` header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_output_of_a_failing_run_never_shows_the_key() {
    captured();
    let server = MockServer::start().await;
    Mock::given(path("/v1/models"))
        .respond_with(echo(429))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(path("/v1/models"))
        .respond_with(echo(401))
        .mount(&server)
        .await;
    Mock::given(path("/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(format!("data: {}\n\n", echo_body())),
        )
        .mount(&server)
        .await;
    let client = builder(format!("{}/v1", server.uri()))
        .policy(policy(4))
        .alert_after(2)
        .build()
        .unwrap();

    let error = client.models().list().await.unwrap_err();
    assert!(matches!(error, Error::Auth(_)), "{error:?}");
    // The stream's first event is an error object, of an auth type: not retried.
    let error = client
        .chat()
        .stream(ChatRequest::new("m").user("hi"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains(REDACTED), "{error}");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = builder(format!("http://127.0.0.1:{port}/v1"))
        .build()
        .unwrap();
    refused.models().list().await.unwrap_err();

    let logs = logs();
    // The capture saw this run: the client's events, the retry loop's, the streak alert,
    // and the HTTP stack's own (hyper-util's connector logs at DEBUG and TRACE).
    for expected in [
        "Together answered with an error",
        "status=429",
        "status=401",
        "retrying",
        "rate-limited responses (429) in a row",
        "error inside a stream",
        "connecting to 127.0.0.1",
    ] {
        assert!(logs.contains(expected), "no {expected:?} in:\n{logs}");
    }
    assert!(
        logs.contains(REDACTED),
        "the echoed error was logged scrubbed"
    );
    assert_hidden(&logs, "the TRACE output");
    assert!(!logs.to_ascii_lowercase().contains("bearer sk"), "{logs}");
}

/// `unwrap()` and `expect()` of a failed call panic with the error's `Debug`; a `panic!` of
/// its `Display`: neither carries the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_on_a_failed_call_does_not_show_the_key() {
    captured();
    let server = server_answering(401).await;
    let result = client(&server).models().list().await;
    let error = result.as_ref().unwrap_err().clone();

    let panics = [
        catch_unwind(AssertUnwindSafe(|| {
            result.clone().unwrap();
        })),
        catch_unwind(AssertUnwindSafe(|| {
            result.clone().expect("listing the models");
        })),
        catch_unwind(AssertUnwindSafe(|| panic!("the call failed: {error}"))),
        catch_unwind(AssertUnwindSafe(|| panic!("the call failed: {error:#?}"))),
        catch_unwind(AssertUnwindSafe(|| {
            Together::builder()
                .api_key(format!("{KEY}\n!"))
                .build()
                .unwrap();
        })),
    ];
    for outcome in panics {
        let message = panic_message(outcome.expect_err("it panics"));
        assert!(
            message.contains("Invalid API key provided") || message.contains("Config"),
            "{message}"
        );
        assert_hidden(&message, "a panic message");
    }
}
