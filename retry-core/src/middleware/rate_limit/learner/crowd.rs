//! Other clients spending the same per-minute budget, read from `remaining`, and the pace a
//! process takes among them when nothing but the server's answers connects it to them.
//!
//! A per-minute figure (OpenAI's, Anthropic's) names the rate of a whole account or key,
//! which a fleet of processes shares. Each process proved the reading on its own and took
//! its rate whole: four processes each paced at the fleet's 50 a second until three 429s
//! apiece refuted it (0.093 / 0.112 429s per request, median / worst of 20 seeds, on our
//! simulator's `openai` fleet of four). The budget itself tells them apart: between two
//! answers it refills at the documented rate and loses what this process sent, so what it
//! lost beyond that, others spent ([`Spans`]). Once that is well beyond rounding, the
//! reading stops being the pace: it caps the blind pace, which the process steers by the
//! whole budget ([`Steer`]): cut to [`CUT`] of itself when the budget is spent as fast as it
//! refills, grown by [`GROWTH`] of the rate a second while it is not. Every process sees the
//! same budget, so their cuts come together and shrink the larger paces most, while the
//! growth is the same for all: the shares draw together, as TCP's flows do at one
//! bottleneck. Three 429s at that pace still refute the reading, as they would at any pace
//! it set; the blind learner goes on from there.
//!
//! Whether others are seen is judged over the last [`SPANS`] intervals (fewer are too few
//! requests to tell them from rounding), but the steering reads what the budget lost over
//! the time a cut takes to show ([`Steer::window`]): over sixteen intervals, a second and
//! more at a quarter of the rate, each process still read the spending from before its own
//! cut, cut again, and then grew into the others' 429s. Four on OpenAI's names went from
//! 0.022 / 0.033 to 0.003 / 0.012 429s per request and from 0.939 / 0.873 to 0.949 / 0.911
//! of the ideal (100 seeds, on our simulator); four real processes on a server written
//! apart from this project, 0.023 / 0.026 -> 0.008 / 0.010 (3 runs). Sixteen are where they
//! were: they steer for the first few seconds only (by the fifth, 10-11 of 16 readings are
//! refuted, in runs of about 50 s; traced on three seeds), and the blind learner paces the
//! rest. A process left alone when the others are done, its reading refuted by the 429s
//! they drew together, climbs back on a budget that reads full (`Evidence::unspent`).
//!
//! On our simulator (60 seeds), fleets of four on OpenAI's names went from 0.093 / 0.112 to
//! 0.055 / 0.075 429s per request (median / worst) and from 0.907 / 0.790 to 0.920 / 0.880 of
//! the ideal (median / 5th percentile); of sixteen, 0.140 / 0.155 -> 0.091 / 0.099 429s per
//! request at 0.907 -> 0.892 of the ideal. On a server written apart from this project, four
//! real processes (6 runs): 0.096 / 0.099 -> 0.068 / 0.077 429s per request, 0.883 / 0.784
//! -> 0.923 / 0.901 of the ideal (median / worst). Without the steering (the rate a ceiling
//! over the blind pace alone), one process of four lagged the rest: 0.619 of the ideal at
//! the 5th percentile (20 seeds). Two processes pay for theirs (0.060 -> 0.037 429s per
//! request): each grows by the same share of the rate a second, whatever the fleet's size,
//! so two climb back from a cut half as fast as four (on Anthropic's names 0.924 -> 0.880
//! of the ideal, median of 60 seeds; cuts to 0.85 gave it back and cost four 0.05 at the 5th
//! percentile).
//!
//! Processes sharing one store (a fleet on Redis) date every request in one sequence, so
//! none of theirs is unexplained there: the spans stay out of the shared state.

use std::collections::VecDeque;
use std::time::Duration;

use super::aimd::Aimd;
use super::keep_last;

/// How many intervals between answers the spending is summed over.
const SPANS: usize = 16;
/// What rounding leaves unexplained in a chain of intervals, at most: `remaining` is whole,
/// so each reading is short of the level by less than one, and within a chain the rest
/// cancels out. Each break in the chain (an answer that overtook an earlier one) adds one.
/// (With no allowance but a rate, any loss beyond a tenth of the budget's, a lone client
/// bursting 50 requests at once on a budget of 3 000 a minute took its own overtaken
/// answers for others: 0.953 of the ideal at the 5th percentile, not 0.991, on our
/// simulator.)
const ROUNDING: f64 = 1.0;
/// The share of the budget's rate the fleet aims to spend: over it, the pace is cut.
const SPENT: f64 = 0.97;
/// The cut, a share of the pace, when the budget is spent.
const CUT: f64 = 0.7;
/// The growth while the budget is not spent: this share of the budget's rate, per second.
/// (With cuts to 0.85, growing by 0.02 left one of four processes on the `openai` fleet
/// behind the others: 0.761 of the ideal at the 5th percentile; by 0.05 with cuts to 0.7,
/// 0.812; by 0.1 with a hold of 0.5 s, 0.692; 20 seeds, on our simulator.)
const GROWTH: f64 = 0.05;
/// The least time between two cuts: a cut shows in the spending only once the answers to
/// the requests sent after it come back.
const HOLD: Duration = Duration::from_millis(300);
/// The fewest intervals the steering measures the spending over, however short: one or two
/// intervals of a process sending three requests a second are mostly rounding.
const MEASURED_OVER: usize = 4;

/// One interval between two answers' readings of the budget, dated by when their requests
/// went.
#[derive(Clone, Copy, Debug)]
struct Span {
    /// What the budget lost that its refill and this process's requests do not explain.
    unexplained: f64,
    /// How long the interval was (seconds).
    seconds: f64,
    /// This process's requests sent in it.
    sent: f64,
    /// The interval does not follow on from the last one (an answer overtook another).
    broken: bool,
}

/// The recent intervals between readings of a per-minute budget, and whether they show
/// other clients spending it.
#[derive(Clone, Debug, Default)]
pub(super) struct Spans {
    spans: VecDeque<Span>,
    seen: bool,
}

impl Spans {
    /// An answer overtaken by a later one: the next interval starts a new chain.
    pub(super) fn broken(&mut self) {
        let span = Span {
            unexplained: 0.0,
            seconds: 0.0,
            sent: 0.0,
            broken: true,
        };
        keep_last(&mut self.spans, span, SPANS);
    }

    /// One interval of `seconds`, in which the budget lost `unexplained` more than its refill
    /// and the `sent` requests of this process explain; `slack`: the requests sent after a
    /// reading that may have reached the server before it.
    pub(super) fn read(&mut self, unexplained: f64, seconds: f64, sent: f64, slack: f64) {
        let span = Span {
            unexplained,
            seconds,
            sent,
            broken: false,
        };
        keep_last(&mut self.spans, span, SPANS);
        let (unexplained, seconds) = self.sums();
        let breaks = self.spans.iter().filter(|span| span.broken).count() as f64;
        self.seen = seconds > 0.0 && unexplained > ROUNDING + breaks + slack;
    }

    fn sums(&self) -> (f64, f64) {
        self.spans.iter().fold((0.0, 0.0), |(lost, seconds), span| {
            (lost + span.unexplained, seconds + span.seconds)
        })
    }

    /// Whether other clients are seen spending the budget.
    pub(super) fn seen(&self) -> bool {
        self.seen
    }

    /// What the others spend and what this process sends (requests per second) over the
    /// latest intervals covering `window` (and at least [`MEASURED_OVER`] of them), while
    /// others are seen. (Whether they are is judged over all the intervals kept: one
    /// short stretch is too few requests to tell others from rounding.)
    pub(super) fn crowd(&self, window: Duration) -> Option<Crowd> {
        if !self.seen {
            return None;
        }
        let window = window.as_secs_f64();
        let (mut unexplained, mut seconds, mut sent) = (0.0, 0.0, 0.0);
        for (n, span) in self.spans.iter().rev().enumerate() {
            if seconds >= window && n >= MEASURED_OVER {
                break;
            }
            unexplained += span.unexplained;
            seconds += span.seconds;
            sent += span.sent;
        }
        (seconds > 0.0).then(|| Crowd {
            others: unexplained / seconds,
            own: sent / seconds,
        })
    }
}

/// Others seen spending a per-minute budget (requests per second).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Crowd {
    /// What the others spend.
    pub(crate) others: f64,
    /// What this process sends.
    pub(crate) own: f64,
}

/// The blind pace's steering by a shared budget (see the module's doc).
#[derive(Clone, Debug, Default)]
pub(super) struct Steer {
    /// No cut before this.
    held_until: Option<Duration>,
    /// When the last answer came.
    last: Option<Duration>,
}

impl Steer {
    /// The others are out of sight: when they are seen again, the pace grows from then, not
    /// by the whole time they were gone.
    pub(super) fn lost_sight(&mut self) {
        self.last = None;
    }

    /// How long a cut takes to show in the spending, when news of it takes `news_delay`
    /// seconds to come back: the least time between two cuts, and the stretch the spending
    /// is measured over (see [`Spans::crowd`]).
    pub(super) fn window(news_delay: f64) -> Duration {
        HOLD.max(Duration::from_secs_f64(2.0 * news_delay))
    }

    /// Steers `aimd` at an answer that came `now`, among `crowd` on a budget of `rate`
    /// requests per second; `taken`: the answer was a success; `news_delay`: how long news
    /// of a cut takes to come back (seconds).
    pub(super) fn steer(
        &mut self,
        aimd: &mut Aimd,
        now: Duration,
        crowd: Crowd,
        rate: f64,
        taken: bool,
        news_delay: f64,
    ) {
        let since = self
            .last
            .map_or(0.0, |last| now.saturating_sub(last).as_secs_f64());
        self.last = Some(now);
        if crowd.own + crowd.others > SPENT * rate {
            if self.held_until.is_none_or(|until| now >= until) {
                aimd.follow(aimd.rate() * CUT, now);
                self.held_until = Some(now + Self::window(news_delay));
            }
        } else if taken {
            aimd.follow((aimd.rate() + GROWTH * rate * since).min(rate), now);
        }
    }
}

mod start;
#[cfg(test)]
mod tests;

pub(super) use start::{FirstAnswers, Start};
