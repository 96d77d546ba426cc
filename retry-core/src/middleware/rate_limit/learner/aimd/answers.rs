//! The latest answers to one host, and the rates they measure: how fast the server has lately
//! taken requests (what the floor's level is held to, and what the quiet spell before a probe
//! counts intervals of), and how fast it took them while saturated (what a cut's estimate is
//! capped by).

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::super::keep_last;

/// How many recent answers are kept.
const WINDOW: usize = 64;
/// Successes the served rate is measured over.
pub(super) const SERVED_OVER: usize = 8;

/// The latest answers: when they came, whether they were taken (anything but a 429).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub(super) struct Answers(VecDeque<(Duration, bool)>);

impl Answers {
    /// Records one answer that came `now`.
    pub(super) fn push(&mut self, now: Duration, taken: bool) {
        keep_last(&mut self.0, (now, taken), WINDOW);
    }

    /// When the latest 429 among the answers kept came.
    pub(super) fn last_refused(&self) -> Option<Duration> {
        self.0
            .iter()
            .rev()
            .find(|(_, taken)| !taken)
            .map(|&(at, _)| at)
    }

    /// The rate of the last [`SERVED_OVER`] successes, if there are as many.
    pub(super) fn served(&self) -> Option<f64> {
        let mut taken = self.0.iter().rev().filter(|(_, taken)| *taken);
        let (last, _) = taken.next()?;
        let (first, _) = taken.nth(SERVED_OVER - 2)?;
        let span = last.checked_sub(*first)?.as_secs_f64();
        (span > 0.0).then(|| (SERVED_OVER - 1) as f64 / span)
    }

    /// The fastest rate of any [`SERVED_OVER`] successes in a row among the answers kept, if
    /// there are as many.
    pub(super) fn fastest(&self) -> Option<f64> {
        // On the host's lock, once per answer: the successes' times on the stack.
        let mut taken = [Duration::ZERO; WINDOW];
        let mut count = 0;
        for &(at, _) in self.0.iter().filter(|(_, taken)| *taken) {
            taken[count] = at;
            count += 1;
        }
        taken[..count]
            .windows(SERVED_OVER)
            .filter_map(|run| {
                let span = run[SERVED_OVER - 1].checked_sub(run[0])?.as_secs_f64();
                (span > 0.0).then(|| (SERVED_OVER - 1) as f64 / span)
            })
            .reduce(f64::max)
    }

    /// The rate the server took requests at since the first 429 kept, if there were other
    /// 429s since: while a server is saturated, successes come exactly as fast as it allows,
    /// however long the round trip.
    pub(super) fn delivered(&self) -> Option<f64> {
        let first = self.0.iter().position(|(_, taken)| !taken)?;
        let saturated = self.0.range(first..);
        let rejected = saturated.clone().filter(|(_, taken)| !taken).count();
        let taken = saturated.len() - rejected;
        let (start, _) = self.0[first];
        let (end, _) = *self.0.back()?;
        let span = end.checked_sub(start)?.as_secs_f64();
        (rejected >= 2 && taken >= 4 && span > 0.0).then(|| taken as f64 / span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(list: &[(u64, bool)]) -> Answers {
        let mut answers = Answers::default();
        for &(ms, taken) in list {
            answers.push(Duration::from_millis(ms), taken);
        }
        answers
    }

    /// Eight successes 20 ms apart: 50 a second; seven are not enough.
    #[test]
    fn served_is_the_rate_of_the_last_eight_successes() {
        let eight: Vec<_> = (0..8).map(|i| (1_000 + 20 * i, true)).collect();
        let served = answers(&eight).served().expect("eight");
        assert!((served - 50.0).abs() < 1e-9, "{served}");
        assert_eq!(answers(&eight[1..]).served(), None);
    }

    /// The fastest eight in a row: a burst of 100 a second among answers at 10 a second, until
    /// it falls out of the window.
    #[test]
    fn fastest_is_the_quickest_eight_in_a_row_kept() {
        let mut list: Vec<_> = (0..8).map(|i| (10 * i, true)).collect();
        list.extend((1..=20).map(|i| (70 + 100 * i, true)));
        let fastest = answers(&list).fastest().expect("eight");
        assert!((fastest - 100.0).abs() < 1e-9, "{fastest}");
        assert_eq!(answers(&list[..7]).fastest(), None);
        list.extend((21..=70).map(|i| (70 + 100 * i, true)));
        let fastest = answers(&list).fastest().expect("eight");
        assert!((fastest - 10.0).abs() < 1e-9, "{fastest}");
    }

    /// From the first 429 kept to the last answer: successes over the span, once a second
    /// 429 shows the server saturated and four successes measure it.
    #[test]
    fn delivered_needs_two_429s_and_four_successes() {
        let mut list = vec![(0, true), (1_000, false)];
        list.extend((1..=4).map(|i| (1_000 + 50 * i, true)));
        assert_eq!(answers(&list).delivered(), None, "one 429");
        list.push((1_250, false));
        let delivered = answers(&list).delivered().expect("two 429s");
        assert!((delivered - 16.0).abs() < 1e-9, "{delivered}");
        assert_eq!(
            answers(&[(0, false), (10, true), (20, true), (30, true), (40, false)]).delivered(),
            None,
            "three successes"
        );
    }

    /// Only the last 64 answers are kept: an old 429 falls out of the window.
    #[test]
    fn old_answers_fall_out() {
        let mut list = vec![(0, false), (5, false)];
        list.extend((1..=64).map(|i| (10 * i, true)));
        assert_eq!(answers(&list).delivered(), None);
    }
}
