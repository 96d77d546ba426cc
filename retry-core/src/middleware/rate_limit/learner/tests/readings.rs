//! What the headers' counts do: a measured refill, a full count, a trusted reading.

use super::*;

/// A bucket of 5 refilling 50 a second, whose headers carry an accurate `remaining` and a
/// `limit` that is its rate, not its size (so the bucket reading is never trusted): the
/// refill measured from `remaining` settles the pace under the limit before 429s do.
/// (Without it: a 429 every second or so, as the increase finds the limit again.)
#[test]
fn an_accurate_remaining_settles_the_pace_without_429s() {
    let mut learner = Learner::new(INITIAL_RATE);
    let (rate, size) = (50.0, 5.0);
    let mut tokens = size;
    let mut now = Duration::ZERO;
    let mut refused_after_start = 0;
    let mut late_paces = Vec::new();
    for seq in 0..1_000u64 {
        let at = Admission {
            seq,
            at: now,
            ..admission(learner.epoch(), learner.rate())
        };
        let gap = 1.0 / at.rate;
        now += Duration::from_secs_f64(gap);
        tokens = (tokens + rate * gap).min(size);
        let outcome = if tokens >= 1.0 {
            tokens -= 1.0;
            Outcome::Taken
        } else {
            refused_after_start += usize::from(now > Duration::from_secs(3));
            Outcome::RateLimited
        };
        let limits = RateLimitHeaders {
            limit: Some(50),
            remaining: Some(tokens as u64),
            ..RateLimitHeaders::default()
        };
        learner.observe(now, &at, outcome, &limits, true);
        if now > Duration::from_secs(10) {
            late_paces.push(at.rate);
        }
    }
    let late = late_paces.iter().sum::<f64>() / late_paces.len() as f64;
    assert!(late > 45.0 && late <= 50.5, "{late}");
    assert!(
        refused_after_start <= 2,
        "{refused_after_start} 429s after 3 s"
    );
}

/// Past slow start, answers whose count (`remaining` alone, at the most it has read) reads
/// full grow the pace a step each, but only those to requests sent at about the pace: a full
/// count after requests sent at half of it (as after a pause) says nothing of the pace since.
/// (Fast recovery after the cut climbs either way.)
#[test]
fn a_full_count_grows_only_the_pace_it_was_read_at() {
    let left = |remaining| RateLimitHeaders {
        remaining: Some(remaining),
        ..RateLimitHeaders::default()
    };
    let grown = |share_of_pace: f64| {
        let mut learner = Learner::new(INITIAL_RATE);
        let mut now = Duration::from_millis(10);
        learner.observe(now, &admission(0, 20.0), Outcome::Taken, &left(5), true);
        let sent = admission(learner.epoch(), learner.rate());
        learner.observe(now, &sent, Outcome::RateLimited, &left(0), true);
        let before = learner.rate();
        for seq in 1..=5 {
            now += Duration::from_millis(20);
            let at = admission(learner.epoch(), learner.rate() * share_of_pace);
            let sent = Admission { seq, at: now, ..at };
            learner.observe(now, &sent, Outcome::Taken, &left(5), true);
        }
        learner.rate() / before
    };
    let at_pace = grown(1.0);
    let slower = grown(0.5);
    // Five steps of 10 %; fast recovery's climb back towards the pace before the cut alone.
    assert!(at_pace > 1.6, "{at_pace}");
    assert!(slower < 1.35, "{slower}");
}

#[test]
fn a_trusted_reading_is_reached_by_doubling_what_was_served() {
    let mut server = FullBucket::new();
    // 20 a second asked and served: the headers' 1 000 is trusted, but held to twice that
    // (or the blind learner's pace, if more: slow start's 45).
    server.answer(40, 50, Outcome::Taken);
    assert!(server.learner.evidence.trusted());
    let held = server.learner.rate();
    assert!((39.0..=50.0).contains(&held), "{held}");
    // Served as fast as the headers say: the reading is proven, and taken whole from then
    // on, however slowly the answers come.
    server.answer(40, 1, Outcome::Taken);
    server.answer(40, 50, Outcome::Taken);
    assert!(server.learner.rate() > 950.0, "{}", server.learner.rate());
}

#[test]
fn a_reading_refuted_by_its_429s_falls_to_what_the_server_served() {
    let mut server = FullBucket::new();
    server.answer(40, 1, Outcome::Taken);
    assert!(server.learner.rate() > 950.0, "{}", server.learner.rate());
    // The server now serves one request every 20 ms and refuses those in between: three
    // 429s at the reading's pace refute it.
    for _ in 0..6 {
        server.answer(1, 10, Outcome::RateLimited);
        server.answer(1, 10, Outcome::Taken);
    }
    assert!(!server.learner.evidence.trusted());
    // 50 a second served since the first 429: the pace falls under it, not to half of 1 000
    // (the cut is to what was delivered).
    assert!(server.learner.rate() < 50.0, "{}", server.learner.rate());
}

/// A 429 at an unproven reading's pace (headers claiming 1 000 a second over a server that
/// serves far fewer, its refusals bare, as a server that serves so many at once sends them)
/// holds the reading to the blind pace until the server has served half of it: it no longer
/// runs ahead to twice what was served.
#[test]
fn a_reading_contradicted_before_it_is_proven_runs_no_further_than_the_blind_pace() {
    let mut server = FullBucket::new();
    server.answer(40, 50, Outcome::Taken);
    // Served 40 a second.
    server.answer(10, 25, Outcome::Taken);
    assert!(server.learner.evidence.trusted());
    let served = server.learner.aimd.fastest_served().expect("ten in a row");
    assert!((served - 40.0).abs() < 1e-6, "{served}");
    // Two bare 429s at the reading's pace, a success between them: the second cuts deep.
    server.refuse_bare(10);
    server.answer(1, 25, Outcome::Taken);
    server.refuse_bare(10);
    server.answer(1, 25, Outcome::Taken);
    assert!(
        server.learner.evidence.trusted(),
        "two 429s do not refute it"
    );
    let (pace, blind) = (server.learner.rate(), server.learner.aimd.rate());
    // Uncontradicted, the reading would be held at twice what was served (80), not under.
    assert!(pace < 2.0 * served, "{pace}");
    assert!((pace - blind).abs() < 1e-9, "{pace} vs blind {blind}");
}

/// A process left alone at three requests a second on a bucket of 5 at 50 a second
/// (Together's figures), once served at 50 a second (the reading proven), then cut and its
/// reading refuted by the 429s a fleet drew: the bucket reads at its most at every answer,
/// and the pace is back near the rate within two seconds (by the full count's step per
/// success alone, at 33 a second). Not while 429s came lately: a bucket that reads full
/// while requests are refused is not what refuses them.
#[test]
fn alone_on_an_unspent_bucket_the_pace_climbs_to_its_rate() {
    let climb = |refused_at: Option<f64>, until: f64| {
        let mut learner = Learner::new(50.0);
        learner.aimd.end_slow_start();
        let (mut at, mut seq) = (0.0, 0);
        let mut answer = |learner: &mut Learner, at: &mut f64, outcome, remaining| {
            let sent = Admission {
                seq,
                at: Duration::from_secs_f64(*at),
                ..admission(learner.epoch(), learner.rate())
            };
            let now = sent.at + Duration::from_millis(50);
            let limits = reading(5, remaining, (5 - remaining) * 20);
            learner.observe(now, &sent, outcome, &limits, true);
            *at += 1.0 / learner.aimd.rate();
            seq += 1;
        };
        for _ in 0..10 {
            answer(&mut learner, &mut at, Outcome::Taken, 4);
        }
        for _ in 0..3 {
            learner.evidence.contradicted();
        }
        learner.aimd.follow(3.0, Duration::from_secs_f64(at));
        let start = at;
        let mut refused = refused_at;
        while at < start + until {
            if refused.is_some_and(|t| at >= start + t) {
                refused = None;
                answer(&mut learner, &mut at, Outcome::RateLimited, 0);
                learner.aimd.follow(3.0, Duration::from_secs_f64(at));
            }
            answer(&mut learner, &mut at, Outcome::Taken, 4);
        }
        assert_eq!(learner.bucket_rate(), None, "the reading stays refuted");
        learner.aimd.rate()
    };
    let alone = climb(None, 2.0);
    assert!(alone > 45.0, "{alone}");
    let refused = climb(Some(1.0), 2.2);
    assert!(refused < 10.0, "{refused}");
}

/// A lone client on a per-minute budget of 360 (Anthropic's names: 6 a second), enforced per
/// second by a bucket of one that the round trips' jitter keeps refusing at that rate: the
/// budget reads unspent at every answer, its reading refuted. One 429 (to a request sent at
/// `refused_pace`, reading `remaining` of 360), a cut to 3 a second, `gap` seconds without an
/// answer, then four successes: the pace they climb to.
fn unspent_climb_after_a_429(refused_pace: f64, remaining: u64, gap: f64) -> f64 {
    let mut learner = Learner::new(6.0);
    learner.aimd.end_slow_start();
    let budget = |remaining| RateLimitHeaders {
        family: crate::middleware::LimitFamily::Anthropic,
        ..reading(360, remaining, 170)
    };
    let (mut at, mut seq) = (0.0, 0);
    let mut answer = |learner: &mut Learner, at: &mut f64, outcome, rate: f64, remaining| {
        let sent = Admission {
            seq,
            at: Duration::from_secs_f64(*at),
            ..admission(learner.epoch(), rate)
        };
        let now = sent.at + Duration::from_millis(60);
        learner.observe(now, &sent, outcome, &budget(remaining), true);
        *at += 1.0 / learner.aimd.rate();
        seq += 1;
    };
    for _ in 0..10 {
        answer(&mut learner, &mut at, Outcome::Taken, 6.0, 359);
    }
    for _ in 0..3 {
        learner.evidence.contradicted();
    }
    answer(
        &mut learner,
        &mut at,
        Outcome::RateLimited,
        refused_pace,
        remaining,
    );
    learner.aimd.follow(3.0, Duration::from_secs_f64(at));
    at += gap;
    for _ in 0..4 {
        let pace = learner.aimd.rate();
        answer(&mut learner, &mut at, Outcome::Taken, pace, 359);
    }
    learner.aimd.rate()
}

/// After a 429 to a request sent at the budget's rate, the climb back goes no further than
/// 0.9 of that pace while the 429 is recent; after a 429 at a third of the rate that read
/// the budget spent (a process's share of a budget others spend too, whose climb when they
/// leave is left as it was), it goes to the rate at once.
#[test]
fn a_429_at_the_budgets_rate_holds_the_unspent_climb_under_it() {
    let at_the_rate = unspent_climb_after_a_429(6.0, 359, 0.0);
    assert!(at_the_rate <= 5.4 + 1e-9, "{at_the_rate}");
    let at_a_share = unspent_climb_after_a_429(2.0, 200, 0.0);
    assert!(at_a_share > 5.9, "{at_a_share}");
}

/// A 429 near the rate that reads the budget full says something finer than the budget
/// refuses (the bucket that enforces it per second): under the rate, and for seconds after
/// it, the climb goes no further than 0.9 of its pace, and no further under the rate than
/// 0.81 of it. Ten seconds on, to the rate; and at once after a 429 at half the rate (a
/// process's share of a fleet's, on a budget the fleet does not spend as fast as it
/// refills).
#[test]
fn a_429_that_reads_the_budget_full_holds_the_unspent_climb_for_seconds() {
    let under_the_rate = unspent_climb_after_a_429(5.4, 359, 0.0);
    assert!(
        (under_the_rate - 0.9 * 5.4).abs() < 1e-9,
        "{under_the_rate}"
    );
    let seconds_on = unspent_climb_after_a_429(5.4, 359, 5.0);
    assert!((seconds_on - 0.9 * 5.4).abs() < 1e-9, "{seconds_on}");
    let further_under = unspent_climb_after_a_429(4.8, 359, 0.0);
    assert!((further_under - 0.81 * 6.0).abs() < 1e-9, "{further_under}");
    let later = unspent_climb_after_a_429(5.4, 359, 10.0);
    assert!(later > 5.9, "{later}");
    let at_a_share = unspent_climb_after_a_429(3.0, 359, 0.0);
    assert!(at_a_share > 5.9, "{at_a_share}");
}

/// Six taken 20 ms apart (`left(i)` left after the `i`-th), then a run of 429s, twice, a
/// second apart; then two taken after the end those 429s named, reading `after` left, each
/// naming another end: a count of `limit` confirmed a fixed window, and broken since.
fn two_runs_of_429s(limit: u64, left: impl Fn(u64) -> u64, after: [u64; 2]) -> Learner {
    let mut learner = Learner::new(INITIAL_RATE);
    let mut seq = 0;
    let mut answer = |learner: &mut Learner, sent_ms: u64, outcome, remaining, reset_ms| {
        let sent = Admission {
            seq,
            at: Duration::from_millis(sent_ms),
            ..admission(learner.epoch(), learner.rate())
        };
        let now = sent.at + Duration::from_millis(10);
        let limits = reading(limit, remaining, reset_ms);
        learner.observe(now, &sent, outcome, &limits, true);
        seq += 1;
    };
    for start in [0, 1_250] {
        for i in 0..6 {
            answer(&mut learner, start + 20 * i, Outcome::Taken, left(i), 1_000);
        }
        for later in [0, 50, 150, 350] {
            let sent = start + 120 + later;
            let reset = start + 1_000 - sent;
            answer(&mut learner, sent, Outcome::RateLimited, 0, reset);
        }
    }
    answer(&mut learner, 2_260, Outcome::Taken, after[0], 1_000);
    answer(&mut learner, 2_280, Outcome::Taken, after[1], 1_000);
    learner
}

/// A sliding log of 6 a second under Together's names whose resets fit neither a bucket
/// (`reset` 1 s on every request taken) nor a fixed window (its 429s name one end, and the
/// answers after it another each): the headers hold no reading, and the window read from
/// where the 429s fall paces it, as it does with the headers hidden. Six taken 20 ms apart,
/// then a run of 429s, twice: 6 a second.
#[test]
fn with_headers_that_hold_nothing_the_429s_read_the_window() {
    // Read a fixed window from its headers once its count is back after the end its 429s
    // named, and no window once the next answer names another end: the 429s' reading paces.
    let learner = two_runs_of_429s(6, |i| 5 - i, [5, 4]);
    assert!(learner.window.neither());
    assert_eq!(learner.silent_reading(), Some((6, Duration::from_secs(1))));
    assert_eq!(learner.window(), Some((6, Duration::from_secs(1))));
    assert_eq!(learner.rate(), 6.0);
}

/// The same 429s, under a count of 50 that others spend: this client took 6 before each
/// run, and the answers read up to 49 left. The window read from the 429s holds 6, the
/// server reads eight times that left: it is not that window, and paces nothing. (Paced by
/// it, a process of a fleet left alone once the others finished sent 4 requests every 7 s
/// for minutes, its count reading 47-49 left: 16 processes on `window-together`, on our
/// simulator.)
#[test]
fn a_window_read_from_429s_is_not_paced_where_the_count_reads_far_more_left() {
    let learner = two_runs_of_429s(50, |i| 49 - 8 * i, [45, 44]);
    assert!(learner.window.neither());
    assert_eq!(learner.silent.reading(), Some((6, Duration::from_secs(1))));
    assert_eq!(learner.silent_reading(), None);
    assert_ne!(learner.window(), Some((6, Duration::from_secs(1))));
}
