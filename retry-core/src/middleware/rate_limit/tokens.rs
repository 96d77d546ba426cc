//! How many tokens a request will cost, guessed from its body before it is sent.
//!
//! The estimate is `body bytes / 4 + max_tokens`:
//! - a quarter of the body's length stands for the prompt (about four bytes of English per
//!   token with the usual BPE tokenizers; the JSON syntax around the prompt is counted too,
//!   which errs on the side of waiting);
//! - the body's `max_tokens` (or `max_completion_tokens`) stands for the completion, the most
//!   the server will generate and what servers such as Together reserve against the budget;
//!   a body without it is charged for its prompt only.
//!
//! A body that is not in memory (a stream) counts as 1 token: it cannot be read without
//! consuming it. The scan for `max_tokens` is not a JSON parser: it finds the key outside
//! string escapes and reads the integer after its colon, which is all the estimate needs and
//! spares a JSON dependency.

use reqwest::Request;

/// The completion-budget keys, in the order they are looked for.
const KEYS: [&[u8]; 2] = [b"\"max_tokens\"", b"\"max_completion_tokens\""];

/// The estimated token cost of `request`: at least 1.
pub(crate) fn estimate(request: &Request) -> u64 {
    let Some(body) = request.body().and_then(|b| b.as_bytes()) else {
        return 1;
    };
    let prompt = (body.len() as u64).div_ceil(4);
    let completion = KEYS
        .iter()
        .find_map(|key| max_tokens(body, key))
        .unwrap_or(0);
    prompt.saturating_add(completion).max(1)
}

/// The unsigned integer after `key` and a colon, if `key` appears as a JSON key.
fn max_tokens(body: &[u8], key: &[u8]) -> Option<u64> {
    let mut from = 0;
    while let Some(found) = find(&body[from..], key) {
        let at = from + found;
        from = at + key.len();
        // `\"max_tokens\"` inside a string value is text, not a key.
        if at > 0 && body[at - 1] == b'\\' {
            continue;
        }
        let rest = skip_blanks(&body[from..]);
        let Some(rest) = rest.strip_prefix(b":") else {
            continue;
        };
        let digits: Vec<u8> = skip_blanks(rest)
            .iter()
            .copied()
            .take_while(u8::is_ascii_digit)
            .collect();
        if digits.is_empty() {
            continue;
        }
        // Too many digits for u64 saturates rather than failing: the estimate stays an upper
        // bound of sorts, and the schedule handles any cost.
        return Some(digits.iter().fold(0u64, |n, d| {
            n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
        }));
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn skip_blanks(bytes: &[u8]) -> &[u8] {
    let blanks = bytes.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &bytes[blanks..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: &'static str) -> Request {
        let mut req = Request::new(
            reqwest::Method::POST,
            "http://127.0.0.1/v1/chat/completions".parse().unwrap(),
        );
        *req.body_mut() = Some(body.into());
        req
    }

    #[test]
    fn prompt_quarter_plus_max_tokens() {
        let body = r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens": 100}"#;
        let expected = (body.len() as u64).div_ceil(4) + 100;
        assert_eq!(estimate(&request(body)), expected);
    }

    #[test]
    fn escaped_keys_and_missing_values_do_not_count() {
        let body = r#"{"prompt":"say \"max_tokens\": 999","max_completion_tokens":7}"#;
        assert_eq!(
            estimate(&request(body)),
            (body.len() as u64).div_ceil(4) + 7
        );
        let body = r#"{"max_tokens": null}"#;
        assert_eq!(estimate(&request(body)), (body.len() as u64).div_ceil(4));
        let body = r#"{"max_tokens": 99999999999999999999999999}"#;
        assert_eq!(estimate(&request(body)), u64::MAX, "saturates, never wraps");
    }

    #[test]
    fn no_body_costs_one() {
        let req = Request::new(reqwest::Method::GET, "http://h/".parse().unwrap());
        assert_eq!(estimate(&req), 1);
    }
}
