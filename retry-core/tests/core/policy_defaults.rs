//! The default policy is the bounded one the design promises, every builder is `const`, and
//! the macro's compile-time copy of the defaults agrees with the runtime's.

use std::time::Duration;

use retry_core::{Backoff, Jitter, Policy};

#[test]
fn defaults_are_bounded() {
    let p = Policy::default();
    assert_eq!(p, Policy::new());
    assert_eq!(p, Policy::exponential());
    assert_eq!(p.get_backoff(), Backoff::Exponential);
    assert_eq!(p.get_attempts(), 5);
    assert_eq!(p.get_initial(), Duration::from_millis(500));
    assert_eq!(p.get_max_delay(), Duration::from_secs(30));
    assert_eq!(p.get_factor(), 2.0);
    assert_eq!(p.get_jitter(), Jitter::Full);
    assert_eq!(p.get_deadline(), Some(Duration::from_secs(60)));
    assert_eq!(p.get_attempt_timeout(), None);
    assert!(!p.get_cap_hints());
}

#[test]
fn each_constructor_differs_only_in_its_backoff() {
    for (policy, kind) in [
        (Policy::exponential(), Backoff::Exponential),
        (Policy::constant(), Backoff::Constant),
        (Policy::linear(), Backoff::Linear),
        (Policy::fibonacci(), Backoff::Fibonacci),
        (Policy::decorrelated(), Backoff::Decorrelated),
    ] {
        assert_eq!(policy.get_backoff(), kind);
        assert_eq!(policy, Policy::new().backoff(kind));
    }
    assert_eq!(Backoff::default(), Backoff::Exponential);
    assert_eq!(Jitter::default(), Jitter::Full);
}

#[test]
fn builders_are_const_and_set_what_they_say() {
    const P: Policy = Policy::linear()
        .attempts(9)
        .initial(Duration::from_millis(20))
        .max_delay(Duration::from_secs(3))
        .factor(4.0)
        .jitter(Jitter::Equal)
        .deadline(Duration::from_secs(7))
        .attempt_timeout(Duration::from_secs(2))
        .cap_hints(true);
    assert_eq!(P.get_backoff(), Backoff::Linear);
    assert_eq!(P.get_attempts(), 9);
    assert_eq!(P.get_initial(), Duration::from_millis(20));
    assert_eq!(P.get_max_delay(), Duration::from_secs(3));
    assert_eq!(P.get_factor(), 4.0);
    assert_eq!(P.get_jitter(), Jitter::Equal);
    assert_eq!(P.get_deadline(), Some(Duration::from_secs(7)));
    assert_eq!(P.get_attempt_timeout(), Some(Duration::from_secs(2)));
    assert!(P.get_cap_hints());

    const Q: Policy = P.no_deadline().no_attempt_timeout().cap_hints(false);
    assert_eq!(Q.get_deadline(), None);
    assert_eq!(Q.get_attempt_timeout(), None);
    assert!(!Q.get_cap_hints());
}

#[test]
fn names_match_the_macro_options() {
    let names: Vec<&str> = [
        Backoff::Exponential,
        Backoff::Constant,
        Backoff::Linear,
        Backoff::Fibonacci,
        Backoff::Decorrelated,
    ]
    .map(Backoff::as_str)
    .into();
    assert_eq!(
        names,
        [
            "exponential",
            "constant",
            "linear",
            "fibonacci",
            "decorrelated"
        ]
    );
    assert_eq!(
        [Jitter::None, Jitter::Full, Jitter::Equal].map(|j| j.to_string()),
        ["none", "full", "equal"]
    );
}
