//! The response cache: off by default; deterministic requests (`temperature == 0`) or opted-in
//! ones answered once; identical concurrent requests share one fetch; errors not cached; TTL.

use std::time::Duration;

use crate::kit::client::{builder, chat_body, on_chat};
use serde_json::json;
use together_client::{CacheConfig, ChatRequest, EmbeddingsRequest, Together};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn server(delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    on_chat()
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ratelimit-remaining", "9")
                .set_body_json(chat_body("cached?"))
                .set_delay(delay),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "model": "e", "data": [{"object": "embedding", "embedding": [1.0], "index": 0}]
        })))
        .mount(&server)
        .await;
    server
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

fn cached(server: &MockServer, config: CacheConfig) -> Together {
    builder(server).cache(config).build().unwrap()
}

fn zero() -> ChatRequest {
    ChatRequest::new("m").user("2+2?").temperature(0.0)
}

#[tokio::test]
async fn off_by_default() {
    let server = server(Duration::ZERO).await;
    let client = builder(&server).build().unwrap();
    client.chat().create(zero()).await.unwrap();
    client.chat().create(zero()).await.unwrap();
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn deterministic_requests_are_answered_once() {
    let server = server(Duration::ZERO).await;
    let client = cached(&server, CacheConfig::new());
    let first = client.chat().create(zero()).await.unwrap();
    let second = client.chat().create(zero()).await.unwrap();
    assert_eq!(requests(&server).await, 1);
    assert_eq!(first, second);
    assert_eq!(second.text(), "cached?");
    assert_eq!(second.rate_limits().requests.remaining, Some(9));

    // Another prompt is another entry.
    client
        .chat()
        .create(ChatRequest::new("m").user("3+3?").temperature(0.0))
        .await
        .unwrap();
    assert_eq!(requests(&server).await, 2);
    // Sampling requests are not cached, unless opted in; a deterministic one can opt out.
    let warm = || ChatRequest::new("m").user("poem").temperature(0.7);
    client.chat().create(warm()).await.unwrap();
    client.chat().create(warm()).await.unwrap();
    assert_eq!(requests(&server).await, 4);
    client.chat().create(warm().cache(true)).await.unwrap();
    client.chat().create(warm().cache(true)).await.unwrap();
    assert_eq!(requests(&server).await, 5);
    client.chat().create(zero().cache(false)).await.unwrap();
    assert_eq!(requests(&server).await, 6);
    // Embeddings are deterministic: cached whenever the cache is on.
    for _ in 0..3 {
        client
            .embeddings()
            .create(EmbeddingsRequest::new("e", "x"))
            .await
            .unwrap();
    }
    assert_eq!(requests(&server).await, 7);
}

#[tokio::test]
async fn all_requests_opts_the_client_in() {
    let server = server(Duration::ZERO).await;
    let client = cached(&server, CacheConfig::new().all_requests(true));
    let warm = || ChatRequest::new("m").user("poem").temperature(0.9);
    client.chat().create(warm()).await.unwrap();
    client.chat().create(warm()).await.unwrap();
    client.chat().create(warm().cache(false)).await.unwrap();
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_concurrent_requests_share_one_fetch() {
    let server = server(Duration::from_millis(300)).await;
    let client = cached(&server, CacheConfig::new());
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.chat().create(zero()).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().text(), "cached?");
    }
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn errors_are_not_cached() {
    let server = MockServer::start().await;
    on_chat()
        .respond_with(
            ResponseTemplate::new(400).set_body_json(crate::kit::client::error_body(
                "bad",
                "invalid_request_error",
                None,
            )),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    on_chat()
        .respond_with(ResponseTemplate::new(200).set_body_json(chat_body("fine")))
        .mount(&server)
        .await;
    let client = cached(&server, CacheConfig::new());
    assert!(client.chat().create(zero()).await.is_err());
    assert_eq!(client.chat().create(zero()).await.unwrap().text(), "fine");
    assert_eq!(client.chat().create(zero()).await.unwrap().text(), "fine");
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn entries_expire() {
    let server = server(Duration::ZERO).await;
    let client = cached(
        &server,
        CacheConfig::new()
            .ttl(Duration::from_millis(150))
            .max_entries(10),
    );
    client.chat().create(zero()).await.unwrap();
    client.chat().create(zero()).await.unwrap();
    assert_eq!(requests(&server).await, 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    client.chat().create(zero()).await.unwrap();
    assert_eq!(requests(&server).await, 2);
}
