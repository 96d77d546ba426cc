//! What goes wrong on purpose: [`Fault`], when each fires, and the seeded draws behind them
//! (and behind uniform latency).

use std::time::Duration;

use http::StatusCode;

use super::latency::Latency;
#[cfg(doc)]
use super::{Simulator, SimulatorBuilder};

/// Something that goes wrong, injected with [`SimulatorBuilder::fault`] (a probability per
/// request) or [`SimulatorBuilder::fault_times`] / [`Simulator::inject`] (the next `n`
/// requests it applies to).
///
/// Faults apply to requests the limiter admitted (a fault spends a request of the bucket, as
/// a real overloaded backend behind the gateway's limiter would), except
/// [`Delay`](Fault::Delay), drawn for every request on arrival. They are drawn in the order
/// they were added, and the first answer-level fault that fires wins; stream faults
/// ([`BreakStream`](Fault::BreakStream), [`StreamError`](Fault::StreamError)) apply only to
/// streaming requests (`"stream": true`). No fault ever counts as a success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// 503 with Together's body: "The server is overloaded or not ready yet."
    Overloaded,
    /// 500 with a `server_error` body.
    ServerError,
    /// The connection is closed with no response at all (the client reads an end of stream
    /// where the status line should be: hyper's "connection closed before message completed").
    Drop,
    /// Any other status with a Together-shaped error body (402 payment, 403 context window,
    /// 404 model, 502/504/524 gateway...). Meant for error statuses; a 429, 500 or 503 counts
    /// as such in [`Stats`](super::Stats), any other as `other_errors`.
    Status(StatusCode),
    /// The stream's connection is cut after `after` chunks: no `[DONE]`, no terminating
    /// chunk; the client sees a body error.
    BreakStream {
        /// Chunks sent before the cut.
        after: usize,
    },
    /// After `after` chunks the stream sends `data: {"error": {...}}` and ends without
    /// `[DONE]`.
    StreamError {
        /// Chunks sent before the error.
        after: usize,
    },
    /// Extra latency, on top of the configured one.
    Delay(Latency),
    /// The request is completed (its prompt counts as answered) and then its connection is
    /// closed before a byte of the answer is written: the client cannot tell it from
    /// [`Drop`](Fault::Drop), and a retry completes the same prompt a second time. Counted
    /// apart, as [`Outcome::CompletedThenDropped`](super::Outcome::CompletedThenDropped), so a
    /// test can tell such a duplicate from a real one. Plain (not streamed) requests only.
    DropAfterCompletion,
}

impl Fault {
    /// Whether this fault changes the answer (as opposed to a stream fault or a delay).
    pub(crate) fn is_answer(self) -> bool {
        matches!(
            self,
            Fault::Overloaded | Fault::ServerError | Fault::Drop | Fault::Status(_)
        )
    }

    /// Whether this fault applies to plain (not streamed) requests only.
    pub(crate) fn is_plain(self) -> bool {
        matches!(self, Fault::DropAfterCompletion)
    }

    pub(crate) fn is_stream(self) -> bool {
        matches!(self, Fault::BreakStream { .. } | Fault::StreamError { .. })
    }
}

/// When a fault fires.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Trigger {
    /// On each request it applies to, with this probability.
    Probability(f64),
    /// On the next `n` requests it applies to.
    Times(u64),
}

/// The fault rules and the seeded generator behind them and behind uniform latency.
#[derive(Debug)]
pub(crate) struct Faults {
    rules: Vec<(Fault, Trigger)>,
    rng: fastrand::Rng,
}

impl Faults {
    pub(crate) fn new(rules: Vec<(Fault, Trigger)>, seed: u64) -> Faults {
        Faults {
            rules,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    pub(crate) fn add(&mut self, fault: Fault, trigger: Trigger) {
        self.rules.push((fault, trigger));
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    /// A request's latency: `base`, plus every [`Fault::Delay`] that fires.
    pub(crate) fn latency(&mut self, base: Latency) -> Duration {
        let mut total = self.sample(base);
        for i in 0..self.rules.len() {
            if let (Fault::Delay(extra), _) = self.rules[i]
                && self.fires(i)
            {
                total += extra.sample(&mut self.rng);
            }
        }
        total
    }

    /// A draw of `latency` from the seeded generator (none for a fixed one).
    pub(crate) fn sample(&mut self, latency: Latency) -> Duration {
        latency.sample(&mut self.rng)
    }

    /// The fault for an admitted request: the first rule, in order, that applies to it and
    /// fires. Stream faults apply only when `streaming`, [`Fault::DropAfterCompletion`] only
    /// when not; a `Times` rule is spent only when it fires.
    pub(crate) fn draw(&mut self, streaming: bool) -> Option<Fault> {
        (0..self.rules.len()).find_map(|i| {
            let fault = self.rules[i].0;
            let applies = fault.is_answer()
                || (streaming && fault.is_stream())
                || (!streaming && fault.is_plain());
            (applies && self.fires(i)).then_some(fault)
        })
    }

    fn fires(&mut self, rule: usize) -> bool {
        match &mut self.rules[rule].1 {
            Trigger::Probability(p) => {
                let p = *p;
                // Always draw, so the sequence does not depend on the probabilities' values.
                self.rng.f64() < p
            }
            Trigger::Times(n) => {
                let fire = *n > 0;
                *n = n.saturating_sub(1);
                fire
            }
        }
    }
}
