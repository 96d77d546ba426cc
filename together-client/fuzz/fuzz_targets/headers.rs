//! The headers of a fuzz input, shared by the targets that read them.

use http::{HeaderMap, HeaderName, HeaderValue};

/// Reads up to `most` headers from the start of `data`, each `[selector, length, value
/// bytes...]` naming one of `names` (a value that is not a valid header value is skipped), and
/// returns them with the rest of `data`.
pub fn read<'a>(data: &'a [u8], names: &[&'static str], most: usize) -> (HeaderMap, &'a [u8]) {
    let mut headers = HeaderMap::new();
    let mut rest = data;
    for _ in 0..most {
        let [selector, len, tail @ ..] = rest else {
            break;
        };
        let len = usize::from(*len).min(tail.len());
        let (value, tail) = tail.split_at(len);
        rest = tail;
        if let Ok(value) = HeaderValue::from_bytes(value) {
            let name = names[usize::from(*selector) % names.len()];
            headers.append(HeaderName::from_static(name), value);
        }
    }
    (headers, rest)
}
