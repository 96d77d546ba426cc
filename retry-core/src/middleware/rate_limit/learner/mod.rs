//! The learner: from what responses say to the pace requests go at.
//!
//! Two sources, one pace:
//! - [`aimd`]: the header-blind pace, learnt from 429s and successes alone. It works on any
//!   server, and is the floor: whatever the headers say, the learner does no worse than this.
//! - [`evidence`]: the rate-limit headers, each reading a hypothesis that is used only while
//!   what happens agrees with it. A trusted bucket reading sets the pace (reached by doubling
//!   what the server has served, the first time, then outright, following the limit as it
//!   moves, both ways, at once); the burst licence lets requests go back to back when the
//!   server reports room for them.
//! - [`refill`]: the server's refill, measured from how an accurate `remaining` moves against
//!   what was sent, whatever `limit` and `reset` mean. When the bucket runs out (or, in slow
//!   start, drains fast) with the pace over it, the pace settles just under it at once, and a
//!   429's cut falls to it: the 429s that finding the limit again took (one a second or so)
//!   are not needed.
//! - [`window`] and [`log`]: a count per fixed window, or a sliding log, told apart from a
//!   bucket by what its resets and its count do, and once confirmed paced as what it is.
//! - [`silent_window`]: a fixed window on a server that names nothing (or whose count broke
//!   the fixed window it was confirmed), read from runs of 429s with the same count taken
//!   before each, and paced as a log of that count.
//! - [`crowd`]: other clients spending the same per-minute budget, read from what it loses
//!   beyond this process's requests; among them, its rate caps the blind pace, which the
//!   whole budget steers, over the time a cut takes to show. Its first answers tell already
//!   whether others started on it too: no process bursts until they say no one did. A
//!   budget that reads full again, the others gone, lets the pace climb back to its rate.
//!
//! [`observe`] takes one answer through all of them, in order. Around them: [`trust`], how
//! far a bucket reading is believed before the server has served its pace; [`pause`], how
//! long everyone waits after a 429 and when a reset the headers name is waited out;
//! [`overload`], what 503s say; [`slots`], a limit on requests in flight read from where the
//! 429s fall.
//!
//! # Why this is hand-written
//! governor's quotas are fixed when the limiter is built: a new rate means a new limiter and
//! the loss of its state, and there is no notion of a cooldown or of a rate that moves with
//! every response. The pace here changes on almost every response, so it is a few numbers
//! under the host's lock, read by the schedule.

mod aimd;
mod crowd;
mod evidence;
mod log;
mod observe;
mod overload;
mod pause;
mod refill;
mod silent_window;
mod slots;
mod trust;
mod window;

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::schedule::LogBound;
use crate::middleware::headers::RateLimitHeaders;

pub(crate) use aimd::INITIAL_RATE;
use aimd::{Aimd, Room, clamp};
use crowd::{FirstAnswers, Start, Steer};
use evidence::Evidence;
pub(crate) use evidence::{one_back, one_back_of};
use log::LogReading;
use overload::Overload;
use refill::Refill;
use silent_window::SilentWindow;
use slots::SlotReading;
use window::WindowSign;

/// What a response said, as far as the pace is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The server took the request (any status but 429, 503 and 529, or a transport error).
    Taken,
    /// 429.
    RateLimited,
    /// 503 or 529: the server is out of capacity, or refuses the pace (see [`overload`]).
    Overloaded,
}

/// How many recent round trips the spread of round trips is measured over.
const RTT_WINDOW: usize = 16;
/// 429s at the current pace, with nothing taken since, after which one request goes at a
/// time until one is taken, each answered before the next goes (requests sent before it do
/// not hold it: an LLM's generations take seconds): the server refuses everything for now
/// (a window spent until it ends, an outage), and each pause's end otherwise let the queue
/// go at the pace until the next 429 came back, a round trip's worth (15 at a time, 61 429s
/// in one spent window on a server written apart from this project, with 50 ms round trips).
const RUN_ALONE: u32 = 2;

/// The learned pace of one host.
/// Clone and serde: a fleet keeps one learner in its shared store (`super::fleet`), and each
/// process paces by its copy.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Learner {
    aimd: Aimd,
    evidence: Evidence,
    epoch: u64,
    /// Recent round trips (seconds), for how much they vary.
    rtts: VecDeque<f64>,
    /// 429s at the current pace since the server last took a request. The first cuts the
    /// pace; the ones after it, with nothing taken in between, say the server refuses
    /// everything for now (a fixed window spent until it ends, an outage), not that the pace
    /// is twice too fast again: they double the pause instead, and cut only once the pause is
    /// the longest. (Halving per 429 took a pace of 60 down to 4 within one empty window of a
    /// 50-a-second fixed-window server.)
    #[serde(default)]
    refusals: u32,
    /// The pause the latest of those 429s set (seconds): the next one doubles it. (Doubling
    /// the current pace's interval once per 429 instead made one step of a fixed window's
    /// run 4.6x longer when the pace fell from 114 to 50 a second between two of its 429s:
    /// 0.1 -> 0.48 -> 0.96 s, which paused past the window's end and lost most of the next
    /// one, on our simulator.)
    #[serde(default)]
    paused: f64,
    /// Whether the server's resets show a fixed window, and when it ends (see [`window`]).
    #[serde(default)]
    window: WindowSign,
    /// The server's refill, measured from `remaining` (see [`refill`]).
    #[serde(default)]
    refill: Refill,
    /// Recent round trips of 429s (seconds): how late news of an overshoot comes. An LLM's
    /// success takes its generation too, a 429 does not.
    #[serde(default)]
    refusal_rtts: VecDeque<f64>,
    /// What 503s and 529s have shown of the pace (see [`overload`]).
    #[serde(default)]
    overload: Overload,
    /// Whether `remaining` counts a sliding log (see [`log`]).
    #[serde(default)]
    log: LogReading,
    /// Until when a spent count's reset holds everyone, once the longest pause proved too
    /// short (see [`Self::named_wait`]).
    #[serde(default)]
    held_until: Option<Duration>,
    /// A limit on requests in flight, read from where the 429s fall. Not shared with a
    /// fleet: each process counts its own in flight.
    #[serde(skip)]
    slots: SlotReading,
    /// The bucket reading's pace has been proven (see [`Self::prove`]).
    #[serde(default)]
    proven: bool,
    /// 503s have refused the pace for want of capacity (see `overload`): the bucket reading
    /// is a ceiling over the blind pace, no longer the pace.
    #[serde(default)]
    capacity_bound: bool,
    /// A fixed window read from where its 429s fall, used where the headers name no limit or
    /// count, or their count broke a confirmed window (see [`Self::silent_reading`]).
    #[serde(default)]
    silent: SilentWindow,
    /// The blind pace's steering among other clients of a per-minute budget (see
    /// [`crowd`]). Not shared with a fleet, as the spans it steers by are not.
    #[serde(skip)]
    steer: Steer,
    /// The blind pace's steering in a fixed window other clients spend too (see
    /// [`window::ShareSteer`]). Not shared with a fleet, as [`Self::steer`].
    #[serde(skip)]
    share_steer: window::ShareSteer,
    /// What the first answers of a per-minute budget showed of others (see
    /// [`crowd::FirstAnswers`]). Shared with a fleet: its requests are dated in one sequence,
    /// so the fleet reads as one client.
    #[serde(default)]
    first: FirstAnswers,
    /// The pace the latest 429's request went at: a budget read unspent climbs no further
    /// than under it while that 429 is recent, if it came at the budget's rate (see
    /// `observe`).
    #[serde(default)]
    refused_pace: Option<f64>,
    /// The latest 429 that read its per-minute budget full (see
    /// [`Evidence::budget_reads_full`]): the pace its request went at, and when it came.
    #[serde(default)]
    refused_full: Option<(f64, Duration)>,
}

impl Learner {
    /// A learner starting at `initial_rate`.
    ///
    /// A fleet has one (in its shared store: `super::fleet`), which reads every process's
    /// answers, each dated by its place among the fleet's admissions: what `remaining` counts
    /// is then what it predicts, and its readings are checked as a lone client's are. (Each
    /// process learning on its own, with predictions that other processes' requests could not
    /// fail, trusted a misread `limit` at once: 0.07-0.22 429s per request where the lone
    /// client draws 0.03.)
    pub(crate) fn new(initial_rate: f64) -> Self {
        Learner {
            aimd: Aimd::new(initial_rate),
            evidence: Evidence::default(),
            epoch: 0,
            rtts: VecDeque::with_capacity(RTT_WINDOW),
            refusals: 0,
            paused: 0.0,
            window: WindowSign::default(),
            refill: Refill::default(),
            refusal_rtts: VecDeque::new(),
            overload: Overload::default(),
            log: LogReading::default(),
            held_until: None,
            slots: SlotReading::default(),
            proven: false,
            capacity_bound: false,
            silent: SilentWindow::default(),
            steer: Steer::default(),
            share_steer: window::ShareSteer::default(),
            first: FirstAnswers::default(),
            refused_pace: None,
            refused_full: None,
        }
    }

    /// Requests per second: a confirmed fixed window's or sliding log's count per its length,
    /// else the trusted bucket reading's, else the header-blind learner's.
    pub(crate) fn rate(&self) -> f64 {
        if let Some((count, length)) = self.window() {
            return clamp(count as f64 / length.as_secs_f64());
        }
        self.bucket_rate().map_or_else(|| self.aimd.rate(), clamp)
    }

    /// A confirmed fixed window (see [`window`]) or sliding log (see [`log`]), or a window
    /// read from 429s alone (see [`silent_window`]): its count and its length. Each takes its
    /// whole count at once, and that many per length.
    fn window(&self) -> Option<(u64, Duration)> {
        if let Some((count, length)) = self.silent_reading() {
            return Some((count.into(), length));
        }
        let count = self.evidence.limit().filter(|&count| count > 0)?;
        let length = self.window.length().or_else(|| self.log_length());
        Some((count, length?))
    }

    /// The window read from where the 429s fall (see [`silent_window`]): on a server that
    /// names no limit, or one whose count was confirmed a fixed window and then broke it, so
    /// the headers hold neither (and no trusted bucket nor confirmed log). (Used only without
    /// headers, a sliding log of 6 a second under Together's names, whose resets fit neither
    /// a window nor a bucket, was paced by halving cuts down to 4 a second: 0.778 of the
    /// ideal and 0.137 429s per request, against 0.983 and 0.030 with the headers hidden, on
    /// a server of `goodput --sweep`. Used wherever the headers held nothing yet, before the
    /// window's own reading was confirmed, a fixed window under Together's names written
    /// apart from this project drew 0.067 429s per request at the median of 4 runs, real
    /// clock, where the build before drew 0.025: a row that spreads widely, 0.061 before
    /// this session's changes, but the risk is not worth the one server it was for.)
    fn silent_reading(&self) -> Option<(u32, Duration)> {
        let reading = self.silent.reading()?;
        let headers_hold = self.bucket_rate().is_some()
            || self.window.length().is_some()
            || self.log_length().is_some();
        let silent = !self.evidence.named() || self.window.neither();
        // Nor one whose whole count is under half of what the server lately read left: it
        // is not that server's count. (A fleet's others spending a fixed window made one
        // process read 4 per 7 s from its 429s, and paced by it once the others were done,
        // the count reading 47-49 left of 50, its last calls took minutes: 16 processes on
        // `window-together`, on our simulator.)
        let room = self.evidence.recent_peak().unwrap_or(0);
        let outgrown = room >= 2 * u64::from(reading.0);
        (silent && !headers_hold && !outgrown).then_some(reading)
    }

    /// A confirmed sliding log's length, if at least four times the margin each of its places
    /// needs (which then costs at most a fifth of its rate): a shorter one is paced as the
    /// bucket it looks like.
    fn log_length(&self) -> Option<Duration> {
        let length = self.log.length()?;
        (length >= log::margin(self.rtt_spread()) * 4).then_some(length)
    }

    /// A confirmed sliding log's bound on admissions (see [`log`]).
    pub(crate) fn log_bound(&self) -> Option<LogBound> {
        if let Some((count, length)) = self.silent_reading() {
            // A fixed window's count in any of its lengths keeps every window within it,
            // whatever its phase; and should the server be a sliding log, it is its bound.
            // Every request taken counts, the ones before the reading too. (Counted from the
            // window it was read at, a log read as a window took a whole count at once when
            // it had a few places back: 45 429s in a row, on our simulator's `log-none`.)
            return Some(LogBound {
                count,
                length,
                margin: log::margin(self.rtt_spread()),
                since: Duration::ZERO,
            });
        }
        let length = self.log_length()?;
        let count = self.evidence.limit().filter(|&count| count > 0)?;
        Some(LogBound {
            count: u32::try_from(count).unwrap_or(u32::MAX),
            length,
            margin: log::margin(self.rtt_spread()),
            since: self.log.since(),
        })
    }

    /// An answer to the request admitted `sent_at` read its count spent, and `oldest` is
    /// when the latest of this process's requests that the count can hold went (see
    /// [`LogReading::spent`]): a sliding log is at least that long.
    pub(crate) fn count_spent(
        &mut self,
        sent_at: Duration,
        oldest: Duration,
        limits: &RateLimitHeaders,
    ) {
        let spread = self.rtt_spread();
        self.log.spent(sent_at, oldest, limits, spread);
    }

    /// When a spent sliding log has room again, if after `now`: nothing goes before it.
    pub(crate) fn log_room_after(&self, now: Duration) -> Option<Duration> {
        self.log_length()?;
        self.log.frees_after(now)
    }

    /// Whether `reset` is known to mean the time until the bucket is full (so an empty bucket
    /// has a request back after `reset / limit`).
    pub(crate) fn reset_means_full(&self) -> bool {
        self.bucket_rate().is_some()
    }

    /// When a spent fixed window ends, if after `now`: nothing goes before it.
    pub(crate) fn window_ends_after(&self, now: Duration) -> Option<Duration> {
        self.window.ends_after(now)
    }

    /// How many of this host's requests may be in flight now, if the server is read as
    /// limiting that (see `slots`).
    pub(crate) fn in_flight_limit(&self, now: Duration) -> Option<u32> {
        self.slots.limit(now)
    }

    /// Whether the next request goes alone, and the rest wait for its answer: the server has
    /// refused everything for a while (see [`RUN_ALONE`]), or a window read without headers is
    /// opening (see [`silent_window`]).
    pub(crate) fn probing(&self, now: Duration) -> bool {
        self.refusals >= RUN_ALONE || (self.silent_reading().is_some() && self.silent.probing(now))
    }

    /// Probes from now on, as after a run of 429s, until something is taken.
    #[cfg(test)]
    pub(crate) fn refused_a_run(&mut self) {
        self.refusals = RUN_ALONE;
    }

    /// Believes, from `now`, that the server serves `limit` requests at once.
    #[cfg(test)]
    pub(crate) fn believe_in_flight_limit(&mut self, limit: u32, now: Duration) {
        self.slots = SlotReading::believing(limit, now);
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// How many requests the schedule may send back to back, when the headers give a reason to
    /// send more than one: a bucket they report, or a per-minute budget.
    pub(crate) fn burst(&self) -> Option<u32> {
        if let Some((count, _)) = self.window() {
            if self.window.length().is_none() && self.log.stacked() {
                // A log with another count behind it: the log's room may be the other's
                // spent (a burst of 25 on the log of 50 a second's room met the log of 200
                // per 10 s with a few places back: 25 429s, on our simulator).
                return Some(1);
            }
            // A window's whole count goes at once when it opens.
            return Some(u32::try_from(count).unwrap_or(u32::MAX));
        }
        self.evidence.licensed()
    }

    /// The bucket `remaining` counts against (the burst licence, held under what the headers
    /// report), when the headers report one. The schedule's tolerance is [`Self::burst`].
    pub(crate) fn bucket(&self) -> Option<u32> {
        if self.window().is_some() {
            // A window gives its count back at once, not a request per interval: a count read
            // spent holds everything until the window ends instead (see `window_ends_after`).
            return None;
        }
        self.evidence
            .reports_bucket()
            .then(|| self.evidence.burst())
    }

    /// How much the recent round trips vary (seconds): the longest less the shortest.
    pub(crate) fn rtt_spread(&self) -> f64 {
        let (lo, hi) = self
            .rtts
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), &r| {
                (lo.min(r), hi.max(r))
            });
        if lo.is_finite() { hi - lo } else { 0.0 }
    }
}

/// For the learner's tests: headers saying a bucket of `limit` with `remaining` left, full
/// again in `reset_ms`.
#[cfg(test)]
pub(crate) fn reading(limit: u64, remaining: u64, reset_ms: u64) -> RateLimitHeaders {
    RateLimitHeaders {
        limit: Some(limit),
        remaining: Some(remaining),
        reset: Some(Duration::from_millis(reset_ms)),
        ..RateLimitHeaders::default()
    }
}

/// Pushes `value` onto `window`, which keeps the last `len`: every window of recent answers
/// the learner measures over.
fn keep_last<T>(window: &mut VecDeque<T>, value: T, len: usize) {
    while window.len() >= len {
        window.pop_front();
    }
    window.push_back(value);
}

/// The mean of `window`, if it holds anything.
fn mean(window: &VecDeque<f64>) -> Option<f64> {
    (!window.is_empty()).then(|| window.iter().sum::<f64>() / window.len() as f64)
}

#[cfg(test)]
mod tests;
