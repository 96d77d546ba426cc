//! Fibonacci backoff: `initial * fib(n)` with fib = 1, 1, 2, 3, 5, 8…
//!
//! Grows slower than doubling: a gentler curve for servers that recover gradually.

/// The delay before retry `n` (1-based), in nanoseconds, before jitter and cap.
pub(super) fn nanos(initial: f64, n: u32) -> f64 {
    initial * fib(n)
}

/// fib(1) = fib(2) = 1. Computed in `f64`: past fib(1476) it is infinite, which the caller
/// saturates, and the loop stops there, so even `u32::MAX` costs at most 1 476 steps.
fn fib(n: u32) -> f64 {
    let (mut a, mut b) = (0.0_f64, 1.0_f64);
    for _ in 1..n {
        (a, b) = (b, a + b);
        if b.is_infinite() {
            break;
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::{fib, nanos};

    #[test]
    fn follows_the_sequence() {
        let got: Vec<f64> = (1..=8).map(fib).collect();
        assert_eq!(got, [1.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0]);
        assert_eq!(nanos(100.0, 6), 800.0);
    }

    #[test]
    fn saturates_instead_of_overflowing() {
        assert!(fib(u32::MAX).is_infinite());
        assert_eq!(fib(0), 1.0);
    }
}
