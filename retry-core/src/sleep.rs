//! Sleeping between attempts.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// A sleep on tokio's timer (so paused time applies); a zero delay does not touch the timer.
///
/// The timer is boxed: a retried call's future would otherwise carry tokio's `Sleep` (over a
/// hundred bytes) for its whole life, moved with it on every move, to save one allocation on
/// a path that is about to make a network call anyway. One pointer, not an `async fn`, whose
/// state machine would keep a copy of its argument beside the timer.
#[must_use = "futures do nothing unless polled"]
pub struct Sleep(Option<Pin<Box<tokio::time::Sleep>>>);

/// Sleeps for `delay` on tokio's timer.
pub(crate) fn sleep(delay: Duration) -> Sleep {
    Sleep((!delay.is_zero()).then(|| Box::pin(tokio::time::sleep(delay))))
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.0 {
            Some(timer) => timer.as_mut().poll(cx),
            None => Poll::Ready(()),
        }
    }
}

/// Sleeps the thread, for retried sync functions.
pub(crate) fn sleep_blocking(delay: Duration) {
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
}
