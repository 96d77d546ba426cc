//! [`RetryBudget`]: retries as a share of recent calls, so that a failing server sees a few
//! more requests, not five times as many.

use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::setters::setters;
use crate::window::Window;

/// A budget for retries shared by many calls: retries may be up to a percentage of the calls
/// made in a recent window, plus a small floor per second, and past that a failed call gives
/// up at once with [`GiveUpReason::BudgetExhausted`](crate::GiveUpReason::BudgetExhausted).
///
/// Per-call limits (attempts, a deadline) bound one call; they do not bound a fleet of calls
/// that all fail at once. With 5 attempts each, an outage multiplies the load on the server
/// by five just when it can least take it (a retry storm). A budget caps the extra load at,
/// by default, 20 % of the calls of the last 10 seconds, plus 10 retries a second so that a
/// quiet client still retries its occasional failure (the design of finagle's and tower's
/// budgets).
///
/// Every call a [`Retrier`](crate::Retrier) starts under a policy with this budget deposits;
/// every retry withdraws. A budget is meant to be shared, so it is built by `const fn`s and
/// lives in a `static`; [`Policy::budget`](crate::Policy::budget) points a policy at it and
/// `#[retry(budget = PATH)]` names it:
///
/// ```
/// use retry_core::{Policy, RetryBudget, retry};
///
/// /// One budget for every call to the API, whichever function makes it.
/// static API_BUDGET: RetryBudget = RetryBudget::new().percent(10);
///
/// const API: Policy = Policy::exponential().attempts(4).budget(&API_BUDGET);
///
/// #[retry(budget = API_BUDGET, attempts = 4)]
/// async fn fetch(id: u32) -> std::io::Result<String> {
///     Ok(format!("item {id}"))
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// assert_eq!(fetch(7).await.unwrap(), "item 7");
/// assert_eq!(API_BUDGET.calls(), 1);
/// # let _ = API;
/// # }
/// ```
///
/// Time is tokio's clock, so `tokio::time::pause` applies to the window.
pub struct RetryBudget {
    percent: u32,
    min_per_second: u32,
    window: Duration,
    /// Calls (counter 0) and retries (counter 1).
    counts: Mutex<Window<2>>,
}

const CALLS: usize = 0;
const RETRIES: usize = 1;

impl RetryBudget {
    /// Retries up to 20 % of the calls of the last 10 seconds, plus 10 a second.
    pub const fn new() -> Self {
        RetryBudget {
            percent: 20,
            min_per_second: 10,
            window: Duration::from_secs(10),
            counts: Mutex::new(Window::new()),
        }
    }

    setters! {
        /// Retries may be up to `percent` % of the calls in the window (default 20; 100 allows
        /// one retry per call on average).
        percent(percent: u32) => percent;
        /// Retries allowed whatever the number of calls, per second of the window (default 10;
        /// 0 makes the budget purely a percentage).
        min_per_second(retries: u32) => min_per_second;
    }

    /// How far back calls and retries count (default 10 s; at least 10 ms).
    #[must_use]
    pub const fn window(mut self, window: Duration) -> Self {
        const MIN: Duration = Duration::from_millis(10);
        self.window = if window.as_nanos() < MIN.as_nanos() {
            MIN
        } else {
            window
        };
        self
    }

    /// Counts a call (its first attempt). Front ends do this for you.
    pub fn deposit(&self) {
        self.counts().add(self.window, CALLS);
    }

    /// Takes one retry from the budget if there is one left; `false` means give up now.
    /// Front ends do this for you.
    pub fn try_withdraw(&self) -> bool {
        let mut counts = self.counts();
        let ok = self.balance(counts.totals(self.window)) >= 1000;
        if ok {
            counts.add(self.window, RETRIES);
        }
        ok
    }

    /// How many retries the budget would allow now.
    pub fn available(&self) -> u64 {
        let totals = self.counts().totals(self.window);
        u64::try_from(self.balance(totals) / 1000).unwrap_or(0)
    }

    /// Calls counted in the window.
    pub fn calls(&self) -> u64 {
        self.counts().totals(self.window)[CALLS]
    }

    /// Retries taken in the window.
    pub fn retries(&self) -> u64 {
        self.counts().totals(self.window)[RETRIES]
    }

    /// What is left, in thousandths of a retry: the floor plus `percent` % of the calls,
    /// less the retries taken. Integers, so that 5 calls at 20 % make exactly one retry.
    fn balance(&self, [calls, retries]: [u64; 2]) -> i128 {
        let floor = i128::from(self.min_per_second) * self.window.as_millis() as i128;
        floor + i128::from(calls) * i128::from(self.percent) * 10 - i128::from(retries) * 1000
    }

    fn counts(&self) -> MutexGuard<'_, Window<2>> {
        // A panic while counting cannot leave the counts inconsistent: keep using them.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget::new()
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("percent", &self.percent)
            .field("min_per_second", &self.min_per_second)
            .field("window", &self.window)
            .field("calls", &self.calls())
            .field("retries", &self.retries())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn percent_of_calls_without_floor() {
        let budget = RetryBudget::new().percent(20).min_per_second(0);
        assert!(
            !budget.try_withdraw(),
            "no calls, no floor: nothing to spend"
        );
        for _ in 0..10 {
            budget.deposit();
        }
        assert_eq!(budget.available(), 2);
        assert!(budget.try_withdraw());
        assert!(budget.try_withdraw());
        assert!(!budget.try_withdraw());
        assert_eq!((budget.calls(), budget.retries()), (10, 2));
    }

    #[tokio::test(start_paused = true)]
    async fn floor_allows_retries_with_no_calls() {
        let budget = RetryBudget::new()
            .min_per_second(2)
            .window(Duration::from_secs(1));
        assert!(budget.try_withdraw());
        assert!(budget.try_withdraw());
        assert!(!budget.try_withdraw());
    }

    #[tokio::test(start_paused = true)]
    async fn old_calls_and_retries_slide_out_of_the_window() {
        let budget = RetryBudget::new().min_per_second(0);
        for _ in 0..5 {
            budget.deposit();
        }
        assert!(budget.try_withdraw());
        assert!(!budget.try_withdraw());
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(budget.calls(), 5, "still inside the 10 s window");
        tokio::time::advance(Duration::from_secs(6)).await;
        assert_eq!((budget.calls(), budget.retries()), (0, 0));
        for _ in 0..5 {
            budget.deposit();
        }
        assert!(budget.try_withdraw(), "the old retry no longer counts");
    }
}
