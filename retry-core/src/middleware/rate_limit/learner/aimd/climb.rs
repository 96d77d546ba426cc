//! The climbs: what a success does to the pace (slow start, fast recovery, the additive
//! increase and the floor under it, the probe after a quiet spell, and what the server's count
//! says of the room above). The measure behind them is in the parent module's doc.

use std::time::Duration;

use super::{Aimd, Room, SLOW_START, clamp};

/// Requests per second added to the pace per success.
pub(super) const INCREASE: f64 = 0.02;
/// Fast recovery closes this share of the gap to where it climbs back to
/// ([`RECOVER_TO`](super::cut::RECOVER_TO)) with each success.
const RECOVERY: f64 = 0.1;
/// How long without a 429 (while requests wait) before the pace probes upwards fast...
pub(super) const QUIET: Duration = Duration::from_millis(1_500);
/// ...and at least this many intervals of the pace.
const QUIET_REQUESTS: f64 = 20.0;
/// The round trip below which the increase is not slowed (seconds).
const REFERENCE_RTT: f64 = 0.05;
/// With spare room reported, the pace grows by this share of itself per second (one success
/// at a pace of `r` adds `SPARE_GROWTH / r` of it).
const SPARE_GROWTH: f64 = 0.35;
/// While the server's count reads full and requests wait, the pace grows by this share of
/// itself per success (at short round trips).
pub(super) const FULL_STEP: f64 = 0.1;
/// With a budget read unspent, the pace grows by this share of itself per round
/// trip, or per success where a round trip holds less than one (see
/// [`Aimd::climb_unspent`]).
const UNSPENT_STEP: f64 = 0.1;
/// The probe's growth: `C * t^3` of the pace it started from after `t` seconds of probing.
const C: f64 = 1.0;
/// How fast the floor fades (measured with none and with a 30 s and a 60 s half-life on the
/// fleet benchmark: the shorter, the more a crowded-out process lags again; five minutes
/// changes nothing within a run there).
pub(super) const LEVEL_HALF_LIFE: f64 = 300.0;
/// The additive increase is at most this share of the pace per success.
pub(super) const MAX_STEP: f64 = 0.01;

impl Aimd {
    /// A success to a request sent in the current epoch (`current`); `room`: what the answer
    /// says of the room above the pace; `rtt`: how long news of an overshoot takes to come
    /// back (seconds). Returns whether slow start moved to a new epoch.
    pub(crate) fn taken(&mut self, now: Duration, current: bool, room: Room, rtt: f64) -> bool {
        let Room {
            waiting,
            spare,
            full,
            crowded,
            start_ceiling,
        } = room;
        let since = now.saturating_sub(self.last);
        self.last = self.last.max(now);
        if self.slow_start {
            if current {
                self.run += 1;
                if self.run >= self.run_length() {
                    let grown = self.rate * SLOW_START;
                    self.run = 0;
                    match start_ceiling.filter(|&ceiling| ceiling > self.rate) {
                        Some(ceiling) if grown >= ceiling => {
                            self.rate = clamp(ceiling);
                            self.end_slow_start();
                        }
                        _ => self.rate = clamp(grown),
                    }
                    return true;
                }
            }
            return false;
        }
        self.run += u32::from(current);
        if !waiting {
            return false;
        }
        // Far below where the last cut came from, close the gap fast: the cut may have
        // overshot (a deep cut on little evidence, a long round trip).
        let gap = (self.recover_to - self.rate).max(0.0);
        // When 429s come back late, news of an overshoot comes late, when more has been sent
        // into it: the increase slows in proportion, as TCP's does per round trip. (`rtt` is
        // the 429s' round trip once there are any: an LLM's successes take a second of
        // generation, its 429s come back at once.)
        let slow = (REFERENCE_RTT / rtt.max(REFERENCE_RTT)).max(0.1);
        self.level *= (-since.as_secs_f64() / LEVEL_HALF_LIFE).exp2();
        // 2 % a second is 4 % a request at half a request a second: at most 1 % a request,
        // so a slow server is not found again every other request.
        let increase = (INCREASE * slow).min(MAX_STEP * self.rate);
        let mut rate = self.rate + increase.max(gap * RECOVERY);
        if self.rate < self.level {
            // Under the floor: a fixed share of the level a second, not of the pace.
            rate = rate.max(self.rate + INCREASE * slow * self.level / self.rate);
        }
        if spare {
            // The server's bucket is filling: the pace is below the limit. Climb at once
            // (about x1.4 a second), and probe without waiting for a quiet spell (below).
            rate = rate.max(self.rate * (1.0 + SPARE_GROWTH / self.rate));
        }
        if full && !crowded {
            // Nothing of the bucket spent, whatever the pace: grow as slow start does until
            // the count dips (then it reads below its peak) or a 429 comes. A full reading is
            // a round trip old: slowed by the square of the round trip's ratio (by the ratio
            // alone, `rtt-300-bucket`'s worst run drew 0.050 429s per request, not 0.037).
            rate = rate.max(self.rate * (1.0 + FULL_STEP * slow * slow));
        }
        self.on_curve += since;
        // Quiet for long enough in time and in requests (at half a request a second, 1.5 s is
        // no evidence at all), and longer when the round trip is. The requests are intervals of
        // the fastest the server has lately taken this client's, if faster than the pace: a
        // process left alone at a fleet's tail, at a fraction of what it was served, waited
        // 20 of its own slow intervals (3-5 s) before it probed (4 processes without
        // headers: 0.82 -> 0.90 of the ideal, on our simulator).
        let fastest = self.fastest.unwrap_or(0.0);
        let quiet = QUIET
            .max(Duration::from_secs_f64(
                QUIET_REQUESTS / self.rate.max(self.level).max(fastest),
            ))
            .mul_f64(1.0 / slow);
        // The quiet spell stands for evidence that the limit has room; a bucket reported
        // filling is that evidence already. (Waiting for the spell, 20 intervals of a
        // process's share, four processes on a limit risen from 20 to 80 a second took three
        // seconds to find it: 0.79 of the ideal, on our simulator.)
        if (self.on_curve >= quiet || spare) && !crowded {
            if self.probe_from.is_none() {
                self.probe_from = Some(self.rate);
                self.probe_start = self.on_curve;
            }
            let from = self.probe_from.unwrap_or(self.rate);
            let t = (self.on_curve - self.probe_start).as_secs_f64();
            // Never more than a quarter up in one step.
            rate = rate.max((from * (1.0 + C * t * t * t)).min(self.rate * 1.25));
        } else if self.probe_from.is_some() {
            // The round trips have lengthened past the quiet spell since the probe started, or
            // the server's count has stopped refilling: it holds, and its clock with it. (Left
            // running, the probe resumed seconds along its curve once they shortened again:
            // 41 -> 80 requests a second in three successes on `rtt-300-none`.)
            self.probe_start += since;
        }
        self.rate = clamp(rate);
        false
    }

    /// A success whose budget has read unspent (see `Evidence::unspent`): the
    /// pace climbs towards `ceiling`, the budget's rate, by [`UNSPENT_STEP`] per round trip
    /// of `rtt` seconds, as a full bucket's does per success (see [`Aimd::taken`]) but in
    /// time: a process left alone at two requests a second gets few successes a second. (By a
    /// doubling per round trip, slow start's, on one answer read full, two processes came
    /// within 0.97 of the ideal, but sixteen, whose budget reads full for an answer now and
    /// then, drew 0.132 429s per request, not 0.085; on our simulator.)
    pub(crate) fn climb_unspent(&mut self, ceiling: f64, rtt: f64, now: Duration) {
        // Successes per round trip at this pace; each takes its share of the round trip's
        // step, and at most doubles the pace.
        let per_rtt = (self.rate * rtt.max(0.01)).max(0.01);
        let grown = self.rate * (1.0 + UNSPENT_STEP).powf(1.0 / per_rtt).min(2.0);
        if grown > self.rate {
            self.follow(grown.min(ceiling), now);
        }
    }

    /// Successes at one pace before slow start grows it.
    fn run_length(&self) -> u32 {
        ((self.rate * 0.05) as u32).clamp(2, 64)
    }
}
