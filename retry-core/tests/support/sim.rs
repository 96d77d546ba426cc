//! For the tests of the middleware (and of the other front ends through it): a rate-limited
//! server simulated in process, a scripted server, a counting layer, and a load driver.
//!
//! The server is the innermost middleware of the stack: it answers without touching the
//! network, on tokio's clock. With `start_paused` the whole run (limiter, retries, server) is
//! on virtual time: deterministic, and seconds of traffic take milliseconds. (wiremock runs
//! its server on a thread of its own with a real clock; a paused test clock jumps ahead while
//! it waits for such a server, which would break any test that measures a rate.)

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use reqwest::Request;
use reqwest_middleware::{ClientWithMiddleware, Middleware};
use retry_core::middleware::RateLimitMiddleware;
use tokio::time::Instant;

/// How a simulated server tells a client it is going too fast.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// A bare 429.
    None,
    /// `retry-after-ms`: the exact wait for the next free slot, in milliseconds.
    RetryAfterMs,
    /// `Retry-After` in whole seconds, rounded up (a 20 ms wait says `1`).
    RetryAfterSecs,
    /// `Retry-After` as an HTTP date, rounded up to the next whole second.
    RetryAfterDate,
    /// No hint on a 429, but Together's `x-ratelimit-limit` (the bucket's size),
    /// `-remaining` and `-reset` (time until full) on every response.
    RateLimitHeaders,
}

pub const DIALECTS: [Dialect; 5] = [
    Dialect::None,
    Dialect::RetryAfterMs,
    Dialect::RetryAfterSecs,
    Dialect::RetryAfterDate,
    Dialect::RateLimitHeaders,
];

/// A token bucket: `rate` requests per second, `burst` at once; 429 above.
#[derive(Clone)]
pub struct SimServer {
    rate: f64,
    burst: f64,
    dialect: Dialect,
    latency: Duration,
    state: Arc<Mutex<SimState>>,
}

struct SimState {
    tokens: f64,
    last: Option<Instant>,
    ok: u32,
    rejected: u32,
    /// When each request arrived and whether it was taken.
    log: Vec<(Instant, bool)>,
}

impl SimServer {
    pub fn new(rate: f64, burst: u32, dialect: Dialect) -> Self {
        SimServer {
            rate,
            burst: f64::from(burst),
            dialect,
            latency: Duration::from_millis(2),
            state: Arc::new(Mutex::new(SimState {
                tokens: f64::from(burst),
                last: None,
                ok: 0,
                rejected: 0,
                log: Vec::new(),
            })),
        }
    }

    /// Sets the time the server takes to answer (default 2 ms).
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    pub fn ok(&self) -> u32 {
        self.state.lock().unwrap().ok
    }

    pub fn rejected(&self) -> u32 {
        self.state.lock().unwrap().rejected
    }

    pub fn log(&self) -> Vec<(Instant, bool)> {
        self.state.lock().unwrap().log.clone()
    }

    /// Answers after the server's latency, deciding half-way through it.
    async fn serve(&self, _req: Request) -> http::Response<String> {
        tokio::time::sleep(self.latency / 2).await;
        let response = self.decide();
        tokio::time::sleep(self.latency / 2).await;
        response
    }

    fn decide(&self) -> http::Response<String> {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap();
        if let Some(last) = state.last {
            let refill = now.duration_since(last).as_secs_f64() * self.rate;
            state.tokens = (state.tokens + refill).min(self.burst);
        }
        state.last = Some(now);
        let taken = state.tokens >= 1.0;
        if taken {
            state.tokens -= 1.0;
            state.ok += 1;
        } else {
            state.rejected += 1;
        }
        state.log.push((now, taken));
        let tokens = state.tokens;
        drop(state);

        let mut response = http::Response::builder().status(if taken { 200 } else { 429 });
        let wait = ((1.0 - tokens) / self.rate).max(0.0);
        if self.dialect == Dialect::RateLimitHeaders {
            let until_full = (self.burst - tokens) / self.rate;
            response = response
                .header("x-ratelimit-limit", self.burst.to_string())
                .header("x-ratelimit-remaining", (tokens.floor() as u64).to_string())
                .header("x-ratelimit-reset", format!("{until_full:.3}"));
        }
        if !taken {
            response = match self.dialect {
                Dialect::None | Dialect::RateLimitHeaders => response,
                Dialect::RetryAfterMs => {
                    response.header("retry-after-ms", format!("{}", (wait * 1000.0).ceil()))
                }
                Dialect::RetryAfterSecs => {
                    response.header("retry-after", format!("{}", wait.ceil().max(1.0)))
                }
                Dialect::RetryAfterDate => {
                    // The wall clock, not tokio's: the client compares the date with it.
                    let at = SystemTime::now() + Duration::from_secs(wait.ceil().max(1.0) as u64);
                    response.header("retry-after", httpdate::fmt_http_date(at))
                }
            };
        }
        response.body(String::new()).unwrap()
    }
}

test_kit::innermost!(SimServer => serve);

/// What a load run measured.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    pub elapsed: Duration,
    pub succeeded: u32,
    pub failed: u32,
}

/// Sends `n` requests from `tasks` tasks through `client` to `url`, as fast as the stack lets
/// them go; returns when all are answered.
pub async fn load(client: &ClientWithMiddleware, url: &str, n: u32, tasks: u32) -> Run {
    let start = Instant::now();
    let issued = Arc::new(AtomicU32::new(0));
    let succeeded = Arc::new(AtomicU32::new(0));
    let failed = Arc::new(AtomicU32::new(0));
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (client, url) = (client.clone(), url.to_owned());
        let (issued, succeeded, failed) = (issued.clone(), succeeded.clone(), failed.clone());
        handles.push(tokio::spawn(async move {
            while issued.fetch_add(1, Ordering::Relaxed) < n {
                match client.get(&url).send().await {
                    Ok(r) if r.status().is_success() => succeeded.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    Run {
        elapsed: start.elapsed(),
        succeeded: succeeded.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
    }
}

/// A client whose innermost layer is `server` (a [`SimServer`], a [`Scripted`]...), behind
/// `layers` (outermost first).
pub fn client_with(
    layers: Vec<Arc<dyn Middleware>>,
    server: impl Middleware,
) -> ClientWithMiddleware {
    let mut builder = reqwest_middleware::ClientBuilder::new(reqwest::Client::new());
    for layer in layers {
        builder = builder.with_arc(layer);
    }
    builder.with(server).build()
}

/// A terminal middleware that answers with `respond(n)` for the `n`-th request (0-based) and
/// logs when each request arrived (tokio's clock) with its `x-id` header.
#[derive(Clone)]
pub struct Scripted {
    respond: Arc<dyn Fn(usize) -> http::Response<String> + Send + Sync>,
    log: Arc<Mutex<Vec<(Instant, String)>>>,
    latency: Duration,
}

impl Scripted {
    pub fn new(respond: impl Fn(usize) -> http::Response<String> + Send + Sync + 'static) -> Self {
        Scripted {
            respond: Arc::new(respond),
            log: Arc::default(),
            latency: Duration::from_millis(2),
        }
    }

    /// Answers the first request `status` with `headers`, and every later one a bare 200.
    pub fn once_then_ok(status: u16, headers: &'static [(&'static str, &'static str)]) -> Self {
        Scripted::new(move |n| match n {
            0 => respond(status, headers),
            _ => respond(200, &[]),
        })
    }

    /// (arrival, `x-id`) of every request so far.
    pub fn log(&self) -> Vec<(Instant, String)> {
        self.log.lock().unwrap().clone()
    }

    /// Logs the request's arrival and `x-id`, answers the next scripted response.
    async fn serve(&self, req: Request) -> http::Response<String> {
        tokio::time::sleep(self.latency / 2).await;
        let id = req
            .headers()
            .get("x-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let n = {
            let mut log = self.log.lock().unwrap();
            log.push((Instant::now(), id));
            log.len() - 1
        };
        let response = (self.respond)(n);
        tokio::time::sleep(self.latency / 2).await;
        response
    }
}

test_kit::innermost!(Scripted => serve);

/// A fixed quota of `n` requests a second to each host, not adaptive.
pub fn fixed_per_second(n: u32) -> RateLimitMiddleware {
    RateLimitMiddleware::builder()
        .per_second(n)
        .adaptive(false)
        .build()
}

/// A response with `status` and `headers`.
pub fn respond(status: u16, headers: &[(&str, &str)]) -> http::Response<String> {
    let mut builder = http::Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(String::new()).unwrap()
}

/// A plain reqwest client for tests against local servers: no idle-pool timer, which a paused
/// clock would otherwise jump to while a request waits on a socket.
pub fn reqwest_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(None)
        .build()
        .unwrap()
}
