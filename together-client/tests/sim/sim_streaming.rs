//! Streaming: Together's SSE format (`data: {chunk}` events, then `data: [DONE]`), a stream
//! cut mid-way, an `error` object inside a stream, chunk pacing, and that only a stream that
//! reached `[DONE]` counts as a success.

use std::time::Duration;

use crate::kit::sim::{chat_body, header, launch, post};
use crate::kit::untimed_http as client;
use futures_util::StreamExt;
use serde_json::{Value, json};
use together_client::sim::{Fault, Outcome, Simulator};
use tokio::time::Instant;

fn stream_body(prompt: &str) -> Value {
    let mut body = chat_body(prompt);
    body["stream"] = json!(true);
    body
}

/// A streamed chat request for `prompt`.
async fn stream(sim: &Simulator, prompt: &str) -> reqwest::Response {
    post(&client(), sim, "/chat/completions", &stream_body(prompt)).await
}

/// The `data:` payloads of an SSE text, checking the framing on the way.
fn events(text: &str) -> Vec<String> {
    assert!(text.ends_with("\n\n"), "{text:?}");
    text.trim_end_matches("\n\n")
        .split("\n\n")
        .map(|event| {
            let data = event
                .strip_prefix("data: ")
                .expect("every event is a data line");
            assert!(!data.contains('\n'), "{event:?}");
            data.to_owned()
        })
        .collect()
}

fn content(chunks: &[Value]) -> String {
    chunks
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn chat_stream_is_data_chunks_then_done() {
    let sim = Simulator::start().await.unwrap();
    let response = stream(&sim, "hello big world").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "content-type").as_deref(),
        Some("text/event-stream")
    );
    let events = events(&response.text().await.unwrap());
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert_eq!(chunks.len(), 4, "one chunk a word");
    let id = &chunks[0]["id"];
    for (i, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(&chunk["id"], id);
        assert!(chunk["created"].is_u64() && chunk["model"].is_string());
        let choice = &chunk["choices"][0];
        assert_eq!(choice["index"], 0);
        assert_eq!(choice["delta"]["role"], "assistant");
        let last = i == chunks.len() - 1;
        assert_eq!(choice["finish_reason"].is_null(), !last);
        assert_eq!(chunk["usage"].is_null(), !last);
    }
    assert_eq!(content(&chunks), "Echo: hello big world");
    assert_eq!(chunks[3]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[3]["usage"]["completion_tokens"], 4);

    // The same content as the plain answer.
    let plain: Value = post(
        &client(),
        &sim,
        "/chat/completions",
        &chat_body("hello big world"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(plain["choices"][0]["message"]["content"], content(&chunks));
    let stats = sim.stats();
    assert_eq!(
        (stats.successes, stats.successes_for("hello big world")),
        (2, 2)
    );
}

#[tokio::test]
async fn completion_stream_uses_completion_chunks() {
    let sim = Simulator::start().await.unwrap();
    let request = json!({"model": "m", "prompt": "a b", "stream": true, "max_tokens": 2});
    let text = post(&client(), &sim, "/completions", &request)
        .await
        .text()
        .await
        .unwrap();
    let events = events(&text);
    assert_eq!(events.len(), 3);
    assert_eq!(events[2], "[DONE]");
    let chunks: Vec<Value> = events[..2]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert_eq!(chunks[0]["object"], "completion.chunk");
    assert_eq!(chunks[0]["token"]["text"], "Echo:");
    assert_eq!(chunks[1]["choices"][0]["text"], " a");
    assert_eq!(chunks[1]["finish_reason"], "length");
    assert!(chunks[0]["finish_reason"].is_null());
}

#[tokio::test]
async fn an_error_object_mid_stream_then_the_end_without_done() {
    let sim = launch(Simulator::builder().fault_times(Fault::StreamError { after: 2 }, 1)).await;
    let response = stream(&sim, "one two three").await;
    assert_eq!(response.status(), 200);
    let events = events(&response.text().await.unwrap());
    assert_eq!(events.len(), 3, "{events:?}");
    let chunks: Vec<Value> = events[..2]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert_eq!(content(&chunks), "Echo: one");
    let error: Value = serde_json::from_str(&events[2]).unwrap();
    assert_eq!(
        error["error"]["message"],
        "The server is overloaded or not ready yet."
    );
    assert_eq!(error["error"]["type"], "server_error");
    assert!(!events.contains(&"[DONE]".to_owned()));
    let stats = sim.stats();
    assert_eq!((stats.stream_errors, stats.successes), (1, 0));
    assert_eq!(stats.log[0].status, Some(200));
    assert_eq!(stats.log[0].outcome, Outcome::StreamError);
    assert_eq!(stats.successes_for("one two three"), 0);
}

#[tokio::test]
async fn an_error_after_every_chunk_replaces_done() {
    let sim = launch(Simulator::builder().fault(Fault::StreamError { after: 100 }, 1.0)).await;
    let text = stream(&sim, "x").await.text().await.unwrap();
    let events = events(&text);
    assert_eq!(events.len(), 3);
    assert!(events[2].starts_with("{\"error\""), "{events:?}");
}

#[tokio::test]
async fn a_broken_stream_cuts_the_connection_after_some_chunks() {
    let sim = launch(Simulator::builder().fault_times(Fault::BreakStream { after: 2 }, 1)).await;
    let client = client();
    let response = post(
        &client,
        &sim,
        "/chat/completions",
        &stream_body("one two three"),
    )
    .await;
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let mut received = Vec::new();
    let error = loop {
        match body.next().await {
            Some(Ok(bytes)) => received.extend_from_slice(&bytes),
            Some(Err(e)) => break e,
            None => panic!(
                "the stream ended cleanly: {}",
                String::from_utf8_lossy(&received)
            ),
        }
    };
    assert!(error.is_body() || error.is_decode(), "{error:?}");
    let received = String::from_utf8(received).unwrap();
    let events = events(&received);
    assert_eq!(events.len(), 2, "{events:?}");
    let stats = sim.stats();
    assert_eq!((stats.broken_streams, stats.successes), (1, 0));
    // The next stream is whole.
    let text = post(
        &client,
        &sim,
        "/chat/completions",
        &stream_body("one two three"),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"));
    assert_eq!(sim.stats().successes_for("one two three"), 1);
}

#[tokio::test(start_paused = true)]
async fn chunks_are_paced_and_success_waits_for_done() {
    let sim = launch(Simulator::builder().stream_chunk_delay(Duration::from_millis(100))).await;
    let start = Instant::now();
    let response = stream(&sim, "a b").await;
    let mut body = response.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(first.starts_with(b"data: {"));
    assert_eq!(start.elapsed(), Duration::ZERO);
    // Nothing counted while the stream is under way.
    assert_eq!(sim.stats().successes, 0);
    while let Some(chunk) = body.next().await {
        chunk.unwrap();
    }
    // A pause before each chunk but the first, and before `[DONE]`.
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    assert_eq!(sim.stats().successes, 1);
}

#[tokio::test(start_paused = true)]
async fn a_stream_the_client_abandons_is_cancelled_not_a_success() {
    let sim = launch(Simulator::builder().stream_chunk_delay(Duration::from_millis(100))).await;
    let client = client();
    let response = post(&client, &sim, "/chat/completions", &stream_body("a b c d")).await;
    let mut body = response.bytes_stream();
    body.next().await.unwrap().unwrap();
    drop(body);
    drop(client);
    // The simulator notices when it next writes.
    for _ in 0..100 {
        if sim.stats().cancelled == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = sim.stats();
    assert_eq!((stats.cancelled, stats.successes), (1, 0));
    assert_eq!(stats.log[0].status, Some(200));
}
