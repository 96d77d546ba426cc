//! The event-stream decoding of `ChatStream` on arbitrary bodies, cut into arbitrary chunks:
//! never a panic, the same result however the body is cut, errors only last, and never the
//! key in an error.
//!
//! Input: `[cut count, cut positions..., body...]`; the body is cut at those positions (as a
//! network might deliver it) and decoded, then decoded again in one piece.

#![no_main]

use libfuzzer_sys::fuzz_target;
use together_client::__fuzz::decode_sse;

/// A key the body may echo (the seeds do): it must not come back in an error.
const KEY: &str = "sk-test-SECRET-4f1c9e";

fuzz_target!(|data: &[u8]| {
    let [count, rest @ ..] = data else {
        return;
    };
    let count = usize::from(count % 16).min(rest.len());
    let (cuts, body) = rest.split_at(count);
    let mut cuts: Vec<usize> = cuts
        .iter()
        .map(|&c| usize::from(c) % (body.len() + 1))
        .collect();
    cuts.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([body.len()]) {
        chunks.push(body[start..cut].to_vec());
        start = cut;
    }

    let cut = decode_sse(chunks, KEY);
    let whole = decode_sse([body.to_vec()], KEY);
    assert_eq!(format!("{cut:?}"), format!("{whole:?}"));

    for (i, item) in whole.iter().enumerate() {
        if let Err(error) = item {
            assert_eq!(i, whole.len() - 1, "an error ends the stream");
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains(KEY), "{shown}");
            let mut source = std::error::Error::source(error);
            while let Some(inner) = source {
                assert!(!format!("{inner} {inner:?}").contains(KEY));
                source = inner.source();
            }
        }
    }
    // Each chunk came from its own `data:` field.
    let chunks = whole.iter().filter(|item| item.is_ok()).count();
    let fields = body.windows(5).filter(|w| w == b"data:").count();
    assert!(
        chunks <= fields,
        "{chunks} chunks from {fields} data fields"
    );
});
