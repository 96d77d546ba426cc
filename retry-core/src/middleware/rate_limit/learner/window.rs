//! A fixed window, told apart from a bucket by its resets.
//!
//! The bucket reading takes `reset` for the time a steady refill takes to fill the bucket, so
//! an empty bucket has one request back after `reset / limit`. A server that counts per fixed
//! window gives all of its count back at once when the window ends, and its `reset` on every
//! 429 counts down to that one instant. The reading then turns "1 used, full in 0.99 s" into
//! a pace of 1 a second, and nothing sent at that pace would refute it. Two 429s on an empty
//! bucket, with nothing taken between them and further apart than a bucket can stay empty
//! (two of its `reset / limit`), that name the same instant are a window's: the bucket reading
//! is wrong for this server.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::middleware::hints::RateLimitHeaders;

/// How far apart two readings of one instant may be: the way there and back varies by up to
/// the spread of round trips, plus this.
const SLACK: Duration = Duration::from_millis(3);

/// What the resets have shown of a fixed window.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub(crate) struct WindowSign {
    /// The first 429 of the current run on an empty bucket: when it came, and the instant its
    /// reset named.
    first: Option<(Duration, Duration)>,
    /// When the last window shown ends, by the server's word.
    #[serde(default)]
    ends: Option<Duration>,
}

impl WindowSign {
    /// When a spent window ends, if after `now`: nothing goes before it.
    pub(crate) fn ends_after(&self, now: Duration) -> Option<Duration> {
        self.ends.filter(|at| *at > now)
    }

    /// A request was taken: the run of refusals is over.
    pub(crate) fn taken(&mut self) {
        self.first = None;
    }

    /// Reads a 429 that came `now`; `rtt_spread`: how much round trips vary (seconds).
    /// Returns the instant the window ends, once the server has shown itself a fixed window.
    pub(crate) fn refused(
        &mut self,
        now: Duration,
        limits: &RateLimitHeaders,
        rtt_spread: f64,
    ) -> Option<Duration> {
        let (Some(0), Some(reset)) = (limits.remaining, limits.reset) else {
            return None;
        };
        let instant = now.saturating_add(reset);
        let Some((then, named)) = self.first else {
            self.first = Some((now, instant));
            return None;
        };
        let slack = SLACK.saturating_add(Duration::from_secs_f64(rtt_spread.max(0.0)));
        // Two of the bucket reading's "one back" intervals, from the first 429's reset: a
        // bucket would have taken a request by then. (Not from this one's: a bucket about to
        // take one says "full in a moment", and a bucket of one would count as a window.)
        let one_back = super::one_back_of(limits.limit, named.saturating_sub(then));
        let apart = now.saturating_sub(then) > one_back * 2 + slack;
        let ends = (apart && named.abs_diff(instant) <= slack && instant > now).then_some(instant);
        if ends.is_some() {
            self.ends = ends;
        }
        ends
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty(limit: u64, reset_ms: u64) -> RateLimitHeaders {
        RateLimitHeaders {
            limit: Some(limit),
            remaining: Some(0),
            reset: Some(Duration::from_millis(reset_ms)),
            ..RateLimitHeaders::default()
        }
    }

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// 50 a second counted per one-second window, spent at 150 ms: 429s at 200 and 300 ms
    /// name the window's end, 1 s.
    #[test]
    fn resets_counting_down_to_one_instant_are_a_window() {
        let mut sign = WindowSign::default();
        assert_eq!(sign.refused(ms(200), &empty(50, 800), 0.0), None);
        assert_eq!(sign.refused(ms(300), &empty(50, 701), 0.0), Some(ms(1_001)));
        assert_eq!(sign.ends_after(ms(500)), Some(ms(1_001)));
        assert_eq!(sign.ends_after(ms(1_001)), None);
    }

    /// A bucket of 5 at 50 a second, empty: "full in 100 ms" at each 429, whenever it comes;
    /// and its refill ends a run of 429s quickly (20 ms a request).
    #[test]
    fn an_empty_bucket_is_not_a_window() {
        let mut sign = WindowSign::default();
        for t in (200..400).step_by(30) {
            assert_eq!(sign.refused(ms(t), &empty(5, 100), 0.0), None, "{t}");
        }
        // Counting down, but within two of its "one back" intervals (2 x 20 ms): a bucket
        // that took nothing since.
        let mut sign = WindowSign::default();
        sign.refused(ms(200), &empty(5, 100), 0.0);
        assert_eq!(sign.refused(ms(230), &empty(5, 70), 0.0), None);
    }

    /// A bucket of one refilling in 2 s: 429s 50 ms and 1.9 s after the request it took both
    /// name the instant it takes one again, as a window's would, but no sooner than a bucket
    /// would (the two readings agree on a bucket of one: nothing is refuted).
    #[test]
    fn a_bucket_of_one_is_not_a_window() {
        let mut sign = WindowSign::default();
        assert_eq!(sign.refused(ms(50), &empty(1, 1_950), 0.0), None);
        assert_eq!(sign.refused(ms(1_900), &empty(1, 100), 0.0), None);
    }

    /// A success between two 429s ends the run: they say nothing together.
    #[test]
    fn a_request_taken_between_them_breaks_the_run() {
        let mut sign = WindowSign::default();
        sign.refused(ms(200), &empty(50, 800), 0.0);
        sign.taken();
        assert_eq!(sign.refused(ms(300), &empty(50, 700), 0.0), None);
    }
}
