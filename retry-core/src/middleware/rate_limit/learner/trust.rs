//! How far a bucket reading is trusted: a pace the headers claim is reached by doubling what
//! the server has served, then taken whole once proven (see [`Learner::prove`]), and held as
//! a ceiling over the blind pace once 503s have shown the server out of capacity under it.

use super::Learner;
use crate::middleware::hints::RateLimitHeaders;

/// How far ahead of the fastest the server has served a bucket reading's pace may go, until
/// it is proven (see [`Learner::prove`]). Headers that report a rate of 1 000 a second that
/// never binds, on a server serving 8 requests at once, were trusted after three answers, at
/// 30 a second in slow start: the queue sent 64 at once, and the three 429s that refuted the
/// reading came among 60 (0.37 429s per request against 0.03 with the headers hidden; 0.07
/// with this cap, on our simulator's `concurrency-8-together`). Twice, as slow start doubles:
/// a limit that rose from 20 to 80 a second (`step-50-20-80-bucket`) is reached as fast.
const TRUST_AHEAD: f64 = 2.0;

impl Learner {
    /// The trusted bucket reading's pace, unless the count reads as a sliding log so far
    /// (see [`LogReading::plausible`](super::log::LogReading::plausible)). A log whose
    /// reset names when its oldest request leaves reads, as a bucket, "46 used, full in
    /// 0.18 s": a pace of 260 a second, which the bucket reading's predictions, loose on a
    /// count of 50, did not refute. Trusted before the log was confirmed, it paced at
    /// 260-900 a second: 38-54 429s in 3 of 15 runs on a server written apart from this
    /// project (10-14 in every run without it).
    ///
    /// Until it is proven (see [`Self::prove`]), the reading's pace is at most
    /// [`TRUST_AHEAD`] times the fastest the server has served, and never under the blind
    /// learner's: a pace the headers claim is reached by doubling, as slow start would, not
    /// in one jump.
    pub(super) fn bucket_rate(&self) -> Option<f64> {
        let rate = self
            .evidence
            .bucket_rate()
            .filter(|_| !self.log.plausible())?;
        if self.capacity_bound {
            return Some(rate.min(self.aimd.rate()));
        }
        if self.proven {
            return Some(rate);
        }
        let reached = (self.aimd.fastest_served())
            .map_or(0.0, |fastest| TRUST_AHEAD * fastest)
            .max(self.aimd.rate());
        Some(rate.min(reached))
    }

    /// The bucket reading's pace is proven once the server has served half of it
    /// ([`TRUST_AHEAD`]), or if it is per minute (a documented rate, checked against its
    /// reset, that each of a fleet's processes, served a share of it, never sees half
    /// served: held to twice its own share, one of four on Anthropic's headers fell to 0.59
    /// of the ideal, on our simulator). From then on it is taken whole, and follows the limit
    /// as it moves. A process of a fleet on a bucket reading is held to twice what it is
    /// served until then, which keeps it from running ahead of the others: four processes on
    /// `together-bucket`, 0.935 -> 0.952 of the ideal (median of 20 seeds, on our simulator),
    /// 0.052 -> 0.042 429s per request.
    pub(super) fn prove(&mut self, limits: &RateLimitHeaders) {
        let Some(rate) = self.evidence.bucket_rate() else {
            return;
        };
        let served =
            (self.aimd.fastest_served()).is_some_and(|fastest| TRUST_AHEAD * fastest >= rate);
        self.proven |= served || limits.family.per_minute();
    }
}
