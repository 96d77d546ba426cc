//! A local Together-compatible server (feature `sim`): rate limits, bursts, 429 hints in five
//! dialects, injected faults, and counters of what it saw. For examples, tests and
//! benchmarks; no key, no network.
//!
//! ```
//! use together_client::sim::{Fault, HintDialect, Simulator};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = Simulator::builder()
//!     .api_key("sim-key")
//!     .rate_per_second(50.0)
//!     .burst(5)
//!     .dialect(HintDialect::RetryAfterMs)
//!     .fault(Fault::Overloaded, 0.0)
//!     .seed(7)
//!     .start()
//!     .await?;
//!
//! let reply: serde_json::Value = reqwest::Client::new()
//!     .post(format!("{}/chat/completions", sim.base_url()))
//!     .bearer_auth(sim.api_key())
//!     .json(&serde_json::json!({
//!         "model": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
//!         "messages": [{"role": "user", "content": "Hello there"}],
//!     }))
//!     .send()
//!     .await?
//!     .error_for_status()?
//!     .json()
//!     .await?;
//! assert_eq!(reply["choices"][0]["message"]["content"], "Echo: Hello there");
//!
//! let stats = sim.stats();
//! assert_eq!((stats.requests, stats.successes), (1, 1));
//! assert_eq!(stats.successes_for("Hello there"), 1);
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Endpoints
//! Under [`Simulator::base_url`] (`http://127.0.0.1:PORT/v1`), shaped as in Together's
//! OpenAPI spec, deterministic and cheap (a "token" is a word):
//! - `POST /chat/completions`: the answer is `"Echo: "` and the last user message, cut at
//!   `max_tokens` words (`finish_reason: "length"`). With `"stream": true`, server-sent
//!   events: one `data: {chat.completion.chunk}` per word (the last with `finish_reason` and
//!   `usage`), then `data: [DONE]`.
//! - `POST /completions`: the same for `prompt`, streamed as `completion.chunk`s on request.
//! - `POST /embeddings`: a unit vector per input, of `dimensions` (default 768), from a hash.
//! - `GET /models`: a bare JSON array of four models (any model name is accepted anyway).
//! - `POST /rerank`: documents scored by the share of the query's words they contain.
//!
//! Every answer carries `x-request-id`. Errors have Together's body,
//! `{"error": {"message", "type", "param", "code"}}`: 401 `invalid_api_key` for a wrong or
//! missing bearer key, 400 for a bad body, 403 when prompt plus `max_tokens` exceed the
//! [context window](SimulatorBuilder::context_window), 404 for an unknown path.
//!
//! # Limits
//! A token bucket on tokio's clock (a paused test clock drives it): it holds
//! [`burst`](SimulatorBuilder::burst) requests, starts full and refills
//! [`rate_per_second`](SimulatorBuilder::rate_per_second). A request takes one or gets a 429
//! of type `dynamic_request_limited`, with the [`HintDialect`]'s hint; the values are exactly
//! those of `retry-core`'s test server. The rate may move while it runs: in
//! [steps](SimulatorBuilder::limit_steps) at set times, or [with the client's
//! use](SimulatorBuilder::limit_growth), rising after each second the client used most of it
//! and halving at load spikes. Optionally a token limit (`x-tokenlimit-*`, 429
//! `dynamic_token_limited`) and a credit balance (429 `credit_limit` once spent, for good).
//! 401, 400 and 403 answers spend nothing.
//!
//! # Faults
//! [`Fault`]s, each with a probability drawn from a seeded generator
//! ([`SimulatorBuilder::seed`]) or for the next `n` requests: 503 overloaded, 500, any other
//! status, a dropped connection, a request completed and then dropped before its answer, a
//! stream cut after some chunks, an `error` object inside a stream, extra latency. A dropped connection is real: each connection is served by the
//! simulator's own accept loop (hyper's HTTP/1 connection in a task of its own); the handler
//! signals that task, which drops the connection, closing the socket before any byte of a
//! response is written. Faults never count as successes.
//!
//! # Counters
//! [`Simulator::stats`] returns a [`Stats`] snapshot at any time: requests, successes, 429s,
//! 503s, 500s, drops, broken streams, successes per prompt (so a test can check that no
//! request completed twice), completions whose answer was dropped, per prompt (so a test can
//! tell the duplicate a retry makes after such a drop from a real one) and a time series of [`Event`]s (time since start, status,
//! [`Outcome`]) for plots.
//!
//! # Tests on paused time
//! The limiter, latency and stream delays run on tokio's clock, so a
//! `#[tokio::test(start_paused = true)]` test is deterministic and fast. Build its client
//! without timers of its own (`reqwest::Client::builder().pool_idle_timeout(None)`): a
//! paused clock jumps to the next timer whenever the runtime idles, even while a request is on
//! the loopback socket.

mod bucket;
mod config;
mod decide;
mod faults;
mod growth;
mod handlers;
mod headers;
mod latency;
mod limiter;
mod request;
mod responses;
mod scenario;
mod sse;
mod stats;

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::service::Service as _;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};
use tokio::task::{JoinHandle, JoinSet};

pub use config::{HintDialect, SimulatorBuilder};
pub use faults::Fault;
pub use growth::LimitGrowth;
pub use headers::{LimitHeaders, LimitMeans, Meaning, RemainingMeans, ResetMeans};
pub use latency::Latency;
pub use scenario::{Scenario, ScenarioKind};
pub use stats::{Event, Outcome, Stats};

use faults::{Faults, Trigger};
use handlers::{Shared, lock};
use headers::Reporter;
use limiter::Limiter;
use stats::Recorder;

/// A running simulator. It serves until [`shutdown`](Self::shutdown) or until dropped.
pub struct Simulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Simulator {
    /// A builder with the defaults: key `"sim-key"`, no rate limit,
    /// [`HintDialect::RateLimitHeaders`], no latency, no faults, seed 0.
    pub fn builder() -> SimulatorBuilder {
        SimulatorBuilder::default()
    }

    /// Starts a simulator with the defaults (see [`builder`](Self::builder)).
    pub async fn start() -> io::Result<Simulator> {
        Simulator::builder().start().await
    }

    pub(crate) async fn launch(config: SimulatorBuilder) -> io::Result<Simulator> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port)).await?;
        let addr = listener.local_addr()?;
        let burst = config.effective_burst();
        let limiter = |rate: Option<f64>, credits: Option<u64>| {
            let mut limiter = Limiter::new(rate, burst, config.token_limit, credits);
            match config.window {
                Some(window) if config.sliding => limiter.sliding_log(window),
                Some(window) => limiter.fixed_window(window),
                None => {}
            }
            limiter
        };
        let mut default = limiter(config.rate, config.credits);
        default.set_steps(&config.limit_steps);
        if let Some(rule) = &config.limit_growth {
            default.grow(rule.clone());
        }
        if let Some((count, window)) = config.longer_log {
            default.longer_log(count, window);
        }
        if config.fixed_minute {
            default.fixed_minute();
        }
        let model_limiters = (config.model_limits.iter())
            .map(|(model, rate)| (model.clone(), Mutex::new(limiter(Some(*rate), None))))
            .collect();
        let shared = Arc::new(Shared {
            limiter: Mutex::new(default),
            model_limiters,
            faults: Mutex::new(Faults::new(config.faults, config.seed)),
            recorder: Arc::new(Recorder::new()),
            next_id: AtomicU64::new(0),
            api_key: config.api_key,
            dialect: config.dialect,
            overloaded_refusals: config.overloaded_refusals,
            concurrency: config.concurrency,
            in_service: AtomicU32::new(0),
            reporter: Reporter::new(config.limit_headers, config.dialect, config.dynamic_headers),
            latency: config.latency,
            inbound: config.inbound,
            generation: config.generation,
            refusal_delay: config.refusal_delay,
            chunk_delay: config.chunk_delay,
            context_window: config.context_window,
        });
        let (stop, stopped) = oneshot::channel();
        let router = handlers::router(Arc::clone(&shared));
        let task = tokio::spawn(serve(listener, router, stopped));
        Ok(Simulator {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The base URL to give a client: `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The key it accepts.
    pub fn api_key(&self) -> &str {
        &self.shared.api_key
    }

    /// A snapshot of the counters, readable while it runs.
    pub fn stats(&self) -> Stats {
        self.shared.recorder.snapshot()
    }

    /// Zeroes the counters and the time series (the time origin stays the start).
    pub fn reset_stats(&self) {
        self.shared.recorder.reset();
    }

    /// Changes the request limit while running (a dynamic limit moving); `None` lifts it. The
    /// bucket keeps what it holds, up to the new burst.
    ///
    /// # Panics
    /// If `rate` is not finite and positive, or `burst` is 0.
    pub fn set_rate_limit(&self, rate: Option<f64>, burst: u32) {
        assert!(
            rate.is_none_or(|r| r.is_finite() && r > 0.0),
            "bad rate {rate:?}"
        );
        assert!(burst > 0, "burst must be at least 1");
        lock(&self.shared.limiter).set_rate(rate, burst);
    }

    /// Injects `fault` into the next `n` requests it applies to.
    pub fn inject(&self, fault: Fault, n: u64) {
        lock(&self.shared.faults).add(fault, Trigger::Times(n));
    }

    /// Removes every fault, configured or injected.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Stops accepting and closes every connection (requests in flight are cut), then
    /// returns. Dropping the simulator does the same without waiting.
    pub async fn shutdown(mut self) {
        drop(self.stop.take());
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        // The accept loop sees the channel close, and drops every connection.
        drop(self.stop.take());
    }
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("base_url", &self.base_url())
            .field("dialect", &self.shared.dialect)
            .finish_non_exhaustive()
    }
}

/// A handle on the connection a request came on, in the request's extensions: `cut` closes
/// it with no response.
#[derive(Clone, Debug)]
pub(crate) struct Conn(Arc<Notify>);

impl Conn {
    pub(crate) fn cut(&self) {
        self.0.notify_one();
    }
}

/// The accept loop: one task per connection, all dropped when `stop` fires or closes.
async fn serve(listener: TcpListener, router: axum::Router, mut stop: oneshot::Receiver<()>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(stream, router.clone()));
                }
                // Out of file descriptors, say: let some connections end first.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

/// Serves one connection until it ends or a handler cuts it. Cutting drops hyper's
/// connection future, and with it the socket: the client reads the end of the stream where
/// it expected a status line.
async fn connection(stream: TcpStream, router: axum::Router) {
    let _ = stream.set_nodelay(true);
    let cut = Arc::new(Notify::new());
    let conn = Conn(Arc::clone(&cut));
    let service = TowerToHyperService::new(router);
    let handler = hyper::service::service_fn(move |mut request: http::Request<_>| {
        request.extensions_mut().insert(conn.clone());
        service.call(request)
    });
    let served =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), handler);
    tokio::select! {
        _ = served => {}
        () = cut.notified() => {}
    }
}
