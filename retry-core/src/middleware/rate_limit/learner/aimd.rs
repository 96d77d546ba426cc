//! The header-blind pace: learnt from 429s and successes alone.
//!
//! - **Slow start**: until the first 429 the pace grows by [`SLOW_START`] after each short run
//!   of successes sent at it, and stops at a rate the headers name where they bear it out
//!   (see [`Room::start_ceiling`]).
//! - **Multiplicative decrease, by a measured factor.** After a 429 everyone pauses for 1.5
//!   intervals, so the server's bucket (empty: it just said 429) refills `1.5 x` requests,
//!   where `x = server rate / pace`. Sending at the pace then drains it in `n = 1.5 x / (1 - x)`
//!   successes, so the `n` successes between two 429s measure `x = n / (n + 1.5)`. When the
//!   recent responses mix 429s and successes, the server is saturated and the successes come
//!   exactly at its rate, however long the round trip: that measure caps the estimate too (and
//!   the refill measured from `remaining`, which stands for the estimate where there is one
//!   but lags a limit that has just fallen). The pace falls to [`MARGIN`](cut::MARGIN) of
//!   the estimate, by a factor within [[`MAX_CUT`](cut::MAX_CUT),
//!   [`MIN_CUT`](cut::MIN_CUT)].
//! - **Additive increase near the limit**: each success adds [`INCREASE`](climb::INCREASE) requests per second,
//!   2 % a second at any pace, so at a steady limit the pace finds it again every second or
//!   two at the cost of one 429. After a deep cut the pace climbs fast back to
//!   [`RECOVER_TO`](cut::RECOVER_TO) of where it was cut from, in case the cut overshot.
//! - **Then faster and faster** (the convex half of TCP CUBIC's curve, RFC 9438): after
//!   [`QUIET`](climb::QUIET) with no 429, the limit has likely risen (Together raises dynamic limits for
//!   steady traffic), and the pace grows by `C * t^3` of itself after `t` more seconds: 20 to
//!   80 requests a second in about 1.5 s. Where the server's `remaining` says its bucket is
//!   filling, that is the evidence the quiet spell stands for, and the probe starts at once.
//!   While it reads full, none of it spent, the pace grows by [`FULL_STEP`](climb::FULL_STEP) a success (to a
//!   request sent at about the pace: see [`Aimd::at_pace`]) as slow start does, until the
//!   count dips below its peak or a 429 comes: four processes on a limit risen from 20 to 80
//!   a second find it in 1-1.5 s, not 3 s (on our simulator).
//!   The first 429 ends the probe with a measured cut, after which fast recovery climbs
//!   back no further than the pace the probe started from, unless the probe went past twice
//!   it ([`PROBE_FOUND`](cut::PROBE_FOUND)): on a server of 2 a second it climbed to 0.9 of
//!   the probe's peak before each probe (0.13 429s per request, now 0.117, on our
//!   simulator). Without headers, a 429 under 1.5 times the probe's start
//!   ([`PROBE_BURST`](cut::PROBE_BURST)) puts the pace back at that start: the probe drained
//!   the server's burst, and the measure, which counts every success since the last cut as
//!   sent at the 429's pace, left the pace over a steady limit, for a second 429 after
//!   every probe (steady buckets without headers: 0.027 / 0.037 -> 0.023 / 0.030 429s per
//!   request, median / worst of 20 seeds, on our simulator). Up to twice the start, the same
//!   rule held the pace under a limit that rises with use (`grow-spikes-none` 0.658 ->
//!   0.521 of the ideal; an earlier version, on `examples/independent/dynamic/`, a server
//!   written apart from this project: two seeds in six slower by 0.7-1.8 s); under 1.5
//!   times, neither moved. The probe runs only while requests
//!   wait for the pace: a client with little to send learns nothing about a higher rate, and
//!   does not pretend to. Nor while the server's `remaining` (or the tokens left, where a
//!   token limit binds) reads below its recent peak: the count is spent as fast as it
//!   refills, so the limit has not risen. Processes sharing one key without a channel see
//!   that when together they are at the limit; a probe there takes the others' share rather
//!   than finding more, and hears of its overshoot only through its own share of the 429s:
//!   one process's probe went from 2.5 to 29 requests a second before its first 429, on a
//!   limit of 50 shared by 16 (on our simulator). Once others leave, the count refills, reads
//!   at its peak, and the probe picks up what they left.
//! - **A floor that pulls back up**: the increase and the cuts above are in proportion to the
//!   pace, so processes sharing one limit without a channel between them keep whatever shares
//!   chance gives them: each pace is a random walk in proportion to itself (16 processes on one
//!   limit: one done in 12 s, another in 149 s, a call lost to its deadline). Below half the
//!   pace slow start ended at (its `level`: the share this client found first,
//!   which processes starting together find alike), the increase is a fixed [`INCREASE`](climb::INCREASE) of
//!   that level a second, whatever the pace, and the quiet spell counts intervals of the
//!   level (or of the fastest the server has lately served, if faster): as TCP's additive
//!   increase makes flows converge, a crowded-out process climbs back, and one left alone
//!   probes for the others' share within seconds. A lone client is under its own level only
//!   after a deep cut, where the faster climb
//!   is what fast recovery does anyway, or on a server slower than slow start's first cut (20
//!   a second halved): there it probes more often, the price of the fleet's convergence. So
//!   the level is held to [`LEVEL_CAP`] times the fastest the server has served over
//!   [`SERVED_OVER`](answers::SERVED_OVER) successes: on a free tier's one request every two
//!   seconds, a level of 5 from slow start doubled the pace after every success (each cut
//!   undone at once, every other request a 429: 0.54 of the ideal). Three times, not once or
//!   twice: a crowded-out process of a fleet is served slowly too, and a tighter cap undid
//!   the fleet's convergence (16 processes without headers: 0.87 -> 0.73 median at 1x, 0.83
//!   at 2x, 0.86 at 3x). The level halves every [`LEVEL_HALF_LIFE`](climb::LEVEL_HALF_LIFE), so a limit that has
//!   since fallen far is not pushed against for long.
//! - **No faster than 1 % a request**: 2 % a second is 4 % a request at half a request a
//!   second, where the limit is found again every few requests; the increase is capped at
//!   [`MAX_STEP`](climb::MAX_STEP) of the pace per success, which binds only under 2 requests a second.
//!
//! Only 429s to requests sent at the current pace (the current epoch) cut it: the answers to
//! requests already in flight when the pace changed say nothing about the new one.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[cfg(test)]
use super::super::schedule::Admission;
use answers::Answers;

/// The pace before anything is known: requests per second.
pub(crate) const INITIAL_RATE: f64 = 20.0;
/// The slowest pace it will fall to: one request every 20 s.
pub(crate) const MIN_RATE: f64 = 0.05;
/// The fastest pace it will climb to.
pub(crate) const MAX_RATE: f64 = 100_000.0;
/// The growth of the pace per run of successes, until the first 429.
const SLOW_START: f64 = 1.5;
/// The share of the pace slow start ended at that the floor holds to.
const LEVEL: f64 = 0.5;
/// The floor's level is at most this many times the fastest the server has served.
const LEVEL_CAP: f64 = 3.0;

/// The header-blind pace of one host.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Aimd {
    rate: f64,
    slow_start: bool,
    /// Successes to requests sent in the current epoch.
    run: u32,
    /// Where fast recovery climbs back to after the last cut (0: none).
    recover_to: f64,
    /// The pace the probe started from, once [`QUIET`](climb::QUIET) has passed since the last cut.
    probe_from: Option<f64>,
    /// Where on the curve the probe started: its growth counts from there. (Counted from the
    /// quiet spell's end instead, a spell that shortens as round trips do put the probe seconds
    /// along its curve at once: x10 within a round trip, 75 429s in one run.)
    #[serde(default)]
    probe_start: Duration,
    /// Time on the curve since the last cut (it stands still while nothing waits).
    on_curve: Duration,
    /// When the last response came, to advance `on_curve`.
    last: Duration,
    /// The floor's level (requests per second; 0 until slow start ends): see the module's
    /// doc.
    #[serde(default)]
    level: f64,
    /// The latest answers, and the rates they measure.
    recent: Answers,
    /// The fastest the server has taken requests, over
    /// [`SERVED_OVER`](answers::SERVED_OVER) successes in a row of the recent answers (0
    /// until then): what the floor's level is held to.
    #[serde(default)]
    served: f64,
    /// The fastest of any [`SERVED_OVER`](answers::SERVED_OVER) successes in a row among
    /// `recent`, kept as they change: read on every pace the trusted headers set.
    #[serde(default)]
    fastest: Option<f64>,
}

/// What a success's answer says of the room above the pace (see [`Aimd::taken`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Room {
    /// Requests are queued behind the pace: without them nothing is learnt of a higher rate,
    /// and the pace does not climb (whatever the rest says).
    pub(crate) waiting: bool,
    /// The server's `remaining` says its bucket is filling: the pace is below the limit.
    pub(crate) spare: bool,
    /// ...and reads full: none of it spent, whatever the pace (see
    /// [`Evidence::reads_full`](super::evidence::Evidence::reads_full)).
    pub(crate) full: bool,
    /// The server's count reads below its recent peak: it is spent as fast as it refills, so
    /// no probe starts or goes on, and the full bucket's growth stops.
    pub(crate) crowded: bool,
    /// Where slow start stops, the headers' rate where they bear it out (`None`: nowhere but
    /// at the first 429; see
    /// [`Evidence::start_ceiling`](super::evidence::Evidence::start_ceiling)): it grows to
    /// it, not past it, and ends there. A ceiling at or under the pace is none: slow start is
    /// not turned back by it.
    pub(crate) start_ceiling: Option<f64>,
}

impl Room {
    /// Requests wait; the headers say nothing of the room.
    #[cfg(test)]
    pub(crate) const WAITING: Room = Room {
        waiting: true,
        spare: false,
        full: false,
        crowded: false,
        start_ceiling: None,
    };
}

impl Aimd {
    pub(crate) fn new(initial_rate: f64) -> Self {
        let rate = clamp(initial_rate);
        Aimd {
            rate,
            slow_start: true,
            run: 0,
            recover_to: 0.0,
            probe_from: None,
            probe_start: Duration::ZERO,
            on_curve: Duration::ZERO,
            last: Duration::ZERO,
            level: 0.0,
            recent: Answers::default(),
            served: 0.0,
            fastest: None,
        }
    }

    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }

    /// Whether slow start is on: the pace has only climbed so far.
    pub(crate) fn starting(&self) -> bool {
        self.slow_start
    }

    /// Whether a 429 came within the quiet spell ([`QUIET`](climb::QUIET)) before `now`,
    /// among the answers kept.
    pub(crate) fn refused_lately(&self, now: Duration) -> bool {
        self.recent
            .last_refused()
            .is_some_and(|at| now.saturating_sub(at) < climb::QUIET)
    }

    /// Takes `rate` as the pace, from a source that knows better (trusted headers): a later
    /// fall back to this learner starts from it, with a curve that stays near it.
    pub(crate) fn follow(&mut self, rate: f64, now: Duration) {
        self.set(rate, 0.0, now);
    }

    /// Sets the pace (ending slow start) and where fast recovery climbs back to; the curve
    /// starts again from `now`.
    fn set(&mut self, rate: f64, recover_to: f64, now: Duration) {
        self.rate = clamp(rate);
        self.end_slow_start();
        self.recover_to = recover_to;
        self.probe_from = None;
        self.on_curve = Duration::ZERO;
        self.last = now;
    }

    /// Whether the answer to a request sent at `sent_rate` speaks for the current pace: sent at
    /// it, or at most one full-bucket step ([`FULL_STEP`](climb::FULL_STEP)) under it. A count read full after
    /// a slower request says nothing of the pace since: answers to requests sent at 47 a
    /// second, after a pause that let the bucket fill, each grew the pace by a step, to 103 a
    /// second within 0.15 s, and a 429 cut it to 44 (on a server written apart from this
    /// project, whose limit wanders between 20 and 80 a second: 0.06-0.10 429s per request,
    /// against 0.04 with its headers hidden).
    pub(crate) fn at_pace(&self, sent_rate: f64) -> bool {
        !sent_rate.is_finite() || sent_rate * (1.0 + climb::FULL_STEP) >= self.rate
    }

    /// Records one response (`taken`: anything but a 429) that came `now`.
    pub(crate) fn record(&mut self, now: Duration, taken: bool) {
        self.recent.push(now, taken);
        self.fastest = self.recent.fastest();
        if taken {
            self.served = self.served.max(self.recent.served().unwrap_or(0.0));
        }
        if self.served > 0.0 {
            self.level = self.level.min(LEVEL_CAP * self.served);
        }
    }

    /// The rate the server took requests at while refusing some, lately (see
    /// [`Answers::delivered`]).
    pub(crate) fn delivered(&self) -> Option<f64> {
        self.recent.delivered()
    }

    /// The fastest the server has lately served [`answers::SERVED_OVER`] successes in a row.
    pub(crate) fn fastest_served(&self) -> Option<f64> {
        self.fastest
    }

    /// Ends slow start, if on: the pace it ended at sets the floor's level.
    pub(crate) fn end_slow_start(&mut self) {
        if self.slow_start {
            self.level = LEVEL * self.rate;
            self.slow_start = false;
        }
    }
}

pub(crate) fn clamp(rate: f64) -> f64 {
    if rate.is_nan() {
        return INITIAL_RATE;
    }
    rate.clamp(MIN_RATE, MAX_RATE)
}

/// For the learner's tests: an [`Admission`] at `rate`.
#[cfg(test)]
pub(crate) fn admission(epoch: u64, rate: f64) -> Admission {
    Admission {
        epoch,
        rate,
        seq: 0,
        at: Duration::ZERO,
        early: false,
        in_flight: 1,
        sent_by_answer: 0,
    }
}

mod answers;
mod climb;
mod cut;
#[cfg(test)]
mod tests;
