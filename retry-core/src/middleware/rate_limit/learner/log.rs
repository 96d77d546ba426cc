//! A sliding log, told apart from a bucket and a window by what its `remaining` counts, and
//! then paced as one.
//!
//! A log of the last `length`'s requests (a sorted set of timestamps, as many limiters keep)
//! takes `limit` in any `length`, and gives each place back when the request that took it is
//! `length` old. Read as a bucket, its count looks like a refill that is this client's own past
//! pace; read as a window, it rises within the window. Paced by the header-blind learner, a log
//! spent in a rush comes back in a rush a `length` later, the pace climbs with it, spends the
//! log in a fraction of its length, and waits out 429s until the places come back: 0.70-0.77
//! of the ideal, 0.11-0.16 429s per request, below the blind learner with resets in whole
//! seconds (on our simulator; on a server written apart from this project, 0.75 against 0.95
//! with its headers hidden).
//!
//! The reading: after a request is taken, `remaining` is `limit` less the requests this client
//! had taken within `length` before it, `length` being the longest reset read on a success (a
//! log's reset, whatever instant it names, is never longer), or longer where a count read
//! spent says the log holds requests sent longer ago (see [`LogReading::spent`]). A
//! prediction *fails* when the count reads more than one over what the log leaves of the
//! requests it surely counted (the server dates requests by their arrival: those sent within
//! the margin of either end of the log may or may not be in it): a bucket draining slower
//! than its refill reads above it.
//! (Counted by their sending alone, a burst of 49 sent within 2 ms, answered out of order,
//! broke a confirmed log on a server written apart from this project.) A count read *whole*
//! (this request alone in it) is no failure: whatever the server is, it holds nothing sent
//! before, which no longer counts (a window opening, a full bucket, a log after an idle
//! length). It can never read less than this client's unanswered requests and other clients'
//! allow, so a reading under the prediction is no failure, and tells only when read as
//! predicted. The log is *confirmed* after [`TO_CONFIRM`] predictions in a row held,
//! [`TELLING`] of them read as predicted with a count a quarter spent or more but not near its
//! end (one of them with a quarter left or more: a bucket of 5 whose `limit` is its rate of
//! 50, with resets in whole seconds, reads as a log of 50 a second otherwise, and was paced in
//! bursts of 50), after more than a `length` of reading; it is *broken* for good by
//! [`TO_BREAK`] failures, or one once confirmed. Per-minute figures are enforced over shorter
//! spans, and a count under [`FEWEST`] or a length under [`SHORTEST`] is a bucket's as much as
//! a log's: never a log.
//!
//! A fixed window is then read as a log that empties when it opens. The bound is safe on it
//! (no more than `limit` in any `length` is no more than `limit` in any window), and counted
//! from the opening it spends each window whole.
//!
//! A count of another `limit` sets the log aside (it paces and bounds nothing) until its own is
//! named again: servers that stack a longer limit behind a short one name whichever has
//! fewer left. From then on the log's whole count never goes at once, as the other count's
//! room is unknown.
//!
//! Once confirmed (and long against the spread of round trips: a log of 5 per 0.1 s is a bucket
//! at 50 a second, and is paced as one), the learner paces by it: `limit` per `length`, and the
//! schedule sends no more than `limit` in any `length` (plus the spread), as the log counts;
//! once an answer reads it spent, nothing goes until the oldest request it counts leaves it.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::middleware::headers::RateLimitHeaders;

/// How many of this client's taken requests are kept: a longer log is not read as one.
const KEPT: usize = 512;
/// Predictions in a row that confirm the log...
const TO_CONFIRM: u32 = 12;
/// ...of which at least this many read as predicted a count a quarter spent or more.
const TELLING: u32 = 6;
/// Failed predictions that break it for good (one, once confirmed).
const TO_BREAK: u32 = 3;
/// The longest log read as one: a longer count is a quota, not a pace.
const LONGEST: Duration = Duration::from_secs(60);
/// The shortest log read as one: a bucket refilled within this reads as a log of its size per
/// its reset when at its limit (a bucket of 10 at 100 a second, where a token limit bound
/// first, drew twice the 429s paced as one, on our simulator).
const SHORTEST: Duration = Duration::from_millis(250);
/// The fewest a log read as one counts: a bucket of 5 at its limit, its count spent by other
/// processes as fast as it refills, now and then reads as a log of 5 per its reset would (in
/// fleets of four on our simulator, every run), and paced so it lost a tenth of its rate.
const FEWEST: u64 = 10;

/// What the counts have shown of a sliding log.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct LogReading {
    /// When this client's taken requests went, in order.
    taken: VecDeque<Duration>,
    /// When the first of them went.
    first: Option<Duration>,
    /// The longest reset read on a success: the log's length.
    length: Duration,
    /// The `limit` every reading named (0 before the first).
    #[serde(default)]
    limit: u64,
    /// Predictions that held in a row...
    held: u32,
    /// ...and how many of them told (see the module's doc)...
    telling: u32,
    /// ...and whether one of those read a count with a quarter of `limit` left or more: a
    /// bucket of 5 under a `limit` of 50 (the rate) never does.
    #[serde(default)]
    wide: bool,
    /// Predictions that failed.
    failed: u32,
    confirmed: bool,
    broken: bool,
    /// Once an answer read the confirmed log spent: when its oldest request leaves it.
    frees: Option<Duration>,
    /// The latest answer named another `limit`: the log is set aside until its own is named
    /// again.
    #[serde(default)]
    aside: bool,
    /// Another `limit` was ever named: the log has room only where the other count has too.
    #[serde(default)]
    stacked: bool,
    /// The latest request the server read the log whole on, when that was news (see
    /// [`LogReading::whole`]): nothing sent before it counts.
    #[serde(default)]
    since: Duration,
    /// Whether `reset` names the next place: zero on every answer with room left that named
    /// one (`Some(true)`), more than zero on one (`Some(false)`), none yet (`None`).
    #[serde(default)]
    next_slot: Option<bool>,
}

impl LogReading {
    /// An answer to a request sent `sent_at`; `taken`: not a 429; `spread`: how much round
    /// trips vary (seconds).
    pub(crate) fn read(
        &mut self,
        sent_at: Duration,
        taken: bool,
        limits: &RateLimitHeaders,
        spread: f64,
    ) {
        if self.broken || limits.family.per_minute() {
            return;
        }
        let (Some(limit), Some(remaining)) = (limits.limit, limits.remaining) else {
            return;
        };
        if limit < FEWEST {
            return;
        }
        if taken {
            // Every log the server keeps counts it, whichever the headers name.
            self.first = Some(self.first.map_or(sent_at, |first| first.min(sent_at)));
            let at = self.taken.partition_point(|&t| t <= sent_at);
            self.taken.insert(at, sent_at);
            if self.taken.len() > KEPT {
                self.taken.pop_front();
            }
        }
        if self.limit != limit && self.limit != 0 {
            // Another count: a second limit the headers name when it has fewer left (a log of
            // 200 per 10 s behind one of 50 a second), or one that moved. This reading says
            // nothing of the log read so far, which is set aside (it paces and bounds nothing)
            // until its `limit` is named again. (Read as one log, the pair drew 1.09 429s per
            // request on a server written apart from this project; broken for good at the
            // second limit, the 50 a second were paced blind once the 200 had come back.)
            self.aside = true;
            self.stacked = true;
            self.frees = None;
            return;
        }
        self.limit = limit;
        self.aside = false;
        if remaining > 0
            && let Some(reset) = limits.reset
            && self.next_slot != Some(false)
        {
            self.next_slot = Some(reset.is_zero());
        }
        if taken {
            // A reset in whole seconds is rounded up, to the next whole second of the clock
            // (a Unix timestamp: up to a second more than is left) or of the wait: the log's
            // length is taken as whole seconds too. (Read as they came, GitHub's timestamps
            // made a log of one second 1.46 s long, and a second shorter, 0.46 s: confirmed,
            // it drew 0.77 429s per request, on a server written apart from this project.)
            let reset = limits.reset.map(|reset| match limits.reset_whole_seconds {
                true => Duration::from_secs(reset.as_secs()),
                false => reset,
            });
            if let Some(reset) = reset.filter(|&reset| reset <= LONGEST) {
                self.length = self.length.max(reset);
            }
        }
        if self.length.is_zero() {
            return;
        }
        if taken {
            self.predict(sent_at, limit, remaining, spread);
        }
        if self.confirmed && (remaining == 0 || !taken) {
            // Spent: its oldest request leaves it `length` after it went, and the way there
            // varies by up to the spread.
            let newest = self.taken.back().map_or(sent_at, |&t| t.max(sent_at));
            let oldest = self.oldest_within(newest);
            self.frees = Some(oldest + self.length + margin(spread));
        }
    }

    /// Checks the count a request sent `sent_at` read against the log's.
    fn predict(&mut self, sent_at: Duration, limit: u64, remaining: u64, spread: f64) {
        let counted = self.counted(sent_at);
        let predicted = limit.saturating_sub(counted);
        if remaining + 1 >= limit && predicted + 1 < limit {
            self.whole(sent_at);
            return;
        }
        // The server dates requests by their arrival, which differs from their sending by up
        // to the margin: at either end of the log, those within it may or may not be counted.
        if remaining > limit.saturating_sub(self.surely_counted(sent_at, spread)) + 1 {
            self.held = 0;
            self.telling = 0;
            self.failed += 1;
            if self.failed >= TO_BREAK || self.confirmed {
                self.broken = true;
                self.confirmed = false;
                self.frees = None;
            }
            return;
        }
        self.held += 1;
        let beyond = self
            .first
            .is_some_and(|first| sent_at > first + self.length + self.length / 10);
        let tells = beyond
            && counted >= (limit / 4).max(3)
            && (2..=limit.saturating_sub(3)).contains(&predicted)
            && remaining + 1 >= predicted;
        self.telling += u32::from(tells);
        self.wide |= tells && predicted >= limit / 4;
        if self.held >= TO_CONFIRM && self.telling >= TELLING && self.wide {
            self.confirmed = true;
        }
    }

    /// The server read the log's count spent on a request sent `sent_at`; `oldest` is when
    /// the `limit`-th latest went of this client's requests that can have reached the server
    /// before it (sent up to a spread of round trips after it, and not refused: taken or
    /// unanswered, so every one the log can hold is among them). The log holds `limit`, the
    /// oldest of them sent no later than `oldest`: it is at least as long as from `oldest` to
    /// `sent_at`, plus the reset if it names the next place (when that oldest leaves), less
    /// half the spread of round trips (`spread`, seconds) by which their ways there differ.
    ///
    /// A reset that names the next place is zero on every success with room left, so the
    /// longest read on a success is when the log filled early, short of its length: read as
    /// the length (0.58 s for a log of a second), the bound let the log's whole count go
    /// every 0.58 s, and 45 of each 52 drew 429s (0.71 429s per request against 0.17 with
    /// the headers hidden, server 66 of `goodput --sweep`; 0.62 on `log-next-slot`, on our
    /// simulator). Less the whole spread, the length stayed short by it (server 90's 429s
    /// rose from 0.22 to 0.31 per request); not less any, a log of 50 a second read 1.007 s,
    /// the count then read above that log's and broke it (`log-together` p5 0.927 -> 0.776).
    /// Others spending from the log make it read spent sooner, and this longer: read only
    /// where the resets name the next place, and from requests sent since the log last read
    /// whole. A count read as a log's before its resets reached [`SHORTEST`] (a bucket's next
    /// slot) is not one.
    pub(crate) fn spent(
        &mut self,
        sent_at: Duration,
        oldest: Duration,
        limits: &RateLimitHeaders,
        spread: f64,
    ) {
        let counts_this = limits.limit == Some(self.limit) && limits.remaining == Some(0);
        if self.broken || self.aside || self.length < SHORTEST || !counts_this {
            return;
        }
        if oldest < self.since || !self.names_next_slot() {
            // Only where the resets name the next place, so that nothing else reads the
            // length; and not past a reading of the log whole, which holds nothing sent
            // before it. Others spending the count stretch the span without bound: 16
            // processes on a fixed window of a second under Together's names read logs of
            // 38-57 s, and one left alone sent its last 50 a minute apart (on our simulator).
            return;
        }
        // The reset names the next place (checked above): when the log's oldest leaves it,
        // and that one went no later than `oldest`.
        let wait = limits.reset.unwrap_or_default();
        let span = sent_at
            .saturating_sub(oldest)
            .saturating_add(wait)
            .saturating_sub(Duration::from_secs_f64(spread.max(0.0) / 2.0));
        if span > self.length && span <= LONGEST {
            self.length = span;
        }
    }

    /// The server read its count whole (this request alone in it) on a request sent
    /// `sent_at`, where this client had sent others within a length before: it holds none of
    /// them, whatever it is. A fixed window does that when it opens, a bucket when full, a
    /// log whose length was read too long when this client was idle for its true length.
    /// Nothing before it counts any more, for the predictions and for the bound; and no
    /// prediction failed. (Broken by it, a window of a second whose reset reads "1" was paced
    /// by the blind learner, 0.80 of the ideal against 0.93 with the log's bound, on our
    /// simulator; the bound is safe on a window: no more than its count goes in any length,
    /// so in any window.)
    fn whole(&mut self, sent_at: Duration) {
        let before = self.taken.partition_point(|&t| t < sent_at);
        self.taken.drain(..before);
        self.since = self.since.max(sent_at);
        self.frees = None;
    }

    /// Whether resets have named the next place (zero on every answer with room).
    pub(crate) fn names_next_slot(&self) -> bool {
        self.next_slot == Some(true)
    }

    /// Whether the headers have named another count than the log's: its room is not all
    /// there is, and its whole count does not go at once.
    pub(crate) fn stacked(&self) -> bool {
        self.stacked
    }

    /// The latest request the server read the log whole on: nothing sent before it counts.
    pub(crate) fn since(&self) -> Duration {
        self.since
    }

    /// This client's taken requests the log counted when a request sent `at` reached it.
    fn counted(&self, at: Duration) -> u64 {
        self.sent_between(at.saturating_sub(self.length), at)
    }

    /// This client's taken requests sent after `after`, up to `until`. (Binary searches: this
    /// runs on every answer, under the host's lock, over up to [`KEPT`] times.)
    fn sent_between(&self, after: Duration, until: Duration) -> u64 {
        let from = self.taken.partition_point(|&t| t <= after);
        let to = self.taken.partition_point(|&t| t <= until);
        to.saturating_sub(from) as u64
    }

    /// This client's taken requests the log surely counted when a request sent `at` reached
    /// it: sent more than the margin after its far end, and more than the margin before `at`.
    fn surely_counted(&self, at: Duration, spread: f64) -> u64 {
        let margin = margin(spread);
        let since = at.saturating_sub(self.length) + margin;
        self.sent_between(since, at.saturating_sub(margin))
    }

    /// The oldest taken request within `length` before `newest`.
    fn oldest_within(&self, newest: Duration) -> Duration {
        let since = newest.saturating_sub(self.length);
        let first = self.taken.partition_point(|&t| t <= since);
        self.taken.get(first).copied().unwrap_or(newest)
    }

    /// Whether the count has read as a log so far: predictions held, some of them telling,
    /// none failed, and no other `limit` ever named (a limit that moves names many).
    pub(crate) fn plausible(&self) -> bool {
        !self.broken
            && !self.stacked
            && self.failed == 0
            && self.held >= TO_CONFIRM
            && self.telling >= 3
    }

    /// The confirmed log's length, if any.
    pub(crate) fn length(&self) -> Option<Duration> {
        (self.confirmed && !self.aside && self.length >= SHORTEST).then_some(self.length)
    }

    /// When the spent log next has room, if after `now`.
    pub(crate) fn frees_after(&self, now: Duration) -> Option<Duration> {
        self.frees
            .filter(|&at| at > now && self.confirmed && !self.aside)
    }
}

/// What a place of the log waits beyond its length: the way to the server varies by about
/// half the spread of round trips (`spread`, seconds; the way back varies too), plus a little.
pub(crate) fn margin(spread: f64) -> Duration {
    Duration::from_secs_f64(spread.max(0.0) / 2.0) + Duration::from_millis(2)
}

#[cfg(test)]
mod tests;
