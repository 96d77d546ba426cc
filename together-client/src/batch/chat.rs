//! The batch runner for the Together client's chat endpoint.

use std::path::Path;

use serde_json::{Value, json};

use super::run::run_lines;
use super::{BatchError, BatchOptions, BatchReport, RequestError};
use crate::{ChatRequest, Error, Together};

/// Why one line of a chat batch failed.
#[derive(Debug)]
pub enum ChatLineError {
    /// The line's `body` is not a chat request.
    Body(serde_json::Error),
    /// The API answered with an error (after the client's retries).
    Api(Error),
}

impl std::fmt::Display for ChatLineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChatLineError::Body(e) => write!(f, "the body is not a chat request: {e}"),
            ChatLineError::Api(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ChatLineError {}

impl RequestError for ChatLineError {
    /// A bad key, an empty balance, a bad setup: no later line can succeed.
    fn is_fatal(&self) -> bool {
        matches!(
            self,
            ChatLineError::Api(Error::Auth(_) | Error::Payment(_) | Error::Config(_))
        )
    }

    /// What the client would retry ([`Error::is_retryable`]: 429s, 5xx but 501/505,
    /// timeouts, dropped connections), once the client's own retries gave up.
    fn is_retryable(&self) -> bool {
        matches!(self, ChatLineError::Api(e) if e.is_retryable())
    }

    /// No answer at all: a refused, cut or timed-out connection.
    fn is_unreachable(&self) -> bool {
        matches!(self, ChatLineError::Api(Error::Transport(_)))
    }

    /// The client's circuit breaker is open: Together kept failing. Writing an error line
    /// for every remaining line would lose them, where stopping lets a re-run after the
    /// outage do them.
    fn is_outage(&self) -> bool {
        matches!(self, ChatLineError::Api(Error::CircuitOpen(_)))
    }

    fn to_json(&self) -> Value {
        match self {
            ChatLineError::Body(e) => {
                json!({ "message": self.to_string(), "type": "invalid_request_body", "detail": e.to_string() })
            }
            ChatLineError::Api(error) => {
                let api = error.api();
                json!({
                    "message": error.to_string(),
                    "status": error.status().map(|s| s.as_u16()),
                    "type": api.and_then(|a| a.kind.clone()),
                    "code": api.and_then(|a| a.code.clone()),
                    // The server's hint, when it gave one: a line given up on because the
                    // wait is longer than any call's (a reset in 16 days) says how long.
                    "retry_after_secs": api.and_then(|a| a.retry_after).map(|d| d.as_secs_f64()),
                })
            }
        }
    }
}

/// Runs a chat batch file through `client`: each line's `body` is a [`ChatRequest`], each
/// response is written as Together's chat completion JSON. The progress bar shows the 429s
/// the client has seen.
///
/// Give the client a [circuit breaker](crate::TogetherBuilder::circuit_breaker): once it
/// opens, the run stops as an outage ([`BatchError::Outage`]) instead of failing every
/// remaining line.
///
/// ```no_run
/// use std::path::Path;
/// use together_client::Together;
/// use together_client::batch::{BatchOptions, run_chat};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = Together::from_env()?;
/// let report = run_chat(&client, Path::new("in.jsonl"), Path::new("out.jsonl"), BatchOptions::new().concurrency(32)).await?;
/// println!("{} answered, {} failed", report.succeeded, report.failed);
/// # Ok(())
/// # }
/// ```
pub async fn run_chat(
    client: &Together,
    input: &Path,
    output: &Path,
    options: BatchOptions,
) -> Result<BatchReport, BatchError<ChatLineError>> {
    let counter = client.clone();
    let options = options.rate_limited_from(move || counter.rate_limited_total());
    let file = std::fs::canonicalize(input).unwrap_or_else(|_| input.to_owned());
    let file = file.to_string_lossy();
    run_lines(input, output, &options, |custom_id, body| {
        let key = idempotency_key(&file, custom_id, &body);
        async move {
            let request: ChatRequest = serde_json::from_value(body).map_err(ChatLineError::Body)?;
            let response = client
                .chat()
                .create(request.idempotency_key(key))
                .await
                .map_err(ChatLineError::Api)?;
            serde_json::to_value(&response).map_err(ChatLineError::Body)
        }
    })
    .await
}

/// The `Idempotency-Key` of a line: a name-based (v5) UUID of the input file's path, the
/// line's `custom_id` and its body, so that a resumed run, or `--retry-failed`, sends the same
/// key for the same line again and a server that deduplicates answers it once; and so that a
/// different request under a reused id (a file rewritten in place, two jobs on standard
/// input numbering their lines alike) never gets another's answer.
fn idempotency_key(file: &str, custom_id: &str, body: &Value) -> String {
    let name = format!("{file}\n{custom_id}\n{body}");
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes())
        .hyphenated()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lines_key_is_its_file_id_and_body() {
        let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        let key = idempotency_key("/jobs/in.jsonl", "q-1", &body);
        assert_eq!(key, idempotency_key("/jobs/in.jsonl", "q-1", &body.clone()));
        assert_eq!(key.len(), 36);
        let other = json!({"model": "m", "messages": [{"role": "user", "content": "bye"}]});
        for different in [
            idempotency_key("/jobs/in.jsonl", "q-2", &body),
            idempotency_key("/jobs/other.jsonl", "q-1", &body),
            idempotency_key("/jobs/in.jsonl", "q-1", &other),
        ] {
            assert_ne!(key, different);
        }
    }
}
