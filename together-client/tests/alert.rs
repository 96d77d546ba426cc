//! The rate-limit streak alert: N 429s in a row log one warning and call the callback once;
//! a success ends the streak, and the next streak alerts again.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use support::{Captured, KEY, chat_body, error_body, fast};
use together_client::{ChatRequest, RateLimitAlert, Together};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A client with no limiter (no pacing to wait for) and one attempt per call.
fn client(server: &MockServer, alerts: Arc<Mutex<Vec<RateLimitAlert>>>) -> Together {
    Together::builder()
        .api_key(KEY)
        .base_url(format!("{}/v1", server.uri()))
        .policy(fast(1))
        .http_client(reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).build())
        .alert_after(3)
        .on_rate_limit_streak(move |alert| alerts.lock().unwrap().push(alert.clone()))
        .build()
        .unwrap()
}

/// The tests of this file run one at a time: `tracing` caches per call site whether anyone
/// listens, and a test that fires the alert on threads with no subscriber can leave that cache
/// saying "no one" while `once_per_streak` captures on its own thread (seen: 0 lines captured).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn answer(server: &MockServer, status: u16) {
    server.reset().await;
    let template = if status == 429 {
        ResponseTemplate::new(429)
            .insert_header("x-ratelimit-remaining", "0")
            .set_body_json(error_body("slow down", "dynamic_token_limited", None))
    } else {
        ResponseTemplate::new(status).set_body_json(chat_body("ok"))
    };
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(template)
        .mount(server)
        .await;
}

#[tokio::test]
async fn once_per_streak() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let server = MockServer::start().await;
    let alerts = Arc::new(Mutex::new(Vec::new()));
    let client = client(&server, alerts.clone());
    let (captured, _guard) = Captured::new();
    let request = ChatRequest::new("m").user("u");

    answer(&server, 429).await;
    for _ in 0..7 {
        assert!(client.chat().create(request.clone()).await.is_err());
    }
    assert_eq!(client.rate_limit_streak(), 7);
    assert_eq!(
        alerts.lock().unwrap().len(),
        1,
        "one alert for a streak of 7"
    );
    let first = alerts.lock().unwrap()[0].clone();
    assert_eq!(first.streak, 3);
    assert_eq!(first.last.kind.as_deref(), Some("dynamic_token_limited"));
    assert_eq!(first.last.rate_limits.requests.remaining, Some(0));

    // A success ends the streak; the next streak alerts again.
    answer(&server, 200).await;
    client.chat().create(request.clone()).await.unwrap();
    assert_eq!(client.rate_limit_streak(), 0);
    answer(&server, 429).await;
    for _ in 0..2 {
        let _ = client.chat().create(request.clone()).await;
    }
    assert_eq!(
        alerts.lock().unwrap().len(),
        1,
        "a streak of 2 is below the threshold"
    );
    let _ = client.chat().create(request.clone()).await;
    assert_eq!(alerts.lock().unwrap().len(), 2);

    let logs = captured.text();
    assert_eq!(
        logs.matches("rate-limited responses (429) in a row")
            .count(),
        2,
        "{logs}"
    );
    assert!(logs.contains("WARN"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_one_alert() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let server = MockServer::start().await;
    answer(&server, 429).await;
    let alerts = Arc::new(Mutex::new(Vec::new()));
    let client = client(&server, alerts.clone());
    let tasks: Vec<_> = (0..24)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.chat().create(ChatRequest::new("m").user("u")).await })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap().is_err());
    }
    assert_eq!(client.rate_limit_streak(), 24);
    assert_eq!(alerts.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn zero_turns_it_off() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let server = MockServer::start().await;
    answer(&server, 429).await;
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let client = Together::builder()
        .api_key(KEY)
        .base_url(format!("{}/v1", server.uri()))
        .policy(fast(1))
        .http_client(reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).build())
        .alert_after(0)
        .on_rate_limit_streak(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        })
        .build()
        .unwrap();
    for _ in 0..6 {
        let _ = client.chat().create(ChatRequest::new("m").user("u")).await;
    }
    assert_eq!(calls.load(Ordering::Relaxed), 0);
}
