//! Parsing and checking a request's body: what it asks for, its prompt key and its tokens.

use http::StatusCode;
use serde_json::Value;

use super::responses as body;

/// Which endpoint a request came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Chat,
    Completions,
    Embeddings,
    Models,
    Rerank,
}

/// A parsed, valid request.
pub(crate) struct Job {
    pub(crate) model: String,
    /// The key of `Stats::successes_by_prompt`.
    pub(crate) prompt: Option<String>,
    pub(crate) prompt_tokens: u64,
    pub(crate) stream: bool,
    pub(crate) work: Work,
}

/// What a request asks the simulator to make.
pub(crate) enum Work {
    /// A chat or a completion: the answer's words.
    Text {
        words: Vec<String>,
        finish: &'static str,
    },
    Embed {
        inputs: Vec<String>,
        dimensions: usize,
    },
    List,
    Rerank(body::Rerank),
}

impl Job {
    /// What the request costs the token bucket: prompt plus completion.
    pub(crate) fn cost(&self) -> u64 {
        match &self.work {
            Work::Text { words, .. } => self.prompt_tokens + words.len() as u64,
            _ => self.prompt_tokens,
        }
    }
}

/// A request that cannot be answered: status, message, the parameter at fault.
pub(crate) type Invalid = (StatusCode, String, Option<&'static str>);

fn bad(message: impl Into<String>, param: &'static str) -> Invalid {
    (StatusCode::BAD_REQUEST, message.into(), Some(param))
}

/// Parses and checks a request's body: 400 when malformed, 403 when a chat or completion
/// (prompt plus `max_tokens`) does not fit the context `window`.
pub(crate) fn parse(kind: Endpoint, bytes: &[u8], window: u64) -> Result<Job, Invalid> {
    if kind == Endpoint::Models {
        let model = String::new();
        let (prompt, prompt_tokens, stream, work) = (None, 0, false, Work::List);
        return Ok(Job {
            model,
            prompt,
            prompt_tokens,
            stream,
            work,
        });
    }
    let req: Value = serde_json::from_slice(bytes).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            format!("Invalid JSON body: {e}"),
            None,
        )
    })?;
    let model = req["model"]
        .as_str()
        .ok_or_else(|| bad("`model` is required", "model"))?
        .to_owned();
    let stream = req["stream"].as_bool().unwrap_or(false);
    let max_tokens = req["max_tokens"].as_u64();
    let (prompt, prompt_tokens, work) = match kind {
        Endpoint::Chat | Endpoint::Completions => {
            let (prompt, prompt_tokens) = if kind == Endpoint::Chat {
                chat_prompt(&req)?
            } else {
                let prompt =
                    texts(&req["prompt"]).ok_or_else(|| bad("`prompt` is required", "prompt"))?;
                let tokens = body::tokens(&prompt);
                (prompt, tokens)
            };
            let (words, finish) = body::answer(&prompt, max_tokens);
            let asked = max_tokens.unwrap_or(words.len() as u64);
            if prompt_tokens.saturating_add(asked) > window {
                let message = format!(
                    "Input validation error: `inputs` tokens + `max_new_tokens` must be <= {window}. \
                     Given: {prompt_tokens} `inputs` tokens and {asked} `max_new_tokens`"
                );
                return Err((StatusCode::FORBIDDEN, message, Some("max_tokens")));
            }
            (prompt, prompt_tokens, Work::Text { words, finish })
        }
        Endpoint::Embeddings => {
            let inputs = match &req["input"] {
                Value::String(s) => vec![s.clone()],
                Value::Array(items) => items
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad("`input` must be strings", "input"))?,
                _ => return Err(bad("`input` is required", "input")),
            };
            let dimensions = req["dimensions"]
                .as_u64()
                .map_or(body::DEFAULT_DIMENSIONS, |d| {
                    usize::try_from(d.clamp(1, 16_384)).unwrap_or(body::DEFAULT_DIMENSIONS)
                });
            let tokens = inputs.iter().map(|t| body::tokens(t)).sum();
            (
                inputs.join("\n"),
                tokens,
                Work::Embed { inputs, dimensions },
            )
        }
        Endpoint::Rerank => {
            let query = req["query"]
                .as_str()
                .ok_or_else(|| bad("`query` is required", "query"))?;
            let documents = req["documents"]
                .as_array()
                .ok_or_else(|| bad("`documents` is required", "documents"))?
                .clone();
            let tokens = body::tokens(query)
                + documents
                    .iter()
                    .map(|d| body::tokens(&body::document_text(d)))
                    .sum::<u64>();
            let rerank = body::Rerank {
                query: query.to_owned(),
                documents,
                top_n: req["top_n"].as_u64().and_then(|n| usize::try_from(n).ok()),
                return_documents: req["return_documents"].as_bool().unwrap_or(false),
            };
            (query.to_owned(), tokens, Work::Rerank(rerank))
        }
        Endpoint::Models => unreachable!("answered above"),
    };
    Ok(Job {
        model,
        prompt: Some(prompt),
        prompt_tokens,
        stream: stream && matches!(work, Work::Text { .. }),
        work,
    })
}

/// A chat's prompt key (its last user message, else its last message) and its tokens (all
/// messages').
fn chat_prompt(req: &Value) -> Result<(String, u64), Invalid> {
    let messages = req["messages"]
        .as_array()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| bad("`messages` must be a non-empty list", "messages"))?;
    let content = |m: &Value| texts(&m["content"]).unwrap_or_default();
    let tokens = messages.iter().map(|m| body::tokens(&content(m))).sum();
    let last = messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .or(messages.last())
        .map(content)
        .unwrap_or_default();
    Ok((last, tokens))
}

/// A string, or the strings (or `{"type": "text", "text": ...}` parts) of a list, joined by
/// newlines.
fn texts(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(|item| item.as_str().or_else(|| item["text"].as_str()))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        _ => None,
    }
}
