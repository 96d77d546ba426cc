//! `RetryMiddleware` against a wiremock server: which statuses are retried (counted at the
//! server), `x-should-retry`, every delay-hint dialect, giving up with the last response, the
//! `Attempts` extension, a streamed body, the deadline.
//!
//! The tests run on a paused tokio clock, so the retries' sleeps take no real time and the
//! virtual time a call took is exactly the sum of its sleeps (wiremock answers from its own
//! thread; with no other timer pending, the paused clock does not move while a request waits).

use std::time::{Duration, SystemTime};

use crate::support::sim::reqwest_client;
use reqwest_middleware::ClientWithMiddleware;
use retry_core::middleware::{Attempts, RetryMiddleware};
use retry_core::{Jitter, Policy};
use tokio::time::Instant;
use wiremock::matchers::{any, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Three attempts, 100 ms then 200 ms apart unless a hint says otherwise.
const POLICY: Policy = Policy::exponential()
    .attempts(3)
    .initial(Duration::from_millis(100))
    .jitter(Jitter::None);

fn client(retry: RetryMiddleware) -> ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest_client())
        .with(retry)
        .build()
}

async fn server_answering(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

/// A server that answers `first` to the first `times` GETs, then `then`.
async fn server_failing_then(
    first: ResponseTemplate,
    times: u64,
    then: ResponseTemplate,
) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(first)
        .up_to_n_times(times)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(then)
        .mount(&server)
        .await;
    server
}

/// A GET of `server` through `RetryMiddleware` with [`POLICY`].
async fn get(server: &MockServer) -> reqwest::Response {
    get_with(POLICY, server).await
}

/// A GET of `server` through `RetryMiddleware` with `policy`.
async fn get_with(policy: Policy, server: &MockServer) -> reqwest::Response {
    client(RetryMiddleware::new(policy))
        .get(server.uri())
        .send()
        .await
        .unwrap()
}

async fn received(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

#[tokio::test(start_paused = true)]
async fn every_status_class_is_retried_or_not_as_documented() {
    // (status, requests the server should see with 3 attempts allowed)
    let cases = [
        (408, 3), // timeout
        (429, 3), // rate limited
        (500, 3), // server error
        (501, 1), // not implemented: never will be
        (502, 3),
        (503, 3), // overloaded
        (504, 3), // gateway timeout
        (505, 1), // HTTP version not supported
        (524, 3), // Cloudflare's origin timeout
        (400, 1),
        (401, 1),
        (402, 1),
        (403, 1),
        (404, 1),
        (422, 1),
    ];
    let client = client(RetryMiddleware::new(POLICY));
    for (status, expected) in cases {
        let server = server_answering(ResponseTemplate::new(status)).await;
        let response = client.get(server.uri()).send().await;
        // Giving up returns the last response, not an error.
        let response = response.unwrap_or_else(|e| panic!("{status}: {e}"));
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(received(&server).await, expected, "requests for {status}");
        assert_eq!(
            response.extensions().get::<Attempts>(),
            Some(&Attempts(expected as u32)),
            "attempts for {status}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_success_after_failures_says_how_many_attempts_it_took() {
    let done = ResponseTemplate::new(200).set_body_string("done");
    let server = server_failing_then(ResponseTemplate::new(503), 2, done).await;
    let start = Instant::now();
    let response = get(&server).await;
    assert_eq!(response.extensions().get::<Attempts>(), Some(&Attempts(3)));
    assert_eq!(response.text().await.unwrap(), "done");
    // The policy's backoff: 100 ms, then 200 ms.
    assert_eq!(start.elapsed(), Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn x_should_retry_overrides_the_status() {
    let client = client(RetryMiddleware::new(POLICY));

    let no = ResponseTemplate::new(500).insert_header("x-should-retry", "false");
    let server = server_answering(no).await;
    let response = client.get(server.uri()).send().await.unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(received(&server).await, 1, "false: never retried");

    let no = ResponseTemplate::new(429)
        .insert_header("x-should-retry", "FALSE")
        .insert_header("retry-after", "1");
    let server = server_answering(no).await;
    client.get(server.uri()).send().await.unwrap();
    assert_eq!(received(&server).await, 1, "false beats a 429 and its hint");

    let yes = ResponseTemplate::new(400).insert_header("x-should-retry", "true");
    let server = server_answering(yes).await;
    let response = client.get(server.uri()).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(received(&server).await, 3, "true: a 400 is retried");

    let garbage = ResponseTemplate::new(404).insert_header("x-should-retry", "maybe");
    let server = server_answering(garbage).await;
    client.get(server.uri()).send().await.unwrap();
    assert_eq!(
        received(&server).await,
        1,
        "anything else: the status decides"
    );
}

/// The virtual time a 429 carrying `headers`, then a 200, take: the one delay slept.
async fn delay_for(headers: &[(&str, String)]) -> Duration {
    let mut limited = ResponseTemplate::new(429);
    for (name, value) in headers {
        limited = limited.insert_header(*name, value.as_str());
    }
    let server = server_failing_then(limited, 1, ResponseTemplate::new(200)).await;
    let start = Instant::now();
    let response = get(&server).await;
    assert_eq!(response.status(), 200);
    assert_eq!(received(&server).await, 2);
    start.elapsed()
}

#[tokio::test(start_paused = true)]
async fn each_hint_dialect_sets_the_delay() {
    let ms = |n| Duration::from_millis(n);
    let s = |v: &str| v.to_owned();
    assert_eq!(delay_for(&[("retry-after-ms", s("1500"))]).await, ms(1500));
    assert_eq!(delay_for(&[("retry-after-ms", s("12.5"))]).await, ms(13));
    assert_eq!(delay_for(&[("retry-after", s("2"))]).await, ms(2000));
    assert_eq!(delay_for(&[("retry-after", s("0.25"))]).await, ms(250));
    assert_eq!(
        delay_for(&[("x-ratelimit-reset", s("0.075"))]).await,
        ms(75)
    );

    // An HTTP date, three seconds ahead of the wall clock: whole seconds, so 2-3 s from now.
    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3));
    let slept = delay_for(&[("retry-after", date)]).await;
    assert!(slept > ms(1900) && slept <= ms(3000), "{slept:?}");

    // The order: retry-after-ms, then Retry-After, then x-ratelimit-reset.
    let all = [
        ("retry-after-ms", s("40")),
        ("retry-after", s("3")),
        ("x-ratelimit-reset", s("5")),
    ];
    assert_eq!(delay_for(&all).await, ms(40));
    assert_eq!(delay_for(&all[1..]).await, ms(3000));
}

#[tokio::test(start_paused = true)]
async fn unusable_hints_fall_back_to_the_backoff() {
    let backoff = Duration::from_millis(100);
    let bad = [
        ("retry-after", "soon"),
        ("retry-after", "-5"),
        ("retry-after", "NaN"),
        ("retry-after", "inf"),
        ("retry-after", "0"),
        ("retry-after", "31622401"), // over a year: garbage, not a hint
        ("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"),
        ("retry-after-ms", "1e400"),
        ("retry-after-ms", "-1"),
        ("x-ratelimit-reset", "1700000000"),
    ];
    for (name, value) in bad {
        let slept = delay_for(&[(name, value.to_owned())]).await;
        assert_eq!(slept, backoff, "{name}: {value}");
    }
}

#[tokio::test(start_paused = true)]
async fn x_ratelimit_reset_is_a_hint_only_for_429() {
    let not_a_429 = ResponseTemplate::new(500).insert_header("x-ratelimit-reset", "7");
    let server = server_failing_then(not_a_429, 1, ResponseTemplate::new(200)).await;
    let start = Instant::now();
    get(&server).await;
    assert_eq!(start.elapsed(), Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn a_hint_past_the_deadline_gives_up_at_once() {
    let template = ResponseTemplate::new(429).insert_header("retry-after", "120");
    let server = server_answering(template).await;
    let start = Instant::now();
    let response = get_with(POLICY.deadline(Duration::from_secs(60)), &server).await;
    assert_eq!(response.status(), 429);
    assert_eq!(received(&server).await, 1);
    assert_eq!(start.elapsed(), Duration::ZERO, "no sleep in vain");
}

#[tokio::test(start_paused = true)]
async fn the_deadline_cuts_the_backoff() {
    let server = server_answering(ResponseTemplate::new(503)).await;
    let policy = Policy::constant()
        .attempts(10)
        .initial(Duration::from_secs(4))
        .jitter(Jitter::None)
        .deadline(Duration::from_secs(10));
    let start = Instant::now();
    let response = get_with(policy, &server).await;
    assert_eq!(response.status(), 503);
    // 0 s, 4 s, 8 s, then a sleep cut to end at 10 s, a last attempt, and the deadline.
    assert_eq!(received(&server).await, 4);
    assert_eq!(start.elapsed(), Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn a_streamed_body_is_sent_once_and_returned_as_is() {
    let server = server_answering(ResponseTemplate::new(503)).await;
    let body = reqwest::Body::wrap(String::from("a body that cannot be cloned"));
    let response = client(RetryMiddleware::new(POLICY))
        .post(server.uri())
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.extensions().get::<Attempts>(), Some(&Attempts(1)));
    assert_eq!(received(&server).await, 1);

    // A clonable body of the same request is retried.
    let response = client(RetryMiddleware::new(POLICY))
        .post(server.uri())
        .body("clonable")
        .send()
        .await
        .unwrap();
    assert_eq!(response.extensions().get::<Attempts>(), Some(&Attempts(3)));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 4);
    assert!(requests[1..].iter().all(|r| r.body == b"clonable"));
}

#[tokio::test(start_paused = true)]
async fn retry_on_narrows_what_is_retried() {
    use retry_core::RetryOn;
    let client = client(RetryMiddleware::new(POLICY).on(RetryOn::RATE_LIMIT));
    let server = server_answering(ResponseTemplate::new(503)).await;
    client.get(server.uri()).send().await.unwrap();
    assert_eq!(received(&server).await, 1);
    let server = server_answering(ResponseTemplate::new(429)).await;
    client.get(server.uri()).send().await.unwrap();
    assert_eq!(received(&server).await, 3);
}

#[tokio::test(start_paused = true)]
async fn retries_are_counted_under_the_reqwest_label() {
    use crate::support::sim::{Scripted, respond};
    use metrics_util::debugging::DebuggingRecorder;

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    // The test runs on one thread (current_thread runtime), so a thread-local recorder sees
    // every counter.
    let _guard = metrics::set_default_local_recorder(&recorder);
    let server = Scripted::new(|_| respond(503, &[]));
    let client = reqwest_middleware::ClientBuilder::new(reqwest_client())
        .with(RetryMiddleware::new(POLICY))
        .with(server)
        .build();
    client.get("http://api.test/").send().await.unwrap();

    let counters = counters(&snapshotter);
    let label = "function=reqwest,class=overloaded".to_owned();
    assert_eq!(
        counters.get(&("retry_attempts_total".to_owned(), label.clone())),
        Some(&2)
    );
    assert_eq!(
        counters.get(&("retry_giveups_total".to_owned(), label)),
        Some(&1)
    );
}

/// Every counter in `snapshotter`, by (name, labels joined with commas).
fn counters(
    snapshotter: &metrics_util::debugging::Snapshotter,
) -> std::collections::BTreeMap<(String, String), u64> {
    let mut counters = std::collections::BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let labels: Vec<String> = key
            .key()
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        if let metrics_util::debugging::DebugValue::Counter(n) = value {
            counters.insert((key.key().name().to_owned(), labels.join(",")), n);
        }
    }
    counters
}

/// A 429 that no wait cures (here a hint of three days) passes through the limiter and ends
/// the call, and is still counted as the 429 it is: a 4xx answer, not a transport error.
#[tokio::test(start_paused = true)]
async fn a_final_429_is_counted_as_a_429() {
    use crate::support::sim::{Scripted, respond};
    use metrics_util::debugging::DebuggingRecorder;

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let server = Scripted::new(|_| respond(429, &[("retry-after", "259200")]));
    let client = reqwest_middleware::ClientBuilder::new(reqwest_client())
        .with(retry_core::middleware::RateLimitMiddleware::default())
        .with(server.clone())
        .build();
    let started = Instant::now();
    let response = client.get("http://api.test/").send().await.unwrap();
    assert_eq!(response.status(), 429);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(server.log().len(), 1);

    let counters = counters(&snapshotter);
    let count = |name: &str, labels: &str| {
        counters
            .get(&(name.to_owned(), labels.to_owned()))
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(
        count("retry_http_responses_total", "host=api.test,status=4xx"),
        1
    );
    assert_eq!(
        count("retry_http_responses_total", "host=api.test,status=error"),
        0
    );
    assert_eq!(count("retry_rate_limited_total", "host=api.test"), 1);
}

/// The pair most users start from.
fn pair() -> ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest_client())
        .with(RetryMiddleware::default())
        .with(retry_core::middleware::RateLimitMiddleware::default())
        .build()
}

/// A 429 that says the money or the quota is gone, in each family's words, goes through the
/// pair once and comes back at once, its body intact; the host is not held after it. The same
/// server answering an ordinary 429 is retried (so the test can fail).
#[tokio::test(start_paused = true)]
async fn quota_429s_are_final_in_every_family() {
    use retry_core::middleware::QuotaExhausted;
    let bodies = [
        // Together
        (
            r#"{"error":{"message":"Credit limit exceeded","type":"credit_limit","param":null,"code":null}}"#,
            Some("credit_limit"),
        ),
        // OpenAI (also Azure OpenAI, Groq and servers that copy OpenAI's errors)
        (
            r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#,
            Some("insufficient_quota"),
        ),
        // OpenAI, as seen with a null code and type in the message only
        (
            r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":null,"code":null}}"#,
            Some("insufficient_quota"),
        ),
        // An ordinary rate limit: retried.
        (
            r#"{"error":{"message":"Slow down","type":"dynamic_request_limited"}}"#,
            None,
        ),
        // Anthropic's 429 is always a rate limit (its billing errors are 400s): retried.
        (
            r#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of requests has exceeded your rate limit"}}"#,
            None,
        ),
    ];
    for (body, code) in bodies {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::path("/v1/chat"))
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("retry-after-ms", "100")
                    .set_body_raw(body, "application/json"),
            )
            .mount(&server)
            .await;
        Mock::given(wiremock::matchers::path("/v1/models"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
        let client = pair();
        let started = Instant::now();
        let response = client
            .post(format!("{}/v1/chat", server.uri()))
            .body("{}")
            .send()
            .await
            .unwrap();
        let took = started.elapsed();
        let quota = response.extensions().get::<QuotaExhausted>().cloned();
        assert_eq!(response.status(), 429);
        assert_eq!(quota.as_ref().map(QuotaExhausted::code), code, "{body}");
        let chat_requests = received(&server).await;
        assert_eq!(
            response.text().await.unwrap(),
            body,
            "the body is handed on intact"
        );
        if code.is_some() {
            assert_eq!(chat_requests, 1, "{body}");
            assert!(took < Duration::from_millis(10), "{took:?} for {body}");
            // The host is not held: the next request goes at its turn (the limiter starts at
            // 20 a second: 50 ms apart), not after the 100 ms the 429's hint asks.
            let started = Instant::now();
            let ok = client
                .get(format!("{}/v1/models", server.uri()))
                .send()
                .await
                .unwrap();
            assert_eq!(ok.status(), 200);
            assert!(started.elapsed() <= Duration::from_millis(50), "{body}");
        } else {
            assert!(chat_requests > 1, "an ordinary 429 is retried: {body}");
        }
    }
}

/// A hint longer than anyone waits (a reset "in 16 days", in each way of saying it) ends the
/// call at once, through the pair and through the retry layer alone, and holds no one.
#[tokio::test(start_paused = true)]
async fn absurd_hints_end_the_call_at_once() {
    let sixteen_days = Duration::from_secs(16 * 86_400);
    let date = httpdate::fmt_http_date(SystemTime::now() + sixteen_days);
    let epoch = (SystemTime::now() + sixteen_days)
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let hints = [
        ("retry-after", "1382400".to_owned()),
        ("retry-after", date),
        ("retry-after-ms", "1382400000".to_owned()),
        ("x-ratelimit-reset", "1382400".to_owned()),
        ("x-ratelimit-reset", epoch),
    ];
    for (status, (name, value)) in [429, 503]
        .into_iter()
        .flat_map(|status| hints.iter().map(move |hint| (status, hint)))
    {
        if status == 503 && *name == "x-ratelimit-reset" {
            continue; // a rate-limit reset says nothing about a 503
        }
        for client in [pair(), client(RetryMiddleware::default())] {
            let server = server_answering(
                ResponseTemplate::new(status).insert_header(*name, value.as_str()),
            )
            .await;
            let started = Instant::now();
            let response = client.get(server.uri()).send().await.unwrap();
            assert_eq!(response.status(), status);
            assert_eq!(received(&server).await, 1, "{status} {name}: {value}");
            assert!(started.elapsed() < Duration::from_millis(10), "{name}");
            let hint = retry_core::middleware::delay_hint(response.headers()).unwrap();
            assert!(hint > sixteen_days - Duration::from_secs(5), "{hint:?}");
            // Nobody waits behind it (beyond the limiter's first pace, 50 ms apart).
            let started = Instant::now();
            let _ = client.get(server.uri()).send().await.unwrap();
            assert!(started.elapsed() <= Duration::from_millis(50), "{name}");
        }
    }
}

/// `idempotency_keys()`: a POST retried three times sends one fresh key on every attempt, the
/// next call another; a key of the caller's own is kept; a GET gets none; off by default.
#[tokio::test(start_paused = true)]
async fn idempotency_keys_are_one_per_call() {
    let server = server_answering(ResponseTemplate::new(500)).await;
    let keyed = client(RetryMiddleware::new(POLICY).idempotency_keys());
    for _ in 0..2 {
        keyed.post(server.uri()).body("{}").send().await.unwrap();
    }
    keyed
        .post(server.uri())
        .header("idempotency-key", "mine")
        .send()
        .await
        .unwrap();
    keyed.get(server.uri()).send().await.unwrap();
    client(RetryMiddleware::new(POLICY))
        .post(server.uri())
        .send()
        .await
        .unwrap();
    let keys: Vec<Option<String>> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            r.headers
                .get("idempotency-key")
                .map(|v| v.to_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(keys.len(), 15);
    let first = keys[0].clone().unwrap();
    let second = keys[3].clone().unwrap();
    assert_ne!(first, second);
    assert_eq!(first.len(), 36, "a UUID: {first}");
    assert!(
        keys[..3]
            .iter()
            .all(|k| k.as_deref() == Some(first.as_str()))
    );
    assert!(
        keys[3..6]
            .iter()
            .all(|k| k.as_deref() == Some(second.as_str()))
    );
    assert!(keys[6..9].iter().all(|k| k.as_deref() == Some("mine")));
    assert!(
        keys[9..].iter().all(Option::is_none),
        "GET, and off by default"
    );
}

/// A retry that would wait for its turn past its call's deadline ends at the deadline, unsent,
/// and the call returns the 429 it was retrying; a first attempt queued as long is not cut:
/// its wait is the caller's backpressure.
#[tokio::test(start_paused = true)]
async fn a_retry_waits_for_its_turn_no_longer_than_its_calls_deadline() {
    use crate::support::sim::{Scripted, respond};
    use retry_core::middleware::RateLimitMiddleware;

    // A 429 that asks for a second, then 200s; a quota of one request every 15 s.
    let server = Scripted::new(|n| {
        if n == 0 {
            respond(429, &[("retry-after", "1")])
        } else {
            respond(200, &[])
        }
    });
    let limiter = RateLimitMiddleware::per_minute(4);
    let client = reqwest_middleware::ClientBuilder::new(reqwest_client())
        .with(RetryMiddleware::new(
            POLICY.deadline(Duration::from_secs(5)),
        ))
        .with(limiter)
        .with(server.clone())
        .build();
    // A 5 s call meets the 429; its held retry's turn comes at 15 s.
    let started = Instant::now();
    let answer = client.get("http://api.test/").send().await.unwrap();
    assert_eq!(answer.status(), 429, "the answer it was retrying");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_millis(5_100),
        "{took:?}"
    );
    assert_eq!(server.log().len(), 1, "the retry was never sent");

    // A new 5 s call: its first attempt waits 10 s for the same turn and is answered.
    let answer = client.get("http://api.test/").send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert!(started.elapsed() >= Duration::from_secs(15));
    assert_eq!(server.log().len(), 2);
}
