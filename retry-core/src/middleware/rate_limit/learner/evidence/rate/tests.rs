use super::super::super::reading;
use super::*;

fn sent(seq: u64, ms: u64, rate: f64) -> Admission {
    Admission {
        epoch: 0,
        rate,
        seq,
        at: Duration::from_millis(ms),
        early: false,
        in_flight: 1,
        sent_by_answer: 0,
    }
}

/// A bucket of one refilling 10 a second, whose `limit` is that rate: `remaining` reads 0
/// after every take and predicts nothing, but three 429s to a pace of 12 bear it out.
#[test]
fn a_rate_is_trusted_once_429s_over_it_bear_it_out() {
    let mut evidence = Evidence::default();
    for seq in 0..20 {
        evidence.read(&sent(seq, seq * 120, 8.0), &reading(10, 0, 100), false, 0.0);
    }
    assert_eq!(evidence.rate_reading(), None, "no check yet");
    for seq in 20..23 {
        evidence.read(&sent(seq, seq * 80, 12.0), &reading(10, 0, 0), true, 0.0);
    }
    assert_eq!(evidence.rate_reading(), Some(10.0));
}

/// A budget of 3000 a minute under Together's names, read as 3000 a second: three 429s
/// to a pace of 60 refute it.
#[test]
fn refusals_well_under_the_rate_refute_it() {
    let mut rate = RateReading::default();
    for seq in 0..3 {
        rate.read(&sent(seq, seq * 20, 60.0), true, None, 3000, 2999, 0.0);
    }
    assert!(rate.refuted);
}

/// Trusted, a 429 at about the rate (the round trips' jitter on a bucket of one) slows it
/// by 5 %, and successes give it back slowly; slowed by more than 30 %, it is refuted.
#[test]
fn refusals_at_about_the_rate_slow_it() {
    let mut evidence = Evidence::default();
    for seq in 0..3 {
        evidence.read(&sent(seq, seq * 80, 12.0), &reading(10, 0, 0), true, 0.0);
    }
    evidence.read(&sent(3, 300, 9.8), &reading(10, 0, 0), true, 0.0);
    let slowed = evidence.rate_reading().expect("trusted");
    assert!((slowed - 9.5).abs() < 1e-9, "{slowed}");
    for seq in 4..104 {
        evidence.read(&sent(seq, seq * 110, 9.0), &reading(10, 0, 100), false, 0.0);
    }
    let back = evidence.rate_reading().expect("trusted");
    assert!(back > slowed && back < 10.0, "{back}");
    for seq in 104..111 {
        evidence.read(&sent(seq, seq * 110, 9.0), &reading(10, 0, 0), true, 0.0);
    }
    assert_eq!(evidence.rate_reading(), None, "slowed by more than 30 %");
}

/// `limit` is a bucket of 30 read as a rate, where the server refills 50 a second: after
/// a pause of 300 ms the count reads 15 more, not the 9 a rate of 30 would refill.
#[test]
fn a_count_that_refills_faster_than_the_rate_refutes_it() {
    let mut rate = RateReading::default();
    rate.read(&sent(0, 0, 50.0), false, Some(5), 30, 29, 0.0);
    rate.read(&sent(1, 300, 50.0), false, Some(19), 30, 29, 0.0);
    assert!(rate.refuted);
    // The same count refilling at 30 a second bears the rate out.
    let mut rate = RateReading::default();
    rate.read(&sent(0, 0, 50.0), false, Some(5), 30, 29, 0.0);
    rate.read(&sent(1, 300, 50.0), false, Some(13), 30, 29, 0.0);
    assert!(!rate.refuted && rate.checks == 1);
}

/// A count that reads one under its peak after a take predicts nothing: the bucket may
/// have been full, and lost the refill beyond it.
#[test]
fn a_count_near_its_peak_predicts_nothing() {
    let mut rate = RateReading::default();
    rate.read(&sent(0, 0, 50.0), false, Some(28), 30, 29, 0.0);
    rate.read(&sent(1, 300, 50.0), false, Some(0), 30, 29, 0.0);
    assert!(!rate.refuted && rate.checks == 0);
}

/// Answers come back out of order: the rate in force is the one the latest request's
/// answer gives, and a fall is told once.
#[test]
fn the_rate_in_force_is_the_latest_requests() {
    let mut evidence = Evidence::default();
    for seq in 0..3 {
        evidence.read(&sent(seq, seq * 30, 30.0), &reading(24, 0, 0), true, 0.0);
    }
    assert_eq!(evidence.rate_reading(), Some(24.0));
    evidence.read(&sent(5, 200, 20.0), &reading(12, 0, 0), true, 0.0);
    evidence.read(&sent(4, 150, 20.0), &reading(24, 0, 80), false, 0.0);
    assert!(evidence.rate_reading().is_some_and(|rate| rate < 12.5));
    assert!(evidence.rate_fell());
    assert!(!evidence.rate_fell(), "told once");
}

/// `limit` the rate (50 a second) over a bucket of five, `reset` the time until it is
/// full: two telling resets that agree stop slow start at 50 (one request's worth, 20 ms,
/// tells nothing: any faster rate names as little); a reset of a whole second, as a
/// window's, disagrees, and from then on only trust would.
#[test]
fn resets_that_agree_with_the_rate_stop_slow_start_there() {
    let mut evidence = Evidence::default();
    evidence.read(&sent(0, 0, 20.0), &reading(50, 4, 20), false, 0.0);
    // Three missing of five, 44 ms to full: 2.2 to refill at 50 a second.
    evidence.read(&sent(1, 10, 20.0), &reading(50, 2, 44), false, 0.0);
    assert_eq!(evidence.start_ceiling(), None, "one telling reset");
    evidence.read(&sent(2, 20, 20.0), &reading(50, 1, 70), false, 0.0);
    assert_eq!(evidence.start_ceiling(), Some(50.0));
    evidence.read(&sent(3, 30, 20.0), &reading(50, 2, 1_000), false, 0.0);
    assert_eq!(evidence.start_ceiling(), None);
}

/// A bucket of 30 refilling 50 a second under Together's names: a request's worth missing,
/// full in 20 ms, agrees with a rate of 30 and with any faster one, and tells nothing; 20
/// missing are full in 0.4 s, not the 0.63-0.67 s a rate of 30 would take, nor the wait for
/// its next slot.
#[test]
fn a_bucket_named_for_a_rate_is_no_ceiling() {
    let mut evidence = Evidence::default();
    for seq in 0..3 {
        evidence.read(&sent(seq, seq * 10, 20.0), &reading(30, 29, 20), false, 0.0);
    }
    assert_eq!(evidence.start_ceiling(), None, "nothing told");
    let mut evidence = Evidence::default();
    evidence.read(&sent(0, 0, 20.0), &reading(30, 29, 20), false, 0.0);
    evidence.read(&sent(1, 10, 20.0), &reading(30, 10, 400), false, 0.0);
    evidence.read(&sent(2, 20, 20.0), &reading(30, 29, 20), false, 0.0);
    assert_eq!(evidence.start_ceiling(), None);
}

/// A bucket of five refilling 10 a second: a reset of 0.35 s with four missing is the time
/// until full that a rate of 10 predicts (0.3-0.4 s), and three of them trust it. A
/// limit of 1 000 that never binds is never trusted on its resets: 2-3 ms until full, too
/// short to tell.
#[test]
fn a_telling_time_until_full_is_a_check() {
    let mut evidence = Evidence::default();
    evidence.read(&sent(0, 0, 10.0), &reading(10, 4, 100), false, 0.0);
    // Four sent at once, then one every 100 ms: one is left after each.
    for (seq, ms) in [(4, 100), (5, 200), (6, 300)] {
        evidence.read(&sent(seq, ms, 10.0), &reading(10, 1, 350), false, 0.0);
    }
    assert_eq!(evidence.rate_reading(), Some(10.0));
    // Trusted on resets alone, a 429 well under the rate refutes it at once: the resets
    // told the server's rate, not this client's share of it.
    evidence.read(&sent(7, 400, 4.0), &reading(10, 0, 100), true, 0.0);
    assert_eq!(evidence.rate_reading(), None);
    let mut evidence = Evidence::default();
    evidence.read(&sent(0, 0, 50.0), &reading(1_000, 999, 1), false, 0.0);
    for seq in 1..20 {
        let answer = sent(seq, seq * 10, 50.0);
        evidence.read(&answer, &reading(1_000, 997, 3), false, 0.0);
    }
    assert_eq!(evidence.rate_reading(), None);
    assert_eq!(evidence.start_ceiling(), None);
}

/// A fixed window's resets refute the bucket reading and the rate reading with it.
#[test]
fn a_window_refutes_it() {
    let mut evidence = Evidence::default();
    for seq in 0..3 {
        evidence.read(&sent(seq, seq * 80, 12.0), &reading(10, 0, 0), true, 0.0);
    }
    assert!(evidence.rate_reading().is_some());
    evidence.refute();
    assert_eq!(evidence.rate_reading(), None);
}
