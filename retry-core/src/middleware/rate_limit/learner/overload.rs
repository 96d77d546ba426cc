//! 503s and 529s ("overloaded"), read as refusals of the pace while what happens says they are.
//!
//! A server out of capacity answers 503 (Together does, below an account's limits), and so does
//! a rate limiter that says nothing of rates: nginx's `limit_req` refuses a rate over its limit
//! with a bare 503. Either way, the more it is sent, the more it refuses. Read as successes, as
//! they were, they grew slow start to a thousand requests a second against a limit of 50
//! answered with 503s, and a batch stopped at its circuit breaker within 1.4 s, 56 of its 300
//! lines done (on a server written apart from this project). But a server also fails a share
//! of its answers at random, whatever the pace: cut for each, a pace falls to a few requests a
//! second on a server that fails one answer in 20.
//!
//! So, after slow start, each 503 is a refusal of the pace, as a 429 is, until the evidence
//! says otherwise:
//! - A *lone* one (at most [`SPARSE`] among the last [`WINDOW`] answers, to a pace within
//!   [`OVER`] of what the server has lately taken) cuts by [`LONE_CUT`] only: it may be a
//!   fault. Others cut as a 429 does.
//! - A lone one to a request sent at the pace the last such cut set (within [`DRIFT`]), and
//!   sparse over a longer run too (at most [`LONG_SPARSE`] of the last [`LONG_WINDOW`]), is
//!   one the cut did not stop: a strike. After [`STRIKES_TO_REFUTE`] of them the 503s are faults
//!   of this server, for good, and the pace gets back what the cuts for lone ones took (at
//!   most [`MOST_GIVEN_BACK`]). From then on a 503 refuses the pace only in a crowd ([`CROWD`]
//!   of the last [`WINDOW`]: an outage, a limit refusing half of what is sent). A limit
//!   refusing with 503s looks like faults while the pace is within a tenth of it, and may be
//!   taken for them: it then refuses up to four requests in ten before the pace falls.
//! - In slow start only a crowd refuses: a fault there ended it at a pace the blind learner
//!   then took seconds to climb back from, and the pace doubles in two steps, too fast for the
//!   rate taken to measure anything. A limit refusing with 503s refuses a third of what the
//!   next step over it sends, half of the step after.
//!
//! (Counted only in a crowd, they never counted on a bucket: it spreads its refusals evenly,
//! 20 % over its limit refusing every fifth request and never two in a row, and a pace
//! settled there with a quarter of its requests refused, on our simulator.)

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::super::schedule::Admission;
use super::{Learner, RTT_WINDOW, keep_last};

/// How many of the latest answers the density of 503s is counted over.
const WINDOW: usize = 10;
/// 503s among the last [`WINDOW`] answers under which a 503 at the cut pace is sparse: a
/// fault, not a refusal (a server failing one answer in 20 has two among ten one time in 11).
const SPARSE: usize = 2;
/// 503s among the last [`WINDOW`] that refuse the pace once 503s are known as faults (one
/// time in ~1 000 answers for a server failing one in 20 at random).
pub(crate) const CROWD: usize = 4;
/// How far above the cut pace a request still counts as sent at it: the additive increase
/// adds ~2 % a second.
const DRIFT: f64 = 0.02;
/// How much faster than the server has lately taken requests a pace is over it: a server
/// failing one answer in 20 takes 95 % of what it is sent.
const OVER: f64 = 1.1;
/// The most the pace gets back when the 503s are shown faults: a share of it the faults may
/// have cut, not what slow start had reached.
const MOST_GIVEN_BACK: f64 = 1.5;
/// How much faster than the fastest the server has lately served a pace refused by 503s is
/// over its capacity (a pace a trusted bucket reading sets is at most twice it until the
/// server has served half of it; a right reading's is about it, bursts served faster).
const OVER_SERVED: f64 = 1.5;
/// 503s the last cut did not stop that make them faults.
const STRIKES_TO_REFUTE: u32 = 3;
/// How many of the latest answers a strike's 503s must be sparse over as well...
const LONG_WINDOW: usize = 50;
/// ...at most this many: a server failing one answer in 20 at random has at most 3 among 50
/// three times in four, a limit 40 % over refusing three requests in ten almost never. (Over
/// the last 10 alone, such a limit, fallen from 50 to 20 a second under the pace, gave three
/// strikes within a second: taken for faults, it refused a third of what was sent for two
/// seconds more, and a call ran out of attempts in 2 % of runs, on our simulator.)
const LONG_SPARSE: usize = 3;

/// What 503s have shown of the pace.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Overload {
    /// Whether each of the last [`WINDOW`] answers was a 503 (or 529).
    recent: VecDeque<bool>,
    /// The pace the last cut for a 503 set (0 before any).
    cut_to: f64,
    /// 503s that came at that pace, sparse: the cut did not stop them.
    strikes: u32,
    /// What the cuts for lone 503s took off the pace, as a factor (1 before any, 0 read as
    /// 1): a crowd of them, or one to a pace over what the server takes, is no fault.
    taken_off: f64,
    /// Whether the latest refusal was a lone 503 (see `taken_off`).
    lone: bool,
    /// Whether each of the last [`LONG_WINDOW`] answers was a 503 (never cleared by a cut).
    #[serde(default)]
    long: VecDeque<bool>,
}

/// The cut a lone 503 makes: 5 %, the gentlest a 429 makes. It may be a fault, and the cut
/// measured as for a 429 took a pace of 49 to 43 a second at once (the server's rate measured
/// while refusing counts what the faults took: a server failing one answer in 20 at random,
/// 0.95 of the ideal, on our simulator).
pub(crate) const LONE_CUT: f64 = 0.95;

/// What one 503 says of the pace.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Reading {
    /// A refusal: the pace is cut (the caller then calls [`Overload::cut`]).
    Refusal,
    /// A fault of the server: nothing to learn.
    Fault,
    /// The 503s are faults of this server, as of this one: the cuts they made were wrong,
    /// and the pace gets back what they took, this factor.
    Refuted(f64),
}

impl Overload {
    /// An answer other than a 503.
    pub(crate) fn other(&mut self) {
        keep_last(&mut self.recent, false, WINDOW);
        keep_last(&mut self.long, false, LONG_WINDOW);
    }

    /// A 503 to a request sent at `sent_rate` requests per second, at the current pace (or,
    /// `starting`, in slow start); `delivered`: the rate the server took requests at while
    /// refusing some, if measured.
    pub(crate) fn read(
        &mut self,
        sent_rate: f64,
        starting: bool,
        delivered: Option<f64>,
    ) -> Reading {
        keep_last(&mut self.recent, true, WINDOW);
        keep_last(&mut self.long, true, LONG_WINDOW);
        let recent = self.recent.iter().filter(|&&overloaded| overloaded).count();
        let long = self.long.iter().filter(|&&overloaded| overloaded).count();
        self.lone = false;
        // Sent faster than the server has lately taken requests: a cut that went not far
        // enough, not a fault (a bucket 15 % over its limit refuses one request in seven).
        let over = delivered.is_some_and(|taken| sent_rate > taken * OVER);
        if starting {
            // Slow start ends on a crowd only: a fault there ended it at a pace the blind
            // learner then took seconds to climb back from. A limit refusing with 503s
            // refuses a third of what the next step sends, half of the step after. (The
            // rate taken lags a pace that grows by half each step: not a measure here.)
            return if recent >= CROWD {
                Reading::Refusal
            } else {
                Reading::Fault
            };
        }
        if self.strikes >= STRIKES_TO_REFUTE {
            // Faults: only a crowd refuses. (A pace over what the server takes refusing too
            // cut the pace on most faults: that rate is measured since the first refusal
            // among the last 64 answers, pauses included. 0.851 of the ideal on a server
            // failing one answer in 20, on our simulator.)
            return if recent >= CROWD {
                Reading::Refusal
            } else {
                Reading::Fault
            };
        }
        let at_cut = self.cut_to > 0.0 && sent_rate <= self.cut_to * (1.0 + DRIFT);
        if !(at_cut && recent <= SPARSE && long <= LONG_SPARSE) || over {
            self.lone = recent <= SPARSE && !over;
            return Reading::Refusal;
        }
        self.strikes += 1;
        if self.strikes < STRIKES_TO_REFUTE {
            return Reading::Fault;
        }
        // The cuts made for faults are given back: left, the pace sat 18 % low for the two
        // seconds the additive increase took to climb back (a server failing one answer in 20
        // at random, its 429s hinted in `retry-after-ms`: 0.914 of the ideal, 0.987 before
        // 503s were read; on our simulator).
        Reading::Refuted(self.taken_off().min(MOST_GIVEN_BACK))
    }

    /// What the cuts for lone 503s took off the pace, as a factor (1 before any).
    fn taken_off(&self) -> f64 {
        if self.taken_off > 0.0 {
            self.taken_off
        } else {
            1.0
        }
    }

    /// Whether the latest refusal was a lone 503: it cuts by [`LONE_CUT`].
    pub(crate) fn lone(&self) -> bool {
        self.lone
    }

    /// The pace was cut from `from` to `to` for a 503.
    pub(crate) fn cut(&mut self, from: f64, to: f64) {
        self.cut_to = to;
        if self.lone && to > 0.0 {
            self.taken_off = self.taken_off() * from / to;
        }
        // Counted once: a crowd needs as many again.
        self.recent.clear();
    }

    /// Whether the 503s are known as faults of this server (see the module's doc).
    #[cfg(test)]
    pub(crate) fn faults(&self) -> bool {
        self.strikes >= STRIKES_TO_REFUTE
    }
}

impl Learner {
    /// Whether `rate` is well over ([`OVER_SERVED`]) the fastest the server has lately served.
    fn over_served(&self, rate: f64) -> bool {
        (self.aimd.fastest_served()).is_some_and(|fastest| rate > OVER_SERVED * fastest)
    }

    /// An overloaded answer (503, 529) to `sent`, which came `now`: a refusal of the pace,
    /// as a 429 is, while the 503s have not shown themselves faults (see the module's doc).
    /// Never a success (slow start does not grow on it). Only the header-blind pace is cut: the
    /// headers (if any) speak of the rate limit, which is not what refused it, so a bucket
    /// reading trusted from them is only a ceiling over that pace from then on (it kept its
    /// pace before: Together's headers reporting plenty left on a server serving 8 at once
    /// and refusing a ninth with a 503, as Together does below an account's limits, drew 2.0
    /// 503s per request and lost 1 227 calls over 20 runs, on our simulator's
    /// `concurrency-8-503-together`; 292 of 300 a run on a server written apart from this
    /// project). The mark stays until the 503s show themselves faults. Returns whether
    /// everyone should pause briefly.
    pub(super) fn overloaded(&mut self, now: Duration, sent: &Admission) -> bool {
        let (current, starting) = (sent.epoch == self.epoch, self.aimd.starting());
        if !(current || starting) {
            return false;
        }
        match self
            .overload
            .read(sent.rate, starting, self.aimd.delivered())
        {
            // Refused in a crowd (a lone one may be a fault): a request the burst licence let
            // go early, refused so, cuts the licence as a 429 does (the burst put more in
            // flight than the server serves); and at a pace well over the fastest the server
            // has served, for want of capacity, not by the rate limit any headers describe:
            // the bucket reading is a ceiling from now on, the blind pace the pace under it.
            // (On any refusal, a bucket of 5 at 50 a second failing 5 % of its answers at
            // random fell from 0.997 to 0.901 of the ideal; on any crowd, to 0.944; as it is,
            // 0.976, the licence halved by the faults' crowds.)
            Reading::Refusal if !self.overload.lone() => {
                if self.over_served(sent.rate) {
                    self.capacity_bound = true;
                }
                if sent.early {
                    self.evidence.burst_outcome(false);
                }
            }
            Reading::Refusal => {}
            Reading::Fault => return false,
            Reading::Refuted(factor) => {
                self.aimd.give_back(factor);
                self.capacity_bound = false;
                return false;
            }
        }
        let rtt = now.saturating_sub(sent.at).as_secs_f64();
        keep_last(&mut self.refusal_rtts, rtt, RTT_WINDOW);
        self.aimd.record(now, false);
        let from = self.aimd.rate();
        if self.overload.lone() && !starting {
            self.aimd.nudge(sent.rate, LONE_CUT, now);
            self.refusals = 0;
            self.epoch += 1;
        } else {
            self.refused(now, sent, None, false);
        }
        self.overload.cut(from, self.aimd.rate());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers other than 503s, as many as the longer count holds.
    fn quiet(overload: &mut Overload) {
        for _ in 0..LONG_WINDOW {
            overload.other();
        }
    }

    #[test]
    fn every_503_refuses_until_one_comes_at_the_cut_pace() {
        let mut overload = Overload::default();
        assert_eq!(overload.read(80.0, false, None), Reading::Refusal);
        overload.cut(80.0, 50.0);
        assert_eq!(
            overload.read(60.0, false, None),
            Reading::Refusal,
            "above the cut pace"
        );
        overload.cut(60.0, 50.0);
        quiet(&mut overload);
        assert_eq!(
            overload.read(50.5, false, None),
            Reading::Fault,
            "at it, sparse"
        );
        quiet(&mut overload);
        let over = Some(40.0);
        assert_eq!(
            overload.read(50.5, false, over),
            Reading::Refusal,
            "over what is taken"
        );
        assert!(!overload.faults());
    }

    #[test]
    fn a_dense_503_at_the_cut_pace_refuses_it_a_limit_fell() {
        let mut overload = Overload::default();
        overload.read(80.0, false, None);
        overload.cut(80.0, 50.0);
        assert_eq!(overload.read(50.0, false, None), Reading::Fault);
        assert_eq!(overload.read(50.0, false, None), Reading::Fault);
        assert_eq!(
            overload.read(50.0, false, None),
            Reading::Refusal,
            "three of ten"
        );
    }

    #[test]
    fn sparse_503s_the_cuts_do_not_stop_are_faults_and_give_the_cuts_back() {
        let mut overload = Overload::default();
        overload.read(80.0, false, None);
        overload.cut(80.0, 70.0);
        overload.read(72.0, false, None);
        overload.cut(72.0, 60.0);
        for strike in 1..=STRIKES_TO_REFUTE {
            quiet(&mut overload);
            let reading = overload.read(60.0, false, None);
            if strike < STRIKES_TO_REFUTE {
                assert_eq!(reading, Reading::Fault);
            } else {
                let Reading::Refuted(factor) = reading else {
                    panic!("{reading:?}");
                };
                // 80 -> 70 and 72 -> 60.
                assert!(
                    (factor - 80.0 / 70.0 * 72.0 / 60.0).abs() < 1e-9,
                    "{factor}"
                );
            }
        }
        assert!(overload.faults());
        // From then on only a crowd refuses, and in slow start only a crowd ever does.
        quiet(&mut overload);
        assert_eq!(
            overload.read(500.0, false, None),
            Reading::Fault,
            "one, far above"
        );
        for _ in 1..CROWD - 1 {
            assert_eq!(overload.read(500.0, false, None), Reading::Fault);
        }
        assert_eq!(
            overload.read(500.0, false, None),
            Reading::Refusal,
            "a crowd"
        );
        let mut starting = Overload::default();
        assert_eq!(starting.read(500.0, true, None), Reading::Fault);
    }

    /// A limit fallen under the pace refuses one request in eight or more: often no more
    /// than two of the last ten, never as few as three of the last 50.
    #[test]
    fn lone_503s_among_many_over_a_longer_run_are_no_strikes() {
        let mut overload = Overload::default();
        for _ in 0..4 {
            assert_eq!(overload.read(80.0, false, None), Reading::Refusal);
            overload.cut(80.0, 50.0);
        }
        for _ in 0..20 {
            for _ in 0..7 {
                overload.other();
            }
            // One among the last ten, six or seven among the last 50.
            let reading = overload.read(50.0, false, None);
            assert_eq!(reading, Reading::Refusal, "no strike");
            overload.cut(50.0, 50.0);
        }
        assert!(!overload.faults());
    }
}
