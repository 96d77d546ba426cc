//! The pace against model servers: where it settles, and how fast it follows a limit that
//! moves.

use super::*;

#[test]
fn settles_near_the_server_rate() {
    for limit in [0.5, 3.0, 37.0, 400.0] {
        let paces = run(|_| limit, 3_000);
        let end = paces.last().unwrap().0;
        let rate = mean_after(&paces, end * 2.0 / 3.0, end + 1.0);
        assert!(
            rate > limit * 0.85 && rate <= limit * 1.05,
            "{limit}: {rate}"
        );
    }
}

#[test]
fn follows_a_limit_that_steps_up_within_seconds() {
    // 20/s until 10 s, then 80/s: by 13 s the pace is past 60.
    let paces = run(|t| if t < 10.0 { 20.0 } else { 80.0 }, 2_000);
    let late = mean_after(&paces, 13.0, 15.0);
    assert!(late > 60.0, "{late}");
    // And down again within a second: 80 -> 20 is the first cut's measure.
    let paces = run(|t| if t < 10.0 { 80.0 } else { 20.0 }, 2_000);
    let after = mean_after(&paces, 11.0, 13.0);
    assert!(after < 22.0 && after > 14.0, "{after}");
}

/// An LLM API's successes take their generation (600 ms here), its 429s come back at once:
/// news of an overshoot is quick, so the increase and the quiet spell are not slowed by the
/// successes' round trip. (Slowed by it, the quiet spell was 15 s: the pace stayed at 20 for
/// the rest of the run, `llm-step-none` 0.55 of the ideal.)
#[test]
fn on_an_llm_api_follows_a_limit_that_steps_up_within_seconds() {
    let paces = run_slow_answers(|t| if t < 10.0 { 20.0 } else { 80.0 }, 2_000, 0.6, 0.02);
    let before = mean_after(&paces, 7.0, 10.0);
    assert!(before > 17.0 && before < 21.0, "{before}");
    let late = mean_after(&paces, 13.0, 15.0);
    assert!(late > 60.0, "{late}");
}
