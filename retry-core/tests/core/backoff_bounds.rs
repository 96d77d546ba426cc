//! Every backoff kind under every jitter mode stays within its exact bounds, draw after draw,
//! through both `Policy::delays` and `Retrier`; the cap comes after the jitter; nonsense inputs
//! (zero attempts, a shrinking factor, huge retry numbers) are tamed rather than panicking.

use std::time::Duration;

use retry_core::{Backoff, Decision, Failure, GiveUpReason, Jitter, Policy, Retrier};

const KINDS: [Backoff; 5] = [
    Backoff::Exponential,
    Backoff::Constant,
    Backoff::Linear,
    Backoff::Fibonacci,
    Backoff::Decorrelated,
];
const JITTERS: [Jitter; 3] = [Jitter::None, Jitter::Full, Jitter::Equal];

/// Every backoff kind under every jitter mode: the two, and a policy with both set.
fn every_shape() -> impl Iterator<Item = (Backoff, Jitter, Policy)> {
    KINDS.into_iter().flat_map(|kind| {
        JITTERS
            .into_iter()
            .map(move |jitter| (kind, jitter, Policy::new().backoff(kind).jitter(jitter)))
    })
}

/// 1 000 seeds of 10 retries each: 10 000 draws per kind and jitter mode.
const SEEDS: u64 = 1_000;
const RETRIES: u32 = 10;

fn nanos(d: Duration) -> u128 {
    d.as_nanos()
}

fn fib(n: u32) -> u128 {
    let (mut a, mut b) = (0_u128, 1_u128);
    for _ in 1..n {
        (a, b) = (b, a.saturating_add(b));
    }
    b
}

/// The un-jittered, un-capped delay before retry `n`, in nanoseconds (not for decorrelated).
fn base(policy: &Policy, n: u32) -> u128 {
    let initial = nanos(policy.get_initial());
    match policy.get_backoff() {
        Backoff::Exponential => {
            let factor = policy.get_factor();
            assert_eq!(
                factor.fract(),
                0.0,
                "the test computes integer factors only"
            );
            let mut b = initial;
            for _ in 1..n {
                b = b.saturating_mul(factor as u128);
            }
            b
        }
        Backoff::Constant => initial,
        Backoff::Linear => initial * u128::from(n),
        Backoff::Fibonacci => initial * fib(n),
        Backoff::Decorrelated => unreachable!("decorrelated has no fixed base"),
    }
}

/// The inclusive range the delay before retry `n` must fall in, given the previous delay.
fn bounds(policy: &Policy, n: u32, previous: Duration) -> (u128, u128) {
    let max = nanos(policy.get_max_delay());
    if policy.get_backoff() == Backoff::Decorrelated {
        let initial = nanos(policy.get_initial());
        let top = (3 * nanos(previous)).max(initial);
        return (initial.min(max), top.min(max));
    }
    let b = base(policy, n);
    match policy.get_jitter() {
        Jitter::None => (b.min(max), b.min(max)),
        Jitter::Full => (0, b.min(max)),
        Jitter::Equal => ((b / 2).min(max), b.min(max)),
    }
}

fn policy(kind: Backoff, jitter: Jitter) -> Policy {
    Policy::new()
        .backoff(kind)
        .jitter(jitter)
        .attempts(RETRIES + 1)
        .initial(Duration::from_millis(100))
        .max_delay(Duration::from_secs(5))
        .factor(3.0)
        .no_deadline()
}

/// Draws the delays of `policy` through a seeded `Retrier`, as every front end does.
fn retrier_delays(policy: Policy, seed: u64) -> Vec<Duration> {
    let mut retrier = Retrier::with_seed(&policy, seed);
    let mut delays = Vec::new();
    loop {
        match retrier.decide(&Failure::new(true)) {
            Decision::Retry(delay) => delays.push(delay),
            Decision::GiveUp(reason) => {
                assert_eq!(reason, GiveUpReason::AttemptsExhausted);
                return delays;
            }
        }
    }
}

#[test]
fn every_kind_and_jitter_stays_within_its_bounds_over_10_000_draws() {
    for kind in KINDS {
        for jitter in JITTERS {
            let policy = policy(kind, jitter);
            let mut draws = 0;
            // Where the delay fell in its range, as a fraction: proof that jitter spreads.
            let (mut lowest, mut highest) = (f64::MAX, f64::MIN);
            for seed in 0..SEEDS {
                let delays: Vec<Duration> = policy.delays(Some(seed)).collect();
                assert_eq!(delays.len(), RETRIES as usize);
                assert_eq!(
                    delays,
                    retrier_delays(policy, seed),
                    "{kind:?}/{jitter:?} seed {seed}: Retrier and Policy::delays disagree"
                );
                let mut previous = policy.get_initial();
                for (i, &delay) in delays.iter().enumerate() {
                    let n = i as u32 + 1;
                    let (low, high) = bounds(&policy, n, previous);
                    let d = nanos(delay);
                    assert!(
                        low <= d && d <= high,
                        "{kind:?}/{jitter:?} seed {seed} retry {n}: {delay:?} not in [{low}, {high}] ns"
                    );
                    assert!(delay <= policy.get_max_delay());
                    if kind == Backoff::Decorrelated || jitter != Jitter::None {
                        // The range before the cap, so that a capped draw counts as high.
                        let top = match kind {
                            Backoff::Decorrelated => {
                                (3 * nanos(previous)).max(nanos(policy.get_initial()))
                            }
                            _ => base(&policy, n),
                        };
                        let reach = (d - low) as f64 / (top - low).max(1) as f64;
                        lowest = lowest.min(reach);
                        highest = highest.max(reach);
                    }
                    previous = delay;
                    draws += 1;
                }
            }
            assert_eq!(draws, 10_000);
            if kind == Backoff::Decorrelated || jitter != Jitter::None {
                assert!(
                    lowest < 0.01 && highest > 0.99,
                    "{kind:?}/{jitter:?}: draws only spread over [{lowest}, {highest}] of their range"
                );
            }
        }
    }
}

#[test]
fn without_jitter_each_formula_is_exact() {
    let ms = |v: &[u64]| {
        v.iter()
            .map(|&n| Duration::from_millis(n))
            .collect::<Vec<_>>()
    };
    let seq = |p: Policy| p.jitter(Jitter::None).delays(Some(0)).collect::<Vec<_>>();
    let base = Policy::new()
        .attempts(9)
        .initial(Duration::from_millis(100))
        .max_delay(Duration::from_secs(2));
    assert_eq!(
        seq(base.backoff(Backoff::Exponential)),
        ms(&[100, 200, 400, 800, 1600, 2000, 2000, 2000])
    );
    assert_eq!(
        seq(base.backoff(Backoff::Exponential).factor(3.0)),
        ms(&[100, 300, 900, 2000, 2000, 2000, 2000, 2000])
    );
    assert_eq!(
        seq(base.backoff(Backoff::Linear)),
        ms(&[100, 200, 300, 400, 500, 600, 700, 800])
    );
    assert_eq!(
        seq(base.backoff(Backoff::Fibonacci)),
        ms(&[100, 100, 200, 300, 500, 800, 1300, 2000])
    );
    assert_eq!(seq(base.backoff(Backoff::Constant)), ms(&[100; 8]));
    // The default policy, jitter aside: 500 ms doubling, capped at 30 s.
    assert_eq!(seq(Policy::default()), ms(&[500, 1000, 2000, 4000]));
}

#[test]
fn decorrelated_ignores_the_jitter_mode() {
    for seed in 0..100 {
        let draws: Vec<Vec<Duration>> = JITTERS
            .iter()
            .map(|&j| {
                policy(Backoff::Decorrelated, j)
                    .delays(Some(seed))
                    .collect()
            })
            .collect();
        assert_eq!(draws[0], draws[1], "seed {seed}");
        assert_eq!(draws[0], draws[2], "seed {seed}");
    }
}

#[test]
fn the_same_seed_gives_the_same_delays_and_other_seeds_differ() {
    let policy = Policy::default().attempts(20);
    let a: Vec<Duration> = policy.delays(Some(7)).collect();
    assert_eq!(a, policy.delays(Some(7)).collect::<Vec<_>>());
    assert_ne!(a, policy.delays(Some(8)).collect::<Vec<_>>());
}

/// Jitter then cap: a base delay far above `max_delay` is jittered first, so full jitter lands
/// on the cap about `1 - max/base` of the time and equal jitter always does. Capping first
/// would spread both below the cap instead.
#[test]
fn jitter_is_applied_before_the_cap() {
    for kind in [
        Backoff::Constant,
        Backoff::Exponential,
        Backoff::Linear,
        Backoff::Fibonacci,
    ] {
        let capped = Policy::new()
            .backoff(kind)
            .attempts(2)
            .initial(Duration::from_secs(10))
            .max_delay(Duration::from_secs(1))
            .no_deadline();
        let max = capped.get_max_delay();
        let draw = |jitter: Jitter, seed: u64| capped.jitter(jitter).delays(Some(seed)).next();

        let mut at_cap = 0;
        for seed in 0..10_000 {
            let full = draw(Jitter::Full, seed).unwrap();
            assert!(full <= max, "{kind:?}: {full:?}");
            if full == max {
                at_cap += 1;
            }
            assert_eq!(draw(Jitter::Equal, seed), Some(max), "{kind:?}");
            assert_eq!(draw(Jitter::None, seed), Some(max), "{kind:?}");
        }
        // Expected 9 000 (P = 0.9); the bounds are over 20 standard deviations wide.
        assert!((8_400..=9_600).contains(&at_cap), "{kind:?}: {at_cap}");
    }
}

#[test]
fn full_jitter_averages_half_the_delay_and_equal_three_quarters() {
    let mean = |jitter: Jitter| {
        let policy = Policy::constant()
            .jitter(jitter)
            .attempts(10_001)
            .initial(Duration::from_secs(1))
            .no_deadline();
        let sum: f64 = policy.delays(Some(3)).map(|d| d.as_secs_f64()).sum();
        sum / 10_000.0
    };
    let full = mean(Jitter::Full);
    let equal = mean(Jitter::Equal);
    assert!((0.48..0.52).contains(&full), "{full}");
    assert!((0.73..0.77).contains(&equal), "{equal}");
    assert_eq!(mean(Jitter::None), 1.0);
}

/// Retry numbers past the point where the formulas overflow `f64` (2^1024 for a factor of 2,
/// fib(1477)) saturate at the cap: no panic, no wrap to zero, never above `max_delay`.
#[test]
fn huge_retry_numbers_saturate_at_the_cap_without_panic() {
    const DRAWS: usize = 1_600;
    for (kind, jitter, shape) in every_shape() {
        let policy = shape
            .attempts(u32::MAX)
            .initial(Duration::from_millis(1))
            .max_delay(Duration::from_secs(30))
            .no_deadline();
        let mut delays = policy.delays(Some(11));
        assert_eq!(delays.len(), u32::MAX as usize - 1);
        let drawn: Vec<Duration> = delays.by_ref().take(DRAWS).collect();
        assert!(drawn.iter().all(|d| *d <= policy.get_max_delay()));
        let last = *drawn.last().unwrap();
        match (kind, jitter) {
            // Linear reaches 1.6 s by then: far below the cap.
            (Backoff::Linear, Jitter::None) => assert_eq!(last, Duration::from_millis(1600)),
            (Backoff::Linear | Backoff::Constant, _) | (_, Jitter::Full) => {}
            (Backoff::Decorrelated, _) => {}
            _ => assert_eq!(last, policy.get_max_delay(), "{kind:?}/{jitter:?}"),
        }

        let mut retrier = Retrier::with_seed(&policy, 11);
        for (i, expected) in drawn.iter().enumerate() {
            match retrier.decide(&Failure::new(true)) {
                Decision::Retry(d) => assert_eq!(d, *expected, "{kind:?}/{jitter:?} #{i}"),
                other => panic!("{kind:?}/{jitter:?}: {other:?} at retry {i}"),
            }
        }
        assert_eq!(retrier.attempt(), DRAWS as u32 + 1);
    }
}

/// A zero initial delay stays zero however large the retry number: `0 * infinity` is NaN in
/// `f64`, and must not turn into the cap.
#[test]
fn zero_initial_stays_zero_at_huge_retry_numbers() {
    for (kind, jitter, shape) in every_shape() {
        let policy = shape
            .attempts(u32::MAX)
            .initial(Duration::ZERO)
            .factor(10.0)
            .no_deadline();
        for (i, delay) in policy.delays(Some(5)).take(1_600).enumerate() {
            assert_eq!(delay, Duration::ZERO, "{kind:?}/{jitter:?} retry {}", i + 1);
        }
    }
}

#[test]
fn the_largest_durations_saturate_without_panic() {
    for (kind, jitter, shape) in every_shape() {
        let policy = shape
            .attempts(50)
            .initial(Duration::MAX)
            .max_delay(Duration::MAX)
            .factor(f64::MAX)
            .no_deadline();
        for delay in policy.delays(Some(1)) {
            assert!(delay <= Duration::MAX);
            // A policy holds durations in nanoseconds, saturated at about 584 years.
            let most = Duration::from_nanos(u64::MAX);
            assert!(delay <= most, "{kind:?}/{jitter:?}");
            match jitter {
                Jitter::None => assert_eq!(delay, most, "{kind:?}"),
                Jitter::Equal => assert!(delay >= most / 2, "{kind:?}"),
                Jitter::Full => {}
            }
        }
        let mut retrier = Retrier::with_seed(&policy, 1);
        assert!(matches!(
            retrier.decide(&Failure::new(true)),
            Decision::Retry(_)
        ));
    }
}

#[test]
fn zero_attempts_is_one_attempt() {
    let policy = Policy::new().attempts(0);
    assert_eq!(policy.get_attempts(), 1);
    assert_eq!(policy.delays(Some(1)).count(), 0);
    let mut retrier = Retrier::new(&policy);
    assert!(retrier.is_last_attempt());
    assert_eq!(
        retrier.decide(&Failure::new(true)),
        Decision::GiveUp(GiveUpReason::AttemptsExhausted)
    );
    assert_eq!(Policy::new().attempts(1).get_attempts(), 1);
    assert_eq!(Policy::new().attempts(7).delays(None).count(), 6);
}

#[test]
fn a_shrinking_or_nan_factor_is_taken_as_one() {
    for factor in [0.5, 0.0, -3.0, f64::NAN, f64::NEG_INFINITY, 0.999] {
        let policy = Policy::exponential()
            .factor(factor)
            .jitter(Jitter::None)
            .initial(Duration::from_millis(300))
            .attempts(6);
        assert_eq!(policy.get_factor(), 1.0, "{factor}");
        assert!(
            policy
                .delays(Some(1))
                .all(|d| d == Duration::from_millis(300)),
            "{factor}"
        );
    }
    assert_eq!(Policy::exponential().factor(1.5).get_factor(), 1.5);
    // An infinite factor is allowed and saturates at the cap from the second retry on.
    let inf = Policy::exponential()
        .factor(f64::INFINITY)
        .jitter(Jitter::None)
        .attempts(4);
    let delays: Vec<Duration> = inf.delays(Some(1)).collect();
    assert_eq!(
        delays,
        [
            Duration::from_millis(500),
            inf.get_max_delay(),
            inf.get_max_delay()
        ]
    );
}

#[test]
fn a_zero_cap_means_no_delay_at_all() {
    for (kind, jitter, shape) in every_shape() {
        let policy = shape.attempts(20).max_delay(Duration::ZERO);
        assert!(
            policy.delays(Some(2)).all(|d| d.is_zero()),
            "{kind:?}/{jitter:?}"
        );
    }
}
