//! Backoff strategies: how long to wait before the n-th retry, before jitter and the cap.
//!
//! One file per strategy, each a pure function of the retry number (1 for the first retry),
//! so every formula can be read and tested on its own. [`Policy`](crate::Policy) picks one
//! with [`Backoff`], then applies [`Jitter`](crate::Jitter) and caps the result at
//! `max_delay`.

mod constant;
mod decorrelated;
mod exponential;
mod fibonacci;
mod linear;

use std::time::Duration;

/// Which backoff formula a [`Policy`](crate::Policy) uses. `n` is the retry number, 1 for the
/// first retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Backoff {
    /// `initial * factor^(n-1)`: 500 ms, 1 s, 2 s, 4 s… with the defaults.
    #[default]
    Exponential,
    /// `initial` every time.
    Constant,
    /// `initial * n`: 500 ms, 1 s, 1.5 s, 2 s…
    Linear,
    /// `initial * fib(n)`, with fib = 1, 1, 2, 3, 5, 8…
    Fibonacci,
    /// AWS's "decorrelated jitter": `min(max_delay, rand(initial, previous * 3))`.
    ///
    /// It is random by construction, so the policy's [`Jitter`](crate::Jitter) is not applied
    /// on top of it.
    Decorrelated,
}

impl Backoff {
    /// The name used by `#[retry(backoff = "...")]`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Backoff::Exponential => "exponential",
            Backoff::Constant => "constant",
            Backoff::Linear => "linear",
            Backoff::Fibonacci => "fibonacci",
            Backoff::Decorrelated => "decorrelated",
        }
    }
}

/// The inputs every formula may use, in nanoseconds as `f64` so that no product can overflow:
/// values past `u64::MAX` ns saturate when turned back into a [`Duration`].
pub(crate) struct Inputs {
    pub initial: f64,
    pub max: f64,
    pub factor: f64,
    /// The delay slept before the previous retry (decorrelated jitter feeds on it).
    pub previous: f64,
}

/// The un-jittered, un-capped delay before retry `n` (1-based), in nanoseconds.
/// For [`Backoff::Decorrelated`], already random and capped.
pub(crate) fn base_nanos(kind: Backoff, n: u32, inputs: &Inputs, rng: &mut fastrand::Rng) -> f64 {
    match kind {
        Backoff::Exponential => exponential::nanos(inputs.initial, inputs.factor, n),
        Backoff::Constant => constant::nanos(inputs.initial),
        Backoff::Linear => linear::nanos(inputs.initial, n),
        Backoff::Fibonacci => fibonacci::nanos(inputs.initial, n),
        Backoff::Decorrelated => {
            decorrelated::nanos(inputs.initial, inputs.previous, inputs.max, rng)
        }
    }
}

/// Nanoseconds as `f64` to a [`Duration`], saturating; NaN and negatives become zero.
pub(crate) fn to_duration(nanos: f64) -> Duration {
    // `as` saturates (and maps NaN to 0), which is exactly the clamp wanted here.
    Duration::from_nanos(nanos as u64)
}

/// A [`Duration`] as nanoseconds in `f64`.
pub(crate) fn to_nanos(d: Duration) -> f64 {
    d.as_nanos() as f64
}
