//! `QuotaExhausted::from_body` on arbitrary bytes (a 429's body as a server might send it):
//! never a panic, and a verdict only for a body that is JSON and names a final code or
//! OpenAI's "exceeded your current quota".

#![no_main]

use libfuzzer_sys::fuzz_target;
use retry_core::middleware::QuotaExhausted;

fuzz_target!(|data: &[u8]| {
    if let Some(quota) = QuotaExhausted::from_body(data) {
        assert!(["credit_limit", "insufficient_quota"].contains(&quota.code()));
        let text = String::from_utf8_lossy(data).to_ascii_lowercase();
        assert!(
            text.contains(quota.code()) || text.contains("exceeded your current quota"),
            "{text}"
        );
        assert!(!quota.to_string().is_empty());
    }
});
