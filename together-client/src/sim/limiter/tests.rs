use super::*;

/// How many of `n` requests costing no tokens, sent at once, `limiter` admits.
fn admitted(limiter: &mut Limiter, n: usize) -> usize {
    (0..n)
        .filter(|_| limiter.check(0).refused.is_none())
        .count()
}

/// 50 a second, counted per one-second window: 50 at once, then nothing until the window
/// ends, when all 50 are back; the headers count down to the window's end.
#[tokio::test(start_paused = true)]
async fn a_fixed_window_admits_its_count_then_waits_for_the_next() {
    let mut limiter = Limiter::new(Some(50.0), 5, None, None);
    limiter.fixed_window(Duration::from_secs(1));
    assert_eq!(admitted(&mut limiter, 60), 50);
    tokio::time::advance(Duration::from_millis(400)).await;
    let verdict = limiter.check(0);
    let (_, wait) = verdict.refused.unwrap();
    assert_eq!(wait, Duration::from_millis(600));
    let level = verdict.requests.unwrap();
    assert_eq!((level.limit, level.remaining), (50.0, 0.0));
    assert!((level.reset - 0.6).abs() < 1e-9);
    tokio::time::advance(Duration::from_millis(600)).await;
    let verdict = limiter.check(0);
    assert!(verdict.refused.is_none());
    assert_eq!(verdict.requests.unwrap().remaining, 49.0);
}

/// 50 in any second: each place comes back when its request is a second old, not when a
/// window ends, and the reset names when the newest leaves.
#[tokio::test(start_paused = true)]
async fn a_sliding_log_gives_each_place_back_a_window_after_it_was_taken() {
    let mut limiter = Limiter::new(Some(50.0), 5, None, None);
    limiter.sliding_log(Duration::from_secs(1));
    assert_eq!(admitted(&mut limiter, 30), 30);
    tokio::time::advance(Duration::from_millis(400)).await;
    assert_eq!(admitted(&mut limiter, 30), 20);
    let verdict = limiter.check(0);
    // The first 30 leave at 1 s, 600 ms from now; the last 20 at 1.4 s.
    assert_eq!(verdict.refused.unwrap().1, Duration::from_millis(600));
    let level = verdict.requests.unwrap();
    assert_eq!((level.limit, level.remaining), (50.0, 0.0));
    assert!((level.reset - 1.0).abs() < 1e-9, "{level:?}");
    assert!((level.next_slot - 0.6).abs() < 1e-9, "{level:?}");
    assert!((level.oldest_leaves - 0.6).abs() < 1e-9, "{level:?}");
    tokio::time::advance(Duration::from_millis(600)).await;
    assert_eq!(
        admitted(&mut limiter, 40),
        30,
        "the first 30 places are back, not the window"
    );
    // A limit that moves keeps the log: 10 a second leaves no room for 50 counted.
    limiter.set_rate(Some(10.0), 1);
    assert_eq!(limiter.check(0).requests.unwrap().limit, 10.0);
    assert!(limiter.check(0).refused.is_some());
}

/// 50 in any second and 200 in any 10 s: the longer log binds after four seconds' worth,
/// and the headers then name it.
#[tokio::test(start_paused = true)]
async fn a_longer_log_binds_once_spent_and_the_headers_name_it() {
    let mut limiter = Limiter::new(Some(50.0), 5, None, None);
    limiter.sliding_log(Duration::from_secs(1));
    limiter.longer_log(200, Duration::from_secs(10));
    assert_eq!(admitted(&mut limiter, 60), 50);
    let level = limiter.check(0).requests.unwrap();
    assert_eq!((level.limit, level.remaining), (50.0, 0.0), "the short one");
    for _ in 0..3 {
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(admitted(&mut limiter, 60), 50);
    }
    tokio::time::advance(Duration::from_secs(1)).await;
    let verdict = limiter.check(0);
    assert_eq!(verdict.refused.unwrap().1, Duration::from_secs(6));
    let level = verdict.requests.unwrap();
    assert_eq!((level.limit, level.remaining), (200.0, 0.0), "the long one");
    tokio::time::advance(Duration::from_secs(6)).await;
    assert_eq!(admitted(&mut limiter, 60), 50, "the first second's places");
    // Any count, whatever its rate rounds to.
    let mut limiter = Limiter::new(Some(1_000.0), 1_000, None, None);
    limiter.longer_log(2, Duration::from_millis(29));
    assert_eq!(admitted(&mut limiter, 10), 2);
}

#[tokio::test(start_paused = true)]
async fn burst_then_refill() {
    let mut limiter = Limiter::new(Some(50.0), 5, None, None);
    assert_eq!(admitted(&mut limiter, 10), 5);
    let verdict = limiter.check(0);
    let (limit, wait) = verdict.refused.unwrap();
    assert_eq!(limit, Limit::Requests);
    assert_eq!(wait, Duration::from_millis(20));
    let level = verdict.requests.unwrap();
    assert_eq!((level.limit, level.remaining), (5.0, 0.0));
    assert!((level.reset - 0.1).abs() < 1e-9);
    tokio::time::advance(Duration::from_millis(20)).await;
    assert!(limiter.check(0).refused.is_none());
    assert!(limiter.check(0).refused.is_some());
}

#[tokio::test(start_paused = true)]
async fn steps_move_the_rate_on_time() {
    let mut limiter = Limiter::new(Some(10.0), 1, None, None);
    limiter.set_steps(&[
        (Duration::from_secs(2), 100.0),
        (Duration::from_secs(1), 1.0),
    ]);
    assert!(limiter.check(0).refused.is_none());
    // 10/s until 1 s: the next request 100 ms later.
    assert_eq!(
        limiter.check(0).refused.unwrap().1,
        Duration::from_millis(100)
    );
    tokio::time::advance(Duration::from_millis(1_500)).await;
    assert!(limiter.check(0).refused.is_none());
    let verdict = limiter.check(0);
    assert_eq!(verdict.requests.unwrap().rate, 1.0);
    tokio::time::advance(Duration::from_millis(600)).await;
    // From 2 s, 100/s: 0.5 s at 1/s and 0.1 s at 100/s refill more than one.
    assert!(limiter.check(0).refused.is_none());
    assert_eq!(limiter.check(0).requests.unwrap().rate, 100.0);
}

#[tokio::test(start_paused = true)]
async fn tokens_refuse_without_spending_a_request() {
    let mut limiter = Limiter::new(Some(10.0), 2, Some(100), None);
    assert!(limiter.check(80).refused.is_none());
    let verdict = limiter.check(80);
    let (limit, wait) = verdict.refused.unwrap();
    assert_eq!(limit, Limit::Tokens);
    assert_eq!(wait, Duration::from_millis(600));
    // The refused request took no request from the bucket.
    assert_eq!(verdict.requests.unwrap().remaining, 1.0);
    // Larger than the bucket: costs all of it once full.
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(limiter.check(1_000).refused.is_none());
    assert_eq!(limiter.check(0).tokens.unwrap().remaining, 0.0);
}

#[tokio::test(start_paused = true)]
async fn unlimited_always_admits() {
    let mut limiter = Limiter::new(None, 1, None, None);
    for _ in 0..1_000 {
        let verdict = limiter.check(1_000_000);
        assert!(verdict.refused.is_none() && verdict.requests.is_none());
    }
}

#[tokio::test(start_paused = true)]
async fn credits_run_out_for_good() {
    let mut limiter = Limiter::new(Some(10.0), 1, None, Some(2));
    assert!(limiter.check(0).refused.is_none());
    // Rate limited: spends no credit.
    assert_eq!(limiter.check(0).refused.unwrap().0, Limit::Requests);
    tokio::time::advance(Duration::from_millis(100)).await;
    assert!(limiter.check(0).refused.is_none());
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(limiter.check(0).refused.unwrap().0, Limit::Credit);
}
