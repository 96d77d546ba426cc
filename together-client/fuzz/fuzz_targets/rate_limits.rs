//! `RateLimits::from_headers` on arbitrary headers: never a panic, each bucket as the retry
//! engine's `RateLimitHeaders` reads it, and a `used` share within 0..=1.
//!
//! Input: headers, each `[selector, length, value bytes...]`.

#![no_main]

mod headers;

use libfuzzer_sys::fuzz_target;
use together_client::RateLimits;
use together_client::retry_core::middleware::{MAX_HINT, RateLimitHeaders};

const NAMES: [&str; 13] = [
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-tokenlimit-limit",
    "x-tokenlimit-remaining",
    "x-tokenlimit-reset",
    "x-ratelimit-limit-dynamic",
    "x-ratelimit-remaining-dynamic",
    "x-ratelimit-reset-dynamic",
    "x-tokenlimit-limit-dynamic",
    "x-tokenlimit-remaining-dynamic",
    "x-tokenlimit-reset-dynamic",
    "x-request-id",
];

fuzz_target!(|data: &[u8]| {
    let (headers, _) = headers::read(data, &NAMES, usize::MAX);

    let limits = RateLimits::from_headers(&headers);
    for bucket in [
        limits.requests,
        limits.tokens,
        limits.dynamic_requests,
        limits.dynamic_tokens,
    ] {
        if let Some(reset) = bucket.reset {
            assert!(reset <= MAX_HINT, "{reset:?}");
        }
        if let Some(used) = bucket.used() {
            assert!((0.0..=1.0).contains(&used), "{used} from {bucket:?}");
        }
    }
    // The merged view is the retry engine's own reading of the same headers.
    let effective = limits.effective();
    assert_eq!(effective, RateLimitHeaders::from_headers(&headers));
    for reset in [effective.reset, effective.token_reset]
        .into_iter()
        .flatten()
    {
        assert!(reset <= MAX_HINT, "{reset:?}");
    }
    if let Some(id) = &limits.request_id {
        assert!(!id.is_empty() && id.trim() == id, "{id:?}");
    }
});
