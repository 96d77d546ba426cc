//! The pause after a 429, and the wait a spent count names.
//!
//! A 429 without a usable hint pauses everyone for [`PAUSE_INTERVALS`] of the pace, so the
//! server's bucket refills a request or two: the measured decrease (see `super::aimd`) counts
//! on it. The 429s after it, with nothing taken in between, say the server refuses everything
//! for now (a fixed window spent until it ends, an outage): they double the pause, up to
//! [`MAX_PAUSE`], and cut the pace only once the pause is the longest, unless they read the
//! count spent and name it back within that pause (see [`Learner::refused`]). Past that, a
//! reset the headers name is waited out whole (see [`Learner::named_wait`]).

use std::time::Duration;

use super::super::schedule::Admission;
use super::Learner;
use crate::middleware::headers::RateLimitHeaders;

/// How many intervals of the pace everyone waits after a 429 without a usable hint.
pub(super) const PAUSE_INTERVALS: f64 = 1.5;
/// The longest pause after a 429 without a usable hint (seconds).
pub(super) const MAX_PAUSE: f64 = 1.0;
/// A fleet's 429 whose `reset` is at least this share of the time the pace takes to send the
/// whole `limit` names the whole count's refill (see [`Learner::fleet_wait`]).
const WHOLE_REFILL: f64 = 0.8;

impl Learner {
    /// When the reset a spent count named ends, if after `now` (see [`Self::named_wait`]):
    /// nothing goes before it.
    pub(crate) fn held_after(&self, now: Duration) -> Option<Duration> {
        self.held_until.filter(|&until| until > now)
    }

    /// A 429 that came `now` reads the count spent and names, in `reset`, a wait longer than
    /// the longest pause, which already proved too short (the 429s kept coming at it): the
    /// wait it names, from now, rather than another cut. Whatever `reset` means (until the
    /// count is full, until the next place, until a window ends or a log's oldest request
    /// leaves), nothing is back before it; what a longer wait can cost is a bucket refilled
    /// slower than a request per longest pause. Not for per-minute figures, whose reset is
    /// the time a minute's budget takes to come back whole. Resets in whole seconds are
    /// rounded up, so the wait is a second shorter: the earliest instant they can name.
    /// (Cut each second instead, a log of 200 per 10 s behind one of 50 a second, spent 6 s
    /// before its places came back, took the pace from 47 to 2.9 a second and most of the
    /// rest of the run to climb back: 0.84 of the ideal against 0.99 with the headers hidden,
    /// on a server written apart from this project.)
    pub(super) fn named_wait(&self, now: Duration, limits: &RateLimitHeaders) -> Option<Duration> {
        if self.refusals == 0 || self.pause().as_secs_f64() < MAX_PAUSE {
            return None;
        }
        let mut reset = spent_count_reset(limits)?;
        if limits.reset_whole_seconds {
            reset = reset.saturating_sub(Duration::from_secs(1));
        }
        (reset.as_secs_f64() > MAX_PAUSE).then(|| now.saturating_add(reset))
    }

    /// How long a fleet waits on a 429 whose only hint is the count's `reset`: the reset,
    /// unless the count reads as a sliding log and the reset names all of it back (at least
    /// [`WHOLE_REFILL`] of `limit` at the pace, and resets have not shown that they name the
    /// next place): then one place's share of it ([`one_back`](super::one_back)), as for a
    /// lone process's empty bucket. A log gives its places back one by one, and "until the
    /// log is empty" is a whole log away: waited out whole, a fleet paced at the log's rate
    /// filled it, drew a 429, stood still for a second, and ran at half speed (4 processes
    /// sharing one limit on `log-together`: 0.49 of the ideal at the median of 10 seeds on
    /// our simulator, 0.50 with 4 real processes on Redis). Only on a log: on any count, a
    /// fixed window's reset (right to wait, its places come back at its end) was cut too
    /// when it named most of the window, and 4 real processes on Redis on `window-together`
    /// drew 0.088 429s per request at the median of 3 runs, 0.243 at worst, against 0.022
    /// and 0.025.
    pub(crate) fn fleet_wait(&self, limits: &RateLimitHeaders) -> Option<Duration> {
        let reset = limits.reset?;
        let limit = limits.limit.filter(|&limit| limit > 1)?;
        let whole = reset.as_secs_f64() >= WHOLE_REFILL * limit as f64 / self.rate();
        Some(
            if whole && self.log.plausible() && !self.log.names_next_slot() {
                super::one_back(limits)?
            } else {
                reset
            },
        )
    }

    /// Whether a 429 reads the count spent and names its return within the longest pause.
    pub(super) fn back_within_pause(limits: &RateLimitHeaders) -> bool {
        spent_count_reset(limits).is_some_and(|reset| reset.as_secs_f64() <= MAX_PAUSE)
    }

    /// How long everyone pauses after a 429 that carried no usable hint.
    /// Long enough for the server's bucket to refill a request or two at the pace, no longer:
    /// a long stall would waste the capacity the learner is trying to find. Doubled for each
    /// further 429 with nothing taken since (see `refusals`), up to [`MAX_PAUSE`].
    pub(crate) fn pause(&self) -> Duration {
        let pause = if self.refusals > 0 {
            self.paused
        } else {
            self.interval_pause()
        };
        Duration::from_secs_f64(pause.min(MAX_PAUSE))
    }

    /// The first pause of a run of 429s: [`PAUSE_INTERVALS`] of the pace (seconds).
    pub(super) fn interval_pause(&self) -> f64 {
        PAUSE_INTERVALS / self.rate()
    }

    /// Whether a refusal now cuts the pace: the first of a run of refusals, or one that came
    /// even after the longest pause (the pace is wrong after all). The others in between say
    /// the server refuses everything for now, and double the pause instead (see `refusals`).
    pub(super) fn cuts(&self) -> bool {
        self.refusals == 0 || self.pause().as_secs_f64() >= MAX_PAUSE
    }

    /// A refusal of a request sent at the current pace (or, in slow start, at an earlier
    /// step): the pace is cut if [`Self::cuts`], the pause doubles within a run, and a new
    /// epoch starts. `refill`: the refill measured from `remaining`, if any.
    ///
    /// `back_soon`: the 429 read the count spent and named it back within the longest pause
    /// ([`Self::back_within_pause`]). Within a run, after the longest pause, such a 429 does
    /// not cut: one request goes alone per pause whatever the pace, and the count was back
    /// before it went, so others took it (a fixed window spent at its opening by other
    /// processes), not this pace. Cut at each of them, a process crowded out of a window by
    /// 15 others fell to one request every 20 s and calls ran into their deadline (calls lost
    /// in 4 of 20 runs of `window-together`, on our simulator). The first 429 of a run cuts
    /// as before.
    pub(super) fn refused(
        &mut self,
        now: Duration,
        sent: &Admission,
        refill: Option<f64>,
        back_soon: bool,
    ) {
        if self.cuts() && !(self.refusals > 0 && back_soon) {
            if sent.epoch == self.epoch {
                self.aimd.decrease(sent.rate, now, refill);
            } else {
                self.aimd.overshot(sent.rate, now, refill);
            }
        }
        self.refusals = self.refusals.saturating_add(1);
        // Twice the last pause, and never under the pace's own (it may have fallen).
        let first = self.interval_pause();
        let pause = if self.refusals > 1 {
            (2.0 * self.paused).max(first)
        } else {
            first
        };
        self.paused = pause.min(MAX_PAUSE);
        self.epoch += 1;
    }
}

/// The reset an answer names for a count it reads spent, as the headers give it: none for
/// per-minute figures, whose reset is the time a minute's budget takes to come back whole
/// (what [`Learner::named_wait`] and [`Learner::back_within_pause`] both read).
fn spent_count_reset(limits: &RateLimitHeaders) -> Option<Duration> {
    let spent = limits.remaining == Some(0) && !limits.family.per_minute();
    limits.reset.filter(|_| spent)
}
