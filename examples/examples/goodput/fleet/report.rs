//! The fleet's figures: one [`Summary`] per (scenario, N, variant, strategy), its verdict
//! against issue 12's targets, and the markdown table of them all.

use std::fmt::Write as _;

use super::run::Run;
use super::{JOIN_AFTER, Member, REQUESTS, TASKS, Variant};
use crate::strategies::Strategy;
use crate::workloads::{Distribution, Outcome, percentile};

/// The distribution of one strategy's runs on one (scenario, N, variant).
pub(crate) struct Summary {
    pub(crate) scenario: &'static str,
    pub(crate) n: usize,
    pub(crate) variant: Variant,
    pub(crate) member: Member,
    pub(crate) runs: Vec<Run>,
}

impl std::borrow::Borrow<Outcome> for Run {
    fn borrow(&self) -> &Outcome {
        &self.outcome
    }
}

impl Summary {
    pub(crate) fn median_fairness(&self) -> f64 {
        percentile(&self.runs.sorted(|r| r.fairness), 0.5)
    }

    pub(crate) fn worst_fairness(&self) -> f64 {
        self.runs
            .sorted(|r| r.fairness)
            .last()
            .copied()
            .unwrap_or(0.0)
    }
}

/// The targets for a row of ours, where the issue sets any: `ours-shared` is held to
/// the one-limiter targets (those of a fleet sharing its limit through Redis), `ours-pair` to
/// those without a channel; N = 4 and 16, all starting together. `-` where none apply.
fn verdict(s: &Summary) -> String {
    if s.variant != Variant::Together || !matches!(s.n, 4 | 16) {
        return "-".to_owned();
    }
    let (goodput, max_429, fair) = match s.member {
        Member::Shared => (0.95, 0.02, Some(0.2)),
        Member::Alone(Strategy::OursPair) => (if s.n == 4 { 0.85 } else { 0.80 }, 0.05, None),
        Member::Alone(_) => return "-".to_owned(),
    };
    let mut misses = s.runs.misses(goodput, 0.0, max_429);
    if let Some(fair) = fair
        && s.worst_fairness() > fair
    {
        misses.push(format!("fairness {:.2} > {fair}", s.worst_fairness()));
    }
    if misses.is_empty() {
        "meets".to_owned()
    } else {
        format!("MISS: {}", misses.join(", "))
    }
}

/// The markdown: ours with the targets, then the peers.
pub(crate) fn table(summaries: &[Summary], seeds: u64, peer_seeds: u64) -> String {
    let mut out = format!(
        "### Fleets on one limit ({seeds} seeds a cell for ours, {peer_seeds} for the peers)\n\n\
         N processes in one runtime on the paused clock, each its own client and its own \
         limiter, {REQUESTS} requests from {TASKS} tasks each, all against one simulator. \
         `join-leave` (N = 4 and 16): the last process starts {} s late and the first has \
         half the work. \
         Goodput: `Scenario::ideal(successes of the fleet)` over the wall time until the last \
         process finishes. Fairness: each process's rate (its successes over its own wall time) \
         as a share of the sum of the rates; the worst `|share * N - 1|` (0 = exactly 1/N). \
         Targets (issue 12), N = 4 and 16 together: `ours-shared` is held to the shared-limit \
         targets (median >= 0.95, <= 0.02 429s/req, 0 lost, fairness <= 0.2), `ours-pair` to \
         those without a channel between processes (median >= 0.85 at N = 4, >= 0.80 at \
         N = 16, <= 0.05 429s/req, 0 lost).\n\n\
         | scenario | N | variant | strategy | median | p5 | worst | 429s/req median | 429s/req worst | lost (runs / all) | fairness median | fairness worst | targets |\n\
         |---|---:|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|\n",
        JOIN_AFTER.as_secs_f64()
    );
    let row = |out: &mut String, s: &Summary, last: String| {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} / {} | {:.2} | {:.2} | {} |",
            s.scenario,
            s.n,
            s.variant.name(),
            s.member.name(),
            s.runs.cells(),
            s.runs.runs_losing(),
            s.runs.lost_total(),
            s.median_fairness(),
            s.worst_fairness(),
            last
        );
    };
    for s in summaries.iter().filter(|s| s.member.ours()) {
        row(&mut out, s, verdict(s));
    }
    out.push_str(
        "\n#### The peers in the same fleets\n\n\
         | scenario | N | variant | strategy | median | p5 | worst | 429s/req median | 429s/req worst | lost (runs / all) | fairness median | fairness worst | runs |\n\
         |---|---:|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|\n",
    );
    for s in summaries.iter().filter(|s| !s.member.ours()) {
        row(&mut out, s, s.runs.len().to_string());
    }
    out
}
