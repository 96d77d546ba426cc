//! Shared by the client's tests: bodies shaped like Together's (from its OpenAPI spec), a
//! wiremock-backed client, an in-process server for virtual-time tests, captured tracing.
#![allow(dead_code)]

use std::io::Write;
use std::ops::Deref;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use reqwest::Request;
use reqwest_middleware::{ClientWithMiddleware, Middleware};
use retry_core::middleware::RateLimitMiddleware;
use retry_core::{Jitter, Policy};
use serde_json::{Value, json};
use together_client::{Together, TogetherBuilder};
use tokio::time::Instant;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

pub const KEY: &str = "sk-test-0123456789abcdef";

/// A policy for tests: `attempts`, 1 ms exponential steps without jitter, a 30 s deadline.
pub fn fast(attempts: u32) -> Policy {
    Policy::exponential()
        .attempts(attempts)
        .initial(Duration::from_millis(1))
        .max_delay(Duration::from_millis(20))
        .jitter(Jitter::None)
        .deadline(Duration::from_secs(30))
}

/// A builder for `server`, with a fast policy and a limiter that starts fast.
pub fn builder(server: &MockServer) -> TogetherBuilder {
    Together::builder()
        .api_key(KEY)
        .base_url(format!("{}/v1", server.uri()))
        .policy(fast(3))
        .rate_limit(RateLimitMiddleware::builder().initial_rate(1000.0).build())
}

pub fn client(server: &MockServer) -> Together {
    builder(server).build().unwrap()
}

/// A mock of `POST /v1/chat/completions`, the endpoint most tests script.
pub fn on_chat() -> MockBuilder {
    Mock::given(method("POST")).and(path("/v1/chat/completions"))
}

/// Together's 429 with `retry-after-ms: ms`, answered once, ahead of every other mock.
pub fn throttled_once(ms: &str) -> Mock {
    on_chat()
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after-ms", ms)
                .set_body_json(error_body("slow down", "dynamic_request_limited", None)),
        )
        .up_to_n_times(1)
        .with_priority(1)
}

/// `ChatCompletionResponse` as the spec has it.
pub fn chat_body(text: &str) -> Value {
    json!({
        "id": "8c5c1a5c0f1f3e2a",
        "object": "chat.completion",
        "created": 1_700_000_000u64,
        "model": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "prompt": [],
        "choices": [{
            "index": 0,
            "seed": 42,
            "finish_reason": "stop",
            "logprobs": null,
            "message": {"role": "assistant", "content": text, "tool_calls": []}
        }],
        "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
        "warnings": [{"message": "a field from tomorrow"}]
    })
}

/// Together's error body.
pub fn error_body(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({
        "id": "err-req-1",
        "error": {"message": message, "type": kind, "param": null, "code": code}
    })
}

/// One `ChatCompletionChunk` as an SSE event.
pub fn sse_chunk(text: &str) -> String {
    let chunk = json!({
        "id": "chunk-1",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000u64,
        "model": "m",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": null}]
    });
    format!("data: {chunk}\n\n")
}

pub const SSE_DONE: &str = "data: [DONE]\n\n";

/// An in-process server: the innermost middleware of a stack, answering without the network,
/// on tokio's clock, so a paused test clock runs the whole exchange on virtual time.
#[derive(Clone)]
pub struct Scripted {
    answer: Arc<dyn Fn(usize) -> http::Response<String> + Send + Sync>,
    log: Arc<Mutex<Vec<Instant>>>,
}

impl Scripted {
    pub fn new(answer: impl Fn(usize) -> http::Response<String> + Send + Sync + 'static) -> Self {
        Scripted {
            answer: Arc::new(answer),
            log: Arc::default(),
        }
    }

    /// When each request arrived.
    pub fn arrivals(&self) -> Vec<Instant> {
        self.log.lock().unwrap().clone()
    }

    pub fn requests(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// Logs the request's arrival, answers the next scripted response 1 ms later.
    async fn serve(&self, _req: Request) -> http::Response<String> {
        let n = {
            let mut log = self.log.lock().unwrap();
            log.push(Instant::now());
            log.len() - 1
        };
        tokio::time::sleep(Duration::from_millis(1)).await;
        (self.answer)(n)
    }

    /// A client whose stack is `layers` (outermost first), then this server.
    pub fn client(&self, layers: Vec<Arc<dyn Middleware>>, policy: Policy) -> Together {
        let mut stack = reqwest_middleware::ClientBuilder::new(reqwest::Client::new());
        for layer in layers {
            stack = stack.with_arc(layer);
        }
        let stack: ClientWithMiddleware = stack.with(self.clone()).build();
        Together::builder()
            .api_key(KEY)
            .base_url("http://127.0.0.1:9/v1")
            .policy(policy)
            .http_client(stack)
            .build()
            .unwrap()
    }
}

test_kit::innermost!(Scripted => serve);

/// A response of `status` with `headers` and a JSON `body`.
pub fn respond(status: u16, headers: &[(&str, &str)], body: &Value) -> http::Response<String> {
    let mut response = http::Response::builder()
        .status(status)
        .header("content-type", "application/json");
    for (name, value) in headers {
        response = response.header(*name, *value);
    }
    response.body(body.to_string()).unwrap()
}

/// Everything `tracing` writes (every level) on this thread while the guard lives.
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn new() -> (Captured, tracing::subscriber::DefaultGuard) {
        // With exactly one dispatcher alive, `tracing` decides whether a call site is wanted
        // by asking the dispatcher of the thread that reaches it first: a test on another
        // thread, with no subscriber, would cache "no one listens" while this one captures
        // (with many tests in one binary, seen as captured text missing lines). A second
        // dispatcher, alive for the whole process and wanting nothing, makes `tracing` ask
        // every live dispatcher instead.
        static WITNESS: OnceLock<tracing::Dispatch> = OnceLock::new();
        WITNESS.get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::new()));
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Sink(writer.clone()))
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (Captured(buffer), guard)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// A `tracing` writer appending to a shared buffer (an `Arc` or a `&'static` mutex).
pub struct Sink<B>(pub B);

impl<B: Deref<Target = Mutex<Vec<u8>>>> Write for Sink<B> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
