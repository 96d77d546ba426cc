//! Sleeping between attempts.

use std::time::Duration;

/// Sleeps on tokio's timer (so paused time applies); a zero delay does not touch the timer.
pub(crate) async fn sleep(delay: Duration) {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

/// Sleeps the thread, for retried sync functions.
pub(crate) fn sleep_blocking(delay: Duration) {
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
}
