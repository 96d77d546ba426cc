//! One answer in: [`Learner::observe`], which reads what a response says into every source
//! of the pace, in order (in-flight slots, 503s, the round trip, the headers, the window and
//! log readings, the measured refill, the trusted readings), then cuts, pauses, settles or
//! grows the pace by its outcome.

use std::time::Duration;

use super::super::schedule::Admission;
use super::{Evidence, Learner, Outcome, RTT_WINDOW, Room, Start, Steer, keep_last, mean};
use crate::middleware::headers::RateLimitHeaders;

/// On a bucket of three or less, a refill measured under this share of a trusted rate
/// reading's floor is not used: the reading is the better evidence (`grow-rate-full` 0.930
/// / 0.727 -> 0.934 / 0.853 of the ideal, `grow-spikes-rate-full` 0.579 / 0.535 -> 0.641 /
/// 0.590, median / worst of 20 seeds). The measures that settle a pace before its 429s do
/// go unused with them: `sawtooth-rate` drew 0.037 429s per request at worst without the
/// rule, 0.043 with it (0.063 at the whole floor), on our simulator.
const FLOOR_MEASURED: f64 = 0.9;
/// How far under the pace of a recent 429 at the budget's rate ([`AT_THE_RATE`]) a budget
/// read unspent climbs.
const UNDER_REFUSED: f64 = 0.9;
/// A 429 to a request sent past a steady named rate, by no more than this factor, finds the
/// limit where it is named (see `Learner::observe`).
const JUST_PAST: f64 = 1.1;
/// A 429 to a request sent at this share of a budget's rate or more was drawn at the rate.
const AT_THE_RATE: f64 = 0.97;
/// How long a 429 that read its per-minute budget full holds the climb to that budget's
/// rate under its pace (see `Learner::observe`).
const FULL_REFUSAL_MEMORY: Duration = Duration::from_secs(10);
/// ...and no further under the budget's rate than this share of it: two steps of
/// [`UNDER_REFUSED`].
const FULL_REFUSED_FLOOR: f64 = UNDER_REFUSED * UNDER_REFUSED;
/// ...if the 429 came at this share of the budget's rate or more: under it, at a share of
/// a budget that others spend too.
const NEAR_THE_RATE: f64 = 0.75;

impl Learner {
    /// Learns from one response, which came `now` (time since the host's origin); `waiting`:
    /// requests are queued behind the pace. Returns whether everyone should pause briefly: a
    /// 429 to a request sent at the current pace (which cuts it) or on the burst licence (which
    /// cuts that).
    pub(crate) fn observe(
        &mut self,
        now: Duration,
        sent: &Admission,
        outcome: Outcome,
        limits: &RateLimitHeaders,
        waiting: bool,
    ) -> bool {
        let count_spent = outcome == Outcome::RateLimited && limits.remaining == Some(0);
        if !sent.early && !self.aimd.starting() && !count_spent {
            // A burst the headers licensed is refused by a bucket's size at its tail, as many
            // in flight as it sent, whatever limits those in flight; and in slow start a rate
            // too fast puts more in flight just as it draws 429s. Nor is a 429 that reads the
            // count spent read here: the count refused it. (Read, an LLM's long answers put
            // the most in flight just when a pace too fast spent a bucket of two at 40 a
            // second, a limit of 22 in flight was believed, and nothing under it refuted it:
            // 13 a second from then on, 0.507 of the ideal where the headers hidden made
            // 0.643; 0.556 since, on server 124 of `goodput --sweep`; 132 and 168 went from
            // 0.81 and 0.71 to 0.86 and 0.87.)
            self.slots.read(now, sent.in_flight, outcome);
        }
        if outcome != Outcome::Taken && self.slots.explains(sent.in_flight) {
            // Too many in flight, not too fast: the pace stands, and the queue waits for an
            // answer before the next goes.
            return false;
        }
        if outcome == Outcome::Overloaded {
            return self.overloaded(now, sent);
        }
        if self.aimd.starting() {
            // Others starting on the same per-minute budget (see `super::crowd::FirstAnswers`).
            match self.first.read(sent, limits) {
                Some(Start::Crowded) => {
                    self.aimd.end_slow_start();
                    self.evidence.hold_licence();
                }
                Some(Start::Unsure) => self.evidence.hold_licence(),
                Some(Start::Alone) => self.evidence.give_licence(),
                None => {}
            }
        }
        self.overload.other();
        let rtt = now.saturating_sub(sent.at).as_secs_f64();
        keep_last(&mut self.rtts, rtt, RTT_WINDOW);
        let spread = self.rtt_spread();
        let taken = outcome == Outcome::Taken;
        if !taken {
            keep_last(&mut self.refusal_rtts, rtt, RTT_WINDOW);
        }
        self.evidence.read(sent, limits, !taken, spread);
        self.log.read(sent.at, taken, limits, spread);
        if taken {
            self.silent.taken(sent.at, spread);
        } else {
            self.silent.refused(now, sent.at);
        }
        let full = self.evidence.counted_full();
        if let (Some(full), Some(remaining)) = (full, limits.remaining) {
            if taken {
                self.refill.taken(now, sent, remaining, full, spread);
            } else {
                self.refill.refused(sent);
            }
        }
        // The measured refill, unless far below the pace (a quarter of it: beyond any
        // overshoot of slow start's, and a fixed window's near-zero, should one get agreed).
        // A count that the server showed to be neither a bucket's nor a window's (a window
        // confirmed, then broken) measures no refill, and says nothing of room: a log of the
        // last second's requests gives back what this client sent a second ago, so its
        // "refill" is this client's own past pace (settled on, 29 a second against a limit of
        // 50), and its count sits below its peak at any pace under the limit (no probe:
        // 0.69-0.71 of the ideal on a server written apart from this project, 0.83-0.94 with
        // its headers hidden). (Dropped at the sign alone, before any confirmation, one run
        // in 20 of `sawtooth-rate` fell from 0.95 to 0.85 of the ideal, on our simulator.)
        let bucket_like = !self.window.neither();
        // Nor, on a bucket of three or less, one well under a trusted rate reading's floor
        // ([`FLOOR_MEASURED`]): measured on a bucket of two, which reads one after every take
        // at any pace under its refill, the "refill" was the client's own pace, and it settled
        // every pace the floor had set back to it (17 a second admitted against a limit of 23,
        // for seconds, on our simulator's `grow-rate-full`). A larger bucket's measure is
        // kept (ignored there too, `sawtooth-rate`'s worst run drew 0.047 429s per request,
        // not 0.043).
        let floor = self.rate_floor().filter(|_| self.evidence.small_bucket());
        let refill = self.refill.rate(now).filter(|&rate| {
            bucket_like
                && full.is_some()
                && rate >= 0.25 * sent.rate.min(self.aimd.rate())
                && floor.is_none_or(|floor| rate >= FLOOR_MEASURED * floor)
        });
        if taken {
            self.window.taken(now, sent.at, limits, spread);
        } else {
            if self.window.refused(now, sent.at, limits, spread).is_some() {
                self.evidence.refute();
            }
            self.window.refused_in_flight(sent.in_flight);
        }
        if sent.early {
            self.evidence.burst_outcome(taken);
        }
        self.aimd.record(now, taken);
        if outcome == Outcome::RateLimited && sent.rate.is_finite() {
            self.refused_pace = Some(sent.rate);
            // (For the climb below. Not a 429 to a request the burst licence sent: that
            // refuses the burst, not the pace; counted, the licence's one 429 held OpenAI's
            // names on a bucket of two at 12 a second under the rate for ten seconds, 0.951
            // -> 0.922 of the ideal, server 31 of `goodput --sweep`. The tokens left are read
            // too: a token limit's 429 says nothing finer refuses, and counted, four
            // processes on `tokens-openai` joining and leaving went from 0.956 to 0.942 at the
            // 5th percentile; on our simulator.)
            if !sent.early && Evidence::budget_reads_full(limits) {
                self.refused_full = Some((sent.rate, now));
            }
        }
        let current = sent.epoch == self.epoch;
        self.prove(limits);
        let delay = self.news_delay();
        let crowd = self.evidence.crowd(Steer::window(delay));
        if let (Some(crowd), Some(rate)) = (crowd, self.evidence.bucket_estimate()) {
            self.steer
                .steer(&mut self.aimd, now, crowd, rate, taken, delay);
        } else if let Some((spending, rate)) = self.window.shared_spending(now, sent.at, limits) {
            self.share_steer
                .steer(&mut self.aimd, now, spending, rate, taken, delay);
        } else {
            self.steer.lost_sight();
        }
        let trusted = self.bucket_rate();
        let ceiling = self.reading_is_a_ceiling();
        if let Some(rate) = trusted.filter(|&rate| !ceiling || rate < self.aimd.rate()) {
            // (A ceiling over the blind pace, out of capacity or among other clients of a
            // per-minute budget, the reading is followed only when it falls under that
            // pace.) Followed at every answer, even one that leaves the pace where it was:
            // each restarts the blind learner's curve (no probe, no fast recovery pending),
            // so a reading later refuted hands over a pace that has not been climbing on its
            // own meanwhile. Processes of a fleet without a channel hold together by it:
            // skipped while the reading equals the blind pace, four on Together's bucket
            // fell from 0.905 to 0.845 of the ideal at p5 (and 16 in `join-leave` from 0.927
            // to 0.770), on our simulator.
            self.aimd.follow(rate, now);
        }
        let fell = self.evidence.rate_fell();
        if let Some(floor) = self.rate_floor().filter(|_| trusted.is_none()) {
            // The rate the headers name holds the blind pace up; when it falls, as a dynamic
            // limit's does at a load spike, the pace falls with it at once, not at the 429s
            // that would say so a round trip later.
            if floor > self.aimd.rate() || (fell && floor < self.aimd.rate()) {
                self.aimd.follow(floor, now);
            }
            // Nor does the blind pace climb back past a rate that has never moved, on a
            // bucket of three or less, while a 429 to a request sent just past it is recent
            // ([`JUST_PAST`]): the floor undid each cut at once, and a climb of a few
            // successes found the 429 again, one a second on a bucket of one at 13 a second
            // named as its rate (0.79 of the ideal and 0.093 429s per request, against 0.89
            // and 0.043 held; 0.73 and 0.043 with the headers hidden; server 105 of
            // `goodput --sweep`, on our simulator). A bucket that small has no room for a
            // request that comes early, so past the rate there are only 429s. A rate that has
            // risen may rise again with use, and is left to be pushed (held to it, one run in
            // 60 of `grow-spikes-rate-full` fell from 0.53 to 0.35 of the ideal). A 429 far
            // past the rate says less: slow start's overshoot, or a `limit` that is a
            // bucket's size read as a rate and borne out by 429s far over it (see
            // `rate_floor`); held there too, 16 processes on `together-bucket` went from 0.919
            // to 0.812 at the 5th percentile. Nor where the bucket reading puts the refill
            // at more than twice the rate named: there `limit` is a bucket's size (5), and a
            // process of a fleet whose share is near it was held to it (8 processes on
            // `step-50-20-80-bucket`, p5 / worst of 60 seeds 0.871 / 0.854 -> 0.856 / 0.816).
            // A pace past the refused one was set by other evidence, and is left.
            if let Some(named) = self.evidence.steady_rate()
                && self.evidence.small_bucket()
                && let Some(pace) = self.recent_refusal_pace(now).filter(|&pace| pace > named)
                && pace <= JUST_PAST * named
                && (self.evidence.bucket_estimate()).is_none_or(|bucket| bucket <= 2.0 * named)
                && self.aimd.rate() > named
                && self.aimd.rate() <= pace
            {
                self.aimd.follow(named, now);
            }
        }
        if let (Some(length), Some(count)) = (self.log_length(), self.evidence.limit()) {
            // Paced by a confirmed log, the blind learner holds its rate: a log that breaks
            // (two limits taking turns) hands over this pace, not one the blind learner grew
            // meanwhile on answers the log's bound paced (1.09 429s per request, on a server
            // written apart from this project, before).
            self.aimd.follow(count as f64 / length.as_secs_f64(), now);
        }
        if let Some((count, length)) = self.silent_reading() {
            // Likewise under a window read without headers.
            self.aimd
                .follow(f64::from(count) / length.as_secs_f64(), now);
        }
        match outcome {
            // A request the burst licence let go ahead of the pace: the licence was wrong (it is
            // cut above), not the pace. Everyone pauses, so the server's bucket refills a
            // little. In slow start, an answer that reads the count spent (one known to count)
            // says the pace is over its refill too: slow start ends where it is, without a cut
            // (left on, it grew 101 a second to 152 against a limit of 50 before the first
            // paced 429; on our simulator, `wander-rate-full`). Ended on every such 429,
            // per-minute figures and a constant `remaining` among them, `together-minute` and
            // `together-constant` fell from 0.989 to 0.875 at the 5th percentile; stepped back
            // by a slow-start step as well, the logs and windows lost up to 0.13 of the ideal.
            Outcome::RateLimited if sent.early => {
                if limits.remaining == Some(0) && full.is_some() {
                    self.aimd.end_slow_start();
                }
                true
            }
            // In slow start, a 429 to a request sent at an earlier step is news of the current
            // one too: the pace has only climbed since, further over the limit.
            Outcome::RateLimited if current || self.aimd.starting() => {
                if let Some(until) = self.named_wait(now, limits) {
                    self.held_until = self.held_until.max(Some(until));
                    self.refusals = self.refusals.saturating_add(1);
                    self.epoch += 1;
                    return true;
                }
                if trusted.is_some_and(|rate| sent.rate <= rate * 1.01) && self.cuts() {
                    self.evidence.contradicted();
                }
                self.refused(now, sent, refill, Self::back_within_pause(limits));
                true
            }
            Outcome::RateLimited | Outcome::Overloaded => false,
            Outcome::Taken => {
                self.refusals = 0;
                if let (Some(refill), Some(remaining), Some(full), None) =
                    (refill, limits.remaining, full, trusted)
                {
                    // The bucket spent, or in slow start half spent with the pace well over
                    // the refill: settle under the refill before the 429s come.
                    let starting = self.aimd.starting();
                    let spent = remaining == 0
                        || (starting && remaining * 2 < full && sent.rate > 1.2 * refill);
                    if (current || starting)
                        && spent
                        && sent.rate > refill
                        && self.aimd.settle(refill, now)
                    {
                        self.epoch += 1;
                        return false;
                    }
                }
                if self.slots.believed() {
                    // The limit on requests in flight is what holds the queue, not the pace:
                    // a pace grown against it would be a flood should the limit be refuted.
                    return false;
                }
                let room = Room {
                    waiting,
                    spare: bucket_like && self.evidence.spare(limits),
                    full: bucket_like
                        && self.evidence.reads_full(limits)
                        && self.aimd.at_pace(sent.rate),
                    crowded: bucket_like && self.evidence.below_peak(limits),
                    start_ceiling: self.evidence.start_ceiling(),
                };
                if self.aimd.taken(now, current, room, delay) {
                    self.epoch += 1;
                }
                if let Some(rate) = self
                    .evidence
                    .unspent(limits, self.aimd.rate())
                    .filter(|_| waiting && !self.aimd.starting() && self.aimd.at_pace(sent.rate))
                    .filter(|_| limits.family.per_minute() || !self.aimd.refused_lately(now))
                {
                    // A budget nobody spends: climb towards its rate. (Its reading was refuted
                    // by 429s that others drew, or never trusted: the blind learner's increase
                    // took a process left alone at a fleet's tail from 3 to 50 requests a
                    // second in 3 s; see `Evidence::unspent`.) On a per-second bucket, not
                    // while 429s came lately: a bucket that reads full while requests are
                    // refused is not what refuses them (an inference server's 8 slots behind a
                    // rate of 1 000 a second it never reaches: `concurrency-8-together` climbed
                    // after every cut, 0.033 / 0.060 -> 0.417 / 0.467 429s per request, median
                    // / worst of 20 seeds, and with 503s, 3 calls lost in 2 of 20 runs, on our
                    // simulator). A per-minute budget's climb is left as it was: held the same
                    // way, two processes on `anthropic` fell from 0.900 to 0.826 of the ideal
                    // at the 5th percentile.
                    // Nor, while a 429 drawn at the budget's rate is recent, past
                    // [`UNDER_REFUSED`] of its pace: a per-minute budget read unspent says
                    // nothing of the bucket that enforces it per second. (Climbing straight
                    // back to the budget's rate, 6 a second on a bucket of one whose arrivals
                    // the round trips spread by 60 ms, every other request drew a 429: 0.447
                    // of the ideal, 0.36 429s per request, against 0.729 and 0.057 with the
                    // headers hidden, on a server of `goodput --sweep`.)
                    let mut ceiling = self.unspent_ceiling(rate, limits);
                    if let Some(pace) = self.recent_refusal_pace(now)
                        && pace >= AT_THE_RATE * rate
                    {
                        ceiling = ceiling.min(UNDER_REFUSED * pace);
                    }
                    // Nor, for seconds ([`FULL_REFUSAL_MEMORY`]) after a 429 near the rate
                    // ([`NEAR_THE_RATE`]) that read the budget full, past [`UNDER_REFUSED`] of
                    // that 429's pace, under the rate as at it: the budget did not refuse it,
                    // the finer limit that enforces it did (Anthropic documents a per-minute
                    // limit enforced per second), and climbing back to the budget's rate after
                    // each cut found that limit again 1.5 s later, when the 429 was no longer
                    // recent. On a bucket of one at 6 a second under Anthropic's names (server
                    // 122 of `goodput --sweep`), every 429 read 359 of 360: 0.606 of the ideal
                    // and 0.197 429s per request, against 0.729 and 0.053 with the headers
                    // hidden; held, 0.771 and 0.050. No further under the rate than two such
                    // steps ([`FULL_REFUSED_FLOOR`]): where jitter draws 429s at any pace, each
                    // 429 lowered the hold again, and OpenAI's names on a bucket of two at 107
                    // a second fell from 0.601 to 0.539 (server 60); on our simulator. Not
                    // after a 429 far under the rate: a process's share of a fleet's draws
                    // 429s that read such a budget full too, and held at its share, a process
                    // left alone climbed back slowly (two real processes on a server written
                    // apart from this project, Anthropic's names: 0.941 / 0.929 -> 0.914 /
                    // 0.901 of the ideal, median / worst of 3 runs; 0.937 / 0.933 near the
                    // rate only).
                    if let Some(pace) = self
                        .full_refusal_pace(now)
                        .filter(|&pace| pace >= NEAR_THE_RATE * rate)
                    {
                        ceiling =
                            ceiling.min((UNDER_REFUSED * pace).max(FULL_REFUSED_FLOOR * rate));
                    }
                    self.aimd.climb_unspent(ceiling, delay, now);
                }
                false
            }
        }
    }

    /// The pace the latest 429's request went at, while that 429 is recent (within the
    /// quiet spell: see `Aimd::refused_lately`).
    fn recent_refusal_pace(&self, now: Duration) -> Option<f64> {
        self.refused_pace.filter(|_| self.aimd.refused_lately(now))
    }

    /// The pace of the latest 429 that read its per-minute budget full, for
    /// [`FULL_REFUSAL_MEMORY`] after it.
    fn full_refusal_pace(&self, now: Duration) -> Option<f64> {
        let (pace, at) = self.refused_full?;
        (now.saturating_sub(at) < FULL_REFUSAL_MEMORY).then_some(pace)
    }

    /// How long news of an overshoot takes to come back (seconds): the round trip of the
    /// recent 429s, once there are any, else of every answer.
    fn news_delay(&self) -> f64 {
        mean(&self.refusal_rtts)
            .or_else(|| mean(&self.rtts))
            .unwrap_or(0.0)
    }
}
