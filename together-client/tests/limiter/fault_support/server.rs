//! A hand-made HTTP/1.1 server on 127.0.0.1 whose every answer a test scripts, down to the
//! byte: statuses with any headers, bodies cut or reset mid-way, silence, malformed JSON, SSE
//! streams cut after some chunks. It runs on the test's runtime, so a paused clock stays
//! deterministic: the server answers at once, and only timers move virtual time.
//!
//! One request per connection (`connection: close`), so "requests seen" is exact even when a
//! fault kills the connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What the server does with one request.
#[derive(Clone, Debug)]
pub enum Answer {
    /// A complete response: status, extra headers, JSON body.
    Status {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// `status` with `Retry-After` as an HTTP date `ahead` seconds from now on the wall clock
    /// (negative: in the past), computed when the answer is sent.
    DateHinted { status: u16, ahead: i64 },
    /// 200 with a chat completion (or, for an SSE request, a whole stream then `[DONE]`).
    Fine,
    /// Closes the connection without a byte of answer.
    Close,
    /// Sends the status line, headers promising 400 bytes and 20 of them, then resets (RST).
    ResetMidBody,
    /// Reads the request and never answers, holding the connection open.
    Hang,
    /// 200, well framed, whose JSON stops half-way.
    TruncatedJson,
    /// 200, well framed, whose body is not JSON.
    InvalidJson,
    /// An SSE stream (chunked) cut after `after` chunks, without the terminating chunk.
    CutStream { after: usize },
}

/// A 200 chat completion as Together sends it.
pub fn chat_json(text: &str) -> String {
    serde_json::json!({
        "id": "fm-1",
        "object": "chat.completion",
        "created": 1_700_000_000u64,
        "model": "m",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    })
    .to_string()
}

/// One chat chunk as an SSE event.
fn sse_event(i: usize) -> String {
    let chunk = serde_json::json!({
        "id": "fm-1",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000u64,
        "model": "m",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": format!("w{i} ")}, "finish_reason": null}]
    });
    format!("data: {chunk}\n\n")
}

/// Chunks in a whole stream.
pub const STREAM_CHUNKS: usize = 4;

/// A running fault server: answers request `n` (0-based) with `script(n)`.
pub struct FaultServer {
    pub url: String,
    seen: Arc<AtomicU32>,
    task: JoinHandle<()>,
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultServer {
    pub async fn start(script: impl Fn(u32) -> Answer + Send + Sync + 'static) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(AtomicU32::new(0));
        let counter = seen.clone();
        let script = Arc::new(script);
        let task = tokio::spawn(async move {
            let mut held = tokio::task::JoinSet::new();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let (counter, script) = (counter.clone(), script.clone());
                held.spawn(async move {
                    let mut stream = stream;
                    let Some(sse) = read_request(&mut stream).await else {
                        return;
                    };
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    answer(stream, script(n), sse).await;
                });
            }
        });
        FaultServer { url, seen, task }
    }

    /// Requests read so far.
    pub fn seen(&self) -> u32 {
        self.seen.load(Ordering::SeqCst)
    }
}

/// A port nothing listens on: bound, then released.
pub fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

/// Reads one request (head and `content-length` body); whether it asks for SSE. `None` if
/// the client went away first.
async fn read_request(stream: &mut TcpStream) -> Option<bool> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let body = String::from_utf8_lossy(&data[end + 4..]).into_owned();
            if data.len() >= end + 4 + length {
                let sse = head.contains("text/event-stream") || body.contains("\"stream\":true");
                return Some(sse);
            }
        }
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
    }
}

fn head(status: u16, headers: &[(String, String)], extra: &str) -> String {
    let mut text = format!("HTTP/1.1 {status} X\r\nconnection: close\r\n{extra}");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text
}

fn whole(status: u16, headers: &[(String, String)], body: &str) -> String {
    let mut text = head(status, headers, "content-type: application/json\r\n");
    text.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    text
}

fn chunk(data: &str) -> String {
    format!("{:x}\r\n{data}\r\n", data.len())
}

async fn answer(mut stream: TcpStream, answer: Answer, sse: bool) {
    let bytes = match answer {
        Answer::Status {
            status,
            headers,
            body,
        } => whole(status, &headers, &body),
        Answer::DateHinted { status, ahead } => {
            let now = std::time::SystemTime::now();
            let delta = std::time::Duration::from_secs(ahead.unsigned_abs());
            let at = if ahead >= 0 { now + delta } else { now - delta };
            let date = vec![("retry-after".to_owned(), httpdate::fmt_http_date(at))];
            whole(status, &date, "{\"error\": {\"message\": \"later\"}}")
        }
        Answer::Fine if sse => {
            let mut text = head(200, &[], "content-type: text/event-stream\r\n");
            text.push_str("transfer-encoding: chunked\r\n\r\n");
            for i in 0..STREAM_CHUNKS {
                text.push_str(&chunk(&sse_event(i)));
            }
            text.push_str(&chunk("data: [DONE]\n\n"));
            text.push_str("0\r\n\r\n");
            text
        }
        Answer::Fine => whole(200, &[], &chat_json("fine")),
        Answer::TruncatedJson => {
            let json = chat_json("fine");
            whole(200, &[], &json[..json.len() / 2])
        }
        Answer::InvalidJson => whole(200, &[], "<html>502 Bad Gateway</html>"),
        Answer::Close => return,
        Answer::Hang => {
            // Keep the socket open until the client gives up on it.
            let mut buf = [0u8; 64];
            while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
            return;
        }
        Answer::ResetMidBody => {
            let mut text = head(200, &[], "content-type: application/json\r\n");
            text.push_str("content-length: 400\r\n\r\n");
            text.push_str(&chat_json("fine")[..20]);
            let _ = stream.write_all(text.as_bytes()).await;
            let _ = stream.flush().await;
            let _ = stream.set_zero_linger();
            return;
        }
        Answer::CutStream { after } => {
            let mut text = head(200, &[], "content-type: text/event-stream\r\n");
            text.push_str("transfer-encoding: chunked\r\n\r\n");
            for i in 0..after {
                text.push_str(&chunk(&sse_event(i)));
            }
            let _ = stream.write_all(text.as_bytes()).await;
            let _ = stream.flush().await;
            // Give the client the chunks before the reset can discard them.
            for _ in 0..4 {
                tokio::task::yield_now().await;
            }
            let _ = stream.set_zero_linger();
            return;
        }
    };
    let _ = stream.write_all(bytes.as_bytes()).await;
    let _ = stream.shutdown().await;
}
