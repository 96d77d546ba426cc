//! [`CircuitBreaker`]: stop calling a server that keeps failing, then let one probe find out
//! whether it is back.

mod open;
mod permit;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::class::Class;
use crate::window::Window;

pub use open::CircuitOpen;
pub use permit::Permit;

/// A circuit breaker: after too many transient failures it fails calls at once, for a
/// cool-off, instead of sending them to a server that is down; then it lets exactly one probe
/// through, and that probe's outcome closes it again or starts another cool-off.
///
/// Retries help with a blip; against an outage they only add load and make every caller wait
/// its whole deadline. A breaker turns an outage into fast, typed errors ([`CircuitOpen`]) that
/// a caller can act on (fall back, shed work, report), and gives the server room to recover.
///
/// - **Closed** (the start): calls go. It opens after
///   [`consecutive_failures`](CircuitBreakerBuilder::consecutive_failures) failures in a row
///   (default 5), or when at least [`min_calls`](CircuitBreakerBuilder::min_calls) calls
///   (default 20) of the last [`window`](CircuitBreakerBuilder::window) (default 10 s) failed
///   at [`failure_percent`](CircuitBreakerBuilder::failure_percent) or more (default 50 %).
/// - **Open**: every call fails at once with [`CircuitOpen`] until the
///   [`cool_off`](CircuitBreakerBuilder::cool_off) (default 10 s) has passed.
/// - **Half-open**: the first call after the cool-off is the probe; the others fail at once
///   while it runs. Its success closes the breaker (with fresh counts); its failure opens it
///   for another cool-off. A probe dropped before its outcome frees the place for the next
///   call.
///
/// What a failure is belongs to the caller, who resolves each [`Permit`]: the middleware
/// ([`CircuitBreakerMiddleware`](crate::middleware::CircuitBreakerMiddleware)) counts 5xx
/// answers (but 501 and 505), timeouts and dropped connections, and neither a 429 (a server
/// that limits is up) nor another 4xx. Clones share one state; time is tokio's clock.
///
/// ```
/// use std::time::Duration;
/// use retry_core::CircuitBreaker;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let breaker = CircuitBreaker::builder()
///     .consecutive_failures(2)
///     .cool_off(Duration::from_secs(5))
///     .build();
///
/// breaker.permit().unwrap().failure();
/// breaker.permit().unwrap().failure();
/// let open = breaker.permit().unwrap_err();
/// assert_eq!(open.retry_in(), Duration::from_secs(5));
///
/// tokio::time::advance(Duration::from_secs(5)).await;
/// let probe = breaker.permit().unwrap();
/// assert!(probe.is_probe());
/// assert!(breaker.permit().is_err(), "one probe at a time");
/// probe.success();
/// assert!(breaker.permit().is_ok());
/// # }
/// ```
#[derive(Clone, Default)]
pub struct CircuitBreaker {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    config: Config,
    state: Mutex<State>,
}

/// What a breaker is set to; see [`CircuitBreakerBuilder`].
#[derive(Clone, Copy, Debug, PartialEq)]
struct Config {
    consecutive: u32,
    percent: u32,
    min_calls: u32,
    window: Duration,
    cool_off: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            consecutive: 5,
            percent: 50,
            min_calls: 20,
            window: Duration::from_secs(10),
            cool_off: Duration::from_secs(10),
        }
    }
}

/// Where a breaker is, as [`CircuitBreaker::state`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakerState {
    /// Calls go.
    Closed,
    /// Calls fail at once for this much longer.
    Open {
        /// Time left in the cool-off.
        retry_in: Duration,
    },
    /// The cool-off is over; the next call (or the one in flight) is the probe.
    HalfOpen,
}

#[derive(Debug, Default)]
struct State {
    mode: Mode,
    /// Failures in a row while closed.
    consecutive: u32,
    /// Calls (counter 0) and failures (counter 1) while closed.
    counts: Window<2>,
    /// Bumped at every change of mode: a permit taken before it has nothing more to say.
    generation: u64,
}

const CALLS: usize = 0;
const FAILURES: usize = 1;

#[derive(Clone, Copy, Debug, Default, PartialEq)]
enum Mode {
    #[default]
    Closed,
    Open {
        until: Instant,
    },
    /// The cool-off is over; `probing` while the probe is out.
    HalfOpen {
        probing: bool,
    },
}

impl CircuitBreaker {
    /// A breaker with the defaults: 5 failures in a row, or half of at least 20 calls in
    /// 10 s, open it for 10 s.
    pub fn new() -> Self {
        CircuitBreaker::default()
    }

    /// A builder for the thresholds and the cool-off.
    pub fn builder() -> CircuitBreakerBuilder {
        CircuitBreakerBuilder::default()
    }

    /// Asks to make a call: a [`Permit`] to resolve with its outcome, or [`CircuitOpen`] when
    /// the call should fail at once.
    pub fn permit(&self) -> Result<Permit, CircuitOpen> {
        let mut state = self.lock();
        let probe = match state.mode {
            Mode::Closed => false,
            Mode::Open { until } => {
                let now = Instant::now();
                if now < until {
                    return Err(CircuitOpen::cooling(until - now));
                }
                state.enter(Mode::HalfOpen { probing: true });
                true
            }
            Mode::HalfOpen { probing: true } => return Err(CircuitOpen::probing()),
            Mode::HalfOpen { probing: false } => {
                state.mode = Mode::HalfOpen { probing: true };
                true
            }
        };
        Ok(Permit::new(self.clone(), state.generation, probe))
    }

    /// Whether a failure of this class counts against the server: overloaded, server error,
    /// timeout, connect. A 429 does not (a server that limits is up), nor does a permanent
    /// failure (the request was wrong, not the server).
    pub const fn is_failure(class: Class) -> bool {
        matches!(
            class,
            Class::Overloaded | Class::ServerError | Class::Timeout | Class::Connect
        )
    }

    /// Where the breaker is now.
    pub fn state(&self) -> BreakerState {
        match self.lock().mode {
            Mode::Closed => BreakerState::Closed,
            Mode::Open { until } => {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    BreakerState::HalfOpen
                } else {
                    BreakerState::Open { retry_in: left }
                }
            }
            Mode::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Records a permit's outcome (`None`: dropped without one).
    fn resolve(&self, generation: u64, probe: bool, failed: Option<bool>) {
        let config = self.shared.config;
        let mut state = self.lock();
        if state.generation != generation {
            // Taken before the last change of mode: the probe alone decides a half-open
            // breaker, and a call that was in flight when it opened adds nothing.
            return;
        }
        match (probe, failed) {
            (true, None) => state.mode = Mode::HalfOpen { probing: false },
            (true, Some(false)) => {
                state.enter(Mode::Closed);
                tracing::info!(target: "retry", "circuit breaker closed: the probe succeeded");
            }
            (true, Some(true)) => state.open(config.cool_off, "the probe failed"),
            (false, None) => {}
            (false, Some(false)) => {
                state.consecutive = 0;
                state.counts.add(config.window, CALLS);
            }
            (false, Some(true)) => {
                state.consecutive += 1;
                state.counts.add(config.window, CALLS);
                state.counts.add(config.window, FAILURES);
                let [calls, failures] = state.counts.totals(config.window);
                if state.consecutive >= config.consecutive {
                    state.open(config.cool_off, "consecutive failures");
                } else if calls >= u64::from(config.min_calls)
                    && failures * 100 >= calls * u64::from(config.percent)
                {
                    state.open(config.cool_off, "failure ratio");
                }
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves the state whole: a panic elsewhere cannot corrupt it.
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn enter(&mut self, mode: Mode) {
        self.mode = mode;
        self.generation += 1;
        self.consecutive = 0;
        self.counts.clear();
    }

    fn open(&mut self, cool_off: Duration, why: &'static str) {
        self.enter(Mode::Open {
            until: Instant::now() + cool_off,
        });
        tracing::warn!(target: "retry", reason = why, cool_off_ms = cool_off.as_millis() as u64, "circuit breaker opened: failing calls at once");
        metrics::counter!("retry_circuit_opened_total", "reason" => why).increment(1);
    }
}

impl From<CircuitBreakerBuilder> for CircuitBreaker {
    fn from(builder: CircuitBreakerBuilder) -> Self {
        builder.build()
    }
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("state", &self.state())
            .field("config", &self.shared.config)
            .finish()
    }
}

/// Builds a [`CircuitBreaker`]; from [`CircuitBreaker::builder`].
#[derive(Clone, Copy, Debug, Default)]
#[must_use]
pub struct CircuitBreakerBuilder {
    config: Config,
}

impl CircuitBreakerBuilder {
    /// Opens after this many failures in a row (default 5; 0 is taken as 1).
    pub fn consecutive_failures(mut self, n: u32) -> Self {
        self.config.consecutive = n.max(1);
        self
    }

    /// Opens when this percentage of the window's calls failed (default 50; above 100 turns
    /// the ratio off, leaving the consecutive count).
    pub fn failure_percent(mut self, percent: u32) -> Self {
        self.config.percent = percent;
        if percent > 100 {
            self.config.min_calls = u32::MAX;
        }
        self
    }

    /// The ratio counts only once the window holds this many calls (default 20; at least 1).
    pub fn min_calls(mut self, n: u32) -> Self {
        if self.config.percent <= 100 {
            self.config.min_calls = n.max(1);
        }
        self
    }

    /// How far back the ratio looks (default 10 s; at least 10 ms).
    pub fn window(mut self, window: Duration) -> Self {
        self.config.window = window.max(Duration::from_millis(10));
        self
    }

    /// How long an open breaker fails calls before it lets a probe through (default 10 s).
    pub fn cool_off(mut self, cool_off: Duration) -> Self {
        self.config.cool_off = cool_off;
        self
    }

    /// The breaker, closed.
    pub fn build(self) -> CircuitBreaker {
        CircuitBreaker {
            shared: Arc::new(Shared {
                config: self.config,
                state: Mutex::default(),
            }),
        }
    }
}
