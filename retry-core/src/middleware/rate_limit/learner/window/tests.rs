use super::share::SHARED_FOR;
use super::*;

fn empty(limit: u64, reset_ms: u64) -> RateLimitHeaders {
    left(limit, 0, reset_ms)
}

use super::super::reading as left;

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Answers come 10 ms after their request went: the server read each reset within those
/// 10 ms.
fn refused(sign: &mut WindowSign, at: u64, headers: &RateLimitHeaders) -> Option<Duration> {
    sign.refused(ms(at), ms(at - 10), headers, 0.0)
}

fn taken(sign: &mut WindowSign, at: u64, headers: &RateLimitHeaders) {
    sign.taken(ms(at), ms(at - 10), headers, 0.0);
}

/// 50 a second counted per one-second window, spent at 150 ms: 429s at 200 and 300 ms
/// name the window's end, 1 s.
#[test]
fn resets_counting_down_to_one_instant_are_a_window() {
    let mut sign = WindowSign::default();
    assert_eq!(refused(&mut sign, 200, &empty(50, 800)), None);
    assert_eq!(refused(&mut sign, 300, &empty(50, 701)), Some(ms(1_001)));
    assert_eq!(sign.ends_after(ms(500)), Some(ms(1_001)));
    assert_eq!(sign.ends_after(ms(1_001)), None);
}

/// A bucket of 5 at 50 a second, empty: "full in 100 ms" at each 429, whenever it comes;
/// and its refill ends a run of 429s quickly (20 ms a request).
#[test]
fn an_empty_bucket_is_not_a_window() {
    let mut sign = WindowSign::default();
    for t in (200..400).step_by(30) {
        assert_eq!(refused(&mut sign, t, &empty(5, 100)), None, "{t}");
    }
    // Counting down, but within two of its "one back" intervals (2 x 20 ms): a bucket
    // that took nothing since.
    let mut sign = WindowSign::default();
    refused(&mut sign, 200, &empty(5, 100));
    assert_eq!(refused(&mut sign, 230, &empty(5, 70)), None);
}

/// A bucket of one refilling in 2 s: 429s 50 ms and 1.9 s after the request it took both
/// name the instant it takes one again, as a window's would, but no sooner than a bucket
/// would (the two readings agree on a bucket of one: nothing is refuted).
#[test]
fn a_bucket_of_one_is_not_a_window() {
    let mut sign = WindowSign::default();
    assert_eq!(refused(&mut sign, 50, &empty(1, 1_950)), None);
    assert_eq!(refused(&mut sign, 1_900, &empty(1, 100)), None);
}

/// A success between two 429s ends the run: they say nothing together.
#[test]
fn a_request_taken_between_them_breaks_the_run() {
    let mut sign = WindowSign::default();
    refused(&mut sign, 200, &empty(50, 800));
    taken(&mut sign, 250, &left(50, 0, 750));
    assert_eq!(refused(&mut sign, 300, &empty(50, 700)), None);
}

/// The sign, then the count whole again after the instant it named: a window of 50 a
/// second, paced as one. Each answer within it names its end; one that reads it spent holds
/// everything until then; the first sent after it opens the next.
#[test]
fn a_window_is_confirmed_by_its_count_coming_back_whole() {
    let mut sign = WindowSign::default();
    refused(&mut sign, 200, &empty(50, 800));
    assert_eq!(refused(&mut sign, 300, &empty(50, 700)), Some(ms(1_000)));
    assert_eq!(sign.length(), None, "a sign alone");
    // Sent at 1.01 s, after the end: 49 left of 50, the window ends at 2 s.
    taken(&mut sign, 1_020, &left(50, 49, 980));
    assert_eq!(
        sign.length(),
        None,
        "paced as a window from the next one on"
    );
    taken(&mut sign, 1_022, &left(50, 48, 978));
    taken(&mut sign, 1_300, &left(50, 10, 700));
    assert_eq!(sign.ends_after(ms(1_300)), None, "not spent");
    taken(&mut sign, 1_400, &left(50, 0, 600));
    assert_eq!(
        sign.ends_after(ms(1_400)),
        Some(ms(2_000)),
        "spent until its end"
    );
    // The next window: sent at 2.004 s, named 3 s. Its reset is the longest read: the
    // window's length.
    taken(&mut sign, 2_014, &left(50, 49, 986));
    assert_eq!(sign.length(), Some(ms(986)));
    let current = sign.current.map(|c| (c.began, c.earliest, c.latest));
    assert_eq!(current, Some((ms(2_000), ms(2_990), ms(3_000))));
    assert_eq!(sign.ends_after(ms(2_014)), None);
    // A 429 within it (one more than its count, in flight when it was read spent).
    assert_eq!(refused(&mut sign, 2_500, &empty(50, 500)), Some(ms(3_000)));
    assert_eq!(sign.length(), Some(ms(986)));
}

/// A limit that is a rate (25 a second, a bucket of 5) and a reset that is the wait for the
/// next slot: two 429s can name one instant (the sign, once in 20 runs of `sawtooth-rate` on
/// our simulator), but the count never comes back near `limit`. Not confirmed: no window's
/// burst, no window's pace (paced as one, that run drew 6.2 429s per request).
#[test]
fn a_sign_whose_count_never_comes_back_whole_is_not_confirmed() {
    let mut sign = WindowSign::default();
    refused(&mut sign, 4_635, &empty(25, 34));
    assert_eq!(refused(&mut sign, 4_665, &empty(25, 4)), Some(ms(4_669)));
    for (at, remaining) in [(4_700, 4), (4_720, 5), (4_760, 3), (5_000, 5)] {
        taken(&mut sign, at, &left(25, remaining, 40));
    }
    assert_eq!(sign.length(), None);
}

/// 50 a second per one-second window: the sign in the first (spent at 0.2 s), confirmed by
/// the count back whole in the second (the window from 1 s to 2 s).
fn confirmed() -> WindowSign {
    let mut sign = WindowSign::default();
    refused(&mut sign, 200, &empty(50, 800));
    refused(&mut sign, 300, &empty(50, 700));
    taken(&mut sign, 1_020, &left(50, 49, 980));
    assert!(sign.on());
    sign
}

/// Confirmed, then a reset within the window names another instant than its end: not a
/// window after all (a bucket that refilled whole during a long pause), for good.
#[test]
fn a_reset_naming_another_instant_within_the_window_breaks_it() {
    let mut sign = confirmed();
    // Within the window (sent at 1.09 s, answered at 1.1 s, the window ends at 2 s), a reset
    // of 20 ms names 1.12 s.
    taken(&mut sign, 1_100, &left(50, 40, 20));
    assert!(!sign.on());
    // Broken for good: the next window's answers do not bring it back.
    taken(&mut sign, 2_020, &left(50, 49, 980));
    assert_eq!(sign.length(), None);
}

/// Confirmed, then a 429 that says the window still has room: a window refuses only once
/// spent, so something else limits this server (a per-second rate behind a per-minute
/// count). Not paced as a window any more.
#[test]
fn a_429_with_room_left_in_the_window_breaks_it() {
    let mut sign = confirmed();
    taken(&mut sign, 2_014, &left(50, 49, 986));
    assert!(sign.length().is_some());
    assert_eq!(refused(&mut sign, 2_100, &left(50, 30, 900)), None);
    assert_eq!(sign.length(), None);
}

/// Confirmed, then within a window the count rises: 10 left read at 1.3 s, then 30 left on a
/// request sent after that answer came back. A window gives nothing back before its end; a
/// log of the last second's requests gives back what leaves it. Not a window, for good.
#[test]
fn a_count_that_rises_within_the_window_breaks_it() {
    let mut sign = confirmed();
    taken(&mut sign, 1_300, &left(50, 10, 700));
    // Sent before that answer came back (in flight, counted before it): no news.
    sign.taken(ms(1_305), ms(1_295), &left(50, 12, 695), 0.0);
    assert!(sign.on());
    // Sent after it: the count came back.
    taken(&mut sign, 1_400, &left(50, 30, 600));
    assert!(!sign.on());
    assert!(sign.neither(), "neither a bucket's count nor a window's");
    // And no sign of one holds anyone after that: two 429s naming one instant again.
    refused(&mut sign, 2_200, &empty(50, 800));
    assert_eq!(refused(&mut sign, 2_300, &empty(50, 700)), None);
    assert_eq!(sign.ends_after(ms(2_300)), None);
}

/// Two 429s naming one instant in whole seconds (a Unix timestamp, rounded up) are no sign:
/// many instants round to one.
#[test]
fn resets_in_whole_seconds_show_no_window() {
    let mut sign = WindowSign::default();
    let stamped = |reset_ms| RateLimitHeaders {
        reset_whole_seconds: true,
        ..empty(50, reset_ms)
    };
    assert_eq!(refused(&mut sign, 200, &stamped(800)), None);
    assert_eq!(refused(&mut sign, 300, &stamped(700)), None);
    assert_eq!(sign.ends_after(ms(500)), None);
}

/// Confirmed, then the next window opens with an end that is no whole number of windows
/// after the last: ends at any instant are a log's oldest leaving, not windows.
#[test]
fn windows_whose_ends_do_not_come_a_length_apart_break() {
    let mut sign = confirmed();
    // The current window ends at 2 s; the next, opened at 2.014 s, names 3 s: one length on.
    taken(&mut sign, 2_014, &left(50, 49, 986));
    assert!(sign.on());
    // The one after names 3.4 s, sent at 3.1 s: 0.4 s on, not a length.
    taken(&mut sign, 3_110, &left(50, 49, 300));
    assert!(!sign.on());
}

/// A 429 within the window reads it spent: a request sent after it that is taken, reading
/// room, breaks it too.
#[test]
fn a_request_taken_after_a_429_within_the_window_breaks_it() {
    let mut sign = confirmed();
    assert!(refused(&mut sign, 1_300, &empty(50, 700)).is_some());
    taken(&mut sign, 1_400, &left(50, 5, 600));
    assert!(!sign.on());
}

/// Confirmed, then a window (2 s to 3 s) read spent when this client had taken `own` of its
/// 50 in it; the next two open, others spending from them (the second tells how the first
/// was spent, its late answers in).
fn spent_with(own: u64) -> WindowSign {
    let mut sign = confirmed();
    // The window from 2 s to 3 s: `own` taken, counted down from 49, the last reading 0.
    for i in 0..own {
        let left_after = if i + 1 == own { 0 } else { 48 - i };
        taken(&mut sign, 2_014 + i, &left(50, left_after, 986 - i));
    }
    assert!(sign.ends_after(ms(2_100)).is_some(), "read spent");
    // The next two: one request of this client's each, the count read 20 down.
    taken(&mut sign, 3_014, &left(50, 30, 986));
    taken(&mut sign, 4_014, &left(50, 30, 986));
    sign
}

/// A window spent by this client alone stays its to spend whole; one read spent with a
/// fifth of its count taken from this client is spent by others too: its count no longer
/// paces (no whole count at its opening), and its end still holds everything once it reads
/// spent.
#[test]
fn a_window_others_spend_too_is_not_paced_by_its_count() {
    let alone = spent_with(50);
    assert!(!alone.shared());
    assert_eq!(alone.length(), Some(ms(986)));

    let mut crowded = spent_with(10);
    assert!(crowded.shared());
    assert_eq!(crowded.length(), None);
    assert!(crowded.on(), "still a window");
    taken(&mut crowded, 4_300, &left(50, 0, 700));
    assert_eq!(crowded.ends_after(ms(4_300)), Some(ms(5_000)));
}

/// Shared, then windows that others still spend from but do not spend whole: after
/// [`SHARED_FOR`] of them its count paces again. A window whose lowest count was all this
/// client's (the others gone) ends it at once.
#[test]
fn a_shared_window_left_to_this_client_is_its_own_again() {
    let mut sign = spent_with(10);
    let mut at = 5_014;
    for _ in 0..SHARED_FOR {
        assert!(sign.shared());
        // One request of this client's, the count read 20 down: others spend from it.
        taken(&mut sign, at, &left(50, 30, 986));
        at += 1_000;
    }
    assert!(!sign.shared());
    assert!(sign.length().is_some());

    let mut sign = spent_with(10);
    // From 5 s: this client's one request a window, the count read one down.
    taken(&mut sign, 5_014, &left(50, 49, 986));
    taken(&mut sign, 6_014, &left(50, 49, 986));
    assert!(sign.shared(), "judged once its late answers are in");
    taken(&mut sign, 7_014, &left(50, 49, 986));
    assert!(!sign.shared());
}

/// A 429 in a window this client had taken 5 of, with 3 of its requests unanswered: the
/// window counted at most 8 of this client's 50, so others spent it, shared at once. With 40
/// unanswered (a lone client's burst, answered late), they may be the rest.
#[test]
fn a_429_with_few_of_this_clients_requests_counted_shares_the_window_at_once() {
    let refused_with = |in_flight| {
        let mut sign = confirmed();
        for i in 0..5 {
            taken(&mut sign, 2_014 + i, &left(50, 40 - i, 986 - i));
        }
        refused(&mut sign, 2_100, &empty(50, 900));
        sign.refused_in_flight(in_flight);
        sign
    };
    assert!(refused_with(3).shared());
    assert!(!refused_with(40).shared());
}

/// A late answer from the window before, reading it spent, holds nothing: the window open
/// now is not spent (sent at 1.9 s, counted in the window that ended at 2 s, answered at
/// 2.1 s, after the next window opened).
#[test]
fn a_late_answer_reading_the_window_before_spent_holds_nothing() {
    let mut sign = confirmed();
    taken(&mut sign, 1_400, &left(50, 20, 600));
    // The next window, 2 s to 3 s, opened by a request sent at 2.004 s.
    taken(&mut sign, 2_014, &left(50, 49, 986));
    assert_eq!(sign.ends_after(ms(2_014)), None);
    sign.taken(ms(2_100), ms(1_900), &left(50, 0, 50), 0.0);
    assert_eq!(
        sign.ends_after(ms(2_100)),
        None,
        "held by the window before"
    );
    // Nor is the window open now broken by it: its count goes on falling.
    taken(&mut sign, 2_200, &left(50, 40, 800));
    assert!(sign.on());
    assert_eq!(sign.length(), Some(ms(986)));
}
