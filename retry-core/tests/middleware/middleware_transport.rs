//! `RetryMiddleware` against failing transports: a refused connection, a connection closed or
//! reset without an answer, a server that never answers (the policy's attempt timeout).
//!
//! Raw tokio listeners on 127.0.0.1, on the test's runtime and its paused clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::support::sim::reqwest_client;
use reqwest_middleware::ClientWithMiddleware;
use retry_core::middleware::RetryMiddleware;
use retry_core::{Class, Classify, Jitter, Policy};
use test_kit::Counter;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::time::Instant;

const POLICY: Policy = Policy::exponential()
    .attempts(3)
    .initial(Duration::from_millis(100))
    .jitter(Jitter::None);

/// A client whose attempts `counter` counts.
fn client(policy: Policy, counter: &Counter) -> ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest_client())
        .with(RetryMiddleware::new(policy))
        .with(counter.clone())
        .build()
}

#[tokio::test(start_paused = true)]
async fn a_refused_connection_is_retried_then_returned() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
        // Dropped: nothing listens on the port any more.
    };
    let counter = Counter::default();
    let start = Instant::now();
    let error = client(POLICY, &counter)
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.class(), Class::Connect, "{error:?}");
    assert_eq!(counter.get(), 3);
    assert_eq!(start.elapsed(), Duration::from_millis(300));
}

/// Accepts connections and drops each one, after reading the request, at once or with a
/// reset; counts them.
async fn closing_server(reset: bool) -> (String, Arc<AtomicU32>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicU32::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            count.fetch_add(1, Ordering::Relaxed);
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
            if reset {
                stream.set_zero_linger().unwrap();
            }
            drop(stream);
        }
    });
    (url, accepted)
}

#[tokio::test(start_paused = true)]
async fn a_connection_closed_without_an_answer_is_retried() {
    for reset in [false, true] {
        let (url, accepted) = closing_server(reset).await;
        let counter = Counter::default();
        let error = client(POLICY, &counter).get(&url).send().await.unwrap_err();
        assert_eq!(error.class(), Class::Connect, "reset {reset}: {error:?}");
        assert_eq!(counter.get(), 3, "reset {reset}");
        assert_eq!(accepted.load(Ordering::Relaxed), 3, "reset {reset}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_hung_server_times_out_each_attempt() {
    // Accepts, reads, never answers; keeps the connections open.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicU32::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            count.fetch_add(1, Ordering::Relaxed);
            held.push(stream);
        }
    });
    let counter = Counter::default();
    let policy = POLICY.attempt_timeout(Duration::from_secs(5));
    let start = Instant::now();
    let error = client(policy, &counter).get(&url).send().await.unwrap_err();
    assert_eq!(error.class(), Class::Timeout, "{error:?}");
    assert!(
        error.to_string().contains("deadline has elapsed"),
        "the error wraps tokio's Elapsed: {error}"
    );
    assert_eq!(counter.get(), 3);
    // Three timeouts of 5 s and the two backoffs between them.
    assert_eq!(start.elapsed(), Duration::from_millis(15_300));
    // A timed-out attempt drops its connection; each attempt opens a new one.
    assert_eq!(accepted.load(Ordering::Relaxed), 3);
}
