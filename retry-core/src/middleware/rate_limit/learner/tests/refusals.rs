//! What 429s do: cuts, pauses, runs of them, slow start's end, windows and spent counts.

use super::*;

#[test]
fn a_429_to_a_request_sent_on_the_burst_licence_cuts_the_licence_not_the_pace() {
    let mut learner = Learner::new(INITIAL_RATE);
    let limits = RateLimitHeaders {
        limit: Some(50),
        remaining: Some(49),
        ..RateLimitHeaders::default()
    };
    let now = Duration::ZERO;
    let paced = admission(learner.epoch(), learner.rate());
    learner.observe(now, &paced, Outcome::Taken, &limits, true);
    assert_eq!(learner.bucket(), Some(evidence::FIRST_LICENCE));
    let early = Admission {
        early: true,
        ..admission(learner.epoch(), learner.rate())
    };
    // It asks for a pause, and the pace stays: the burst was wrong, not the pace.
    assert!(learner.observe(now, &early, Outcome::RateLimited, &limits, true));
    assert_eq!(learner.rate(), INITIAL_RATE);
    // This 429 still said 49 left: `remaining` counts something else; no burst at all.
    assert_eq!(learner.bucket(), None);
}

/// Slow start has climbed two steps since a request went; its 429 comes now (a long round
/// trip, a bucket that absorbed the overshoot for a while). The current pace is further
/// over: it falls to the step before the one refused, and slow start ends.
#[test]
fn a_429_from_an_earlier_slow_start_step_ends_it() {
    let mut learner = Learner::new(INITIAL_RATE);
    let none = RateLimitHeaders::default();
    let now = Duration::ZERO;
    let early = admission(learner.epoch(), learner.rate());
    let mut steps = 0;
    while steps < 2 {
        let at = admission(learner.epoch(), learner.rate());
        steps += usize::from(
            learner.observe(now, &at, Outcome::Taken, &none, true) || {
                learner.epoch() > at.epoch
            },
        );
    }
    let climbed = learner.rate();
    assert!(climbed > early.rate * 2.0, "{climbed}");
    assert!(learner.observe(now, &early, Outcome::RateLimited, &none, true));
    let after = learner.rate();
    assert!(
        after < early.rate && after >= early.rate / 1.5 - 1e-9,
        "{after}"
    );
    // Slow start is over: successes no longer multiply the pace.
    for _ in 0..20 {
        let at = admission(learner.epoch(), learner.rate());
        learner.observe(now, &at, Outcome::Taken, &none, true);
    }
    assert!(learner.rate() < early.rate, "{}", learner.rate());
}

/// A fixed window spent until it ends: every request is refused for a while, whatever the
/// pace. One cut, then the pause doubles per 429 (the pace stays), and only a 429 after the
/// longest pause cuts again.
#[test]
fn a_run_of_429s_with_nothing_taken_lengthens_the_pause_not_the_cut() {
    let mut learner = Learner::new(60.0);
    let none = RateLimitHeaders::default();
    let now = Duration::ZERO;
    let (cut, first) = refuse(&mut learner);
    assert!(cut < 60.0);
    let (rate, second) = refuse(&mut learner);
    assert_eq!((rate, second), (cut, first * 2));
    let mut pause = second;
    while pause.as_secs_f64() < MAX_PAUSE {
        let (rate, longer) = refuse(&mut learner);
        assert_eq!(rate, cut);
        assert!(longer > pause);
        pause = longer;
    }
    // Refused after the longest pause: the pace was wrong after all.
    let (rate, _) = refuse(&mut learner);
    assert!(rate < cut, "{rate} {cut}");
    // Something taken ends the run: the next 429 cuts and pauses as the first did.
    let at = admission(learner.epoch(), learner.rate());
    learner.observe(now, &at, Outcome::Taken, &none, true);
    let before = learner.rate();
    let (rate, pause) = refuse(&mut learner);
    assert!(rate < before);
    assert_eq!(pause, Duration::from_secs_f64(PAUSE_INTERVALS / rate));
}

/// The second 429 at the current pace with nothing taken since: one request at a time until
/// one is taken (the first alone would make every bucket's 429 cost a round trip).
#[test]
fn a_run_of_429s_sends_one_request_at_a_time_until_one_is_taken() {
    let mut learner = Learner::new(60.0);
    let none = RateLimitHeaders::default();
    refuse(&mut learner);
    assert!(!learner.probing(Duration::ZERO));
    refuse(&mut learner);
    assert!(learner.probing(Duration::ZERO));
    let at = admission(learner.epoch(), learner.rate());
    learner.observe(Duration::ZERO, &at, Outcome::Taken, &none, true);
    assert!(!learner.probing(Duration::ZERO));
}

/// A server counting 10 a second per fixed window and naming nothing: after two windows
/// spent the same way, the learner paces by the window read from its 429s (10 per second,
/// the whole count at once, bounded as a log is), and a 429 under it hands back the blind
/// pace.
#[test]
fn a_window_without_headers_is_read_from_its_429s() {
    let mut learner = Learner::new(60.0);
    let none = RateLimitHeaders::default();
    let ms = Duration::from_millis;
    let answer = |learner: &mut Learner, sent: u64, outcome| {
        let at = Admission {
            at: ms(sent),
            ..admission(learner.epoch(), learner.rate())
        };
        learner.observe(ms(sent + 10), &at, outcome, &none, true);
    };
    for start in [0, 1_250] {
        for i in 0..10 {
            answer(&mut learner, start + 20 * i, Outcome::Taken);
        }
        for after in [200, 250, 350, 550] {
            answer(&mut learner, start + after, Outcome::RateLimited);
        }
        assert_eq!(learner.log_bound(), None);
    }
    answer(&mut learner, 2_250, Outcome::Taken);
    assert_eq!((learner.rate(), learner.burst()), (10.0, Some(10)));
    let bound = learner.log_bound().expect("bounded as a log");
    assert_eq!((bound.count, bound.length), (10, Duration::from_secs(1)));
    assert_eq!(learner.bucket(), None);
    // Nothing taken for a quarter of the window: the next request goes alone.
    assert!(learner.probing(ms(2_600)));
    answer(&mut learner, 2_300, Outcome::RateLimited);
    assert_eq!(learner.log_bound(), None);
    assert!(learner.rate() < 10.0);
}

/// A count spent for longer than the longest pause (a log of 200 per 10 s, behind one of 50
/// a second): once the longest pause has proved too short, a 429 that reads the count spent
/// holds until the reset it names, and cuts nothing.
#[test]
fn a_spent_count_holds_until_its_reset_once_the_longest_pause_proved_short() {
    let mut learner = Learner::new(60.0);
    let spent = |reset_ms| RateLimitHeaders {
        limit: Some(200),
        remaining: Some(0),
        reset: Some(Duration::from_millis(reset_ms)),
        ..RateLimitHeaders::default()
    };
    let refuse_at = |learner: &mut Learner, now: Duration, limits: &RateLimitHeaders| {
        let at = admission(learner.epoch(), learner.rate());
        assert!(learner.observe(now, &at, Outcome::RateLimited, limits, true));
        (learner.rate(), learner.pause())
    };
    let now = Duration::from_secs(4);
    let (cut, mut pause) = refuse_at(&mut learner, now, &spent(6_000));
    while pause.as_secs_f64() < MAX_PAUSE {
        assert_eq!(learner.held_after(now), None, "the pause first");
        (_, pause) = refuse_at(&mut learner, now, &spent(6_000));
    }
    let later = now + Duration::from_secs(1);
    let (rate, _) = refuse_at(&mut learner, later, &spent(5_000));
    assert_eq!(rate, cut, "no cut");
    assert_eq!(learner.held_after(later), Some(Duration::from_secs(10)));
    // In whole seconds, rounded up, a reset of 7 s names 6 s at the earliest.
    let mut whole = spent(7_000);
    whole.reset_whole_seconds = true;
    refuse_at(&mut learner, later, &whole);
    assert_eq!(learner.held_after(later), Some(Duration::from_secs(11)));
    // A later reading naming an earlier instant does not shorten the hold.
    refuse_at(&mut learner, later, &spent(2_000));
    assert_eq!(learner.held_after(later), Some(Duration::from_secs(11)));
    // Per-minute figures' reset is a minute's budget back whole: not a wait.
    let mut minute = spent(30_000);
    minute.family = crate::middleware::LimitFamily::OpenAi;
    let (rate, _) = refuse_at(&mut learner, later, &minute);
    assert!(rate < cut, "cut as before");
}

/// A run of 429s that read the count spent and name it back within the longest pause (a
/// window of a second that other clients spend at its opening): the first cuts the pace, the
/// ones after the longest pause do not, however many come. Each is one request sent alone
/// after a pause; cut at every one, a process crowded out of a fixed window by 15 others fell
/// to one request every 20 s and lost calls to their deadline.
#[test]
fn a_run_of_429s_naming_the_count_back_within_the_pause_cuts_once() {
    let mut learner = Learner::new(60.0);
    let spent = RateLimitHeaders {
        limit: Some(50),
        remaining: Some(0),
        reset: Some(Duration::from_millis(400)),
        ..RateLimitHeaders::default()
    };
    let refuse_spent = |learner: &mut Learner| {
        let at = admission(learner.epoch(), learner.rate());
        assert!(learner.observe(Duration::ZERO, &at, Outcome::RateLimited, &spent, true));
        (learner.rate(), learner.pause())
    };
    let (cut, mut pause) = refuse_spent(&mut learner);
    assert!(cut < 60.0);
    while pause.as_secs_f64() < MAX_PAUSE {
        (_, pause) = refuse_spent(&mut learner);
    }
    for _ in 0..10 {
        let (rate, pause) = refuse_spent(&mut learner);
        assert_eq!(rate, cut);
        assert_eq!(pause.as_secs_f64(), MAX_PAUSE);
    }
}

/// A 429 without headers, at time zero, to a request sent at the current pace: it asks
/// everyone to pause. The pace and the pause after it.
fn refuse(learner: &mut Learner) -> (f64, Duration) {
    let at = admission(learner.epoch(), learner.rate());
    let none = RateLimitHeaders::default();
    assert!(learner.observe(Duration::ZERO, &at, Outcome::RateLimited, &none, true));
    (learner.rate(), learner.pause())
}

/// The pause doubles the one before it, not the pace's interval once per 429: when the pace
/// falls within a run of 429s (as when a trusted bucket reading takes over from slow start),
/// the run's next pause is twice the last one, not 2^n intervals of the slower pace.
#[test]
fn a_run_of_429s_doubles_the_last_pause_when_the_pace_falls() {
    let mut learner = Learner::new(120.0);
    let pause = |learner: &mut Learner| refuse(learner).1;
    let first = pause(&mut learner);
    let second = pause(&mut learner);
    let third = pause(&mut learner);
    assert_eq!(third, second * 2);
    assert_eq!(second, first * 2);
    // The pace falls to a third of itself: the next pause is still twice the last, where
    // 2^3 intervals of the new pace would be 6x it.
    learner.aimd.follow(learner.rate() / 3.0, Duration::ZERO);
    let fourth = pause(&mut learner);
    assert_eq!(fourth, third * 2);
    // ... and never under the slower pace's own first pause.
    learner.aimd.follow(0.5, Duration::ZERO);
    let fifth = pause(&mut learner);
    assert_eq!(fifth, Duration::from_secs_f64(MAX_PAUSE));
}

#[test]
fn stale_429s_do_not_cut_twice() {
    let mut learner = Learner::new(INITIAL_RATE);
    let none = RateLimitHeaders::default();
    let before = admission(learner.epoch(), learner.rate());
    let now = Duration::ZERO;
    assert!(learner.observe(now, &before, Outcome::RateLimited, &none, true));
    let cut = learner.rate();
    assert!(cut < INITIAL_RATE);
    assert!(!learner.observe(now, &before, Outcome::RateLimited, &none, true));
    assert_eq!(learner.rate(), cut);
}

/// In slow start, a 429 to a request sent on the burst licence that reads the count spent
/// (`remaining: 0`, of a count that has read 4) ends slow start where it is, without a cut:
/// the pace is over what the bucket refills. Per-minute figures, which say nothing of the
/// bucket they are enforced by, leave slow start on. (Read a minute after the host's first
/// request: within it, a budget of 3 000 read spent after two requests is others' doing, see
/// `crowd::FirstAnswers`.)
#[test]
fn a_burst_429_reading_the_count_spent_ends_slow_start() {
    let run = |taken: RateLimitHeaders, refused: RateLimitHeaders| {
        let mut learner = Learner::new(INITIAL_RATE);
        let now = Duration::from_secs(61);
        let paced = Admission {
            at: now,
            ..admission(learner.epoch(), learner.rate())
        };
        learner.observe(now, &paced, Outcome::Taken, &taken, true);
        let early = Admission {
            early: true,
            at: now,
            ..admission(learner.epoch(), learner.rate())
        };
        learner.observe(now, &early, Outcome::RateLimited, &refused, true);
        (learner.aimd.starting(), learner.rate())
    };
    let left = |remaining| RateLimitHeaders {
        remaining: Some(remaining),
        ..RateLimitHeaders::default()
    };
    assert_eq!(run(left(4), left(0)), (false, INITIAL_RATE));
    let minute = |remaining| RateLimitHeaders {
        family: crate::middleware::LimitFamily::OpenAi,
        ..reading(3000, remaining, 20)
    };
    assert_eq!(run(minute(2999), minute(0)), (true, INITIAL_RATE));
}

/// Refusals only of requests sent with more than 8 in flight, as a server serving 8 at once
/// gives them, are read as that limit when the count the headers name says nothing of them;
/// when each reads the count spent, the count is what refused them, and no limit on requests
/// in flight is read (an LLM's long answers put the most in flight just when a pace too fast
/// spends a bucket of two: believed, a limit of 22 held a server of 40 a second to 13, on a
/// server of `goodput --sweep`).
#[test]
fn refusals_that_read_the_count_spent_are_not_a_limit_on_requests_in_flight() {
    let believed = |refused: RateLimitHeaders| {
        let mut learner = Learner::new(INITIAL_RATE);
        learner.aimd.end_slow_start();
        let taken = reading(50, 3, 100);
        for round in 0..3u64 {
            for n in 1..=11u32 {
                let now = Duration::from_millis(round * 1_000 + u64::from(n) * 10);
                let sent = Admission {
                    in_flight: n,
                    at: now,
                    ..admission(learner.epoch(), learner.rate())
                };
                let (outcome, headers) = if n > 8 {
                    (Outcome::RateLimited, &refused)
                } else {
                    (Outcome::Taken, &taken)
                };
                learner.observe(now, &sent, outcome, headers, true);
            }
        }
        learner.in_flight_limit(Duration::from_secs(3)).is_some()
    };
    assert!(believed(reading(50, 3, 100)));
    assert!(!believed(reading(50, 0, 100)));
}

/// A fleet's 429 whose only hint is `reset`: on a count read as a sliding log, a reset that
/// names the whole log back at the pace ("until empty") is waited one place's share of, a
/// shorter one whole; on a count not read as a log (a fixed window's end) every reset is
/// waited whole, and so on a log read with next-place resets (not plausible here, so this
/// last case holds by either guard).
#[test]
fn a_fleet_waits_one_place_of_a_reset_that_names_a_whole_log() {
    let limits = |remaining, reset_ms| RateLimitHeaders {
        limit: Some(50),
        remaining: Some(remaining),
        reset: Some(Duration::from_millis(reset_ms)),
        ..RateLimitHeaders::default()
    };
    // 50 in any second, read at 30 a second for 1.5 s, each answer's `reset` (in ms) the
    // same: a second (until the log is empty), or zero (the next place).
    let read_log = |reset_ms: u64| {
        let mut learner = Learner::new(30.0);
        let mut sent = Vec::new();
        for at in (0..1_500).step_by(33) {
            sent.push(at);
            let within = sent.iter().filter(|&&t| t + 1_000 > at).count() as u64;
            let now = Duration::from_millis(at);
            let admitted = Admission {
                at: now,
                ..admission(learner.epoch(), learner.rate())
            };
            let answer = limits(50 - within, reset_ms);
            learner.observe(now, &admitted, Outcome::Taken, &answer, true);
        }
        learner
    };
    let whole_ms = |learner: &Learner| (1_000.0 * 50.0 / learner.rate()).ceil() as u64;

    let log = read_log(1_000);
    let whole = whole_ms(&log);
    assert_eq!(
        log.fleet_wait(&limits(0, whole)),
        Some(Duration::from_millis(whole) / 50),
        "one place of a whole log"
    );
    assert_eq!(
        log.fleet_wait(&limits(0, whole / 2)),
        Some(Duration::from_millis(whole / 2)),
        "a part of it, whole"
    );
    let fresh = Learner::new(50.0);
    let whole = whole_ms(&fresh);
    assert_eq!(
        fresh.fleet_wait(&limits(0, whole)),
        Some(Duration::from_millis(whole)),
        "no log read: whole"
    );
    let next_slot = read_log(0);
    let whole = whole_ms(&next_slot);
    assert_eq!(
        next_slot.fleet_wait(&limits(0, whole)),
        Some(Duration::from_millis(whole)),
        "a next place: whole"
    );
}
