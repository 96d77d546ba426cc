//! Shared by the `fault_matrix` tests: the fault server, the rows (faults), the front ends
//! (columns), and the table they print.
#![allow(dead_code)]

pub mod front;
pub mod server;

use std::fmt;
use std::time::Duration;

use retry_core::{Jitter, Policy};
pub use server::{Answer, refused_url};

/// One policy for every front end, so that the columns compare: 4 attempts, 100 ms doubling
/// without jitter (so times are exact), a 2 s attempt timeout, a 60 s deadline.
pub const POLICY: Policy = Policy::exponential()
    .attempts(4)
    .initial(Duration::from_millis(100))
    .factor(2.0)
    .max_delay(Duration::from_secs(10))
    .jitter(Jitter::None)
    .deadline(Duration::from_secs(60))
    .attempt_timeout(Duration::from_secs(2));

/// How many requests a row's fault hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Times {
    /// The first two requests, then a normal answer: does the front end recover?
    Twice,
    /// Every request: how does it give up?
    Always,
}

/// What the row's call asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A plain JSON call.
    Plain,
    /// A streamed chat (SSE).
    Stream,
    /// A call to a port nothing listens on.
    Refused,
}

/// A fault: one row of the matrix.
#[derive(Clone, Debug)]
pub struct Row {
    pub name: &'static str,
    pub fault: Answer,
    pub times: Times,
    pub kind: Kind,
}

impl Row {
    pub fn answer(&self, n: u32) -> Answer {
        match self.times {
            Times::Twice if n >= 2 => Answer::Fine,
            _ => self.fault.clone(),
        }
    }
}

/// A status answer with Together's error body and `headers`.
pub fn status(code: u16, headers: &[(&str, &str)]) -> Answer {
    let body = serde_json::json!({
        "error": {"message": format!("status {code}"), "type": "server_error", "param": null, "code": null}
    });
    Answer::Status {
        status: code,
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.to_string(),
    }
}

/// What one cell observed.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// The outcome class, e.g. `Ok`, `Err(Auth 401)`.
    pub outcome: String,
    /// Requests the front end sent (connection attempts included).
    pub requests: u32,
    /// Virtual time the call took.
    pub elapsed: Duration,
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, {} req, {} s",
            self.outcome,
            self.requests,
            seconds(self.elapsed)
        )
    }
}

/// `d` in seconds, at most three decimals, no trailing zeros.
pub fn seconds(d: Duration) -> String {
    let text = format!("{:.3}", d.as_secs_f64());
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_owned()
}

/// What a cell should be: the outcome, the requests, and the time (a range when it depends
/// on the wall clock, for a `Retry-After` date).
#[derive(Clone, Debug)]
pub enum Expect {
    Cell {
        outcome: &'static str,
        requests: u32,
        min: Duration,
        max: Duration,
    },
    /// The front end cannot express this fault (the reason is printed in the cell).
    Na(&'static str),
}

/// Exactly `ms` of virtual time.
pub fn cell(outcome: &'static str, requests: u32, ms: u64) -> Expect {
    Expect::Cell {
        outcome,
        requests,
        min: Duration::from_millis(ms),
        max: Duration::from_millis(ms),
    }
}

/// Between `lo` and `hi` ms of virtual time.
pub fn between(outcome: &'static str, requests: u32, lo: u64, hi: u64) -> Expect {
    Expect::Cell {
        outcome,
        requests,
        min: Duration::from_millis(lo),
        max: Duration::from_millis(hi),
    }
}

impl Expect {
    /// Why `observed` is not what was expected, if it is not.
    pub fn check(&self, observed: &Result<Cell, String>) -> Option<String> {
        match (self, observed) {
            (Expect::Na(_), _) => None,
            (_, Err(panic)) => Some(format!("panicked: {panic}")),
            (
                Expect::Cell {
                    outcome,
                    requests,
                    min,
                    max,
                },
                Ok(cell),
            ) => {
                let ok = cell.outcome == *outcome
                    && cell.requests == *requests
                    && (*min..=*max).contains(&cell.elapsed);
                (!ok).then(|| {
                    format!(
                        "observed `{cell}`, expected `{outcome}, {requests} req, {}..={} s`",
                        seconds(*min),
                        seconds(*max)
                    )
                })
            }
        }
    }
}

/// The markdown table: one row per fault, one column per front end.
pub fn table(columns: &[&str], rows: &[Row], cells: &[Vec<String>]) -> String {
    let mut out = format!("| fault | {} |\n", columns.join(" | "));
    out.push_str(&format!("|---|{}\n", "---|".repeat(columns.len())));
    for (row, cells) in rows.iter().zip(cells) {
        out.push_str(&format!("| {} | {} |\n", row.name, cells.join(" | ")));
    }
    out
}
