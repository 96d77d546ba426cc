use super::super::reading;
use super::*;
use crate::middleware::LimitFamily;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A client sending every `every_ms` for `for_ms` to a server whose count after each
/// request is `count(at_ms, sent so far)`: what it read of it, answers coming at once.
fn run(
    every_ms: u64,
    for_ms: u64,
    mut count: impl FnMut(u64, &[u64]) -> (u64, u64, u64),
) -> LogReading {
    let mut log = LogReading::default();
    let mut sent = Vec::new();
    for at in (0..for_ms).step_by(usize::try_from(every_ms).unwrap()) {
        sent.push(at);
        let (limit, remaining, reset_ms) = count(at, &sent);
        log.read(ms(at), true, &reading(limit, remaining, reset_ms), 0.0);
    }
    log
}

/// 50 in any second, at 30 a second: its count stays 20 under the limit, as only a log's
/// does.
fn sliding(at: u64, sent: &[u64]) -> (u64, u64, u64) {
    let within = sent.iter().filter(|&&t| t + 1_000 > at).count() as u64;
    let oldest = sent
        .iter()
        .find(|&&t| t + 1_000 > at)
        .copied()
        .unwrap_or(at);
    (50, 50 - within, oldest + 1_000 - at)
}

#[test]
fn a_log_read_for_longer_than_its_length_is_confirmed() {
    let early = run(33, 1_000, sliding);
    assert_eq!(early.length(), None, "a window counts the same for a while");
    // Once some predictions told, before the confirmation, it is plausible: no bucket
    // reading is trusted meanwhile.
    let middle = run(33, 1_200, sliding);
    assert!(middle.length().is_none() && middle.plausible());
    let log = run(33, 2_000, sliding);
    assert_eq!(log.length(), Some(Duration::from_secs(1)));
}

#[test]
fn a_bucket_is_no_log_under_its_refill_nor_over_it() {
    // 20 held, 100 a second back (a token every 10 ms). Emptied at once, then at 60 a
    // second it reads full, whole as a log read after an idle length would: no failure,
    // and nothing confirmed.
    let mut log = LogReading::default();
    for at in 0..20 {
        log.read(ms(at), true, &reading(20, 19 - at, 10 * (at + 1)), 0.0);
    }
    for at in (40..3_000).step_by(17) {
        log.read(ms(at), true, &reading(20, 19, 10), 0.0);
    }
    assert!(!log.broken && log.length().is_none());
    assert!(!log.plausible(), "read full, it tells nothing of a log");
    // At 125 a second it drains slowly, and its count stays above what a log of 20 per
    // 200 ms would leave (none, 25 sent within it): broken.
    let mut tokens = 20.0_f64;
    let mut last = 3_000_u32;
    for at in (3_000_u32..5_000).step_by(8) {
        tokens = (tokens + f64::from(at - last) / 10.0).min(20.0) - 1.0;
        last = at;
        let left = tokens.max(0.0);
        let reset = ((20.0 - left) * 10.0) as u64;
        log.read(
            ms(u64::from(at)),
            true,
            &reading(20, left as u64, reset),
            0.0,
        );
    }
    assert!(log.broken && log.length().is_none());
}

#[test]
fn a_count_of_fewer_than_ten_is_never_a_log() {
    let small = |at: u64, sent: &[u64]| {
        let (_, remaining, reset) = sliding(at, sent);
        (5, remaining.saturating_sub(45), reset)
    };
    let log = run(200, 5_000, small);
    assert!(log.taken.is_empty() && log.length().is_none());
}

#[test]
fn a_window_reads_whole_when_it_opens_and_nothing_before_counts() {
    // 50 per second from 0: whole again at each second.
    let window = |at: u64, sent: &[u64]| {
        let start = at / 1_000 * 1_000;
        let within = sent.iter().filter(|&&t| t >= start).count() as u64;
        (50, 50 - within, start + 1_000 - at)
    };
    let log = run(25, 3_000, window);
    // Read as a log that the window's opening empties: the bound (no more than 50 in any
    // second) holds on a window too, and counts from the latest opening.
    assert!(!log.broken, "{log:?}");
    assert_eq!(log.length(), Some(Duration::from_secs(1)), "{log:?}");
    assert_eq!(log.since(), ms(2_000));
    assert_eq!(log.counted(ms(2_490)), 20, "sent every 25 ms from 2 000 ms");
}

#[test]
fn resets_rounded_up_to_the_clock_second_measure_whole_seconds() {
    // The oldest request's leaving as a Unix timestamp rounded up, read against a clock
    // whose second starts 460 ms into this one's: up to 1.46 s away.
    let github = |at: u64, sent: &[u64]| {
        let (limit, remaining, reset) = sliding(at, sent);
        let instant = (at + reset + 540).div_ceil(1_000) * 1_000 - 540;
        (limit, remaining, instant - at)
    };
    let mut log = LogReading::default();
    let mut sent = Vec::new();
    for at in (0..3_000).step_by(33) {
        sent.push(at);
        let (limit, remaining, reset_ms) = github(at, &sent);
        let mut limits = reading(limit, remaining, reset_ms);
        limits.reset_whole_seconds = true;
        log.read(ms(at), true, &limits, 0.0);
    }
    assert_eq!(log.length(), Some(Duration::from_secs(1)));
}

#[test]
fn another_limit_sets_the_log_aside_until_its_own_is_named_again() {
    let mut log = run(33, 2_000, sliding);
    assert!(log.length().is_some());
    // A count of 200 per 10 s has fewer left, and the headers name it.
    log.read(ms(2_000), true, &reading(200, 0, 9_000), 0.0);
    assert!(!log.broken && log.length().is_none(), "aside");
    assert!(log.stacked(), "its room is not all there is from now on");
    // The log of 50 is named again, and counts the request sent meanwhile: 30 of the
    // last second's (every 33 ms from 1 023 ms), the one at 2 000 ms, and this one.
    log.read(ms(2_010), true, &reading(50, 15, 1_000), 0.0);
    assert_eq!(log.length(), Some(Duration::from_secs(1)));
    assert_eq!(log.counted(ms(2_010)), 32);
}

#[test]
fn per_minute_figures_are_never_a_log() {
    let mut log = LogReading::default();
    let mut limits = reading(3_000, 2_990, 1_000);
    limits.family = LimitFamily::OpenAi;
    for at in 0..100 {
        log.read(ms(at * 20), true, &limits, 0.0);
    }
    assert!(log.taken.is_empty() && log.length().is_none());
}

#[test]
fn a_spent_log_has_room_when_its_oldest_request_leaves() {
    let mut log = run(33, 2_000, sliding);
    assert!(log.length().is_some());
    // The oldest request counted at 2 s went at 1.023 s (every 33 ms from 0).
    log.read(ms(2_000), false, &reading(50, 0, 23), 0.0);
    let room = log.frees_after(ms(2_000)).unwrap();
    assert_eq!(room, ms(1_023) + Duration::from_secs(1) + margin(0.0));
    assert_eq!(log.frees_after(room), None);
}

/// 50 in any second, its reset the next place: zero while the log has one, else when its
/// oldest request leaves it.
fn next_place(at: u64, sent: &[u64]) -> (u64, u64, u64) {
    let (limit, remaining, oldest_leaves) = sliding(at, sent);
    (
        limit,
        remaining,
        if remaining > 0 { 0 } else { oldest_leaves },
    )
}

#[test]
fn a_count_read_spent_lengthens_a_log_its_resets_read_short() {
    // 50 sent in a rush (every 2 ms): the 50th reads the log spent, and its reset (902 ms,
    // when the first leaves) is the longest read on a success, short of the log's second.
    let mut log = run(2, 100, next_place);
    assert_eq!(log.length, ms(902));
    // The log holds 50, the oldest of them sent at 0 and leaving 902 ms after the 50th
    // went: a second at least. Round trips that vary by 40 ms take 20 ms off.
    log.spent(ms(98), ms(0), &reading(50, 0, 902), 0.04);
    assert_eq!(log.length, ms(980));
    log.spent(ms(98), ms(0), &reading(50, 0, 902), 0.0);
    assert_eq!(log.length, Duration::from_secs(1));
    // Later, 50 sent over 1.2 s (a place refused meanwhile) and the log spent again: the
    // span alone says more than the reset.
    log.spent(ms(1_300), ms(100), &reading(50, 0, 0), 0.0);
    assert_eq!(log.length, ms(1_200));
}

/// Others spending the count make a log read spent sooner, and longer than it is: the
/// span counts only where the resets name the next place (the log's length then read from
/// nothing else), and only over requests the log has not read whole since. (Stretched on
/// every log, 16 processes on a fixed window of a second under Together's names read one
/// 38-57 s long, and a process left alone sent its last 50 a minute apart, on our
/// simulator.)
#[test]
fn a_count_read_spent_by_others_lengthens_no_log() {
    // Resets that name when the oldest leaves give the length: a span says no more.
    let mut log = run(33, 2_000, sliding);
    let length = log.length;
    log.spent(ms(5_000), ms(0), &reading(50, 0, 100), 0.0);
    assert_eq!(log.length, length);
    // The next place's log, read whole at 0.5 s (49 left where its own 50 were in it): its
    // requests before then are no longer in it, whatever spends it now.
    let mut log = run(2, 100, next_place);
    log.read(ms(500), true, &reading(50, 49, 0), 0.0);
    log.spent(ms(5_000), ms(0), &reading(50, 0, 0), 0.0);
    assert_eq!(log.length, ms(902));
}

#[test]
fn a_count_read_spent_lengthens_nothing_it_does_not_count() {
    let whole = |at: u64, sent: &[u64]| {
        let (limit, remaining, _) = sliding(at, sent);
        let newest = sent.last().copied().unwrap_or(at);
        (limit, remaining, newest + 1_000 - at)
    };
    // A reset that names when the log is whole (its newest leaving) is no next place: the
    // span alone (500 ms) says nothing more than the resets did.
    let mut log = run(2, 100, whole);
    assert_eq!(log.length, Duration::from_secs(1));
    log.spent(ms(500), ms(0), &reading(50, 0, 1_000), 0.0);
    assert_eq!(log.length, Duration::from_secs(1));
    // Nor a count with room left, another count's, or a bucket's next slot read short.
    let mut log = run(2, 100, next_place);
    log.spent(ms(2_000), ms(0), &reading(50, 1, 0), 0.0);
    log.spent(ms(2_000), ms(0), &reading(200, 0, 0), 0.0);
    assert_eq!(log.length, ms(902));
    let mut bucket = LogReading::default();
    for at in 0..20 {
        bucket.read(ms(at * 20), true, &reading(50, 0, 20), 0.0);
    }
    bucket.spent(ms(400), ms(0), &reading(50, 0, 20), 0.0);
    assert_eq!(bucket.length, ms(20));
}
