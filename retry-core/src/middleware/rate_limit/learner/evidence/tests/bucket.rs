//! The bucket reading: when `limit`, `remaining` and `reset` are trusted as a bucket's, and
//! what refutes them.

use super::*;

/// A bucket of 5 at 50/s, read as Together documents it, one request every 20 ms.
#[test]
fn a_true_bucket_reading_is_trusted() {
    let evidence = read_steadily(20, &headers(5, 4, 20), 0.0);
    assert_eq!(evidence.bucket_rate(), Some(50.0));
}

/// Round trips that vary by 28 ms: a bucket of 5 at 50 a second takes a request up to
/// 80 ms early and is paced at its rate; a bucket of one at one every 2 s takes none early
/// and is paced 28 ms a request slower; 300 ms on the bucket of 5 slows it by 2 %, no more.
#[test]
fn the_pace_leaves_room_for_jitter_the_bucket_cannot_absorb() {
    let trusted = |limit, every_ms, reset_ms, spread| {
        read_steadily(every_ms, &headers(limit, limit - 1, reset_ms), spread)
            .bucket_rate()
            .unwrap()
    };
    assert_eq!(trusted(5, 20, 20, 0.028), 50.0);
    let one = trusted(1, 2_100, 2_000, 0.028);
    assert!((1.0 / one - 2.028).abs() < 1e-9, "{one}");
    let far = trusted(5, 20, 20, 0.3);
    assert!((1.0 / far - 0.020 * 1.02).abs() < 1e-9, "{far}");
}

/// Trusted at 20 a second from a bucket never full (1 left, full in 200 ms), then the limit
/// rises to 100: the first reading of a full bucket (4 left, full in 10 ms) is exact and sets
/// the pace at once, where the least of the recent estimates would hold it at 20. A reading
/// that is not full (3 left, full in 20 ms: 100 too, or more) leaves the least as it is.
#[test]
fn a_full_bucket_reading_stands_alone() {
    let mut evidence = read_steadily(50, &headers(5, 1, 200), 0.0);
    assert_eq!(evidence.bucket_rate(), Some(20.0));
    let mut not_full = evidence.clone();
    not_full.read(&sent(10, 500), &headers(5, 3, 20), false, 0.0);
    assert_eq!(not_full.bucket_rate(), Some(20.0));
    evidence.read(&sent(10, 500), &headers(5, 4, 10), false, 0.0);
    assert_eq!(evidence.bucket_rate(), Some(100.0));
    // And falls back at once with the next, lower, estimate.
    evidence.read(&sent(11, 510), &headers(5, 2, 100), false, 0.0);
    assert_eq!(evidence.bucket_rate(), Some(30.0));
}

/// Readings from a full bucket that swing back and forth are no bucket's: a count that never
/// moves (5 939 of 5 940) beside resets of 26, 14 and 24 ms, paces of 38, 71 and 42 a second
/// each taken as exact. A limit that moves, moves them one way (20 ms, then 50 ms); one that
/// moves twice does so seconds apart (50, 20, then 80 a second); and the reset's rounding
/// (12 and 13 ms) moves them by too little to say anything.
#[test]
fn full_readings_that_zigzag_refute_the_bucket_reading() {
    // One request every `every_ms`: each reading at least one refill after the last.
    let read = |resets_ms: &[u64], limit: u64, every_ms: u64| {
        let mut evidence = Evidence::default();
        for (seq, &reset) in (0u64..).zip(resets_ms) {
            let headers = headers(limit, limit - 1, reset);
            evidence.read(&sent(seq, seq * every_ms), &headers, false, 0.0);
        }
        evidence
    };
    assert!(read(&[26, 14, 24], 5940, 60).refuted);
    assert!(!read(&[26, 14], 5940, 60).refuted, "two say nothing yet");
    let moved = read(&[20, 20, 20, 50, 50, 50, 50, 50, 50, 50, 50], 5, 60);
    assert!(!moved.refuted);
    assert_eq!(moved.bucket_rate(), Some(20.0));
    assert!(!read(&[20, 50, 13], 5, 1_500).refuted, "moved twice");
    assert!(!read(&[12, 13, 12, 13, 12], 5, 60).refuted);
}

/// Trusted at 50 a second (a bucket of 5); five requests at once spend it, as predicted;
/// 20 ms later it reads 4 of 5 again, full in 0.9 s: as a bucket's steady refill, a pace of
/// 1.1 a second, from a full bucket (exact, standing alone), which nothing sent that slowly
/// would refute. But the count came back 5 in 20 ms, a hundred times faster: it is given
/// back at once (a fixed window's end), and the bucket reading is refuted. A fall read
/// without such a jump (1 left, full in 400 ms: 10 a second) is followed as before.
#[test]
fn a_count_given_back_at_once_refutes_the_bucket_reading() {
    let mut evidence = read_steadily(20, &headers(5, 4, 20), 0.0);
    evidence.read(&sent(14, 200), &headers(5, 0, 100), false, 0.0);
    assert_eq!(evidence.bucket_rate(), Some(50.0));
    let mut fell = evidence.clone();
    fell.read(&sent(15, 220), &headers(5, 1, 400), false, 0.0);
    assert_eq!(fell.bucket_rate(), Some(10.0));
    evidence.read(&sent(15, 220), &headers(5, 4, 900), false, 0.0);
    assert_eq!(evidence.bucket_rate(), None);
    evidence.read(&sent(16, 1_120), &headers(5, 4, 900), false, 0.0);
    assert_eq!(evidence.bucket_rate(), None);
}

/// A minute's budget under Together's names (5 940) whose `remaining` never moves (always
/// `limit - 1`), whatever is sent: each reading is "1 used, full in 0.1 s", a pace of 10 a
/// second, while a hundred a second go and are taken. The count comes back ten a reading:
/// refuted, however large the budget (its margin for the estimate's error, a tenth of
/// `limit`, would have hidden it).
#[test]
fn a_count_that_never_moves_refutes_the_bucket_reading() {
    let mut evidence = Evidence::default();
    for i in 0..10 {
        evidence.read(
            &sent(i * 10, i * 100),
            &headers(5940, 5939, 100),
            false,
            0.0,
        );
    }
    assert_eq!(evidence.bucket_rate(), None);
}

/// A window of 50 a second whose reset reads "1" until it ends (whole seconds, rounded up):
/// no estimate, so nothing to trust, however its readings go. (Estimated, the reading taken
/// right after the window opened, "1 used, full in 1 s", stood alone at a pace of 1 a
/// second.) The same figures with a reset to the millisecond are estimated as before, and
/// so is a bucket of one in whole seconds (its reset is its interval).
#[test]
fn whole_second_resets_give_no_estimate_without_a_documented_rate() {
    let mut evidence = Evidence::default();
    for seq in 0..50 {
        let remaining = 49 - seq % 50;
        evidence.read(
            &sent(seq, seq * 20),
            &headers(50, remaining, 1_000),
            false,
            0.0,
        );
    }
    assert_eq!(evidence.bucket_estimate(), None);
    assert_eq!(evidence.bucket_rate(), None);
    let fine = read_steadily(20, &headers(50, 49, 980), 0.0);
    assert!(fine.bucket_estimate().is_some());
    let one = read_steadily(2_000, &headers(1, 0, 2_000), 0.0);
    assert_eq!(one.bucket_estimate(), Some(0.5));
}

/// OpenAI's names in whole seconds (a gateway's `1s`, `2s`): "1 used, full in 1 s" of 1 200
/// a minute is a rounded-up 50 ms, not one a second, and "21 used, full in 2 s" a rounded-up
/// 1.05 s; the documented 20 a second stands in for both. A reset to the millisecond still
/// measures.
#[test]
fn whole_second_resets_under_openai_names_stand_for_the_documented_rate() {
    let per_minute = |remaining, reset_ms| RateLimitHeaders {
        family: crate::middleware::LimitFamily::OpenAi,
        ..headers(1_200, remaining, reset_ms)
    };
    let one = read_steadily(20, &per_minute(1_199, 1_000), 0.0);
    assert_eq!(one.bucket_estimate(), Some(20.0));
    let two = read_steadily(20, &per_minute(1_179, 2_000), 0.0);
    assert_eq!(two.bucket_estimate(), Some(20.0));
    let fine = read_steadily(20, &per_minute(1_179, 1_400), 0.0);
    assert!((fine.bucket_estimate().unwrap() - 15.0).abs() < 1e-9);
}

/// A quota of 3 000 counted per fixed minute under Together's names, 100 of it spent a
/// second (by others too), its reset what is left of the minute: "1 000 used, full in 60 s"
/// is no bucket's 17 a second. Not trusted while the end its reset names has not been seen to
/// move (its checks would have trusted it at the fourth reading), refuted once that end has
/// stood still for four seconds, `remaining` with it. A bucket of 20 a second read alike, its
/// reset growing with what is spent, is trusted once its end has moved on.
#[test]
fn a_reset_that_counts_down_to_a_fixed_end_refutes_the_bucket_reading() {
    let read = |reset_of: &dyn Fn(u64, u64) -> u64| {
        let mut evidence = Evidence::default();
        let mut trusted = Vec::new();
        for seq in 0..12 {
            let (at, used) = (seq * 500, 1_000 + 50 * seq);
            let limits = headers(3_000, 3_000 - used, reset_of(at, used));
            evidence.read(&sent(seq, at), &limits, false, 0.0);
            trusted.push(evidence.bucket_rate().is_some());
        }
        (evidence, trusted)
    };
    let (window, trusted) = read(&|at, _| 60_000 - at);
    assert_eq!(trusted, [false; 12]);
    assert!(window.refuted && window.remaining_lies);
    let (bucket, trusted) = read(&|_, used| used * 49);
    assert_eq!(trusted.iter().position(|&t| t), Some(8), "at 4 s");
    assert!(trusted[8..].iter().all(|&t| t));
    assert!((bucket.bucket_rate().unwrap() - 1_000.0 / 49.0).abs() < 1e-9);
}

/// A Unix timestamp in whole seconds names its instant to the second, though the delay to it
/// has a fraction: "9 used, full in 1.4 s" from a log of the last second's requests rounded up
/// is no estimate either.
#[test]
fn timestamp_resets_in_whole_seconds_give_no_estimate() {
    let stamped = RateLimitHeaders {
        reset_whole_seconds: true,
        ..headers(50, 41, 1_400)
    };
    let evidence = read_steadily(20, &stamped, 0.0);
    assert_eq!(evidence.bucket_estimate(), None);
}

/// Counts at the edge of `u64` (a broken or hostile server) are read without overflow: a
/// full per-minute budget of `u64::MAX` whose short reset agrees with its documented rate.
#[test]
fn counts_of_u64_max_do_not_overflow() {
    let edge = RateLimitHeaders {
        family: crate::middleware::LimitFamily::Anthropic,
        ..headers(u64::MAX, u64::MAX, 1_000)
    };
    let evidence = read_steadily(20, &edge, 0.0);
    assert!(evidence.bucket_estimate().is_some());
}

/// A 429 at the trusted pace: 1 % lower after it, 2 % after the second, refuted at the
/// third.
#[test]
fn each_contradiction_lowers_the_pace_and_three_refute() {
    let mut evidence = read_steadily(20, &headers(5, 4, 20), 0.0);
    evidence.contradicted();
    assert!((evidence.bucket_rate().unwrap() - 49.5).abs() < 1e-9);
    evidence.contradicted();
    assert!((evidence.bucket_rate().unwrap() - 49.005).abs() < 1e-9);
    evidence.contradicted();
    assert_eq!(evidence.bucket_rate(), None);
}

#[test]
fn repeated_429s_at_its_pace_refute_the_reading() {
    let mut evidence = read_steadily(20, &headers(5, 4, 20), 0.0);
    for _ in 0..CONTRADICTIONS_TO_REFUTE {
        assert!(evidence.trusted());
        evidence.contradicted();
    }
    assert!(!evidence.trusted());
}

/// The same names on a server where `limit` is the rate and `reset` the next slot.
#[test]
fn a_rate_reading_is_refuted_before_it_is_used() {
    let mut evidence = Evidence::default();
    for seq in 0..10 {
        // 50/s, bucket of 5 nearly empty: 0 left, the next slot in 10 ms.
        evidence.read(&sent(seq, seq * 20), &headers(50, 0, 10), false, 0.0);
        assert_eq!(evidence.bucket_rate(), None, "{seq}");
    }
    assert!(evidence.refuted);
    // `remaining` never read above 0: one request at a time.
    assert_eq!(evidence.burst(), 1);
}

/// Anthropic's resets are whole-second instants: a budget of 6000 a minute with 2 used,
/// "full in 0.6 s" (really 20 ms), measures nothing by itself (it would say 3 a second),
/// but agrees with the documented 100 a second; a reset of 30 s (1 800 used) measures one.
#[test]
fn whole_second_resets_stand_for_the_documented_rate_when_short() {
    let per_minute = |limit, remaining, reset_ms| RateLimitHeaders {
        family: crate::middleware::LimitFamily::Anthropic,
        ..headers(limit, remaining, reset_ms)
    };
    let mut evidence = read_steadily(20, &per_minute(6000, 5998, 600), 0.0);
    assert_eq!(evidence.bucket_estimate(), Some(100.0));
    evidence.read(&sent(10, 200), &per_minute(6000, 4200, 30_000), false, 0.0);
    assert_eq!(evidence.bucket_estimate(), Some(60.0));

    // A budget of 6000 that refills over five minutes, not one: 100 used, "full in 5 s"
    // (at 100 a second, 1 s): the documented rate is contradicted, no estimate at all.
    let mut slower = Evidence::default();
    slower.read(&sent(0, 0), &per_minute(6000, 5900, 5_000), false, 0.0);
    assert_eq!(slower.bucket_estimate(), None);
}
