//! A confirmed fixed window that other clients spend too, and the pace a process takes in it.
//!
//! Confirmed alone, a window is spent whole: its count goes at once when it opens. Each
//! process of a fleet without a channel between them confirms it too, and each sends its
//! whole queue at the opening: the first there takes most of the window, the rest draw 429s
//! until it ends (4 processes on `window-together`: 0.74 429s per request at the median of 40
//! seeds; 8: 0.69; 16: 0.27, calls lost in 5 runs of 40; on our simulator), and a process
//! refused at every opening was cut to one request every 20 s.
//!
//! What only others do: a window read spent when the requests of this client's it can have
//! counted (taken in it, or unanswered when a 429 came) are under [`OWN_SHARE`] of its count.
//! Each taken answer is counted in the window whose end its reset names, not the one it was
//! sent in: sent in the instants the end may be in, it went either way. A window read so is
//! *shared* for the next [`SHARED_FOR`] windows (at once, when the 429 shows it; else once
//! the window's late answers are in, one window on), and no longer as soon as one shows no
//! one else spending it (its lowest count all this client's). Shared, its end still holds
//! everything once it reads spent, but its count paces no one: the header-blind pace does,
//! steered by the whole window's spending ([`ShareSteer`]).

use std::time::Duration;

use super::super::aimd::Aimd;
use super::{SLACK, WindowSign, mid};
use crate::middleware::headers::RateLimitHeaders;

/// A window read spent with fewer than this share of its count from this client was spent by
/// others too.
const OWN_SHARE: f64 = 0.8;
/// Windows a window is paced as shared for, after the last one seen shared.
pub(super) const SHARED_FOR: u8 = 8;
/// The share of the window's count per length the clients together aim to spend.
const SPENT: f64 = 0.97;
/// The deepest cut one reading of the spending makes.
const CUT: f64 = 0.7;
/// The most one reading grows the pace by, in proportion.
const UP: f64 = 1.5;
/// The growth on top of the proportion: this share of the window's rate, per second. The same
/// for every process, so their shares draw together, as TCP's flows do.
const GROWTH: f64 = 0.02;
/// The least time between two steps: a step shows in the spending only once the answers to
/// the requests sent after it come back.
const HOLD: Duration = Duration::from_millis(300);

/// Which window an answer was counted in (see [`WindowSign::names`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Named {
    Last,
    Current,
    Next,
}

impl WindowSign {
    /// Whether other clients spend the confirmed window too (see the module's doc).
    pub(crate) fn shared(&self) -> bool {
        self.shared > 0
    }

    /// While the window is shared, on an answer that came `now` to a request sent at
    /// `sent_at` within the current window, a quarter of it or more after it began: what its
    /// count has lost since, per second (every client's pace, this one's among them), and its
    /// count per length.
    pub(crate) fn shared_spending(
        &self,
        now: Duration,
        sent_at: Duration,
        limits: &RateLimitHeaders,
    ) -> Option<(f64, f64)> {
        let current = self.current.filter(|_| self.on() && self.shared())?;
        let remaining = limits.remaining?;
        if self.length.is_zero() || !current.holds(now, sent_at) {
            return None;
        }
        let read = mid(sent_at, now).saturating_sub(current.began);
        if read < self.length / 4 {
            return None;
        }
        let spent = self.count.saturating_sub(remaining) as f64;
        let length = self.length.as_secs_f64();
        Some((spent / read.as_secs_f64(), self.count as f64 / length))
    }

    /// A 429 came with `in_flight` of this client's requests unanswered (itself among them),
    /// the current window read spent: every request of this client's that the window counted
    /// is taken or still unanswered, so if those are under [`OWN_SHARE`] of its count, others
    /// spent the rest: shared from now on, without waiting for the window's late answers.
    pub(crate) fn refused_in_flight(&mut self, in_flight: u32) {
        let Some(current) = self.current.filter(|c| c.spent && self.on()) else {
            return;
        };
        let counted = current.own.saturating_add(u64::from(in_flight));
        if (counted as f64) < OWN_SHARE * self.count as f64 {
            self.shared = SHARED_FOR;
        }
    }

    /// A request of this client's was taken: counted in the window `named`, whose end its
    /// reset names (see [`Self::names`]).
    pub(super) fn own(&mut self, named: Named) {
        if !self.on() {
            return;
        }
        let counted = match named {
            Named::Current => self.current.as_mut().map(|c| &mut c.own),
            Named::Last => self.last.as_mut().map(|l| &mut l.own),
            Named::Next => Some(&mut self.ahead),
        };
        if let Some(own) = counted {
            *own = own.saturating_add(1);
        }
    }

    /// Which window an answer that came `now` to a request sent at `sent_at` was counted in,
    /// by the end its `reset` names (read by the server between the two, it names an end from
    /// `sent_at + reset` to `now + reset`): past the current one's latest, a window after it
    /// (sent at its very end, before the next one is seen open); short of its earliest, the
    /// one before. (Counted by when they went, a lone client's requests sent as a window
    /// opened, within the instants its end may be in, went to the window before, and one
    /// window read 2 of its 50 from this client: shared, once in 20 runs on our simulator's
    /// `window-together`.)
    pub(super) fn names(&self, now: Duration, sent_at: Duration, reset: Duration) -> Named {
        let Some(current) = self.current else {
            return Named::Current;
        };
        if sent_at.saturating_add(reset) > current.latest.saturating_add(SLACK) {
            Named::Next
        } else if now.saturating_add(reset).saturating_add(SLACK) < current.earliest {
            Named::Last
        } else {
            Named::Current
        }
    }

    /// A window opened: the one before the one that just ended has had a whole window for
    /// its answers to come back, and tells whether others spend the count too.
    pub(super) fn judge_last(&mut self) {
        let Some(last) = self.last else {
            return;
        };
        // Every request its lowest count held was this client's: no one else spent it.
        let alone = (last.low).is_some_and(|(_, low)| self.count.saturating_sub(low) <= last.own);
        self.shared = if last.spent && (last.own as f64) < OWN_SHARE * self.count as f64 {
            SHARED_FOR
        } else if alone {
            0
        } else {
            self.shared.saturating_sub(1)
        };
    }
}

/// The blind pace's steering in a shared window: every process reads the same spending, so
/// each cut or step up in proportion to it brings the fleet's pace to the window's, at once,
/// and [`GROWTH`] draws the shares together.
#[derive(Clone, Debug, Default)]
pub(crate) struct ShareSteer {
    /// No step before this.
    held_until: Option<Duration>,
    /// When the last step was taken.
    last: Option<Duration>,
}

impl ShareSteer {
    /// Steers `aimd` at an answer that came `now` (`taken`: a success), the window spent at
    /// `spending` requests a second by every client on it, `rate` its count per length;
    /// `news_delay`: how long news of a step takes to come back (seconds).
    pub(crate) fn steer(
        &mut self,
        aimd: &mut Aimd,
        now: Duration,
        spending: f64,
        rate: f64,
        taken: bool,
        news_delay: f64,
    ) {
        if self.held_until.is_some_and(|until| now < until) {
            return;
        }
        let since = self
            .last
            .map_or(0.0, |last| now.saturating_sub(last).as_secs_f64());
        self.last = Some(now);
        let target = SPENT * rate;
        let hold = HOLD.max(Duration::from_secs_f64(2.0 * news_delay));
        if spending > target {
            aimd.follow(aimd.rate() * (target / spending).max(CUT), now);
            self.held_until = Some(now + hold);
        } else if taken && spending > 0.0 {
            let up = (target / spending).min(UP);
            aimd.follow((aimd.rate() * up + GROWTH * rate * since).min(rate), now);
            self.held_until = Some(now + hold);
        }
    }
}
