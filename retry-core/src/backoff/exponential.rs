//! Exponential backoff: `initial * factor^(n-1)`.
//!
//! Not `factor^n` (tokio-retry's reading): the first retry waits exactly `initial`.

/// The delay before retry `n` (1-based), in nanoseconds, before jitter and cap.
pub(super) fn nanos(initial: f64, factor: f64, n: u32) -> f64 {
    // `powi` takes an i32; retry numbers past i32::MAX are saturated there, long after the
    // product has reached infinity (which `to_duration` saturates).
    let exponent = i32::try_from(n.saturating_sub(1)).unwrap_or(i32::MAX);
    initial * factor.powi(exponent)
}

#[cfg(test)]
mod tests {
    use super::nanos;

    #[test]
    fn doubles_from_initial() {
        let got: Vec<f64> = (1..=5).map(|n| nanos(500.0, 2.0, n)).collect();
        assert_eq!(got, [500.0, 1000.0, 2000.0, 4000.0, 8000.0]);
    }

    #[test]
    fn factor_one_is_constant_and_huge_n_is_infinite_not_a_panic() {
        assert_eq!(nanos(7.0, 1.0, 1000), 7.0);
        assert!(nanos(1.0, 2.0, u32::MAX).is_infinite());
    }
}
