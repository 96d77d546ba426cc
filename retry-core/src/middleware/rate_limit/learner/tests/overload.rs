//! What 503s do: a fault, a crowd of them, a limit that refuses with them, and capacity.

use super::*;

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
