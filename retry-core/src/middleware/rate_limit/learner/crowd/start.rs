//! The first answers of a per-minute budget: whether others started spending it too.
//!
//! Processes of a fleet start together, and each used to start as a lone client would: slow
//! start, and a burst licence as soon as the first answer named the budget. Four processes on
//! one budget of 3 000 a minute each burst into the second the server enforces it over, and
//! the first second drew 19 of a run's 34 429s (mean of 40 runs of four on our simulator's
//! `openai`). [`Spans`](super::Spans) tells others apart only once a few intervals between
//! answers have been summed; the first answers can tell already. A budget per minute starts
//! the minute full, and in less than a minute its refill only adds: whatever it lacks beyond
//! what this process has sent so far, others spent.
//!
//! So, while slow start lasts: an answer whose budget lacks more than this process sent by the
//! time it came ([`Admission::sent_by_answer`], which counts the requests sent after it that
//! the server may have counted first) shows a crowd, and the process starts as one of many:
//! slow start ends, and no request goes ahead of the pace. Until [`ALONE`] answers have shown
//! none, the licence is held back too, by every process alike: held by the processes that
//! saw others and not by the first, which saw none yet, the first burst at once and took the
//! budget from the rest (one process of two at 2 requests a second for seconds while the
//! other took 50, on our simulator). A budget found spent by an earlier run of the same key,
//! or reported short by the server's own bookkeeping, reads as a crowd too: the process then
//! starts without its burst, as one of many would; its pace is still the budget's rate
//! where no one else is seen later (a per-minute reading is proven at once: see
//! `super::super::trust`).
//!
//! On our simulator (60 seeds a cell, 429s per request median / worst, goodput median / 5th
//! percentile): four processes on `openai` 0.055 / 0.075 -> 0.022 / 0.033 at 0.920 / 0.880
//! -> 0.937 / 0.866 of the ideal; on `anthropic` 0.055 / 0.075 -> 0.022 / 0.035; sixteen
//! 0.091 / 0.099 -> 0.087 / 0.094 at 0.892 / 0.833 -> 0.916 / 0.865. Two pay: on `openai`
//! 0.885 / 0.829 -> 0.862 / 0.664 of the ideal (the first to be answered may see no one in
//! its first two answers, burst, and hold the other down: the steering of `super::Steer` acts
//! on the process that sees the other, not on the one that does not). A lone client pays its
//! held licence: 0.993 -> 0.989 on `openai`. On a server written apart from this project
//! (`examples/independent/check.sh`, real clock, 3 runs): four on OpenAI's names 0.064 /
//! 0.064 -> 0.023 / 0.024 429s per request at 0.891 / 0.833 -> 0.916 / 0.912 of the ideal
//! (median / worst), on Anthropic's 0.067 / 0.081 -> 0.026 / 0.026 at 0.874 / 0.827 -> 0.890
//! / 0.875; two (5 runs) 0.060 / 0.074 -> 0.032 / 0.038 at 0.881 / 0.782 -> 0.854 / 0.825.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::middleware::headers::RateLimitHeaders;
use crate::middleware::rate_limit::schedule::Admission;

/// Answers that show no one else before the burst licence is given. Each costs a lone client
/// a little of its start: at 2, 0.993 -> 0.989 of the ideal on `openai` (median of 20 seeds,
/// on our simulator); at 4, 0.983; at 8, 0.981, and `burst-50-openai` (a bucket of 50 behind
/// the budget) 0.994 -> 0.839: its licence grew from 4 that much later.
const ALONE: u32 = 2;
/// Within the budget's first minute, its refill cannot have made up for what others spent.
const MINUTE: Duration = Duration::from_secs(60);

/// What the first answers say, for the burst licence and slow start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Start {
    /// Too few answers yet: no burst.
    Unsure,
    /// Others spend the budget: slow start ends, and no burst.
    Crowded,
    /// The answers so far are this process's alone: the licence may be given.
    Alone,
}

/// The first answers of a per-minute budget (see the module's doc).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct FirstAnswers {
    /// Answers whose budget this process's own requests explain.
    alone: u32,
    /// An answer has shown others.
    crowded: bool,
}

impl FirstAnswers {
    /// Reads the answer to `sent`, whose headers were `limits`, if they name a per-minute
    /// budget and the request went within its first minute.
    pub(crate) fn read(&mut self, sent: &Admission, limits: &RateLimitHeaders) -> Option<Start> {
        if !limits.family.per_minute() || sent.at >= MINUTE {
            return None;
        }
        let (limit, remaining) = (limits.limit?, limits.remaining?);
        let spent = limit.saturating_sub(remaining);
        // (`sent_by_answer` is 0 where the host did not date the answer.) `remaining` is
        // whole and the refill only adds, so a lone process never reads more spent than this.
        let own = sent.sent_by_answer.max(sent.seq + 1);
        if spent > own {
            self.crowded = true;
        } else if !self.crowded {
            self.alone = self.alone.saturating_add(1);
        }
        Some(if self.crowded {
            Start::Crowded
        } else if self.alone >= ALONE {
            Start::Alone
        } else {
            Start::Unsure
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::middleware::LimitFamily;
    use crate::middleware::rate_limit::learner::reading;

    /// OpenAI's names: a budget of 3 000 a minute with `remaining` left.
    fn minute(remaining: u64) -> RateLimitHeaders {
        RateLimitHeaders {
            family: LimitFamily::OpenAi,
            ..reading(3000, remaining, 100)
        }
    }

    /// Request `seq`, sent at `ms`, answered once `sent` had gone.
    fn answer(seq: u64, ms: u64, sent: u64) -> Admission {
        Admission {
            epoch: 0,
            rate: 20.0,
            seq,
            at: Duration::from_millis(ms),
            early: false,
            in_flight: 1,
            sent_by_answer: sent,
        }
    }

    /// A lone client: each answer's budget lacks what it sent by then, the requests sent
    /// after the one answered included. The licence waits for two such answers.
    #[test]
    fn a_lone_start_is_licensed_after_two_answers() {
        let mut first = FirstAnswers::default();
        assert_eq!(
            first.read(&answer(0, 0, 2), &minute(2998)),
            Some(Start::Unsure)
        );
        assert_eq!(
            first.read(&answer(1, 50, 3), &minute(2997)),
            Some(Start::Alone)
        );
        // A burst of ten, answered in any order: the last one sent, answered first, read the
        // budget after all ten.
        assert_eq!(
            first.read(&answer(2, 60, 13), &minute(2987)),
            Some(Start::Alone)
        );
    }

    /// Others spent two of the budget before this process's first answer: a crowd, and it
    /// stays one.
    #[test]
    fn a_budget_spent_beyond_what_was_sent_shows_others() {
        let mut first = FirstAnswers::default();
        assert_eq!(
            first.read(&answer(0, 0, 1), &minute(2997)),
            Some(Start::Crowded)
        );
        assert_eq!(
            first.read(&answer(1, 50, 2), &minute(2998)),
            Some(Start::Crowded)
        );
    }

    /// Only a per-minute budget in its first minute is read: Together's bucket of 5 reads 3
    /// left at a lone client's first answer under its other meaning (`limit` the rate).
    #[test]
    fn only_a_per_minute_budget_in_its_first_minute_is_read() {
        let mut first = FirstAnswers::default();
        assert_eq!(first.read(&answer(0, 0, 1), &reading(50, 3, 20)), None);
        assert_eq!(first.read(&answer(0, 61_000, 1), &minute(10)), None);
    }
}
