//! Jitter: randomness added to a delay so that clients that failed together do not retry
//! together.

use std::fmt;

/// How a computed delay is randomised. Jitter is applied first, then the result is capped at
/// the policy's `max_delay`, so a delay never exceeds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Jitter {
    /// The delay as computed.
    None,
    /// A uniform draw in `[0, delay)`: the best spread, and the default.
    #[default]
    Full,
    /// `delay / 2` plus a uniform draw in `[0, delay / 2)`: never shorter than half the delay.
    Equal,
}

impl Jitter {
    /// The name used by `#[retry(jitter = "...")]`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Jitter::None => "none",
            Jitter::Full => "full",
            Jitter::Equal => "equal",
        }
    }

    /// `nanos` randomised by this jitter.
    pub(crate) fn apply(self, nanos: f64, rng: &mut fastrand::Rng) -> f64 {
        match self {
            Jitter::None => nanos,
            Jitter::Full => nanos * rng.f64(),
            Jitter::Equal => nanos / 2.0 + nanos / 2.0 * rng.f64(),
        }
    }
}

impl fmt::Display for Jitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Jitter;

    #[test]
    fn bounds_hold_across_draws() {
        let mut rng = fastrand::Rng::with_seed(42);
        for _ in 0..10_000 {
            assert_eq!(Jitter::None.apply(1000.0, &mut rng), 1000.0);
            let full = Jitter::Full.apply(1000.0, &mut rng);
            assert!((0.0..1000.0).contains(&full));
            let equal = Jitter::Equal.apply(1000.0, &mut rng);
            assert!((500.0..1000.0).contains(&equal));
        }
    }
}
