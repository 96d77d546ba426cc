//! The simulator's limits: the token bucket (burst, refill), each hint dialect's headers and
//! values (the same as `retry-core`'s in-process test server), the token limit, the credit
//! limit. On paused time: the bucket runs on tokio's clock, so every value is exact.

use std::time::{Duration, SystemTime};

use crate::kit::sim::{chat, chat_body, error_of, header, launch, limited, post};
use crate::kit::untimed_http as client;
use futures_util::future::join_all;
use serde_json::json;
use together_client::sim::{
    Fault, HintDialect, LimitHeaders, LimitMeans, Meaning, ResetMeans, Simulator,
};

const HINTS: [&str; 5] = [
    "retry-after",
    "retry-after-ms",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
];

#[tokio::test(start_paused = true)]
async fn a_burst_of_ten_at_50_per_second_burst_5_gets_5_ok_and_5_429() {
    let sim = limited(50.0, 5, HintDialect::RetryAfterMs).await;
    let client = client();
    let prompts: Vec<String> = (0..10).map(|i| format!("prompt {i}")).collect();
    let responses = join_all(prompts.iter().map(|p| chat(&client, &sim, p))).await;
    let ok = responses.iter().filter(|r| r.status() == 200).count();
    let limited = responses.iter().filter(|r| r.status() == 429).count();
    assert_eq!((ok, limited), (5, 5));
    for response in responses.into_iter().filter(|r| r.status() == 429) {
        // All arrived at the same instant: the bucket is one request short for 20 ms.
        assert_eq!(header(&response, "retry-after-ms").as_deref(), Some("20"));
        let error = error_of(response).await;
        assert_eq!(error["type"], "dynamic_request_limited");
    }
    let stats = sim.stats();
    assert_eq!((stats.successes, stats.rate_limited), (5, 5));

    // The bucket refills one request every 20 ms.
    tokio::time::advance(Duration::from_millis(20)).await;
    assert_eq!(chat(&client, &sim, "a").await.status(), 200);
    assert_eq!(chat(&client, &sim, "b").await.status(), 429);
    tokio::time::advance(Duration::from_millis(100)).await;
    let refilled = join_all((0..6).map(|_| chat(&client, &sim, "c"))).await;
    assert_eq!(refilled.iter().filter(|r| r.status() == 200).count(), 5);
}

#[tokio::test(start_paused = true)]
async fn unlimited_by_default() {
    let sim = Simulator::start().await.unwrap();
    let client = client();
    let responses = join_all((0..50).map(|_| chat(&client, &sim, "x"))).await;
    assert!(responses.iter().all(|r| r.status() == 200));
    assert!(HINTS.iter().all(|h| header(&responses[0], h).is_none()));
}

/// Two requests empty a bucket of 2 at 10 req/s; the third waits 100 ms.
async fn third_of_three(dialect: HintDialect) -> (Simulator, Vec<reqwest::Response>) {
    let sim = limited(10.0, 2, dialect).await;
    let client = client();
    let mut responses = Vec::new();
    for _ in 0..3 {
        responses.push(chat(&client, &sim, "x").await);
    }
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, [200, 200, 429], "{dialect:?}");
    (sim, responses)
}

/// A simulator of `rate` requests a second and a burst of one, and the answer (a 429) to the
/// second of two requests sent at once.
async fn second_of_two(rate: f64, dialect: HintDialect) -> (Simulator, reqwest::Response) {
    let sim = limited(rate, 1, dialect).await;
    chat(&client(), &sim, "x").await;
    let response = chat(&client(), &sim, "x").await;
    (sim, response)
}

#[tokio::test(start_paused = true)]
async fn dialect_none_sends_no_hint() {
    let (_sim, responses) = third_of_three(HintDialect::None).await;
    for response in &responses {
        assert!(HINTS.iter().all(|h| header(response, h).is_none()));
    }
}

#[tokio::test(start_paused = true)]
async fn dialect_retry_after_ms_is_the_exact_wait_rounded_up() {
    let (_sim, responses) = third_of_three(HintDialect::RetryAfterMs).await;
    assert_eq!(
        header(&responses[2], "retry-after-ms").as_deref(),
        Some("100")
    );
    assert!(header(&responses[2], "retry-after").is_none());
    assert!(header(&responses[0], "retry-after-ms").is_none());
    // 1/3 s is 333.33 ms: rounded up.
    let (_sim, response) = second_of_two(3.0, HintDialect::RetryAfterMs).await;
    assert_eq!(header(&response, "retry-after-ms").as_deref(), Some("334"));
}

#[tokio::test(start_paused = true)]
async fn dialect_retry_after_secs_is_whole_seconds_rounded_up() {
    let (_sim, responses) = third_of_three(HintDialect::RetryAfterSecs).await;
    // A 100 ms wait says 1.
    assert_eq!(header(&responses[2], "retry-after").as_deref(), Some("1"));
    assert!(header(&responses[2], "retry-after-ms").is_none());
    // 0.4 req/s: a 2.5 s wait says 3.
    let (_sim, response) = second_of_two(0.4, HintDialect::RetryAfterSecs).await;
    assert_eq!(header(&response, "retry-after").as_deref(), Some("3"));
}

#[tokio::test(start_paused = true)]
async fn dialect_retry_after_date_is_a_whole_second_no_earlier_than_the_wait() {
    let sim = limited(0.4, 1, HintDialect::RetryAfterDate).await;
    let client = client();
    chat(&client, &sim, "x").await;
    let before = SystemTime::now();
    let response = chat(&client, &sim, "x").await;
    let after = SystemTime::now();
    assert_eq!(response.status(), 429);
    let value = header(&response, "retry-after").unwrap();
    let date = httpdate::parse_http_date(&value).unwrap();
    // The true wait is 2.5 s (on the wall clock, since the date is compared with it).
    assert!(
        date >= before + Duration::from_millis(2500),
        "{value} is earlier than the wait"
    );
    assert!(
        date <= after + Duration::from_millis(3500),
        "{value} is too late"
    );
    assert!(header(&response, "retry-after-ms").is_none());
}

#[tokio::test(start_paused = true)]
async fn dialect_rate_limit_headers_on_every_response() {
    let (_sim, responses) = third_of_three(HintDialect::RateLimitHeaders).await;
    // limit = the burst; remaining = whole requests left; reset = seconds until full.
    assert_eq!(triple(&responses[0]), ["2", "1", "0.100"]);
    assert_eq!(triple(&responses[1]), ["2", "0", "0.200"]);
    assert_eq!(triple(&responses[2]), ["2", "0", "0.200"]);
    assert!(header(&responses[2], "retry-after").is_none());
    assert!(header(&responses[2], "retry-after-ms").is_none());
}

/// An answer's `x-ratelimit-limit`, `-remaining` and `-reset` (empty where not sent).
fn triple(response: &reqwest::Response) -> [String; 3] {
    [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ]
    .map(|h| header(response, h).unwrap_or_default())
}

/// Three requests to 10 a second with a burst of 2 (two taken, the third refused), under
/// Together's names read as `meaning`: each answer's `limit`, `remaining` and `reset`.
async fn together_triples(meaning: Meaning) -> Vec<[String; 3]> {
    let sim = launch(
        Simulator::builder()
            .rate_per_second(10.0)
            .burst(2)
            .limit_headers(LimitHeaders::Together(meaning)),
    )
    .await;
    let client = client();
    let mut triples = Vec::new();
    for status in [200, 200, 429] {
        let response = chat(&client, &sim, "x").await;
        assert_eq!(response.status(), status, "{meaning:?}");
        triples.push(triple(&response));
    }
    triples
}

#[tokio::test(start_paused = true)]
async fn together_names_with_per_minute_figures() {
    // The minute's budget (600) under Together's names; the bucket of 2 still refuses the
    // third request, with 598 left in the minute. Full again in 0.2 s (2 used at 10 a second).
    let meaning = Meaning {
        limit: LimitMeans::PerMinute,
        ..Meaning::BUCKET
    };
    assert_eq!(
        together_triples(meaning).await,
        [
            ["600", "599", "0.100"],
            ["600", "598", "0.200"],
            ["600", "598", "0.200"]
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn together_resets_in_whole_seconds_round_up() {
    // The bucket's own figures, the reset rounded up: 0.1 s and 0.2 s both read "1".
    let meaning = Meaning {
        reset: ResetMeans::UntilFullWholeSeconds,
        ..Meaning::BUCKET
    };
    assert_eq!(
        together_triples(meaning).await,
        [["2", "1", "1"], ["2", "0", "1"], ["2", "0", "1"]]
    );
}

/// The IETF draft's structured fields over the same bucket (10 a second, 2 of them), as
/// sent and as retry-core reads them: `q` the bucket, `r` what is left, `t` whole seconds.
#[tokio::test(start_paused = true)]
async fn ietf_fields_name_the_bucket_in_the_drafts_words() {
    use retry_core::middleware::{LimitFamily, RateLimitHeaders};
    let sim = launch(
        Simulator::builder()
            .rate_per_second(10.0)
            .burst(2)
            .limit_headers(LimitHeaders::Ietf),
    )
    .await;
    let client = client();
    let mut read = Vec::new();
    for status in [200, 200, 429] {
        let response = chat(&client, &sim, "x").await;
        assert_eq!(response.status(), status);
        assert_eq!(
            header(&response, "ratelimit-policy").as_deref(),
            Some(r#""default";q=2"#)
        );
        assert!(header(&response, "x-ratelimit-limit").is_none());
        let limits = RateLimitHeaders::from_headers(response.headers());
        assert_eq!(limits.family, LimitFamily::Ietf);
        read.push((limits.limit, limits.remaining, limits.reset));
    }
    let second = Some(Duration::from_secs(1));
    assert_eq!(
        read,
        [
            (Some(2), Some(1), second),
            (Some(2), Some(0), second),
            (Some(2), Some(0), second)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn every_dialect_answers_429_with_togethers_body() {
    for dialect in HintDialect::ALL {
        let (_sim, mut responses) = third_of_three(dialect).await;
        let error = error_of(responses.pop().unwrap()).await;
        assert_eq!(error["type"], "dynamic_request_limited", "{dialect:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn rate_limit_headers_also_on_faults_and_dynamic_variants() {
    let sim = launch(
        Simulator::builder()
            .rate_per_second(10.0)
            .burst(4)
            .dynamic_headers(true)
            .fault_times(Fault::Overloaded, 1),
    )
    .await;
    let client = client();
    let overloaded = chat(&client, &sim, "x").await;
    assert_eq!(overloaded.status(), 503);
    // The 503 spent a request of the bucket, and says so.
    assert_eq!(
        header(&overloaded, "x-ratelimit-remaining").as_deref(),
        Some("3")
    );
    let ok = chat(&client, &sim, "x").await;
    for name in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ] {
        let dynamic = header(&ok, &format!("{name}-dynamic"));
        assert_eq!(dynamic, header(&ok, name), "{name}");
        assert!(dynamic.is_some());
    }
    assert_eq!(header(&ok, "x-ratelimit-remaining").as_deref(), Some("2"));
}

#[tokio::test(start_paused = true)]
async fn token_limit_sends_headers_and_answers_dynamic_token_limited() {
    let sim = launch(
        Simulator::builder()
            .token_limit(30)
            .dialect(HintDialect::RetryAfterMs),
    )
    .await;
    let client = client();
    // Prompt 2 + 4 words, answer 5: 11 tokens.
    let first = chat(&client, &sim, "one two three four").await;
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "x-tokenlimit-limit").as_deref(), Some("30"));
    assert_eq!(
        header(&first, "x-tokenlimit-remaining").as_deref(),
        Some("19")
    );
    assert!(header(&first, "x-ratelimit-limit").is_none());
    assert_eq!(
        chat(&client, &sim, "one two three four").await.status(),
        200
    );
    let third = chat(&client, &sim, "one two three four").await;
    assert_eq!(third.status(), 429);
    assert_eq!(
        header(&third, "x-tokenlimit-remaining").as_deref(),
        Some("8")
    );
    // 3 tokens short at 30 tokens/s: 100 ms.
    assert_eq!(header(&third, "retry-after-ms").as_deref(), Some("100"));
    assert_eq!(error_of(third).await["type"], "dynamic_token_limited");
    tokio::time::advance(Duration::from_millis(100)).await;
    assert_eq!(
        chat(&client, &sim, "one two three four").await.status(),
        200
    );
}

#[tokio::test(start_paused = true)]
async fn credit_limit_is_a_429_no_wait_cures() {
    let sim = launch(
        Simulator::builder()
            .credits(2)
            .dialect(HintDialect::RetryAfterMs),
    )
    .await;
    let client = client();
    assert_eq!(chat(&client, &sim, "a").await.status(), 200);
    assert_eq!(chat(&client, &sim, "b").await.status(), 200);
    for _ in 0..2 {
        let response = chat(&client, &sim, "c").await;
        assert_eq!(response.status(), 429);
        assert!(header(&response, "retry-after-ms").is_none());
        assert_eq!(error_of(response).await["type"], "credit_limit");
        tokio::time::advance(Duration::from_secs(3600)).await;
    }
    let stats = sim.stats();
    assert_eq!(
        (stats.successes, stats.rate_limited, stats.credit_limited),
        (2, 2, 2)
    );
}

#[tokio::test(start_paused = true)]
async fn errors_before_the_limiter_spend_nothing() {
    let sim = launch(
        Simulator::builder()
            .rate_per_second(1.0)
            .burst(1)
            .context_window(100),
    )
    .await;
    let client = client();
    let url = format!("{}/chat/completions", sim.base_url());
    for _ in 0..3 {
        let response = client
            .post(&url)
            .json(&chat_body("x"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        assert!(header(&response, "x-ratelimit-limit").is_none());
    }
    let mut huge = chat_body("x");
    huge["max_tokens"] = json!(1000);
    assert_eq!(
        post(&client, &sim, "/chat/completions", &huge)
            .await
            .status(),
        403
    );
    assert_eq!(chat(&client, &sim, "x").await.status(), 200);
    assert_eq!(chat(&client, &sim, "x").await.status(), 429);
}

#[tokio::test(start_paused = true)]
async fn the_limit_can_change_while_running() {
    let sim = Simulator::start().await.unwrap();
    let client = client();
    assert_eq!(chat(&client, &sim, "x").await.status(), 200);
    sim.set_rate_limit(Some(1.0), 1);
    assert_eq!(chat(&client, &sim, "x").await.status(), 200);
    assert_eq!(chat(&client, &sim, "x").await.status(), 429);
    sim.set_rate_limit(None, 1);
    assert_eq!(chat(&client, &sim, "x").await.status(), 200);
}

#[tokio::test(start_paused = true)]
async fn a_model_with_a_limit_of_its_own_spends_its_own_bucket() {
    let sim = launch(
        Simulator::builder()
            .rate_per_second(50.0)
            .burst(2)
            .limit_headers(LimitHeaders::Together(Meaning::BUCKET))
            .model_limit("m-slow", 1.0),
    )
    .await;
    let client = client();
    let slow = |prompt: &str| {
        let mut body = chat_body(prompt);
        body["model"] = json!("m-slow");
        body
    };
    let path = "/chat/completions";
    // m-slow's bucket of 2 empties...
    for _ in 0..2 {
        assert_eq!(post(&client, &sim, path, &slow("s")).await.status(), 200);
    }
    let refused = post(&client, &sim, path, &slow("s")).await;
    assert_eq!(refused.status(), 429);
    // ...at 1 a second (its own reset), while the usual model's bucket is still full.
    assert_eq!(
        header(&refused, "x-ratelimit-reset").as_deref(),
        Some("2.000")
    );
    let usual = chat(&client, &sim, "u").await;
    assert_eq!(usual.status(), 200);
    assert_eq!(
        header(&usual, "x-ratelimit-remaining").as_deref(),
        Some("1")
    );
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(post(&client, &sim, path, &slow("s")).await.status(), 200);
    assert_eq!(sim.stats().rate_limited, 1);
}

#[tokio::test(start_paused = true)]
async fn retry_core_reads_each_dialect_as_meant() {
    use retry_core::middleware::{RateLimitHeaders, delay_hint};
    for dialect in HintDialect::ALL {
        let (_sim, responses) = third_of_three(dialect).await;
        let hint = delay_hint(responses[2].headers());
        match dialect {
            HintDialect::None => assert_eq!(hint, None),
            HintDialect::RetryAfterMs => assert_eq!(hint, Some(Duration::from_millis(100))),
            HintDialect::RetryAfterSecs => assert_eq!(hint, Some(Duration::from_secs(1))),
            // A date within the next 1.1 s (rounded up to a whole second).
            HintDialect::RetryAfterDate => {
                let hint = hint.expect("a date in the future");
                assert!(hint <= Duration::from_millis(1100), "{hint:?}");
            }
            // Time until the bucket is full again.
            HintDialect::RateLimitHeaders => {
                assert_eq!(hint, Some(Duration::from_millis(200)));
                let limits = RateLimitHeaders::from_headers(responses[0].headers());
                assert_eq!(limits.limit, Some(2));
                assert_eq!(limits.remaining, Some(1));
                assert_eq!(limits.reset, Some(Duration::from_millis(100)));
            }
        }
    }
}

/// Out of credit, in each family's words, through the middleware pair most users start from:
/// the request goes once, the answer comes back at once with its body, and the next request
/// is not held behind it. Through the typed client: `Error::Payment`, one request.
#[tokio::test(start_paused = true)]
async fn out_of_credit_in_every_family_is_final_through_the_pair() {
    use together_client::retry_core::middleware::{
        QuotaExhausted, RateLimitMiddleware, RetryMiddleware,
    };
    use together_client::sim::LimitHeaders;
    for (family, status, code) in [
        (LimitHeaders::None, 429, Some("credit_limit")),
        (LimitHeaders::OpenAi, 429, Some("insufficient_quota")),
        (LimitHeaders::Anthropic, 402, None),
    ] {
        let sim = launch(Simulator::builder().credits(1).limit_headers(family)).await;
        let pair = reqwest_middleware::ClientBuilder::new(client())
            .with(RetryMiddleware::default())
            .with(RateLimitMiddleware::default())
            .with(crate::kit::on_the_wire::OnTheWire::default())
            .build();
        let url = format!("{}/chat/completions", sim.base_url());
        let send = || async {
            let started = tokio::time::Instant::now();
            let response = pair
                .post(&url)
                .bearer_auth(sim.api_key())
                .json(&chat_body("a b"))
                .send()
                .await
                .unwrap();
            (response, started.elapsed())
        };
        assert_eq!(send().await.0.status(), 200);
        for _ in 0..2 {
            let (response, took) = send().await;
            assert_eq!(response.status(), status, "{family:?}");
            let quota = response.extensions().get::<QuotaExhausted>().cloned();
            assert_eq!(quota.as_ref().map(QuotaExhausted::code), code, "{family:?}");
            // At once: the limiter's first pace (20 a second) at most, no cooldown, no retry.
            assert!(took <= Duration::from_millis(50), "{family:?}: {took:?}");
            let body: serde_json::Value = response.json().await.unwrap();
            assert!(body["error"]["message"].is_string(), "{body}");
        }
        let stats = sim.stats();
        assert_eq!((stats.requests, stats.credit_limited), (3, 2), "{family:?}");
    }

    let sim = launch(Simulator::builder().credits(0)).await;
    let together = together_client::Together::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .build()
        .unwrap();
    let error = together
        .chat()
        .create(together_client::ChatRequest::new("m").user("hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, together_client::Error::Payment(_)),
        "{error:?}"
    );
    assert_eq!(sim.stats().requests, 1);
}
