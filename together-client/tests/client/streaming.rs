//! Streaming: SSE parsed into chunks up to `[DONE]`, an `error` object mid-stream becomes an
//! `Err` (and is not retried), the request is retried only before its first chunk.

use crate::kit::client::{SSE_DONE, chat_body, client, on_chat, sse_chunk, throttled_once};
use futures_util::StreamExt;
use retry_core::{Class, Classify};
use serde_json::json;
use together_client::{ChatRequest, Error, Together};
use wiremock::matchers::{body_partial_json, header};
use wiremock::{MockServer, ResponseTemplate};

fn sse(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "text/event-stream")
        .insert_header("x-ratelimit-remaining", "41")
        .insert_header("x-request-id", "stream-1")
        .set_body_string(body)
}

async fn server_streaming(body: String) -> MockServer {
    let server = MockServer::start().await;
    on_chat()
        .and(header("accept", "text/event-stream"))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(sse(body))
        .mount(&server)
        .await;
    server
}

fn request() -> ChatRequest {
    ChatRequest::new("m").user("count")
}

/// The whole text of a stream of [`request`].
async fn streamed_text(client: &Together) -> String {
    let stream = client.chat().stream(request()).await.unwrap();
    stream.text().await.unwrap()
}

#[tokio::test]
async fn chunks_until_done() {
    let body = [
        sse_chunk("one"),
        ": keep-alive comment\n\n".into(),
        sse_chunk(" two"),
        SSE_DONE.into(),
        sse_chunk("ignored after DONE"),
    ]
    .concat();
    let server = server_streaming(body).await;
    let client = client(&server);
    let stream = client.chat().stream(request()).await.unwrap();
    assert_eq!(stream.rate_limits().requests.remaining, Some(41));
    assert_eq!(stream.rate_limits().request_id.as_deref(), Some("stream-1"));
    let chunks: Vec<_> = stream.collect().await;
    let texts: Vec<&str> = chunks
        .iter()
        .map(|c| c.as_ref().unwrap().delta_text())
        .collect();
    assert_eq!(texts, ["one", " two"]);

    assert_eq!(streamed_text(&client).await, "one two");
}

#[tokio::test]
async fn an_error_object_mid_stream_is_an_err_and_ends_the_stream() {
    let error = json!({"error": {"message": "The server had an error while processing your request", "type": "server_error", "code": null}});
    let body = [
        sse_chunk("partial"),
        format!("data: {error}\n\n"),
        sse_chunk("never"),
        SSE_DONE.into(),
    ]
    .concat();
    let server = server_streaming(body).await;
    let mut stream = client(&server).chat().stream(request()).await.unwrap();
    assert_eq!(
        stream.next().await.unwrap().unwrap().delta_text(),
        "partial"
    );
    let error = stream.next().await.unwrap().unwrap_err();
    assert!(matches!(error, Error::Server(_)), "{error:?}");
    assert_eq!(
        error.api().unwrap().message,
        "The server had an error while processing your request"
    );
    assert_eq!(error.api().unwrap().status, None);
    assert_eq!(error.api().unwrap().request_id.as_deref(), Some("stream-1"));
    assert!(
        stream.next().await.is_none(),
        "the stream ends after its error"
    );
    // Mid-stream failures are not retried: one request.
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_stream_cut_before_done_ends_with_an_err() {
    let server = server_streaming([sse_chunk("a"), sse_chunk("b")].concat()).await;
    let mut stream = client(&server).chat().stream(request()).await.unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap().delta_text(), "a");
    assert_eq!(stream.next().await.unwrap().unwrap().delta_text(), "b");
    let error = stream.next().await.unwrap().unwrap_err();
    assert!(error.to_string().contains("[DONE]"), "{error}");
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn retried_before_the_first_chunk() {
    let server = MockServer::start().await;
    // A 429, then a stream whose first event is an error object (transient), then a good one.
    throttled_once("5").mount(&server).await;
    let overloaded = json!({"error": {"message": "overloaded", "type": "service_unavailable"}});
    on_chat()
        .respond_with(sse(format!("data: {overloaded}\n\n")))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    on_chat()
        .respond_with(sse([sse_chunk("hello"), SSE_DONE.into()].concat()))
        .with_priority(3)
        .mount(&server)
        .await;
    assert_eq!(streamed_text(&client(&server)).await, "hello");
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_permanent_error_before_the_first_chunk_is_returned_at_once() {
    let server = MockServer::start().await;
    let bad = json!({"error": {"message": "bad tool schema", "type": "invalid_request_error"}});
    on_chat()
        .respond_with(sse(format!("data: {bad}\n\n")))
        .expect(1)
        .mount(&server)
        .await;
    let error = client(&server).chat().stream(request()).await.unwrap_err();
    assert!(matches!(error, Error::BadRequest(_)), "{error:?}");
    assert_eq!(error.class(), Class::Permanent);
    // The stream's headers travel with an error found inside it.
    assert_eq!(error.rate_limits().unwrap().requests.remaining, Some(41));
}

#[tokio::test]
async fn create_never_streams() {
    let server = MockServer::start().await;
    on_chat()
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chat_body("whole")))
        .expect(1)
        .mount(&server)
        .await;
    let mut request = request();
    request.stream = Some(true);
    let response = client(&server).chat().create(request).await.unwrap();
    assert_eq!(response.text(), "whole");
    let sent: serde_json::Value = server.received_requests().await.unwrap()[0]
        .body_json()
        .unwrap();
    assert!(sent.get("stream").is_none(), "{sent}");
}
