//! The evidence's tests, one file per reading, and what they share: answers to requests sent
//! at 50 a second, read through Together's names (`headers`).

use super::super::reading as headers;
use super::*;

/// The request `seq`, sent at `ms` at a pace of 50 a second.
fn sent(seq: u64, ms: u64) -> Admission {
    Admission {
        epoch: 0,
        rate: 50.0,
        seq,
        at: Duration::from_millis(ms),
        early: false,
        in_flight: 1,
        sent_by_answer: 0,
    }
}

/// Evidence after ten answers carrying `headers`, to requests sent every `every_ms`, with
/// round trips that vary by `spread` seconds.
fn read_steadily(every_ms: u64, headers: &RateLimitHeaders, spread: f64) -> Evidence {
    let mut evidence = Evidence::default();
    for seq in 0..10 {
        evidence.read(&sent(seq, seq * every_ms), headers, false, spread);
    }
    evidence
}

/// OpenAI's names on a budget of 3000 a minute.
fn openai(remaining: u64) -> RateLimitHeaders {
    RateLimitHeaders {
        family: crate::middleware::LimitFamily::OpenAi,
        ..headers(3000, remaining, 100)
    }
}

mod bucket;
mod licence;
mod room;
