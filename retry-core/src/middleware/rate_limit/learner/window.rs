//! A fixed window, told apart from a bucket by its resets, and then paced as one.
//!
//! The bucket reading takes `reset` for the time a steady refill takes to fill the bucket, so
//! an empty bucket has one request back after `reset / limit`. A server that counts per fixed
//! window gives all of its count back at once when the window ends, and its `reset` on every
//! answer counts down to that one instant. The reading then turns "1 used, full in 0.99 s" into
//! a pace of 1 a second, and nothing sent at that pace would refute it. Two 429s on an empty
//! bucket, with nothing taken between them and further apart than a bucket can stay empty
//! (two of its `reset / limit`), that name the same instant are a window's *sign*: the bucket
//! reading is wrong for this server.
//!
//! A sign is a hypothesis, like every reading of the headers (see `super::evidence`): a limit
//! that is a rate and a reset that is the wait for the next slot can show it too (once in 20
//! runs of `sawtooth-rate` on our simulator). Paced as a window on that, one run drew 6.2 429s
//! per request. So the window is *confirmed* only by what a window does and nothing else does:
//! after the instant its 429s named, the count is back whole (an answer to a request sent after
//! it reads at least half of `limit`). Once confirmed, the learner paces by it: `limit`
//! requests back to back when a window opens, `limit` per window's length (the longest reset
//! read), and nothing more once an answer reads it spent. It stays a window while every reset
//! read within it names its end, no 429 comes with room left, and its count never rises
//! within it (a log of the last second's requests gives back what leaves it, all the time);
//! any of these breaks it for good.
//! (Before, windows were paced by the header-blind learner and the bursts it learnt: 0.867 of
//! the ideal on `window-together`, 0.107 429s per request; 0.992 and 0.067 now, 9-15 of the
//! 429s in the first window, before the sign shows, then 0-5 a window: requests in flight
//! when an answer reads the count spent.)
//!
//! A window that other clients spend too is read as such and paced apart: see [`share`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::middleware::headers::RateLimitHeaders;

/// How far apart two readings of one instant may be: the way there and back varies by up to
/// the spread of round trips, plus this.
pub(super) const SLACK: Duration = Duration::from_millis(3);

/// What the resets have shown of a fixed window.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub(crate) struct WindowSign {
    /// The first 429 of the current run on an empty bucket: when it came, and the instant its
    /// reset named.
    first: Option<(Duration, Duration)>,
    /// When the window last shown spent ends, by the server's word: nothing goes before it.
    #[serde(default)]
    ends: Option<Duration>,
    /// Two 429s named one instant (the bucket reading is refuted).
    #[serde(default)]
    shown: bool,
    /// How long the window the sign showed was seen spent: from its first 429 to its end.
    #[serde(default)]
    spent: Duration,
    /// ...and the count came back whole after it: the server is paced as a window.
    #[serde(default)]
    confirmed: bool,
    /// A reset within a window named another instant than its end: not a window, for good.
    #[serde(default)]
    broken: bool,
    /// The current window, once confirmed.
    #[serde(default)]
    current: Option<Current>,
    /// The longest reset read on the confirmed window: its length.
    #[serde(default)]
    length: Duration,
    /// A window has opened since it was confirmed: the pace may spend whole windows. (Paced
    /// as a window from the confirmation on, the rest of that window, partly spent already,
    /// drew 5-10 429s.)
    #[serde(default)]
    opened: bool,
    /// The window before the current one, while answers to what was sent in it still come.
    #[serde(default)]
    last: Option<Current>,
    /// The count, as the window was confirmed with.
    #[serde(default)]
    count: u64,
    /// Windows left that are paced as shared with other clients (see [`Self::shared`]).
    #[serde(default)]
    shared: u8,
    /// This client's requests taken in the window after the current one, before it is seen
    /// open (see [`Self::names`]).
    #[serde(default)]
    ahead: u64,
}

/// The confirmed window now open: when it began, and the instants between which it ends. An
/// answer's reset was read by the server between its request going and its answer coming
/// back, so it names the end to within that span; every answer within the window narrows it.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Current {
    began: Duration,
    earliest: Duration,
    latest: Duration,
    /// The least count read within it, and when that answer came: a window never gives any
    /// back before it ends.
    #[serde(default)]
    low: Option<(Duration, u64)>,
    /// This client's requests taken in it (counted where their reset names its end).
    #[serde(default)]
    own: u64,
    /// It was read spent.
    #[serde(default)]
    spent: bool,
}

impl Current {
    /// Whether an answer that came `now` to a request sent at `sent_at` was surely read
    /// within this window: sent after it began, answered before it can have ended.
    fn holds(&self, now: Duration, sent_at: Duration) -> bool {
        sent_at > self.began.saturating_add(SLACK) && now.saturating_add(SLACK) < self.earliest
    }
}

impl WindowSign {
    /// When a spent fixed window ends, if after `now`: nothing goes before it.
    pub(crate) fn ends_after(&self, now: Duration) -> Option<Duration> {
        self.ends.filter(|at| *at > now)
    }

    /// The window's length, once the server is confirmed a fixed window (and not broken) and
    /// a window has opened since: what the pace spends a whole count in. None while the
    /// window is [`shared`](Self::shared): its count is not this client's to spend.
    pub(crate) fn length(&self) -> Option<Duration> {
        (self.on() && self.opened && !self.length.is_zero() && !self.shared())
            .then_some(self.length)
    }

    /// Whether the server was confirmed a fixed window and broken since: its count is neither
    /// a bucket's nor a window's.
    pub(crate) fn neither(&self) -> bool {
        self.confirmed && self.broken
    }

    /// Whether the server is confirmed a fixed window, and not broken since.
    fn on(&self) -> bool {
        self.confirmed && !self.broken
    }

    /// A request sent at `sent_at` was taken; its answer came `now`. The run of refusals is
    /// over; on a window, its reset is checked and may open the next window, and a count read
    /// spent holds everything until the window ends.
    pub(crate) fn taken(
        &mut self,
        now: Duration,
        sent_at: Duration,
        limits: &RateLimitHeaders,
        rtt_spread: f64,
    ) {
        self.first = None;
        let (Some(reset), Some(remaining), Some(limit)) =
            (limits.reset, limits.remaining, limits.limit)
        else {
            return;
        };
        if self.shown && !self.confirmed && !self.broken {
            // Sent after the instant the 429s named, and the count is back (near) whole.
            let slack = slack(rtt_spread);
            // And the next window is at least as long as the last was seen spent: a window
            // named 7 ms long right after one spent for 0.1 s is a log's oldest request
            // leaving (on a server written apart from this project; paced as a window, its
            // bursts drew 0.26-0.28 429s per request).
            if let Some(began) = self.ends.filter(|end| sent_at > end.saturating_add(slack))
                && remaining.saturating_mul(2) >= limit
                && reset.saturating_add(slack) >= self.spent
            {
                self.confirmed = true;
                self.length = reset;
                self.count = limit;
                self.current = Some(Current {
                    began,
                    earliest: sent_at.saturating_add(reset),
                    latest: now.saturating_add(reset),
                    low: None,
                    own: 0,
                    spent: false,
                });
            }
            return;
        }
        self.follow(now, sent_at, reset);
        let named = self.names(now, sent_at, reset);
        self.own(named);
        self.count(now, sent_at, remaining);
        if remaining == 0 {
            self.hold(named);
        }
    }

    /// On a confirmed window, the count `remaining` read `now` on the answer to a request sent
    /// at `sent_at`. Within the window it only ever falls: read higher than before by a
    /// request sent after that lower reading came back (so the server counted it after), the
    /// count came back before the window's end, and the server is no fixed window, for good.
    /// (A log of the last second's requests, whose `reset` names when its oldest leaves, in
    /// whole seconds, showed the sign and was confirmed, then paced as a window 1.8 s long:
    /// 0.44-0.57 of the ideal on a server written apart from this project, against 0.84-0.94
    /// with its headers hidden; with the reset in fractions of a second, bursts at each
    /// named instant into a log still full drew 0.40-0.63 429s per request.)
    fn count(&mut self, now: Duration, sent_at: Duration, remaining: u64) {
        let Some(mut current) = self.current.filter(|_| self.on()) else {
            return;
        };
        if !current.holds(now, sent_at) {
            return;
        }
        if let Some((seen, low)) = current.low {
            if sent_at > seen.saturating_add(SLACK) && remaining > low.saturating_add(1) {
                self.broken = true;
                return;
            }
            if remaining >= low {
                return;
            }
        }
        current.low = Some((now, remaining));
        self.current = Some(current);
    }

    /// Reads a 429 that came `now` to a request sent at `sent_at`; `rtt_spread`: how much
    /// round trips vary (seconds). Returns the instant the window ends, once the server has
    /// shown itself a fixed window.
    pub(crate) fn refused(
        &mut self,
        now: Duration,
        sent_at: Duration,
        limits: &RateLimitHeaders,
        rtt_spread: f64,
    ) -> Option<Duration> {
        if limits.remaining.is_some_and(|left| left > 0) && self.on() {
            // A window refuses only once spent: something else limits this server (a shorter
            // window behind a longer one's count, a rate).
            self.broken = true;
        }
        let (Some(0), Some(reset)) = (limits.remaining, limits.reset) else {
            return None;
        };
        if self.broken || (limits.reset_whole_seconds && !self.on()) {
            // Not a window, for good: two 429s naming one instant hold no one. Nor are they a
            // sign where the instant is named in whole seconds (a Unix timestamp): many
            // instants round to one, and a window's length read from such resets is a second
            // out (a log of the last second's requests, rounded up, paced as a window of 1.8
            // s).
            return None;
        }
        if self.on() {
            // A confirmed window refused a request: spent until its end.
            self.follow(now, sent_at, reset);
            self.count(now, sent_at, 0);
            self.hold(self.names(now, sent_at, reset));
            return self.ends;
        }
        let instant = now.saturating_add(reset);
        let Some((then, named)) = self.first else {
            self.first = Some((now, instant));
            return None;
        };
        let slack = slack(rtt_spread);
        // Two of the bucket reading's "one back" intervals, from the first 429's reset: a
        // bucket would have taken a request by then. (Not from this one's: a bucket about to
        // take one says "full in a moment", and a bucket of one would count as a window.)
        let one_back = super::one_back_of(limits.limit, named.saturating_sub(then));
        let apart = now.saturating_sub(then) > one_back * 2 + slack;
        let ends = (apart && named.abs_diff(instant) <= slack && instant > now).then_some(instant);
        if ends.is_some() {
            self.ends = ends;
            self.shown = true;
            self.spent = instant.saturating_sub(then);
        }
        ends
    }

    /// The confirmed window is spent, read on an answer counted in the window `named` (see
    /// [`Self::names`]): nothing goes until it ends (at the latest it can). The window is
    /// marked spent only by an answer that names its end, and held by none that names the
    /// window before: a late answer counted there says nothing of the current one.
    fn hold(&mut self, named: Named) {
        let named_current = named == Named::Current;
        if let Some(current) = self
            .current
            .as_mut()
            .filter(|_| self.confirmed && !self.broken && named != Named::Last)
        {
            current.spent |= named_current;
            self.ends = Some(current.latest);
        }
    }

    /// On a confirmed window, a `reset` read `now` on the answer to a request sent at
    /// `sent_at`. Sent after the window's end, it opens the next window. Taken within the
    /// window, it names the same end as every other answer within it, or the window is broken.
    /// (Sent before the end and answered after it, the server may have read it in either.)
    fn follow(&mut self, now: Duration, sent_at: Duration, reset: Duration) {
        let Some(current) = self.current.filter(|_| self.on()) else {
            return;
        };
        let (earliest, latest) = (sent_at.saturating_add(reset), now.saturating_add(reset));
        if sent_at > current.latest.saturating_add(SLACK) {
            // The next window (or one after it, when nothing went for a while) ends a whole
            // number of lengths after this one: windows come one after another. (A log of
            // the last second's requests names when its oldest leaves, any instant at all:
            // paced as a window whose "ends" came 2 ms to 0.7 s apart, it drew 0.40-0.63 429s
            // per request on a server written apart from this project.)
            let length = self.length.max(reset).as_secs_f64();
            let gap = mid(earliest, latest).saturating_sub(mid(current.earliest, current.latest));
            let windows = (gap.as_secs_f64() / length).round();
            let tolerance = current.latest.saturating_sub(current.earliest)
                + latest.saturating_sub(earliest)
                + SLACK * 2;
            let off = (gap.as_secs_f64() - windows * length).abs();
            if windows < 1.0 || off > tolerance.as_secs_f64() + length / 20.0 {
                self.broken = true;
                return;
            }
            self.judge_last();
            self.last = Some(current);
            self.current = Some(Current {
                began: current.latest,
                earliest,
                latest,
                low: None,
                own: std::mem::take(&mut self.ahead),
                spent: false,
            });
            self.length = self.length.max(reset);
            self.opened = true;
            return;
        }
        if !current.holds(now, sent_at) {
            return;
        }
        let narrowed = Current {
            earliest: current.earliest.max(earliest),
            latest: current.latest.min(latest),
            ..current
        };
        if narrowed.earliest > narrowed.latest.saturating_add(SLACK) {
            self.broken = true;
        } else {
            self.current = Some(narrowed);
        }
    }
}

/// The middle of the span from `earliest` to `latest`.
fn mid(earliest: Duration, latest: Duration) -> Duration {
    earliest + latest.saturating_sub(earliest) / 2
}

/// How far apart two readings of one instant may be, for a spread of round trips (seconds).
fn slack(rtt_spread: f64) -> Duration {
    SLACK.saturating_add(Duration::from_secs_f64(rtt_spread.clamp(0.0, 60.0)))
}

mod share;
use share::Named;
pub(super) use share::ShareSteer;

#[cfg(test)]
mod tests;
