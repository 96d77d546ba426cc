//! The whole client against the simulator, on tokio's paused clock: the goodput of 300 calls
//! from 64 tasks at 50 requests/s in every hint dialect (through the client, and through
//! retry-core's two middleware layers on a plain reqwest client), the batch runner on a
//! 500-line file, 401 with no retry, a 503 burst survived, a call never making more than
//! `attempts` requests, and `usage()` (and the metrics that mirror it) agreeing with what the
//! simulator counted.

use crate::kit::sim::{client_of, limited};
use crate::kit::{MODEL, Scratch};
use retry_core::Policy;
use retry_core::middleware::{RateLimitMiddleware, RetryMiddleware};
use together_client::batch::{BatchError, BatchOptions, run_chat};
use together_client::sim::{Fault, HintDialect, Simulator};
use together_client::{ChatRequest, ChatResponse, Error, Together};
use tokio::time::Instant;

/// `prompt`, asked of `client` in one chat call.
async fn ask(client: &Together, prompt: &str) -> Result<ChatResponse, Error> {
    client
        .chat()
        .create(ChatRequest::new(MODEL).user(prompt))
        .await
}

/// The client as `Together::builder()` makes it, but on a reqwest client without timers of
/// its own: a paused clock jumps to the next timer whenever the runtime idles, and reqwest's
/// 90 s pool-idle timer would otherwise skip the simulator's clock ahead.
fn client(sim: &Simulator, policy: Policy) -> Together {
    let limiter = RateLimitMiddleware::default();
    client_of(sim, crate::kit::untimed_http(), &limiter, policy)
        .build()
        .unwrap()
}

/// Spreads calls `0..n` over `tasks` tasks, each making its share one after the other, and
/// returns how many failed (`call` answers whether call `i` succeeded).
pub(crate) async fn spread<F, Fut>(n: usize, tasks: usize, call: F) -> u32
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let mut set = tokio::task::JoinSet::new();
    for task in 0..tasks {
        let call = call.clone();
        set.spawn(async move {
            let mut failed = 0;
            for i in (task..n).step_by(tasks) {
                failed += u32::from(!call(i).await);
            }
            failed
        });
    }
    let mut failed = 0;
    while let Some(done) = set.join_next().await {
        failed += done.unwrap();
    }
    failed
}

#[tokio::test(start_paused = true)]
async fn three_hundred_calls_from_64_tasks_at_50_per_second_in_every_dialect() {
    for dialect in HintDialect::ALL {
        let sim = limited(50.0, 5, dialect).await;
        let client = client(&sim, together_client::DEFAULT_POLICY);
        let started = Instant::now();
        let failed = spread(300, 64, move |i| {
            let client = client.clone();
            async move {
                let request = ChatRequest::new(MODEL).user(format!("prompt {i}"));
                client.chat().create(request).await.is_ok()
            }
        })
        .await;
        assert_eq!(sim.stats().successes_by_prompt.len(), 300, "{dialect:?}");
        all_through_in_time(sim, format!("{dialect:?}"), started, failed, 0.9).await;
    }
}

#[tokio::test(start_paused = true)]
async fn the_middleware_pair_alone_at_50_per_second_in_every_dialect() {
    for dialect in HintDialect::ALL {
        let sim = limited(50.0, 5, dialect).await;
        let http = crate::kit::untimed_http();
        let client = reqwest_middleware::ClientBuilder::new(http)
            .with(RetryMiddleware::default())
            .with(RateLimitMiddleware::default())
            .with(crate::kit::on_the_wire::OnTheWire::default())
            .build();
        let url = format!("{}/chat/completions", sim.base_url());
        let key = sim.api_key().to_owned();
        let started = Instant::now();
        let failed = spread(300, 64, move |i| {
            let (client, url, key) = (client.clone(), url.clone(), key.clone());
            async move {
                let body = serde_json::json!({"model": MODEL, "messages": [{"role": "user", "content": format!("p{i}")}]});
                let response = client.post(&url).bearer_auth(&key).json(&body).send().await;
                response.is_ok_and(|r| r.status().is_success())
            }
        })
        .await;
        all_through_in_time(
            sim,
            format!("middleware {dialect:?}"),
            started,
            failed,
            0.95,
        )
        .await;
    }
}

/// Checks a run of 300 calls against 50 requests/s (burst 5), begun at `started`: no call
/// `failed`, none sent twice, done within `share` of the ideal time, with at most 15 429s
/// (5 %); then stops the simulator.
async fn all_through_in_time(
    sim: Simulator,
    label: String,
    started: Instant,
    failed: u32,
    share: f64,
) {
    let elapsed = started.elapsed().as_secs_f64();
    let ideal = (300.0 - 5.0) / 50.0;
    let stats = sim.stats();
    println!(
        "{label}: {elapsed:.2} s, {:.1} % of ideal, {} 429s, {failed} failed",
        100.0 * ideal / elapsed,
        stats.rate_limited
    );
    assert_eq!(failed, 0, "{label}");
    assert!(stats.repeated_prompts().is_empty(), "{label}");
    assert!(
        elapsed <= ideal / share,
        "{label}: {elapsed:.2} s against an ideal of {ideal:.2} s"
    );
    assert!(
        stats.rate_limited <= 15,
        "{label}: {} 429s, more than 5 % of 300 requests",
        stats.rate_limited
    );
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_500_line_batch_at_50_per_second_writes_every_id_once_in_time() {
    let sim = limited(50.0, 5, HintDialect::RetryAfterSecs).await;
    let client = client(&sim, together_client::DEFAULT_POLICY);
    let lines: String = (0..500)
        .map(|i| {
            let body = ChatRequest::new(MODEL).user(format!("line {i}"));
            serde_json::json!({"custom_id": format!("id-{i}"), "body": body}).to_string() + "\n"
        })
        .collect();
    let (_dir, input, output) = Scratch::batch("e2e", lines);

    let started = Instant::now();
    let report = run_chat(
        &client,
        &input,
        &output,
        BatchOptions::new().progress(false).concurrency(64),
    )
    .await
    .unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    let limit = (500.0 - 5.0) / 50.0 / 0.95;
    println!(
        "500 lines in {elapsed:.2} s (limit {limit:.2} s), {} 429s",
        sim.stats().rate_limited
    );
    assert_eq!((report.succeeded, report.failed), (500, 0));
    assert!(elapsed < limit, "{elapsed:.2} s");

    let written = std::fs::read_to_string(&output).unwrap();
    let mut ids: Vec<String> = written
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["custom_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!((ids.len(), written.lines().count()), (500, 500));
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_bad_key_fails_at_once_and_stops_a_batch() {
    let sim = limited(50.0, 5, HintDialect::RateLimitHeaders).await;
    let client = Together::builder()
        .api_key("not-the-key")
        .base_url(sim.base_url())
        .http_client(reqwest_middleware::ClientBuilder::new(crate::kit::untimed_http()).build())
        .build()
        .unwrap();
    let error = ask(&client, "hi").await.unwrap_err();
    assert!(matches!(error, Error::Auth(_)), "{error:?}");
    assert_eq!(sim.stats().requests, 1, "a 401 is not retried");

    let body = ChatRequest::new(MODEL).user("x");
    let line = serde_json::json!({"custom_id": "a", "body": body}).to_string() + "\n";
    let (_dir, input, output) = Scratch::batch("e2e-auth", line);
    let result = run_chat(
        &client,
        &input,
        &output,
        BatchOptions::new().progress(false),
    )
    .await;
    assert!(matches!(result, Err(BatchError::Fatal { .. })));
}

#[tokio::test(start_paused = true)]
async fn a_503_burst_is_survived_and_a_call_never_exceeds_its_attempts() {
    let sim = limited(1000.0, 100, HintDialect::RateLimitHeaders).await;
    let client = client(
        &sim,
        Policy::exponential()
            .attempts(4)
            .initial(std::time::Duration::from_millis(50)),
    );
    sim.inject(Fault::Overloaded, 3);
    let answer = ask(&client, "after the storm").await.unwrap();
    assert_eq!(answer.text(), "Echo: after the storm");
    assert_eq!(sim.stats().overloaded, 3);

    sim.reset_stats();
    sim.inject(Fault::Overloaded, 100);
    let error = ask(&client, "storm").await.unwrap_err();
    assert!(matches!(error, Error::Overloaded(_)), "{error:?}");
    assert_eq!(sim.stats().requests, 4, "attempts, not attempts squared");
    sim.shutdown().await;
}

/// Every attempt of one call carries the same `Idempotency-Key`, and no two calls share one:
/// 60 calls from 16 tasks against a limit of 20 a second, with dropped connections, 500s and
/// 503s injected, so that many calls make several attempts. A key given on the request is
/// sent as it is.
#[tokio::test(start_paused = true)]
async fn each_call_has_one_idempotency_key_on_every_attempt() {
    let sim = limited(20.0, 2, HintDialect::RetryAfterMs).await;
    sim.inject(Fault::Drop, 6);
    sim.inject(Fault::ServerError, 6);
    sim.inject(Fault::Overloaded, 6);
    let client = client(&sim, together_client::DEFAULT_POLICY);
    let failed = spread(60, 16, move |i| {
        let client = client.clone();
        async move {
            let request = ChatRequest::new(MODEL).user(format!("call {i}"));
            let request = if i == 0 {
                request.idempotency_key("job-7/line-0")
            } else {
                request
            };
            let result = client.chat().create(request).await;
            if let Err(error) = &result {
                // Shown only when the test fails: which call ran out, and on what.
                eprintln!("call {i} failed: {error:?}");
            }
            result.is_ok()
        }
    })
    .await;
    assert_eq!(failed, 0);
    let stats = sim.stats();
    let mut keys_by_prompt = std::collections::HashMap::<&str, Vec<&str>>::new();
    let mut requests = 0;
    for (key, prompts) in &stats.idempotency_keys {
        requests += prompts.len() as u64;
        assert!(
            prompts.iter().all(|p| p == &prompts[0]),
            "{key} shared by {prompts:?}"
        );
        keys_by_prompt.entry(&prompts[0]).or_default().push(key);
    }
    assert_eq!(requests, stats.requests, "every request carried a key");
    assert_eq!(keys_by_prompt.len(), 60);
    for (prompt, keys) in &keys_by_prompt {
        assert_eq!(keys.len(), 1, "{prompt} sent {keys:?}");
    }
    assert_eq!(keys_by_prompt["call 0"], ["job-7/line-0"]);
    let retried = stats
        .idempotency_keys
        .values()
        .filter(|p| p.len() > 1)
        .count();
    // Each of the 18 injected faults costs one more request; 429s cost more.
    assert!(stats.requests >= 60 + 18, "{} requests", stats.requests);
    assert!(retried >= 3, "only {retried} calls were retried");
}

#[tokio::test(start_paused = true)]
async fn usage_and_its_metrics_add_up_to_what_the_simulator_counted() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);
    // 10/s against a limiter that starts at 20/s: a few 429s before it learns.
    let sim = limited(10.0, 2, HintDialect::RateLimitHeaders).await;
    let client = client(&sim, Policy::exponential().attempts(8));
    let models = [MODEL, "other/model"];
    let answered = std::sync::Arc::new(std::sync::Mutex::new((0_u64, 0_u64)));
    let (c, a) = (client.clone(), answered.clone());
    let failed = spread(60, 12, move |i| {
        let (client, answered) = (c.clone(), a.clone());
        async move {
            let request = ChatRequest::new(models[i % 2]).user(format!("hello {i}"));
            let Ok(response) = client.chat().create(request).await else {
                return false;
            };
            let usage = response.usage.unwrap_or_default();
            let mut answered = answered.lock().unwrap();
            answered.0 += usage.prompt_tokens;
            answered.1 += usage.completion_tokens;
            true
        }
    })
    .await;
    assert_eq!(failed, 0);

    let stats = sim.stats();
    let usage = client.usage();
    let total = usage.total();
    assert_eq!(total.requests, stats.requests);
    assert_eq!(total.successes, stats.successes);
    assert_eq!(total.successes, 60);
    assert_eq!(total.rate_limited, stats.rate_limited);
    assert!(
        total.rate_limited > 0,
        "the limiter learned nothing: {stats:?}"
    );
    let (prompt, completion) = *answered.lock().unwrap();
    assert!(prompt > 0 && completion > 0);
    assert_eq!(
        (total.prompt_tokens, total.completion_tokens),
        (prompt, completion)
    );
    assert_eq!(usage.models.len(), 2);
    assert_eq!(usage.models[MODEL].successes, 30);
    assert_eq!(usage.models["other/model"].successes, 30);
    // Twelve tasks at 10/s: most of each request's time is spent waiting its turn.
    assert!(total.waited > total.busy, "{total:?}");
    assert_eq!(
        total.request_limit,
        Some(2),
        "the bucket the headers report"
    );

    // The metrics say the same, under bounded labels.
    let mut requests = 0;
    let mut tokens = 0;
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        for label in key.labels() {
            match label.key() {
                "model" => assert!(models.contains(&label.value()), "{key:?}"),
                "status" | "host" | "function" | "class" => {}
                other => panic!("{} has an unexpected label {other}", key.name()),
            }
        }
        match (key.name(), value) {
            ("together_requests_total", DebugValue::Counter(n)) => requests += n,
            (
                "together_prompt_tokens_total" | "together_completion_tokens_total",
                DebugValue::Counter(n),
            ) => {
                tokens += n;
            }
            _ => {}
        }
    }
    assert_eq!(requests, stats.requests);
    assert_eq!(tokens, prompt + completion);
    sim.shutdown().await;
}
