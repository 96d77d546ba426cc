//! The burst licence: how many requests may go at once, grown and cut by its outcomes.

use super::*;

#[test]
fn a_burst_that_draws_429s_is_capped_for_good() {
    let mut evidence = Evidence::default();
    evidence.read(&sent(0, 0), &headers(50, 49, 20), false, 0.0);
    assert_eq!(evidence.burst(), FIRST_LICENCE);
    for _ in 0..FIRST_LICENCE {
        evidence.burst_outcome(true);
    }
    assert_eq!(evidence.burst(), 2 * FIRST_LICENCE);
    evidence.burst_outcome(false);
    assert_eq!(evidence.burst(), FIRST_LICENCE);
    evidence.burst_outcome(true);
    assert_eq!(evidence.burst(), FIRST_LICENCE);
}

/// OpenAI's budget of 3000 a minute says nothing of the bucket it is enforced by: the
/// licence grows by one per two requests taken early, up to a second's worth (50), is not
/// a bucket to count `remaining` against, and the first 429 ends it.
#[test]
fn a_per_minute_budget_licenses_a_burst_found_by_its_outcomes() {
    let mut evidence = Evidence::default();
    evidence.read(&sent(0, 0), &openai(2999), false, 0.0);
    assert_eq!(evidence.licensed(), Some(FIRST_LICENCE));
    assert!(!evidence.reports_bucket());
    for _ in 0..2 * FIRST_LICENCE {
        evidence.burst_outcome(true);
    }
    assert_eq!(evidence.burst(), 2 * FIRST_LICENCE);
    for _ in 0..200 {
        evidence.burst_outcome(true);
    }
    assert_eq!(evidence.burst(), 50);
    evidence.read(&sent(1, 20), &openai(2990), true, 0.0);
    assert_eq!(evidence.licensed(), Some(1));
    evidence.burst_outcome(true);
    assert_eq!(evidence.burst(), 1);
}
