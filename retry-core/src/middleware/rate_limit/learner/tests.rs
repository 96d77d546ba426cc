//! The learner as a whole: paces against model servers, and its answers to 429s.

use super::aimd::admission;
use super::pause::{MAX_PAUSE, PAUSE_INTERVALS};
use super::*;
use crate::middleware::rate_limit::schedule::Admission;

/// A server that takes anything up to `limit(t)` req/s, with no burst and no round trip:
/// the paces sent at, one per response.
fn run(limit: impl Fn(f64) -> f64, responses: usize) -> Vec<(f64, f64)> {
    run_refusing(limit, responses, Outcome::RateLimited, usize::MAX)
}

/// As [`run`], refusing with `refusal` (a 429, or a 503 as nginx's `limit_req` does), and
/// failing every `fault_every`-th answer with a 503 whatever the pace (a fault).
fn run_refusing(
    limit: impl Fn(f64) -> f64,
    responses: usize,
    refusal: Outcome,
    fault_every: usize,
) -> Vec<(f64, f64)> {
    let mut learner = Learner::new(INITIAL_RATE);
    let none = RateLimitHeaders::default();
    let mut now = Duration::ZERO;
    let mut paces = Vec::new();
    for i in 1..=responses {
        let at = admission(learner.epoch(), learner.rate());
        now += Duration::from_secs_f64(1.0 / at.rate);
        let t = now.as_secs_f64();
        let outcome = if at.rate > limit(t) {
            refusal
        } else if i % fault_every == 0 {
            Outcome::Overloaded
        } else {
            Outcome::Taken
        };
        learner.observe(now, &Admission { at: now, ..at }, outcome, &none, true);
        paces.push((t, at.rate));
    }
    paces
}

/// As [`run`], on an LLM API: a success comes back `taken_after` seconds after it went (the
/// generation), a 429 `refused_after`; the server counts a request when it goes.
fn run_slow_answers(
    limit: impl Fn(f64) -> f64,
    responses: usize,
    taken_after: f64,
    refused_after: f64,
) -> Vec<(f64, f64)> {
    let mut learner = Learner::new(INITIAL_RATE);
    let none = RateLimitHeaders::default();
    let mut now = 0.0;
    let mut paces = Vec::new();
    // (when it comes back, the request, its outcome), in the order they went.
    let mut pending: Vec<(f64, Admission, Outcome)> = Vec::new();
    for _ in 0..responses {
        now += 1.0 / learner.rate();
        pending.sort_by(|a, b| a.0.total_cmp(&b.0));
        let due = pending.iter().take_while(|(at, ..)| *at <= now).count();
        for (at, sent, outcome) in pending.drain(..due) {
            let at = Duration::from_secs_f64(at);
            learner.observe(at, &sent, outcome, &none, true);
        }
        let sent = Admission {
            at: Duration::from_secs_f64(now),
            ..admission(learner.epoch(), learner.rate())
        };
        let (outcome, after) = if sent.rate > limit(now) {
            (Outcome::RateLimited, refused_after)
        } else {
            (Outcome::Taken, taken_after)
        };
        pending.push((now + after, sent, outcome));
        paces.push((now, sent.rate));
    }
    paces
}

fn mean_after(paces: &[(f64, f64)], from: f64, to: f64) -> f64 {
    let window: Vec<f64> = paces
        .iter()
        .filter(|(t, _)| *t >= from && *t < to)
        .map(|(_, r)| *r)
        .collect();
    window.iter().sum::<f64>() / window.len() as f64
}

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

#[test]
fn a_lone_503_at_the_current_pace_cuts_it_gently() {
    let none = RateLimitHeaders::default();
    let now = Duration::from_millis(10);
    let mut learners = [Learner::new(INITIAL_RATE), Learner::new(INITIAL_RATE)];
    for learner in &mut learners {
        // Past slow start (a 429 ends it), then climbing.
        let sent = admission(learner.epoch(), learner.rate());
        learner.observe(now, &sent, Outcome::RateLimited, &none, true);
        for i in 1..=40 {
            let sent = admission(learner.epoch(), learner.rate());
            let at = now + Duration::from_millis(100 * i);
            learner.observe(at, &sent, Outcome::Taken, &none, true);
        }
    }
    let grown = learners[0].rate();
    assert_eq!(grown, learners[1].rate());
    let now = now + Duration::from_secs(5);
    let [refused, overloaded] = &mut learners;
    let sent = admission(refused.epoch(), grown);
    assert!(refused.observe(now, &sent, Outcome::RateLimited, &none, true));
    assert!(overloaded.observe(now, &sent, Outcome::Overloaded, &none, true));
    assert!(refused.rate() < grown);
    // A lone 503 may be a fault: 5 % off the pace it was sent at, not the 429's measure.
    assert!(
        (overloaded.rate() - grown * 0.95).abs() < 1e-9,
        "{}",
        overloaded.rate()
    );
    assert!(overloaded.rate() > refused.rate());
    assert_eq!(overloaded.epoch(), refused.epoch());
}

/// In slow start a 503 is a fault until a crowd of them says otherwise: slow start goes on.
#[test]
fn a_503_in_slow_start_does_not_end_it_a_crowd_does() {
    let none = RateLimitHeaders::default();
    let now = Duration::from_millis(10);
    let mut learner = Learner::new(INITIAL_RATE);
    let sent = admission(learner.epoch(), learner.rate());
    assert!(!learner.observe(now, &sent, Outcome::Overloaded, &none, true));
    for _ in 0..40 {
        let sent = admission(learner.epoch(), learner.rate());
        learner.observe(now, &sent, Outcome::Taken, &none, true);
    }
    let grown = learner.rate();
    assert!(grown > INITIAL_RATE, "slow start went on: {grown}");
    let sent = admission(learner.epoch(), grown);
    let crowd: Vec<bool> = (0..4)
        .map(|_| learner.observe(now, &sent, Outcome::Overloaded, &none, true))
        .collect();
    assert_eq!(crowd, [false, false, false, true]);
    assert!(learner.rate() < grown);
}

/// nginx's `limit_req` refuses a rate over its limit with 503s: the pace settles near it, as
/// it does on 429s. (Read as successes, the 503s grew slow start past a thousand a second.)
#[test]
fn settles_near_a_limit_that_refuses_with_503s() {
    for limit in [3.0, 37.0, 400.0] {
        let paces = run_refusing(|_| limit, 3_000, Outcome::Overloaded, usize::MAX);
        let end = paces.last().unwrap().0;
        let rate = mean_after(&paces, end * 2.0 / 3.0, end + 1.0);
        assert!(rate > limit * 0.8 && rate <= limit * 1.1, "{limit}: {rate}");
    }
}

/// One answer in 20 failing with a 503 does not drag the pace down: the cuts do not stop
/// them, so they are faults, and then only a crowd of them counts. (The pace settles 3 % under
/// the clean one: the ignored answers add nothing to the additive increase.)
#[test]
fn sparse_503s_do_not_drag_the_pace_down() {
    let limit = 37.0;
    let faults = run_refusing(|_| limit, 3_000, Outcome::RateLimited, 20);
    let clean = run(|_| limit, 3_000);
    let tail = |paces: &[(f64, f64)]| {
        let end = paces.last().unwrap().0;
        mean_after(paces, end * 2.0 / 3.0, end + 1.0)
    };
    let (faults, clean) = (tail(&faults), tail(&clean));
    assert!(faults > clean * 0.95, "{faults} against {clean}");
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

/// In slow start, a 429 to a request sent on the burst licence that reads the count spent
/// (`remaining: 0`, of a count that has read 4) ends slow start where it is, without a cut:
/// the pace is over what the bucket refills. Per-minute figures, which say nothing of the
/// bucket they are enforced by, leave slow start on.
#[test]
fn a_burst_429_reading_the_count_spent_ends_slow_start() {
    let run = |taken: RateLimitHeaders, refused: RateLimitHeaders| {
        let mut learner = Learner::new(INITIAL_RATE);
        let now = Duration::ZERO;
        let paced = admission(learner.epoch(), learner.rate());
        learner.observe(now, &paced, Outcome::Taken, &taken, true);
        let early = Admission {
            early: true,
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

/// A server whose every answer reads a full bucket of 1 000 refilled at 1 000 a second (one
/// used, full in a millisecond: an exact reading), answering as the test says.
struct FullBucket {
    learner: Learner,
    seq: u64,
    now: Duration,
}

impl FullBucket {
    fn new() -> Self {
        let learner = Learner::new(INITIAL_RATE);
        FullBucket {
            learner,
            seq: 0,
            now: Duration::ZERO,
        }
    }

    /// `count` answers `gap_ms` apart with `outcome`; requests wait for the pace (demand is
    /// over it) unless they come 50 ms apart (demand of 20 a second).
    fn answer(&mut self, count: usize, gap_ms: u64, outcome: Outcome) {
        self.send(count, gap_ms, outcome, false);
    }

    /// As [`Self::answer`], to requests sent on the burst licence if `early`.
    fn send(&mut self, count: usize, gap_ms: u64, outcome: Outcome, early: bool) {
        for _ in 0..count {
            self.now += Duration::from_millis(gap_ms);
            let at = Admission {
                seq: self.seq,
                at: self.now,
                early,
                ..admission(self.learner.epoch(), self.learner.rate())
            };
            self.seq += 1;
            let waiting = gap_ms < 50;
            (self.learner).observe(self.now, &at, outcome, &reading(1_000, 999, 1), waiting);
        }
    }
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

#[test]
fn overload_refusing_the_pace_makes_a_trusted_reading_a_ceiling() {
    let mut server = FullBucket::new();
    server.answer(40, 1, Outcome::Taken);
    // Proven, the reading's pace holds while the server serves 20 a second.
    server.answer(70, 50, Outcome::Taken);
    assert!(server.learner.rate() > 950.0, "{}", server.learner.rate());
    // Out of capacity, as Together is below an account's limits: 503s to most of what is
    // sent, a success every 50 ms, the headers still reporting plenty left.
    for _ in 0..6 {
        server.answer(3, 1, Outcome::Overloaded);
        server.answer(1, 50, Outcome::Taken);
    }
    let cut = server.learner.rate();
    assert!(cut < 500.0, "{cut}");
    // The reading no longer sets the pace: a success grows it as the blind learner's (by a
    // tenth at most, the count reading full), not back to the reading's 1 000.
    server.answer(1, 1, Outcome::Taken);
    assert!(
        server.learner.rate() <= 1.1 * cut,
        "{} after {cut}",
        server.learner.rate()
    );
}

#[test]
fn a_crowd_of_503s_to_requests_sent_on_the_burst_licence_halves_it() {
    let mut server = FullBucket::new();
    server.answer(40, 1, Outcome::Taken);
    server.send(20, 1, Outcome::Taken, true);
    let licensed = server.learner.burst().expect("a bucket reported");
    assert!(licensed > 16, "{licensed}");
    // A lone 503 may be a fault: the licence stands.
    server.send(1, 1, Outcome::Overloaded, true);
    assert_eq!(server.learner.burst(), Some(licensed));
    // 503s to most of what is sent, a success every 50 ms: a crowd.
    server.answer(1, 50, Outcome::Taken);
    server.send(1, 1, Outcome::Overloaded, true);
    server.answer(5, 50, Outcome::Taken);
    server.send(1, 1, Outcome::Overloaded, true);
    assert_eq!(server.learner.burst(), Some(licensed / 2));
}
