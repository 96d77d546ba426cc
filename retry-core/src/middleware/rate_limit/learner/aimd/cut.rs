//! The cuts: what a 429 (or a refusal that may be a fault, or a count read spent) does to
//! the pace. The measure behind them is in the parent module's doc.

use std::time::Duration;

// The measured decrease counts on the learner's pause after a 429: the same constant.
use super::super::pause::PAUSE_INTERVALS;
use super::{Aimd, LEVEL, SLOW_START, clamp};

/// The deepest cut one 429 makes.
pub(super) const MAX_CUT: f64 = 0.5;
/// The gentlest cut one 429 makes.
pub(super) const MIN_CUT: f64 = 0.95;
/// The share of its estimate of the server's rate the pace falls to after a 429.
pub(super) const MARGIN: f64 = 0.97;
/// After a deep cut the pace climbs fast back to this share of the pace it was cut from.
pub(super) const RECOVER_TO: f64 = 0.9;
/// A probe that drew its first 429 under this many times the pace it started from found no
/// more room than that pace: fast recovery after its cut stops there.
pub(super) const PROBE_FOUND: f64 = 2.0;
/// A probe whose 429 came under this many times the pace it started from found no more than
/// the server's burst, with no headers to say otherwise: the pace goes back to where the
/// probe started (see [`Aimd::decrease`]).
pub(super) const PROBE_BURST: f64 = 1.5;

impl Aimd {
    /// Gives back what cuts since shown wrong took off: the pace grows by `factor`.
    pub(crate) fn give_back(&mut self, factor: f64) {
        if factor.is_finite() && factor > 1.0 {
            self.rate = clamp(self.rate * factor);
        }
    }

    /// `sent_at`, or the current pace where it is not finite (a request sent unpaced).
    pub(super) fn finite_or_pace(&self, sent_at: f64) -> f64 {
        if sent_at.is_finite() {
            sent_at
        } else {
            self.rate
        }
    }

    /// A 429 to a request sent at `sent_at` requests per second, in the current epoch;
    /// `refill`: the server's refill measured from `remaining`, when there is one (it then
    /// stands for the estimate, capped by the rate delivered while 429s keep coming, and may
    /// cut deeper than [`MAX_CUT`]: a slow start that overshot three times over falls to it
    /// at once).
    pub(crate) fn decrease(&mut self, sent_at: f64, now: Duration, refill: Option<f64>) {
        let sent_at = self.finite_or_pace(sent_at);
        let n = f64::from(self.run);
        let mut target = sent_at * n / (n + PAUSE_INTERVALS);
        let delivered = self.recent.delivered();
        if let Some(delivered) = delivered {
            target = target.min(delivered);
        }
        let mut deepest = sent_at * MAX_CUT;
        if let Some(refill) = refill {
            // The refill is measured over up to two seconds, so it lags a limit that has just
            // fallen; once 429s keep coming, what the server has taken since the first of
            // them caps it. (Alone, it cut 5 % a 429 from a stale measure: ten 429s over
            // 1.4 s to settle on a limit fallen from 50 to 25 a second, on our simulator.)
            target = delivered.map_or(refill, |delivered| refill.min(delivered));
            deepest = deepest.min(target * MARGIN);
        }
        // A little under the estimate, so the server's bucket refills a few requests before
        // the increase brings the pace back up: a buffer that is not full wastes no capacity.
        target *= MARGIN;
        // Tried and measured worse on the family (see examples/BENCHMARKS.md's notes): capping
        // fast recovery at the delivery rate measured at saturation, or at the last pace that
        // held through a quiet spell (after any cut: after a probe's own 429 it helps, below),
        // or at the step before a slow-start overshoot.
        // It climbs back no further than the measured refill.
        let mut recover_to = refill.map_or(sent_at * RECOVER_TO, |r| r.min(sent_at * RECOVER_TO));
        let mut rate = target.clamp(deepest, sent_at * MIN_CUT);
        // A probe's 429 that found little: fast recovery climbs back no further than where the
        // probe started (see the module's doc).
        if let Some(from) = self.probe_from.filter(|&from| sent_at < PROBE_FOUND * from) {
            recover_to = recover_to.min(from);
            // A probe drains the server's burst before its first 429, so the pace that 429 came
            // at overstates the limit by the burst's worth, and the measured cut left the pace
            // over a steady limit: a second 429 came 0.2-0.8 s later, after every probe (on our
            // simulator's `no-headers`, a bucket of 5 at 50 a second, the first came at 1.1-1.4
            // times the probe's start in 22 of 23 probes over 20 seeds). Without headers to
            // tell the burst from a risen limit, a 429 this close to where the probe started is
            // taken for the burst: the pace goes back to that start, which held through the
            // quiet spell. A limit that rises with use (`grow-spikes-none`: a quarter more a
            // second) was found at 1.5 times or more in 83 of 103 probes; at `PROBE_FOUND`'s
            // twice, the rule held its pace under the risen limit (0.658 -> 0.521 of the
            // ideal). A limit risen by less is still climbed to by the additive increase (2 % a
            // second), probe after probe.
            if refill.is_none() && sent_at < PROBE_BURST * from {
                rate = rate.min(from);
            }
        }
        self.set(rate, recover_to, now);
        self.run = 0;
    }

    /// A gentle cut, to `factor` of `sent_at` (the pace a request was sent at), for a refusal
    /// that may be a fault (see `super::overload`): no measure, no fast recovery after it.
    pub(crate) fn nudge(&mut self, sent_at: f64, factor: f64, now: Duration) {
        let sent_at = self.finite_or_pace(sent_at);
        self.set(self.rate.min(sent_at * factor), 0.0, now);
        self.run = 0;
    }

    /// The server's `remaining` says its bucket is spent (or, in slow start, going fast) while
    /// the pace is over the `refill` measured from it: the pace falls just under the refill at
    /// once, without waiting for the 429 (as HyStart ends TCP's slow start on rising delay
    /// before a loss), and slow start ends. Returns whether it did: nothing changes when the
    /// pace is under the refill already.
    pub(crate) fn settle(&mut self, refill: f64, now: Duration) -> bool {
        let under = refill * MARGIN;
        if self.rate <= under {
            return false;
        }
        self.set(under, 0.0, now);
        self.run = 0;
        true
    }

    /// A 429, in slow start, to a request sent at an earlier step (at `sent_at`): that step
    /// was over the limit already. The successes since were sent at later steps and measure
    /// nothing of it, so the pace goes back to the step before it (at least).
    /// With a measured `refill`, the pace falls to it instead.
    pub(crate) fn overshot(&mut self, sent_at: f64, now: Duration, refill: Option<f64>) {
        self.decrease(sent_at, now, refill);
        if sent_at.is_finite() && refill.is_none() {
            self.rate = self.rate.max(clamp(sent_at / SLOW_START));
            self.level = self.level.max(LEVEL * self.rate);
        }
    }
}
