//! Decorrelated jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"):
//! `min(max, rand(initial, previous * 3))`.
//!
//! Each delay depends on the previous one, so concurrent clients that failed together drift
//! apart quickly. `previous` starts at `initial`.

/// The delay before the next retry, in nanoseconds, already random and capped at `max`.
pub(super) fn nanos(initial: f64, previous: f64, max: f64, rng: &mut fastrand::Rng) -> f64 {
    let low = initial;
    let high = (previous.max(initial) * 3.0).max(low);
    let drawn = low + (high - low) * rng.f64();
    drawn.min(max)
}

#[cfg(test)]
mod tests {
    use super::nanos;

    #[test]
    fn stays_between_initial_and_three_times_previous_and_under_max() {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut previous = 100.0;
        for _ in 0..10_000 {
            let d = nanos(100.0, previous, 5_000.0, &mut rng);
            assert!(
                d >= 100.0 && d <= (previous * 3.0).min(5_000.0),
                "{d} after {previous}"
            );
            previous = d;
        }
    }

    #[test]
    fn initial_above_max_is_capped() {
        let mut rng = fastrand::Rng::with_seed(1);
        assert_eq!(nanos(10.0, 10.0, 5.0, &mut rng), 5.0);
    }
}
