//! Property tests of the client's parsers, the CI side of the `error_body` and `sse_chunk`
//! fuzz targets (`together-client/fuzz`): error bodies of every shape, and event streams cut
//! into arbitrary chunks.
//!
//! together-client has no `proptest` dev-dependency, so the cases come from a small seeded
//! generator below: deterministic (the same cases on every run), and a failure names its
//! case's seed and input. No shrinking: the inputs are kept small instead.

use crate::kit::client::on_chat;
use std::fmt::Debug;

use futures_util::StreamExt;
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};
use together_client::__fuzz::decode_sse;
use together_client::{ApiError, ChatChunk, ChatRequest, Error, Together};
use wiremock::{MockServer, ResponseTemplate};

const KEY: &str = "sk-test-SECRET-4f1c9e";

/// SplitMix64: a tiny, good-enough generator of test cases.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// Text with what trips parsers up: quotes, escapes, newlines, multi-byte characters.
    fn text(&mut self, max: usize) -> String {
        const PIECES: [&str; 14] = [
            "a", "Z", "7", " ", "\"", "\\", "\n", "\r", "\t", "é", "☃", "🦀", "data:", "[DONE]",
        ];
        let len = self.below(max + 1);
        (0..len).map(|_| *self.pick(&PIECES)).collect()
    }

    /// Any JSON value, `depth` levels deep at most.
    fn json(&mut self, depth: u32) -> Value {
        match self.below(if depth == 0 { 5 } else { 7 }) {
            0 => Value::Null,
            1 => Value::Bool(self.chance(2)),
            2 => json!(self.next() as i64 >> self.below(64)),
            // Eighths: exact in binary, so they read back as written (serde_json rounds others).
            3 => json!(f64::from(self.next() as u32) / 8.0),
            4 => Value::String(self.text(12)),
            5 => (0..self.below(4)).map(|_| self.json(depth - 1)).collect(),
            _ => Value::Object(self.object(depth - 1)),
        }
    }

    /// An object with some of the keys the error parser reads, and others.
    fn object(&mut self, depth: u32) -> Map<String, Value> {
        const KEYS: [&str; 8] = ["error", "message", "type", "code", "param", "id", "x", ""];
        (0..self.below(5))
            .map(|_| (self.pick(&KEYS).to_string(), self.json(depth)))
            .collect()
    }
}

/// Runs `property` on `cases` generated cases; a failure says which.
fn check<T: Debug>(cases: u64, make: impl Fn(&mut Gen) -> T, property: impl Fn(&T)) {
    for case in 0..cases {
        let mut generator = Gen(case.wrapping_mul(0x2545_f491_4f6c_dd1d));
        let input = make(&mut generator);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| property(&input)));
        if let Err(panic) = outcome {
            eprintln!("case {case} failed on input: {input:?}");
            std::panic::resume_unwind(panic);
        }
    }
}

/// `value` as the error parser reads text: a string as it is, null as absent, anything else
/// written out as JSON.
fn as_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

// ---- error bodies ----

/// Any bytes: a message that is never empty once the status is known, never longer than
/// the snippet of a body that is not JSON, and a `Display` that shows it.
#[test]
fn any_bytes_make_an_error_with_a_message() {
    check(
        2_000,
        |g| {
            let body = match g.below(4) {
                0 => g.bytes(64),
                // Long enough to be cut, with multi-byte characters across the cut.
                1 => g.text(700).into_bytes(),
                2 => g.json(3).to_string().into_bytes(),
                _ => [b"{\"error\":".to_vec(), g.bytes(16)].concat(),
            };
            (400 + g.below(200) as u16, body)
        },
        |(status, body)| {
            let status = StatusCode::from_u16(*status).unwrap();
            let alone = ApiError::from_body(body);
            if serde_json::from_slice::<Value>(body).is_err() {
                let lossy = String::from_utf8_lossy(&body[..body.len().min(512)]);
                assert!(alone.message.starts_with(lossy.trim()) || lossy.trim().is_empty());
                assert!(alone.message.len() <= 512 * 3 + 3);
                assert_eq!(alone.kind, None);
            }
            let api = ApiError::from_response(status, &HeaderMap::new(), body);
            assert!(!api.message.is_empty());
            assert_eq!(api.status, Some(status));
            let error = Error::from_api(api.clone());
            assert_eq!(error.status(), Some(status));
            assert!(error.to_string().contains(&api.message));
        },
    );
}

/// `{"error": X, ...}` for X of every JSON type: a string is the message; an object is
/// where `message`, `type`, `code` and `param` are; anything else (array, null, number,
/// boolean) is as if absent, and the top-level fields are read.
#[test]
fn error_bodies_of_every_shape() {
    check(
        3_000,
        |g| {
            let mut top = g.object(2);
            if g.chance(4) {
                top.remove("error");
            } else {
                let error = match g.below(6) {
                    0 => Value::String(g.text(16)),
                    1 => Value::Object(g.object(1)),
                    2 => (0..g.below(3)).map(|_| g.json(1)).collect(),
                    3 => Value::Null,
                    4 => json!(g.next() as u32),
                    _ => Value::Bool(g.chance(2)),
                };
                top.insert("error".into(), error);
            }
            Value::Object(top)
        },
        |value| {
            let api = ApiError::from_value(value);
            let error = value.get("error");
            let inner = match error {
                Some(Value::Object(_)) => error.unwrap(),
                _ => value,
            };
            let message = match error {
                Some(Value::String(s)) => Some(s.clone()),
                _ => as_text(inner.get("message")),
            };
            assert_eq!(api.message, message.unwrap_or_default());
            assert_eq!(api.kind, as_text(inner.get("type")));
            assert_eq!(api.code, as_text(inner.get("code")));
            assert_eq!(api.param, as_text(inner.get("param")));
            assert_eq!(api.request_id, as_text(value.get("id")));
            // The same from the bytes.
            let from_bytes = ApiError::from_body(value.to_string().as_bytes());
            assert_eq!(from_bytes.message, api.message);
            assert_eq!(from_bytes.code, api.code);
        },
    );
}

/// Any JSON value at all (not only objects) reads without a panic, and a value that is not
/// an object says nothing.
#[test]
fn any_json_value_is_an_error_body() {
    check(
        2_000,
        |g| g.json(4),
        |value| {
            let api = ApiError::from_value(value);
            let error = Error::from_api(api.clone());
            assert!(error.to_string().contains(&api.message));
            if !value.is_object() {
                assert_eq!(api.message, "");
                assert_eq!((api.kind.as_ref(), api.code.as_ref()), (None, None));
                // No status and no names: an error inside a stream is the server's.
                assert!(matches!(error, Error::Server(_)), "{error:?}");
            }
        },
    );
}

// ---- event streams ----

fn chunk(text: &str) -> Value {
    json!({
        "id": "c-1", "object": "chat.completion.chunk", "created": 0, "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]
    })
}

/// A valid stream of `texts` as a server may frame it: LF or CRLF (or CR) line ends,
/// comments and empty events between chunks, `data:` with or without its space, maybe a BOM.
fn stream_body(g: &mut Gen, texts: &[String]) -> Vec<u8> {
    let eol = *g.pick(&["\n", "\r\n", "\r"]);
    let mut body = String::new();
    if g.chance(4) {
        body.push('\u{feff}');
    }
    for text in texts {
        if g.chance(3) {
            body.push_str(&format!(": keep-alive{eol}{eol}"));
        }
        if g.chance(5) {
            body.push_str(&format!("data:{eol}{eol}"));
        }
        let space = if g.chance(2) { " " } else { "" };
        let id = if g.chance(3) {
            format!("id: {}{eol}", g.below(100))
        } else {
            String::new()
        };
        body.push_str(&format!("{id}data:{space}{}{eol}{eol}", chunk(text)));
    }
    body.push_str(&format!("data: [DONE]{eol}{eol}"));
    body.into_bytes()
}

/// `body` cut at `cuts` random places (inside multi-byte characters and line ends included).
fn cut(g: &mut Gen, body: &[u8], cuts: usize) -> Vec<Vec<u8>> {
    let mut at: Vec<usize> = (0..cuts).map(|_| g.below(body.len() + 1)).collect();
    at.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for end in at.into_iter().chain([body.len()]) {
        chunks.push(body[start..end].to_vec());
        start = end;
    }
    chunks
}

fn texts(decoded: &[Result<ChatChunk, Error>]) -> Vec<String> {
    decoded
        .iter()
        .map(|c| {
            c.as_ref()
                .expect("a valid stream decodes")
                .delta_text()
                .to_owned()
        })
        .collect()
}

/// A valid stream gives its texts, in order, however the network cuts it: into single
/// bytes, or anywhere.
#[test]
fn a_valid_stream_gives_the_same_text_however_it_is_cut() {
    check(
        1_000,
        |g| {
            let texts: Vec<String> = (0..g.below(5)).map(|_| g.text(10)).collect();
            let body = stream_body(g, &texts);
            let chunks = if g.chance(8) {
                body.iter().map(|b| vec![*b]).collect()
            } else {
                let cuts = g.below(12);
                cut(g, &body, cuts)
            };
            (texts, body, chunks)
        },
        |(expected, body, chunks)| {
            let whole = decode_sse([body.clone()], KEY);
            assert_eq!(&texts(&whole), expected);
            let pieces = decode_sse(chunks.clone(), KEY);
            assert_eq!(&texts(&pieces), expected);
            let chunks = |d: &[Result<ChatChunk, Error>]| -> Vec<ChatChunk> {
                d.iter().map(|c| c.as_ref().unwrap().clone()).collect()
            };
            assert_eq!(chunks(&pieces), chunks(&whole));
        },
    );
}

/// Arbitrary bytes (and valid streams with bytes flipped): never a panic, an error only as
/// the last item, the same items however they are cut, and never the key in an error.
#[test]
fn arbitrary_bytes_never_panic_and_cut_anywhere_decode_alike() {
    check(
        3_000,
        |g| {
            let body = match g.below(3) {
                0 => g.bytes(48),
                1 => {
                    let texts = [g.text(6), KEY.to_owned()];
                    let mut body = stream_body(g, &texts);
                    for _ in 0..1 + g.below(3) {
                        let at = g.below(body.len());
                        body[at] = g.next() as u8;
                    }
                    body
                }
                _ => {
                    let kind = g
                        .pick(&["", "event: error\n", "event: message\n"])
                        .to_owned();
                    let text = g.text(8);
                    let data = g
                        .pick(&[
                            format!("{{\"error\": {{\"message\": \"bad key {KEY}\"}}}}"),
                            format!("{{\"id\": {KEY}}}"),
                            format!("{{\"choices\": \"{KEY}\"}}"),
                            format!("{{\"message\": \"{KEY}\", \"code\": 429}}"),
                            text,
                        ])
                        .clone();
                    format!("{kind}data: {data}\n\n").into_bytes()
                }
            };
            let cuts = g.below(6);
            let chunks = cut(g, &body, cuts);
            (body, chunks)
        },
        |(body, chunks)| {
            let whole = decode_sse([body.clone()], KEY);
            let pieces = decode_sse(chunks.clone(), KEY);
            assert_eq!(format!("{pieces:?}"), format!("{whole:?}"));
            for (i, item) in whole.iter().enumerate() {
                if let Err(error) = item {
                    assert_eq!(i, whole.len() - 1);
                    let shown = format!("{error} {error:?}");
                    assert!(!shown.contains(KEY), "{shown}");
                }
            }
        },
    );
}

/// Every way a stream can fail is an `Err`, last: an error object, an `event: error`, a
/// chunk that is not JSON, an end before `[DONE]`, bytes that are not UTF-8.
#[test]
fn each_failure_is_the_last_item() {
    let ok = format!("data: {}\n\n", chunk("hi"));
    type Case = (&'static str, &'static [u8], fn(&Error) -> bool);
    let cases: [Case; 6] = [
        (
            "error object",
            b"data: {\"error\": {\"message\": \"boom\", \"type\": \"server_error\"}}\n\n",
            |e| matches!(e, Error::Server(_)),
        ),
        (
            "event: error",
            b"event: error\ndata: {\"message\": \"slow down\", \"code\": 429}\n\n",
            |e| matches!(e, Error::RateLimited(_)),
        ),
        (
            "rate limit type",
            b"data: {\"error\": {\"type\": \"dynamic_request_limited\"}}\n\n",
            |e| matches!(e, Error::RateLimited(_)),
        ),
        ("not JSON", b"data: {not json\n\n", |e| {
            matches!(e, Error::Decode(_))
        }),
        ("no [DONE]", b"", |e| {
            e.api().is_some_and(|a| a.is("stream_incomplete"))
        }),
        (
            "not UTF-8",
            b"data: \xff\xfe\n\n",
            |e| matches!(e, Error::Decode(d) if d.message().contains("UTF8")),
        ),
    ];
    for (name, tail, expected) in cases {
        let body = [ok.as_bytes(), tail].concat();
        let decoded = decode_sse([body], KEY);
        assert_eq!(decoded.len(), 2, "{name}: {decoded:?}");
        assert_eq!(decoded[0].as_ref().unwrap().delta_text(), "hi", "{name}");
        let error = decoded[1].as_ref().unwrap_err();
        assert!(expected(error), "{name}: {error:?}");
    }
}

// ---- regressions found by fuzzing ----

/// `sse_chunk` crash: eventsource-stream 0.2.3 panicked ("byte index 1 is not a char
/// boundary") on any body starting with a UTF-8 BOM. The input as the fuzzer found it (its
/// first byte is the cut count), then the BOM cut between each of its bytes.
#[test]
fn a_body_that_starts_with_a_bom_does_not_panic() {
    let found: &[u8] = b"\x00\xef\xbb\xbf: keep-alive\r\nevent: error\r\ndata: {\"message\":\"overloaded\",\"code\":503}\r\n\r\n";
    let body = &found[1..];
    let decoded = decode_sse([body.to_vec()], KEY);
    assert!(
        matches!(decoded[..], [Err(Error::Overloaded(_))]),
        "{decoded:?}"
    );

    let body = format!("\u{feff}data: {}\n\ndata: [DONE]\n\n", chunk("hi")).into_bytes();
    for at in 0..=4 {
        let chunks = vec![body[..at].to_vec(), body[at..].to_vec()];
        let decoded = decode_sse(chunks, KEY);
        assert_eq!(texts(&decoded), ["hi"], "cut at {at}");
    }
    // Only one BOM is the stream's: a second one is part of the first field's name, which
    // is then unknown, so that event says nothing.
    let twice = format!("\u{feff}\u{feff}data: {}\n\ndata: [DONE]\n\n", chunk("x")).into_bytes();
    assert!(decode_sse([twice], KEY).is_empty());
    // A body that is only the start of a BOM is text (not UTF-8): an error, not a panic.
    assert!(matches!(
        decode_sse([b"\xef\xbb".to_vec()], KEY)[..],
        [Err(_)]
    ));
}

/// Property test find: a stream whose lines end in CR lost its last event, as
/// eventsource-stream waited for a `\n` that could make the final `\r` a CRLF even after the
/// body ended. The case as found (`data: [DONE]\r\r` cut in four), and a chunk before it.
#[test]
fn a_stream_with_cr_line_ends_keeps_its_last_event() {
    let found = [&b"data"[..], b": [", b"DONE]\r", b"\r"].map(<[u8]>::to_vec);
    assert!(decode_sse(found, KEY).is_empty());
    let body = format!("data: {}\r\rdata: [DONE]\r\r", chunk("cr")).into_bytes();
    assert_eq!(texts(&decode_sse([body], KEY)), ["cr"]);
    // Without `[DONE]`, the last chunk still counts, and the end is still an early one.
    let body = format!("data: {}\r\r", chunk("cr")).into_bytes();
    let decoded = decode_sse([body], KEY);
    assert_eq!(decoded[0].as_ref().unwrap().delta_text(), "cr");
    assert!(
        decoded[1]
            .as_ref()
            .unwrap_err()
            .api()
            .unwrap()
            .is("stream_incomplete")
    );
    // A final `\n` alone does not finish an event: a truncated stream is not completed.
    let body = format!("data: {}\n", chunk("cut")).into_bytes();
    assert!(matches!(
        decode_sse([body], KEY)[..],
        [Err(Error::Server(_))]
    ));
}

/// The same through the client and a server: the stream a BOM starts is read.
#[tokio::test]
async fn a_streamed_answer_that_starts_with_a_bom_is_read() {
    let server = MockServer::start().await;
    let body = format!(
        "\u{feff}data: {}\n\ndata: {}\n\ndata: [DONE]\n\n",
        chunk("Hello"),
        chunk(", world")
    );
    on_chat()
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(body),
        )
        .mount(&server)
        .await;
    let client = Together::builder()
        .api_key(KEY)
        .base_url(format!("{}/v1", server.uri()))
        .build()
        .unwrap();
    let stream = client
        .chat()
        .stream(ChatRequest::new("m").user("hi"))
        .await
        .unwrap();
    let chunks: Vec<_> = stream.collect().await;
    assert_eq!(texts(&chunks), ["Hello", ", world"]);
}
