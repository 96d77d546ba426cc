//! What the count says of the room above the pace: spare, full, spent or unspent, and when
//! `remaining` is shown to count something else.

use super::*;

/// `remaining` that stays put whatever is sent: the first 429 that still says 49 ends
/// every use of it.
#[test]
fn a_429_with_room_left_proves_remaining_wrong() {
    let mut evidence = Evidence::default();
    evidence.read(&sent(0, 0), &headers(50, 49, 20), false, 0.0);
    assert!(evidence.spare(&headers(50, 49, 20)));
    evidence.read(&sent(1, 20), &headers(50, 49, 20), true, 0.0);
    assert_eq!(evidence.burst(), 1);
    assert!(!evidence.reports_bucket());
    assert!(!evidence.spare(&headers(50, 49, 20)));
    assert!(!evidence.trusted());
}

/// `remaining` without `limit`: counted (for the refill measure and spare room), never a
/// bucket or a burst; and a 429 that says there is room ends that too.
#[test]
fn remaining_alone_counts_until_a_429_says_otherwise() {
    let alone = |remaining| RateLimitHeaders {
        remaining: Some(remaining),
        ..RateLimitHeaders::default()
    };
    let mut evidence = Evidence::default();
    evidence.read(&sent(0, 0), &alone(4), false, 0.0);
    evidence.read(&sent(1, 20), &alone(3), false, 0.0);
    assert_eq!(evidence.counted_full(), Some(4));
    assert!(evidence.spare(&alone(3)));
    assert!(!evidence.reports_bucket());
    assert_eq!(evidence.burst(), 1);
    evidence.read(&sent(2, 40), &alone(2), true, 0.0);
    assert_eq!(evidence.counted_full(), None);
    assert!(!evidence.spare(&alone(3)));
}

/// `remaining` within one of the most it has read is full, on a bucket of three or more; a
/// bucket of two reads "full" at any pace under its limit and says nothing; a per-minute
/// budget says nothing of its bucket, nor does a `remaining` a 429 showed to lie.
#[test]
fn a_count_reads_full_within_one_of_its_most() {
    let mut evidence = Evidence::default();
    evidence.read(&sent(0, 0), &headers(5, 4, 20), false, 0.0);
    assert!(evidence.reads_full(&headers(5, 4, 20)));
    assert!(evidence.reads_full(&headers(5, 3, 20)));
    assert!(!evidence.reads_full(&headers(5, 2, 20)));
    let mut two = Evidence::default();
    two.read(&sent(0, 0), &headers(2, 1, 20), false, 0.0);
    assert!(!two.reads_full(&headers(2, 1, 20)));
    let mut minute = Evidence::default();
    minute.read(&sent(0, 0), &openai(2999), false, 0.0);
    assert!(!minute.reads_full(&openai(2999)));
    evidence.read(&sent(1, 20), &headers(5, 2, 20), true, 0.0);
    assert!(!evidence.reads_full(&headers(5, 4, 20)));
}

/// A per-minute budget spent as fast as it refills reads below its recent peak; once it
/// has refilled (others gone, a limit risen) it reads at the peak again, and a peak older than
/// [`PEAK_OVER`] answers is forgotten. A 429 with room left ends it, as every use of
/// `remaining`.
#[test]
fn remaining_below_its_recent_peak_says_the_count_is_spent() {
    let mut evidence = Evidence::default();
    assert!(!evidence.below_peak(&openai(2999)), "nothing read yet");
    evidence.read(&sent(0, 0), &openai(2999), false, 0.0);
    assert!(!evidence.below_peak(&openai(2999)));
    let mut seq = 1;
    let mut read = |evidence: &mut Evidence, remaining| {
        evidence.read(&sent(seq, seq * 20), &openai(remaining), false, 0.0);
        seq += 1;
    };
    // Others spend it too: it drifts down and stays there.
    for remaining in [2997, 2995, 2995, 2996, 2995] {
        read(&mut evidence, remaining);
        assert!(evidence.below_peak(&openai(remaining)), "{remaining}");
    }
    // It refills, back to its peak.
    read(&mut evidence, 2998);
    assert!(evidence.below_peak(&openai(2998)));
    read(&mut evidence, 2999);
    assert!(!evidence.below_peak(&openai(2999)));
    // Flat at a lower level for longer than the window: that level is the peak now.
    for _ in 0..PEAK_OVER {
        read(&mut evidence, 2990);
    }
    assert!(!evidence.below_peak(&openai(2990)));
    // One under its limit is full, the request just answered taken out: whatever the peak.
    let mut full = Evidence::default();
    full.read(&sent(0, 0), &openai(3000), false, 0.0);
    assert!(!full.below_peak(&openai(2999)));
    assert!(full.below_peak(&openai(2998)));
    // A bucket that stays full is never below its peak; one a 429 showed to lie, never.
    let mut bucket = Evidence::default();
    bucket.read(&sent(0, 0), &headers(50, 49, 20), false, 0.0);
    assert!(bucket.below_peak(&headers(50, 40, 20)));
    bucket.read(&sent(1, 20), &headers(50, 49, 20), true, 0.0);
    assert!(!bucket.below_peak(&headers(50, 40, 20)));
}

/// The tokens left count too, where a token limit binds first: spent as fast as they refill,
/// they read below their peak while the request budget sits at its cap; within 1 % of their
/// limit they read full.
#[test]
fn tokens_below_their_recent_peak_say_the_count_is_spent() {
    let tokens = |remaining, tokens| RateLimitHeaders {
        token_limit: Some(12_000),
        token_remaining: Some(tokens),
        ..openai(remaining)
    };
    let mut evidence = Evidence::default();
    evidence.read(&sent(0, 0), &tokens(2999, 11_000), false, 0.0);
    evidence.read(&sent(1, 20), &tokens(2999, 10_900), false, 0.0);
    assert!(evidence.below_peak(&tokens(2999, 10_900)));
    evidence.read(&sent(2, 40), &tokens(2999, 11_000), false, 0.0);
    assert!(!evidence.below_peak(&tokens(2999, 11_000)));
    // Full: 11,880 is within 1 % of 12,000, whatever the peak.
    evidence.read(&sent(3, 60), &tokens(2999, 12_000), false, 0.0);
    assert!(!evidence.below_peak(&tokens(2999, 11_880)));
    assert!(evidence.below_peak(&tokens(2999, 11_879)));
}

/// A token limit that binds first: OpenAI's budget of 3000 requests a minute, 2999 left and
/// whole in 20 ms, is trusted at 50 a second while its tokens are as whole; with 900 of
/// 60 000 tokens left (a far smaller share) it is no pace and licenses no burst; once the
/// tokens read as whole as the requests again, it is trusted, and its licence stands.
#[test]
fn requests_are_no_pace_while_the_tokens_bind() {
    let tokens = |left| RateLimitHeaders {
        token_limit: Some(60_000),
        token_remaining: Some(left),
        family: crate::middleware::LimitFamily::OpenAi,
        ..headers(3000, 2999, 20)
    };
    let mut evidence = read_steadily(20, &tokens(59_990), 0.0);
    assert_eq!(evidence.bucket_rate(), Some(50.0));
    for _ in 0..2 * FIRST_LICENCE {
        evidence.burst_outcome(true);
    }
    let licence = evidence.burst();
    assert!(licence > 1, "{licence}");
    evidence.read(&sent(10, 200), &tokens(900), false, 0.0);
    assert_eq!(evidence.bucket_rate(), None);
    assert_eq!(evidence.burst(), 1);
    evidence.read(&sent(11, 220), &tokens(59_000), false, 0.0);
    assert_eq!(evidence.bucket_rate(), Some(50.0));
    assert_eq!(evidence.burst(), licence);
}

/// A bucket of 5 at 50 a second (Together's figures) read at its most, 4 after this
/// process's own request, three answers in a row: unspent, up to its rate. Not on two, not
/// within one of its most (others' requests taken out between, as a bucket that refills in
/// 100 ms reads among other clients), not at the rate, not on a bucket of two, not once a
/// 429 came with room left (`remaining` then counts something else).
#[test]
fn a_bucket_read_at_its_most_three_times_is_unspent() {
    let unspent = |remaining: &[u64], limit: u64, pace: f64| {
        let mut evidence = Evidence::default();
        for (seq, &left) in remaining.iter().enumerate() {
            let reset = (limit - left) * 20;
            evidence.read(
                &sent(seq as u64, seq as u64 * 250),
                &headers(limit, left, reset),
                false,
                0.0,
            );
        }
        let last = *remaining.last().expect("an answer");
        evidence.unspent(&headers(limit, last, (limit - last) * 20), pace)
    };
    assert_eq!(unspent(&[4, 4, 4], 5, 4.0), Some(50.0));
    assert_eq!(unspent(&[4, 4], 5, 4.0), None, "two answers");
    assert_eq!(unspent(&[4, 3, 4], 5, 4.0), None, "one taken by others");
    assert_eq!(unspent(&[4, 4, 4], 5, 50.0), None, "at the rate");
    assert_eq!(unspent(&[1, 1, 1], 2, 4.0), None, "a bucket of two");
    let mut refused = Evidence::default();
    for seq in 0..3 {
        refused.read(&sent(seq, seq * 250), &headers(5, 4, 20), seq == 0, 0.0);
    }
    assert_eq!(
        refused.unspent(&headers(5, 4, 20), 4.0),
        None,
        "a 429 with room left"
    );
}
