//! The `together-batch` command's logic (`batch::cli`) against the simulator, on tokio's
//! paused clock: an outage mid-run, `--retry-failed` after a faulty run, the exit codes,
//! `--dry-run` sending nothing and estimating within 10 % of the real run.

use std::time::Duration;

use crate::kit::MODEL;
use crate::kit::sim::launch;
use serde_json::{Value, json};
use together_client::Together;
use together_client::batch::cli::{self, Args, Status};
use together_client::sim::{Fault, Simulator};

use crate::kit::Scratch;
use crate::support::{lines, states};

/// `args` as the command line would give them.
fn args(dir: &Scratch, extra: &[&str]) -> Args {
    let (input, output) = (dir.path("in.jsonl"), dir.path("out.jsonl"));
    let mut argv = vec![
        "together-batch".to_owned(),
        "--quiet".into(),
        "--input".into(),
        input.display().to_string(),
        "--output".into(),
        output.display().to_string(),
    ];
    argv.extend(extra.iter().map(|s| s.to_string()));
    <Args as clap::Parser>::try_parse_from(argv).unwrap()
}

/// The client `cli::client` builds, on a reqwest client without timers of its own (a paused
/// clock would jump to reqwest's 90 s pool-idle timer).
fn client(sim: &Simulator, args: &Args) -> Together {
    let http = crate::kit::untimed_http();
    let stack = reqwest_middleware::ClientBuilder::new(http)
        .with(cli::rate_limiter(args))
        .with(crate::kit::on_the_wire::OnTheWire::default())
        .build();
    Together::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .policy(cli::policy(args))
        .circuit_breaker(cli::circuit_breaker(args))
        .http_client(stack)
        .build()
        .unwrap()
}

/// A chat batch file of `n` lines `q-i`.
fn chat_lines(n: usize) -> String {
    (0..n)
        .map(|i| {
            let body = json!({"model": MODEL, "messages": [{"role": "user", "content": format!("prompt {i}")}], "max_tokens": 16});
            json!({"custom_id": format!("q-{i}"), "body": body}).to_string() + "\n"
        })
        .collect()
}

fn answered(line: &Value) -> bool {
    line.get("response").is_some()
}

#[tokio::test(start_paused = true)]
async fn an_outage_mid_run_stops_with_exit_1_and_the_same_command_finishes_the_job() {
    let dir = Scratch::new("cli-outage");
    std::fs::write(dir.path("in.jsonl"), chat_lines(200)).unwrap();
    let args = args(&dir, &["--concurrency", "8"]);
    let sim = launch(
        Simulator::builder()
            .rate_per_second(100.0)
            .latency(Duration::from_millis(20)),
    )
    .await;
    let port = sim.addr().port();
    let run = tokio::spawn({
        let (args, client) = (args.clone(), client(&sim, &args));
        async move { cli::execute(&args, &client).await }
    });
    while sim.stats().successes < 60 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sim.shutdown().await;
    let stopped = run.await.unwrap();
    assert_eq!(
        (stopped.status, stopped.status.code()),
        (Status::Stopped, 1)
    );
    assert!(
        stopped.message.contains("server unreachable since")
            && stopped.message.contains("run the same command to resume"),
        "{}",
        stopped.message
    );
    let first = lines(&dir.path("out.jsonl"));
    assert!(
        first.iter().all(answered),
        "only answers written: {first:?}"
    );
    assert!((60..200).contains(&first.len()), "{} lines", first.len());

    // The server is back where it was; the same command, a new process.
    let sim = launch(Simulator::builder().port(port)).await;
    let done = cli::execute(&args, &client(&sim, &args)).await;
    assert_eq!(
        (done.status, done.status.code()),
        (Status::Complete, 0),
        "{}",
        done.message
    );
    let all = lines(&dir.path("out.jsonl"));
    assert_eq!(all.len(), 200, "every id once");
    assert!(all.iter().all(answered));
    assert_eq!(states(&dir.path("out.jsonl")).len(), 200);
    assert_eq!(sim.stats().successes as usize, 200 - first.len());
}

#[tokio::test(start_paused = true)]
async fn retry_failed_turns_every_retryable_failure_into_an_answer() {
    let dir = Scratch::new("cli-retry");
    let mut text = chat_lines(120);
    // One line whose prompt and max_tokens exceed the context window: a final 403.
    let long = json!({"model": MODEL, "messages": [{"role": "user", "content": "too long"}], "max_tokens": 5000});
    text.push_str(&(json!({"custom_id": "long", "body": long}).to_string() + "\n"));
    std::fs::write(dir.path("in.jsonl"), text).unwrap();
    let sim = launch(
        Simulator::builder()
            .context_window(1000)
            .fault(Fault::ServerError, 0.3)
            .seed(16),
    )
    .await;
    let faulty = args(&dir, &["--attempts", "1", "--concurrency", "4"]);
    let first = cli::execute(&faulty, &client(&sim, &faulty)).await;
    let report = first.report.unwrap();
    assert_eq!((first.status, first.status.code()), (Status::Failures, 2));
    assert!(report.retryable >= 10, "{report:?}");
    assert_eq!(report.failed - report.retryable, 1, "the 403 is final");
    assert!(first.message.contains("retryable"), "{}", first.message);

    // A plain re-run says how many wait.
    let plain = cli::execute(&faulty, &client(&sim, &faulty)).await;
    assert_eq!(plain.report.unwrap().waiting, report.retryable);
    assert!(
        plain.message.contains("wait for --retry-failed"),
        "{}",
        plain.message
    );

    sim.clear_faults();
    let retry = args(&dir, &["--attempts", "1", "--retry-failed"]);
    let second = cli::execute(&retry, &client(&sim, &retry)).await;
    let again = second.report.unwrap();
    assert_eq!(
        (again.retried, again.succeeded),
        (report.retryable, report.retryable)
    );
    assert_eq!((second.status, again.unanswered()), (Status::Failures, 1));
    for (id, line) in states(&dir.path("out.jsonl")) {
        assert_eq!(answered(&line), id != "long", "{id}: {line}");
    }
    // Idempotency keys: one per line, the same in the run that failed and in the run that
    // retried it (derived from the input file and the custom_id), never shared by two lines.
    let stats = sim.stats();
    let mut keys_by_prompt = std::collections::HashMap::<&str, Vec<&str>>::new();
    for (key, prompts) in &stats.idempotency_keys {
        assert!(
            prompts.iter().all(|p| p == &prompts[0]),
            "{key}: {prompts:?}"
        );
        keys_by_prompt.entry(&prompts[0]).or_default().push(key);
    }
    assert_eq!(keys_by_prompt.len(), 120);
    assert!(keys_by_prompt.values().all(|keys| keys.len() == 1));
    let resent = stats
        .idempotency_keys
        .values()
        .filter(|p| p.len() >= 2)
        .count();
    assert_eq!(
        resent as u64, report.retryable,
        "each retried line re-sent its key"
    );
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_sends_nothing_and_its_estimate_is_within_10_percent_of_the_run() {
    let dir = Scratch::new("cli-dry");
    std::fs::write(dir.path("in.jsonl"), chat_lines(60) + "{oops\n").unwrap();
    // The server allows 100 requests a second; the cap is 10.
    let sim = launch(Simulator::builder().rate_per_second(100.0).burst(10)).await;
    let dry = args(&dir, &["--dry-run", "--rpm", "600"]);
    let planned = cli::execute(&dry, &client(&sim, &dry)).await;
    assert_eq!(planned.status, Status::Complete);
    assert_eq!(sim.stats().requests, 0, "a dry run sends nothing");
    let found = planned.dry_run.unwrap();
    assert_eq!((found.lines, found.invalid, found.to_send), (61, 1, 60));
    assert!(planned.message.contains("line 61"), "{}", planned.message);
    let (estimate, _) = found.estimate.unwrap();

    let real = args(&dir, &["--rpm", "600", "--concurrency", "8"]);
    let run = cli::execute(&real, &client(&sim, &real)).await;
    let elapsed = run.report.unwrap().elapsed;
    let error = (estimate.as_secs_f64() - elapsed.as_secs_f64()).abs() / elapsed.as_secs_f64();
    println!(
        "dry run: {estimate:?}, real run: {elapsed:?}, {:.1} % apart",
        100.0 * error
    );
    assert!(error <= 0.10, "estimate {estimate:?} against {elapsed:?}");
    assert_eq!(sim.stats().successes, 60);
}

#[tokio::test(start_paused = true)]
async fn without_caps_a_dry_run_asks_the_server_its_limit_with_one_get_models() {
    let dir = Scratch::new("cli-dry-models");
    std::fs::write(dir.path("in.jsonl"), chat_lines(50)).unwrap();
    let sim = launch(Simulator::builder().rate_per_second(20.0).burst(5)).await;
    let dry = args(&dir, &["--dry-run"]);
    let planned = cli::execute(&dry, &client(&sim, &dry)).await;
    let stats = sim.stats();
    assert_eq!(
        (stats.requests, stats.completed_prompts()),
        (1, 0),
        "one GET /models"
    );
    let (estimate, by) = planned.dry_run.unwrap().estimate.unwrap();
    assert_eq!(by, "the limit the server reported");
    assert!(
        (estimate.as_secs_f64() - 2.5).abs() < 0.1,
        "{estimate:?}: {}",
        planned.message
    );
}

#[test]
fn a_bad_redis_url_is_named_without_its_password() {
    let dir = Scratch::new("cli-redis");
    let args = args(
        &dir,
        &["--redis-url", "http://:hunter2@cache.internal:6379"],
    );
    let error = cli::client(&args).unwrap_err();
    assert!(
        error.contains("Redis URL") && error.contains("cache.internal"),
        "{error}"
    );
    assert!(!error.contains("hunter2"), "{error}");
}

/// A 300-line batch with `--metrics-addr` and `--report`: `/metrics` shows non-zero request
/// and token counters while it runs, the summary says what the limit cost, and the timeline
/// is an SVG with every series named.
#[tokio::test(start_paused = true)]
async fn a_batch_serves_its_metrics_while_it_runs_and_draws_its_timeline() {
    let dir = Scratch::new("cli-monitor");
    std::fs::write(dir.path("in.jsonl"), chat_lines(300)).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let svg = dir.path("run.svg");
    let args = args(
        &dir,
        &[
            "--metrics-addr",
            &addr,
            "--report",
            &svg.display().to_string(),
        ],
    );
    let sim = launch(Simulator::builder().rate_per_second(50.0).burst(5)).await;
    let run = tokio::spawn({
        let (args, client) = (args.clone(), client(&sim, &args));
        async move { cli::execute(&args, &client).await }
    });
    let scraper = crate::kit::untimed_http();
    let counter = |text: &str, name: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let mut seen_mid_run = false;
    while sim.stats().successes < 250 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Ok(response) = scraper.get(format!("http://{addr}/metrics")).send().await else {
            continue;
        };
        let text = response.text().await.unwrap();
        let (requests, tokens) = (
            counter(&text, "together_requests_total"),
            counter(&text, "together_prompt_tokens_total"),
        );
        if requests > 0.0 && tokens > 0.0 && sim.stats().successes < 250 {
            seen_mid_run = true;
            break;
        }
    }
    assert!(seen_mid_run, "no request and token counters before the end");
    let done = run.await.unwrap();
    assert_eq!(done.status, Status::Complete, "{}", done.message);
    assert!(done.message.contains("limit"), "{}", done.message);
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(drawn.starts_with("<svg") && drawn.trim_end().ends_with("</svg>"));
    for series in together_client::report::SERIES {
        assert!(drawn.contains(series), "{series} missing from the timeline");
    }
}
