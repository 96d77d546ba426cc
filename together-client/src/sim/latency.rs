//! How long things take in the simulator: [`Latency`], a fixed or uniform time drawn per
//! request (the round trip, the generation, the refusal delay).

use std::time::Duration;

/// Time the simulator takes to answer. By default half of it passes before the request meets the
/// limiter, half after (as if it were the network's round trip), on tokio's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Latency {
    /// Always this long.
    Fixed(Duration),
    /// Uniformly distributed in `[min, max]`, drawn from the seeded generator.
    Uniform {
        /// Shortest.
        min: Duration,
        /// Longest.
        max: Duration,
    },
}

impl Latency {
    /// No latency: the default.
    pub const ZERO: Latency = Latency::Fixed(Duration::ZERO);

    /// Uniformly distributed between `a` and `b` (in either order); [`Latency::Fixed`] when
    /// they are equal, which draws nothing from the seeded generator.
    pub fn uniform(a: Duration, b: Duration) -> Latency {
        if a == b {
            return Latency::Fixed(a);
        }
        Latency::Uniform {
            min: a.min(b),
            max: a.max(b),
        }
    }

    pub(crate) fn sample(self, rng: &mut fastrand::Rng) -> Duration {
        match self {
            Latency::Fixed(d) => d,
            Latency::Uniform { min, max } => {
                let span = (max - min).as_nanos().min(u128::from(u64::MAX)) as u64;
                min + Duration::from_nanos(rng.u64(0..=span))
            }
        }
    }
}

impl Default for Latency {
    fn default() -> Self {
        Latency::ZERO
    }
}

impl From<Duration> for Latency {
    fn from(d: Duration) -> Self {
        Latency::Fixed(d)
    }
}
