//! Constant backoff: `initial` before every retry.

/// The delay before any retry, in nanoseconds, before jitter and cap.
pub(super) fn nanos(initial: f64) -> f64 {
    initial
}

#[cfg(test)]
mod tests {
    #[test]
    fn is_initial() {
        assert_eq!(super::nanos(250.0), 250.0);
    }
}
