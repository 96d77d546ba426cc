use super::super::evidence::Evidence;
use super::super::{Learner, Outcome, reading};
use super::*;
use crate::middleware::headers::RateLimitHeaders;
use crate::middleware::rate_limit::schedule::Admission;

/// A budget of 3000 a minute (50 a second), OpenAI's names, as a server would report it
/// with `left` remaining: full again once the 50-a-second refill has put back what is gone.
fn minute(left: f64) -> RateLimitHeaders {
    let remaining = left.floor() as u64;
    let reset_ms = ((3000 - remaining) as f64 / 50.0 * 1000.0).round() as u64;
    RateLimitHeaders {
        family: crate::middleware::LimitFamily::OpenAi,
        ..reading(3000, remaining, reset_ms)
    }
}

/// A window longer than any test's spans: the spending over every interval kept.
const ALL: Duration = Duration::from_secs(60);

fn sent(seq: u64, at: f64) -> Admission {
    Admission {
        epoch: 0,
        rate: 50.0,
        seq,
        at: Duration::from_secs_f64(at),
        early: false,
        in_flight: 1,
        sent_by_answer: 0,
    }
}

/// The budget's level as one client sending every `every` seconds sees it, while `others`
/// spend that many requests a second beside it: 40 answers, starting at `level`.
fn levels(level: f64, every: f64, others: f64) -> Vec<f64> {
    let mut level = level;
    (0..40)
        .map(|_| {
            level = (level + (50.0 - others) * every).min(3000.0) - 1.0;
            level
        })
        .collect()
}

fn read(levels: &[f64], every: f64) -> Evidence {
    let mut evidence = Evidence::default();
    for (seq, &level) in levels.iter().enumerate() {
        let sent = sent(seq as u64, seq as f64 * every);
        evidence.read(&sent, &minute(level), false, 0.0);
    }
    evidence
}

/// A lone client: its budget loses exactly what it sends (less the refill), whether at
/// the budget's rate (the level holds at 2999) or under it from below the top (the level
/// climbs in fractions, read rounded down). No one else is seen.
#[test]
fn a_lone_client_sees_no_crowd() {
    assert_eq!(read(&levels(3000.0, 0.02, 0.0), 0.02).crowd(ALL), None);
    assert_eq!(read(&levels(2900.0, 0.03, 0.0), 0.03).crowd(ALL), None);
}

/// Others spending 30 a second beside a client that sends 20: the budget falls by what
/// both spend less its refill, and the others' part is read within rounding.
#[test]
fn others_spending_the_budget_are_seen() {
    let crowd = read(&levels(2990.0, 0.05, 30.0), 0.05)
        .crowd(ALL)
        .expect("others seen");
    assert!((crowd.others - 30.0).abs() < 2.0, "{crowd:?}");
    assert!((crowd.own - 20.0).abs() < 1e-9, "{crowd:?}");
}

/// A reading rounded down leaves at most one request unexplained in a chain of readings; an
/// answer overtaken by a later one breaks the chain and allows one more.
#[test]
fn rounding_and_overtaken_answers_are_not_others() {
    let mut spans = Spans::default();
    spans.read(0.9, 0.02, 1.0, 0.0);
    assert_eq!(spans.crowd(ALL), None);
    spans.read(0.9, 0.02, 1.0, 0.0);
    assert!(spans.crowd(ALL).is_some(), "two unexplained in one chain");
    let mut spans = Spans::default();
    spans.read(0.9, 0.02, 1.0, 0.0);
    spans.broken();
    spans.read(0.9, 0.02, 1.0, 0.0);
    assert_eq!(spans.crowd(ALL), None);
}

/// Others spent 30 a second, then left: whether they are seen is judged over every interval
/// kept, but the steering reads the spending of the latest (a hold's worth, and at least
/// four), in which they are gone.
#[test]
fn the_steering_reads_the_latest_spending() {
    let mut spans = Spans::default();
    for _ in 0..8 {
        spans.read(1.5, 0.05, 1.0, 0.0);
    }
    for _ in 0..8 {
        spans.read(0.0, 0.05, 1.0, 0.0);
    }
    let all = spans.crowd(ALL).expect("others seen");
    assert!((all.others - 15.0).abs() < 1e-9, "{all:?}");
    let latest = spans.crowd(Duration::from_millis(200)).expect("still seen");
    assert_eq!(latest.others, 0.0);
    assert!((latest.own - 20.0).abs() < 1e-9, "{latest:?}");
    // However short the window, four intervals.
    assert_eq!(spans.crowd(Duration::ZERO), Some(latest));
}

/// A budget spent as fast as it refills cuts the pace, at most once per hold; one with room
/// grows it by a share of the budget's rate per second, up to that rate.
#[test]
fn the_budget_steers_the_blind_pace() {
    let mut aimd = Aimd::new(20.0);
    let mut steer = Steer::default();
    let at = Duration::from_millis;
    let spent = Crowd {
        others: 35.0,
        own: 20.0,
    };
    steer.steer(&mut aimd, at(0), spent, 50.0, true, 0.05);
    assert!((aimd.rate() - 14.0).abs() < 1e-9, "{}", aimd.rate());
    steer.steer(&mut aimd, at(100), spent, 50.0, false, 0.05);
    assert!((aimd.rate() - 14.0).abs() < 1e-9, "held: {}", aimd.rate());
    steer.steer(&mut aimd, at(300), spent, 50.0, false, 0.05);
    assert!((aimd.rate() - 9.8).abs() < 1e-9, "{}", aimd.rate());
    let room = Crowd {
        others: 20.0,
        own: 9.8,
    };
    steer.steer(&mut aimd, at(1_300), room, 50.0, true, 0.05);
    assert!((aimd.rate() - 12.3).abs() < 1e-9, "{}", aimd.rate());
    steer.steer(&mut aimd, at(1_400), room, 50.0, false, 0.05);
    assert!((aimd.rate() - 12.3).abs() < 1e-9, "a 429 grows nothing");
    steer.steer(&mut aimd, at(100_000), room, 50.0, true, 0.05);
    assert_eq!(aimd.rate(), 50.0, "up to the budget's rate");
    // Out of sight for a while, then seen again: the pace grows from then.
    aimd.follow(10.0, at(100_000));
    steer.lost_sight();
    steer.steer(&mut aimd, at(200_000), room, 50.0, true, 0.05);
    assert_eq!(aimd.rate(), 10.0);
    steer.steer(&mut aimd, at(201_000), room, 50.0, true, 0.05);
    assert!((aimd.rate() - 12.5).abs() < 1e-9, "{}", aimd.rate());
}

/// A learner on a per-minute budget: alone, it takes the budget's rate as its pace; with
/// others spending three times what it sends, that rate only caps its blind pace, which the
/// spent budget cuts.
#[test]
fn among_others_the_budget_rate_is_not_the_pace() {
    let run = |others: f64| {
        let mut learner = Learner::new(20.0);
        let every = 0.02;
        for (seq, &level) in levels(3000.0, every, others).iter().enumerate() {
            let sent = Admission {
                epoch: learner.epoch(),
                rate: learner.rate(),
                ..sent(seq as u64, seq as f64 * every)
            };
            let now = sent.at + Duration::from_millis(10);
            learner.observe(now, &sent, Outcome::Taken, &minute(level), true);
        }
        learner.rate()
    };
    assert_eq!(run(0.0), 50.0);
    let among = run(150.0);
    assert!(among < 20.0, "{among}");
}

/// Two first answers of a per-minute budget: a lone client's lack what it sent, and it
/// bursts from the second on, still in slow start; one among others reads two spent for its
/// one, and starts as one of many: slow start over, no burst.
#[test]
fn a_start_among_others_has_no_burst() {
    let start = |left: [f64; 2]| {
        let mut learner = Learner::new(20.0);
        let mut bursts = Vec::new();
        for (seq, level) in left.into_iter().enumerate() {
            let sent = Admission {
                sent_by_answer: seq as u64 + 1,
                ..sent(seq as u64, seq as f64 * 0.05)
            };
            let now = sent.at + Duration::from_millis(10);
            learner.observe(now, &sent, Outcome::Taken, &minute(level), true);
            bursts.push(learner.burst());
        }
        (bursts, learner.aimd.starting())
    };
    assert_eq!(start([2999.0, 2998.0]), (vec![Some(1), Some(4)], true));
    assert_eq!(start([2997.0, 2996.0]), (vec![Some(1), Some(1)], false));
}

/// Three answers in a row reading a per-minute budget full, under the rate it names: the
/// budget is unspent, up to that rate. Not on two, not at the rate, not with the tokens
/// spent. (A bucket's figures are read at its most: see `evidence::tests`.)
#[test]
fn a_budget_read_full_three_times_is_unspent() {
    let unspent = |levels: &[f64], pace: f64, tokens: Option<u64>| {
        let mut evidence = Evidence::default();
        let mut last = None;
        for (seq, &level) in levels.iter().enumerate() {
            let limits = RateLimitHeaders {
                token_limit: tokens.map(|_| 100_000),
                token_remaining: tokens,
                ..minute(level)
            };
            evidence.read(&sent(seq as u64, seq as f64 * 0.1), &limits, false, 0.0);
            last = Some(limits);
        }
        evidence.unspent(&last.expect("an answer"), pace)
    };
    let full = [2999.0; 3];
    assert_eq!(unspent(&full, 4.0, None), Some(50.0));
    assert_eq!(unspent(&full[..2], 4.0, None), None, "two answers");
    assert_eq!(
        unspent(&[2999.0, 2995.0, 2999.0], 4.0, None),
        None,
        "spent between"
    );
    assert_eq!(unspent(&full, 50.0, None), None, "at the rate");
    assert_eq!(unspent(&full, 4.0, Some(100_000)), Some(50.0));
    assert_eq!(unspent(&full, 4.0, Some(98_000)), None, "tokens spent");
}

/// A process left alone at a fleet's tail, its per-minute reading refuted by the 429s the
/// others drew, at three requests a second: the budget reads full at every answer, and the
/// pace is back at its rate within two seconds (the blind increase alone: 3 -> 4 a second).
#[test]
fn alone_on_an_unspent_budget_the_pace_climbs_to_its_rate() {
    let mut learner = Learner::new(3.0);
    learner.aimd.end_slow_start();
    let (mut at, mut seq) = (0.0, 0);
    let answer = |learner: &mut Learner, at: &mut f64, seq: &mut u64| {
        let sent = Admission {
            epoch: learner.epoch(),
            rate: learner.aimd.rate(),
            ..sent(*seq, *at)
        };
        let now = sent.at + Duration::from_millis(50);
        learner.observe(now, &sent, Outcome::Taken, &minute(2999.0), true);
        *at += 1.0 / learner.aimd.rate();
        *seq += 1;
    };
    for _ in 0..3 {
        answer(&mut learner, &mut at, &mut seq);
    }
    for _ in 0..3 {
        learner.evidence.contradicted();
    }
    learner.aimd.follow(3.0, Duration::from_secs_f64(at));
    while at < 2.0 {
        answer(&mut learner, &mut at, &mut seq);
    }
    assert_eq!(learner.bucket_rate(), None, "the reading stays refuted");
    assert!(learner.aimd.rate() > 45.0, "{}", learner.aimd.rate());
}
