//! The slot reading's tests: limits read, refuted and probed.

use super::*;

const S: Duration = Duration::from_secs(1);

fn answer(refused: bool) -> Outcome {
    if refused {
        Outcome::RateLimited
    } else {
        Outcome::Taken
    }
}

/// Reads answers sent with `in_flight` from 1 to 8 taken, and refusals of those sent with
/// 9 to 11, as a server serving 8 at once answers.
fn eight_at_once(reading: &mut SlotReading, rounds: u32) {
    for round in 0..rounds {
        for n in 1..=11 {
            reading.read(S * round, n, answer(n > 8));
        }
    }
}

#[test]
fn refusals_only_above_a_count_read_as_a_limit_on_requests_in_flight() {
    let mut reading = SlotReading::default();
    eight_at_once(&mut reading, 1);
    // Three refusals: not yet.
    assert_eq!(reading.limit(S), None);
    eight_at_once(&mut reading, 2);
    assert_eq!(reading.limit(2 * S), Some(8));
    assert!(reading.explains(9));
    assert!(!reading.explains(8));
}

#[test]
fn refusals_wherever_the_count_falls_read_as_a_rate() {
    let mut reading = SlotReading::default();
    for round in 0..10 {
        for n in 1..=11 {
            // Every fifth refused, whatever was in flight.
            reading.read(S * round, n, answer((n + round) % 5 == 0));
        }
    }
    assert_eq!(reading.limit(10 * S), None);
}

#[test]
fn refusals_in_the_busiest_moments_alone_are_not_enough_when_they_are_many_of_them() {
    // Half the answers went with 9 or more in flight: four refusals among them could be
    // chance (0.5^4 = 0.06).
    let mut reading = SlotReading::default();
    for n in [4, 5, 6, 7, 9, 10, 11, 12] {
        reading.read(S, n, answer(false));
    }
    for n in [9, 10, 11, 12] {
        reading.read(S, n, answer(true));
    }
    assert_eq!(reading.limit(S), None);
}

#[test]
fn a_refusal_at_or_under_the_limit_reads_it_lower_or_refutes_it() {
    let mut reading = SlotReading::default();
    eight_at_once(&mut reading, 3);
    assert_eq!(reading.limit(3 * S), Some(8));
    // Refused with 6 in flight: the limit is 5, if chance does not explain it.
    reading.read(3 * S, 6, answer(true));
    let lower = reading.limit(3 * S);
    assert!(lower.is_none_or(|limit| limit == 5), "{lower:?}");
    // Refused with 2 in flight: no limit on requests in flight explains that.
    reading.read(3 * S, 2, answer(true));
    assert_eq!(reading.limit(3 * S), None);
}

#[test]
fn the_limit_is_probed_and_read_again_where_a_probe_is_refused() {
    let mut reading = SlotReading::default();
    eight_at_once(&mut reading, 3);
    let since = 2 * S;
    assert_eq!(reading.limit(since), Some(8));
    assert_eq!(reading.limit(since + PROBE_EVERY), Some(9));
    assert_eq!(reading.limit(since + 2 * PROBE_EVERY), Some(10));
    // The probe at 9 taken, at 10 refused: the server serves 9 at once now.
    let probed = since + 2 * PROBE_EVERY;
    reading.read(probed, 9, answer(false));
    reading.read(probed, 10, answer(true));
    assert_eq!(reading.limit(probed), Some(9));
    assert!(reading.explains(10));
    assert!(!reading.explains(9));
    // Refused at 9 after all: back to 8.
    reading.read(probed, 9, answer(true));
    assert_eq!(reading.limit(probed), Some(8));
}

/// Probes refused at the limit believed wait twice, then four times as long; a probe that
/// finds room puts the wait back to one [`PROBE_EVERY`].
#[test]
fn probes_that_find_the_same_limit_back_off() {
    let mut reading = SlotReading::default();
    eight_at_once(&mut reading, 3);
    let mut since = 2 * S;
    for waits in [1, 2, 4, 4] {
        let probe = since + waits * PROBE_EVERY;
        assert_eq!(reading.limit(probe - S / 10), Some(8), "after {waits} x");
        assert_eq!(reading.limit(probe), Some(9), "after {waits} x");
        // The probe is refused: still 8.
        reading.read(probe, 9, answer(true));
        assert_eq!(reading.limit(probe), Some(8));
        since = probe;
    }
    // After the first probe, the next come every `PROBE_EVERY`: a risen limit is climbed
    // at the old speed.
    assert_eq!(reading.limit(since + 5 * PROBE_EVERY), Some(10));
    // One finds room (10 refused, 9 taken): the next probe comes after `PROBE_EVERY`.
    let probed = since + 5 * PROBE_EVERY;
    reading.read(probed, 10, answer(true));
    assert_eq!(reading.limit(probed), Some(9));
    assert_eq!(reading.limit(probed + PROBE_EVERY), Some(10));
}

#[test]
fn a_503_under_a_limit_read_from_429s_is_a_fault_not_a_refutation() {
    let mut reading = SlotReading::default();
    eight_at_once(&mut reading, 3);
    assert_eq!(reading.limit(3 * S), Some(8));
    reading.read(3 * S, 2, Outcome::Overloaded);
    assert_eq!(reading.limit(3 * S), Some(8));
    // Above it, the limit's.
    reading.read(3 * S, 9, Outcome::Overloaded);
    assert!(reading.explains(9));
}

#[test]
fn refusals_with_503s_read_a_limit_too() {
    let mut reading = SlotReading::default();
    for round in 0..3 {
        for n in 1..=11 {
            let answer = if n > 8 {
                Outcome::Overloaded
            } else {
                Outcome::Taken
            };
            reading.read(S * round, n, answer);
        }
    }
    assert_eq!(reading.limit(3 * S), Some(8));
}

#[test]
fn a_rush_of_refusals_at_the_start_does_not_hide_the_limit_for_long() {
    // Sixteen answers with 1 to 8 in flight taken, then one with 9 refused, `n` times.
    let steady = |reading: &mut SlotReading, n: usize| {
        for _ in 0..n {
            for in_flight in (1..=8).chain(1..=8) {
                reading.read(S, in_flight, answer(false));
            }
            reading.read(S, 9, answer(true));
        }
    };
    let mut reading = SlotReading::default();
    // A pace far too fast at first: 30 in flight, half of them refused.
    for n in 1..=30 {
        reading.read(S, n, answer(n > 8 && n % 2 == 0));
    }
    steady(&mut reading, 1);
    // The rush widens the tail of all the answers kept, and of the latest ones...
    assert_eq!(reading.limit(S), None);
    // ...until the latest ones holding twice the refusals needed are mostly after it.
    steady(&mut reading, 2);
    assert_eq!(reading.limit(S), Some(8));
}
