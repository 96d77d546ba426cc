//! Canned, deterministic bodies shaped as in Together's OpenAPI spec. A "token" here is a
//! whitespace-separated word: cheap, deterministic, and good enough for usage counts.

use serde_json::{Value, json};

/// The models `GET /v1/models` lists (the simulator answers for any model name).
const MODELS: [(&str, &str, &str, &str, u64); 4] = [
    (
        "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "chat",
        "Llama 3.3 70B Instruct Turbo",
        "Meta",
        131_072,
    ),
    (
        "mistralai/Mixtral-8x7B-v0.1",
        "language",
        "Mixtral-8x7B v0.1",
        "mistralai",
        32_768,
    ),
    (
        "togethercomputer/m2-bert-80M-8k-retrieval",
        "embedding",
        "M2-BERT-Retrieval-8k",
        "Together",
        8_192,
    ),
    (
        "Salesforce/Llama-Rank-V1",
        "rerank",
        "Salesforce Llama Rank V1",
        "Salesforce",
        8_192,
    ),
];

/// Longest answer, in words, whatever the prompt.
const MAX_ANSWER: usize = 256;

/// Embedding size when the request names none.
pub(crate) const DEFAULT_DIMENSIONS: usize = 768;

/// Tokens in `text`: its words.
pub(crate) fn tokens(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Together's error body.
pub(crate) fn error(message: &str, kind: &str, param: Option<&str>, code: Option<&str>) -> Value {
    json!({ "error": { "message": message, "type": kind, "param": param, "code": code } })
}

/// The answer to `prompt`: "Echo:" and its words, at most `max_tokens` of them in all
/// (`finish_reason` then `"length"`, else `"stop"`).
pub(crate) fn answer(prompt: &str, max_tokens: Option<u64>) -> (Vec<String>, &'static str) {
    let mut words: Vec<String> = std::iter::once("Echo:")
        .chain(prompt.split_whitespace())
        .take(MAX_ANSWER)
        .map(str::to_owned)
        .collect();
    let cap = max_tokens.map_or(usize::MAX, |m| usize::try_from(m).unwrap_or(usize::MAX));
    if words.len() > cap {
        words.truncate(cap);
        (words, "length")
    } else {
        (words, "stop")
    }
}

/// `usage` for `prompt` and `completion` tokens.
pub(crate) fn usage(prompt: u64, completion: u64) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    })
}

/// What every response names: id, creation time, model.
#[derive(Clone, Debug)]
pub(crate) struct Meta {
    pub(crate) id: String,
    pub(crate) created: u64,
    pub(crate) model: String,
}

/// `POST /chat/completions`, not streamed.
pub(crate) fn chat(meta: &Meta, words: &[String], finish: &str, prompt_tokens: u64) -> Value {
    json!({
        "id": meta.id,
        "object": "chat.completion",
        "created": meta.created,
        "model": meta.model,
        "prompt": [],
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": words.join(" "), "tool_calls": [] },
            "finish_reason": finish,
            "logprobs": null,
            "seed": seed(&meta.id),
        }],
        "usage": usage(prompt_tokens, words.len() as u64),
    })
}

/// The chunks of a streamed chat: one word each; the last carries `finish_reason` and `usage`.
/// Their contents joined give the plain answer's content.
pub(crate) fn chat_chunks(
    meta: &Meta,
    words: &[String],
    finish: &str,
    prompt_tokens: u64,
) -> Vec<Value> {
    chunks(words, finish, prompt_tokens, |i, piece, finish, usage| {
        json!({
            "id": meta.id,
            "object": "chat.completion.chunk",
            "created": meta.created,
            "model": meta.model,
            "choices": [{
                "index": 0,
                "delta": { "role": "assistant", "content": piece, "token_id": i },
                "finish_reason": finish,
                "logprobs": null,
            }],
            "usage": usage,
        })
    })
}

/// `POST /completions`, not streamed.
pub(crate) fn completion(meta: &Meta, words: &[String], finish: &str, prompt_tokens: u64) -> Value {
    json!({
        "id": meta.id,
        "object": "text.completion",
        "created": meta.created,
        "model": meta.model,
        "prompt": [],
        "choices": [{
            "index": 0,
            "text": words.join(" "),
            "finish_reason": finish,
            "seed": seed(&meta.id),
        }],
        "usage": usage(prompt_tokens, words.len() as u64),
    })
}

/// The chunks of a streamed completion, shaped as `CompletionChunk`.
pub(crate) fn completion_chunks(
    meta: &Meta,
    words: &[String],
    finish: &str,
    prompt_tokens: u64,
) -> Vec<Value> {
    chunks(words, finish, prompt_tokens, |i, piece, finish, usage| {
        json!({
            "id": meta.id,
            "object": "completion.chunk",
            "created": meta.created,
            "model": meta.model,
            "token": { "id": i, "text": piece, "logprob": 0.0, "special": false },
            "choices": [{ "index": 0, "text": piece }],
            "finish_reason": finish,
            "usage": usage,
        })
    })
}

/// The chunks of a stream of `words`, one word each, made by `chunk(i, piece, finish, usage)`:
/// `finish` (the reason) and `usage` are `None` on every chunk but the last.
fn chunks(
    words: &[String],
    finish: &str,
    prompt_tokens: u64,
    chunk: impl Fn(usize, String, Option<&str>, Option<Value>) -> Value,
) -> Vec<Value> {
    let pieces = pieces(words);
    let last = pieces.len() - 1;
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            let done = i == last;
            let usage = done.then(|| usage(prompt_tokens, words.len() as u64));
            chunk(i, piece, done.then_some(finish), usage)
        })
        .collect()
}

/// `POST /embeddings`: one unit vector of `dimensions` per input, from a hash of its text.
pub(crate) fn embeddings(model: &str, inputs: &[String], dimensions: usize) -> Value {
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            json!({ "object": "embedding", "index": index, "embedding": embedding(text, dimensions) })
        })
        .collect();
    let prompt: u64 = inputs.iter().map(|t| tokens(t)).sum();
    json!({ "object": "list", "model": model, "data": data, "usage": usage(prompt, 0) })
}

/// A deterministic unit vector for `text`.
pub(crate) fn embedding(text: &str, dimensions: usize) -> Vec<f32> {
    let seed = fnv1a(text.as_bytes());
    let raw: Vec<f64> = (0..dimensions as u64)
        .map(|i| {
            let bits = splitmix64(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            // The top 53 bits as a number in [-1, 1).
            (bits >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
        .collect();
    let norm = raw
        .iter()
        .map(|x| x * x)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    raw.iter().map(|x| (x / norm) as f32).collect()
}

/// `GET /models`: a bare JSON array.
pub(crate) fn models() -> Value {
    Value::Array(
        MODELS
            .iter()
            .map(|&(id, kind, display, org, context)| {
                json!({
                    "id": id,
                    "object": "model",
                    "created": 1_700_000_000,
                    "type": kind,
                    "display_name": display,
                    "organization": org,
                    "license": "other",
                    "context_length": context,
                    "pricing": { "hourly": 0, "input": 0.0, "output": 0.0, "base": 0, "finetune": 0 },
                })
            })
            .collect(),
    )
}

/// A rerank request, parsed.
#[derive(Clone, Debug)]
pub(crate) struct Rerank {
    pub(crate) query: String,
    pub(crate) documents: Vec<Value>,
    pub(crate) top_n: Option<usize>,
    pub(crate) return_documents: bool,
}

/// The text of a document: itself if a string, else its JSON.
pub(crate) fn document_text(doc: &Value) -> String {
    match doc {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `POST /rerank`: documents scored by the share of the query's words they contain (ties
/// keep input order), best first.
pub(crate) fn rerank(meta: &Meta, req: &Rerank, prompt_tokens: u64) -> Value {
    let query: Vec<String> = req
        .query
        .split_whitespace()
        .map(str::to_lowercase)
        .collect();
    let mut scored: Vec<(usize, f64, String)> = req
        .documents
        .iter()
        .enumerate()
        .map(|(i, doc)| {
            let text = document_text(doc);
            let lower = text.to_lowercase();
            let hits = query.iter().filter(|w| lower.contains(w.as_str())).count();
            let score = hits as f64 / query.len().max(1) as f64;
            (i, score, text)
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(req.top_n.unwrap_or(usize::MAX));
    let results: Vec<Value> = scored
        .into_iter()
        .map(|(index, score, text)| {
            let text = req.return_documents.then_some(text);
            json!({ "index": index, "relevance_score": score, "document": { "text": text } })
        })
        .collect();
    json!({
        "object": "rerank",
        "id": meta.id,
        "model": meta.model,
        "results": results,
        "usage": usage(prompt_tokens, 0),
    })
}

/// The words as stream pieces: the first bare, the others with a leading space; at least one
/// (empty) piece so a stream always has a chunk to finish on.
fn pieces(words: &[String]) -> Vec<String> {
    if words.is_empty() {
        return vec![String::new()];
    }
    words
        .iter()
        .enumerate()
        .map(|(i, w)| if i == 0 { w.clone() } else { format!(" {w}") })
        .collect()
}

fn seed(id: &str) -> u64 {
    fnv1a(id.as_bytes()) >> 12
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_echo_and_respect_max_tokens() {
        let (words, finish) = answer("hello  there", None);
        assert_eq!(
            (words.join(" ").as_str(), finish),
            ("Echo: hello there", "stop")
        );
        let (words, finish) = answer("a b c d", Some(2));
        assert_eq!((words.join(" ").as_str(), finish), ("Echo: a", "length"));
    }

    #[test]
    fn embeddings_are_deterministic_unit_vectors() {
        let a = embedding("llamas", 16);
        assert_eq!(a, embedding("llamas", 16));
        assert_ne!(a, embedding("alpacas", 16));
        let norm: f32 = a.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    }

    #[test]
    fn chunks_rebuild_the_answer() {
        let meta = Meta {
            id: "x".into(),
            created: 0,
            model: "m".into(),
        };
        let (words, finish) = answer("one two", None);
        let chunks = chat_chunks(&meta, &words, finish, 2);
        let text: String = chunks
            .iter()
            .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
            .collect();
        assert_eq!(
            text,
            chat(&meta, &words, finish, 2)["choices"][0]["message"]["content"]
        );
        assert!(chunks[..2].iter().all(|c| c["usage"].is_null()));
        assert_eq!(chunks[2]["usage"]["total_tokens"], 5);
    }
}
