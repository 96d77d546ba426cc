//! Linear backoff: `initial * n`.

/// The delay before retry `n` (1-based), in nanoseconds, before jitter and cap.
pub(super) fn nanos(initial: f64, n: u32) -> f64 {
    initial * f64::from(n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn grows_by_initial() {
        let got: Vec<f64> = (1..=4).map(|n| super::nanos(500.0, n)).collect();
        assert_eq!(got, [500.0, 1000.0, 1500.0, 2000.0]);
    }
}
