//! `RateLimitMiddleware` on virtual time, against scripted in-process servers: the shared
//! cooldown, FIFO and paced release, cancellation, fixed quotas, per-host state shared by
//! clones, and the hand-off with `RetryMiddleware` above it.

use std::sync::Arc;
use std::time::Duration;

use crate::support::sim::{
    Dialect, Scripted, SimServer, client_with, fixed_per_second, load, respond,
};
use reqwest_middleware::{ClientWithMiddleware, Middleware};
use retry_core::middleware::{RateLimitMiddleware, RetryMiddleware};
use retry_core::{Jitter, Policy};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep};

/// Sends `GET url` with `x-id: id` from a task of its own.
fn send(client: &ClientWithMiddleware, url: &str, id: usize) -> JoinHandle<u16> {
    let request = client.get(url).header("x-id", id.to_string());
    tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
}

/// Arrival times at the server relative to the first, in ms, with the ids.
fn arrivals(server: &Scripted) -> Vec<(u128, String)> {
    let log = server.log();
    let first = log[0].0;
    log.into_iter()
        .map(|(at, id)| (at.duration_since(first).as_millis(), id))
        .collect()
}

/// Arrival times at the server relative to the first, in ms.
fn arrival_ms(server: &Scripted) -> Vec<u128> {
    arrivals(server).iter().map(|(at, _)| *at).collect()
}

/// Waits for every task: what each returned, in order.
async fn join<T>(tasks: Vec<JoinHandle<T>>) -> Vec<T> {
    let mut done = Vec::new();
    for task in tasks {
        done.push(task.await.unwrap());
    }
    done
}

const URL: &str = "http://api.test/v1/chat/completions";

#[tokio::test(start_paused = true)]
async fn one_429_holds_every_request_to_the_host() {
    let server = Scripted::once_then_ok(429, &[("retry-after-ms", "500")]);
    let limiter = RateLimitMiddleware::builder().initial_rate(100.0).build();
    let client = client_with(vec![Arc::new(limiter)], server.clone());
    let tasks: Vec<_> = (0..5).map(|id| send(&client, URL, id)).collect();
    let statuses = join(tasks).await;
    // Without a retry layer the 429 comes back to its caller...
    assert_eq!(statuses, [429, 200, 200, 200, 200]);
    let log = arrivals(&server);
    // ...and the others, queued 10 ms apart, waited for the whole cooldown.
    assert!(log[1].0 >= 500, "{log:?}");
    // Then they left one at a time, in order, paced: never as a herd.
    let ids: Vec<&str> = log.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(ids, ["0", "1", "2", "3", "4"]);
    for pair in log[1..].windows(2) {
        assert!(pair[1].0 - pair[0].0 >= 9, "paced: {log:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn waiters_leave_in_arrival_order_one_pace_apart() {
    let server = Scripted::new(|_| respond(200, &[]));
    let limiter = fixed_per_second(20);
    let client = client_with(vec![Arc::new(limiter.clone())], server.clone());
    let tasks: Vec<_> = (0..12).map(|id| send(&client, URL, id)).collect();
    sleep(Duration::from_millis(1)).await;
    assert_eq!(limiter.waiting(&URL.parse().unwrap()), 11);
    join(tasks).await;
    let log = arrivals(&server);
    let ids: Vec<String> = log.iter().map(|(_, id)| id.clone()).collect();
    let expected: Vec<String> = (0..12).map(|i| i.to_string()).collect();
    assert_eq!(ids, expected, "FIFO");
    let times: Vec<u128> = log.iter().map(|(at, _)| *at).collect();
    let expected: Vec<u128> = (0..12).map(|i| i * 50).collect();
    assert_eq!(times, expected, "20 a second, evenly");
}

#[tokio::test(start_paused = true)]
async fn a_dropped_request_gives_its_turn_back() {
    let server = Scripted::new(|_| respond(200, &[]));
    let limiter = fixed_per_second(1);
    let client = client_with(vec![Arc::new(limiter.clone())], server.clone());
    let url = URL.parse().unwrap();
    let start = Instant::now();
    let first = send(&client, URL, 0);
    let second = send(&client, URL, 1); // the head of the queue, due at 1 s
    let third = send(&client, URL, 2); // due at 2 s
    let fourth = send(&client, URL, 3); // due at 3 s
    sleep(Duration::from_millis(500)).await;
    assert_eq!(limiter.waiting(&url), 3);
    second.abort(); // the sleeping head
    fourth.abort(); // one further back
    sleep(Duration::from_millis(1)).await;
    assert_eq!(limiter.waiting(&url), 1);
    first.await.unwrap();
    third.await.unwrap();
    assert!(second.await.unwrap_err().is_cancelled());
    assert!(fourth.await.unwrap_err().is_cancelled());
    let log = arrivals(&server);
    assert_eq!(log, [(0, "0".into()), (1000, "2".into())]);
    assert_eq!(limiter.waiting(&url), 0);
    assert!(start.elapsed() < Duration::from_millis(1100));
}

#[tokio::test(start_paused = true)]
async fn a_dropped_request_does_not_cancel_the_cooldown_or_the_queue() {
    let server = Scripted::once_then_ok(429, &[("retry-after-ms", "400")]);
    let limiter = RateLimitMiddleware::builder().initial_rate(100.0).build();
    let client = client_with(vec![Arc::new(limiter.clone())], server.clone());
    let tasks: Vec<_> = (0..4).map(|id| send(&client, URL, id)).collect();
    sleep(Duration::from_millis(100)).await;
    tasks[1].abort();
    let mut tasks = tasks.into_iter();
    assert_eq!(tasks.next().unwrap().await.unwrap(), 429);
    assert!(tasks.next().unwrap().await.unwrap_err().is_cancelled());
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let log = arrivals(&server);
    let ids: Vec<&str> = log.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(ids, ["0", "2", "3"]);
    assert!(log[1].0 >= 400, "{log:?}");
}

#[tokio::test(start_paused = true)]
async fn per_minute_quota() {
    let server = Scripted::new(|_| respond(200, &[]));
    let limiter = RateLimitMiddleware::per_minute(120);
    let client = client_with(vec![Arc::new(limiter)], server.clone());
    let tasks: Vec<_> = (0..4).map(|id| send(&client, URL, id)).collect();
    join(tasks).await;
    let times = arrival_ms(&server);
    assert_eq!(times, [0, 500, 1000, 1500]);
}

#[tokio::test(start_paused = true)]
async fn tokens_per_minute_charges_the_estimate() {
    let server = Scripted::new(|_| respond(200, &[]));
    // 100 tokens a second, 100 at once.
    let limiter = RateLimitMiddleware::builder()
        .tokens_per_minute(6_000)
        .adaptive(false)
        .build();
    let client = client_with(vec![Arc::new(limiter)], server.clone());
    // 400 bytes (100 tokens of prompt) asking for 100 tokens of completion: 200 tokens each.
    let head = r#"{"model":"m","max_tokens":100,"prompt":""#;
    let body = format!("{head}{}\"}}", "x".repeat(400 - head.len() - 2));
    assert_eq!(body.len(), 400);
    let mut tasks = Vec::new();
    for id in 0..4 {
        let request = client
            .post(URL)
            .header("x-id", id.to_string())
            .body(body.clone());
        tasks.push(tokio::spawn(async move { request.send().await.unwrap() }));
    }
    join(tasks).await;
    let times = arrival_ms(&server);
    // Each costs two seconds of budget, more than the bucket holds: each waits for a full
    // bucket, goes, and leaves a one-second debt.
    assert_eq!(times, [0, 2000, 4000, 6000]);
}

#[tokio::test(start_paused = true)]
async fn hosts_do_not_share_a_cooldown_but_clones_do() {
    let server = Scripted::once_then_ok(429, &[("retry-after-ms", "800")]);
    let limiter = RateLimitMiddleware::builder().initial_rate(100.0).build();
    let first = client_with(vec![Arc::new(limiter.clone())], server.clone());
    let second = client_with(vec![Arc::new(limiter.clone())], server.clone());
    assert_eq!(send(&first, URL, 0).await.unwrap(), 429);
    // Another host (another port is another host too) goes at once...
    send(&second, "http://other.test/", 1).await.unwrap();
    send(&second, "http://api.test:8080/", 2).await.unwrap();
    // ...the same host, through a clone of the limiter in another client, waits.
    send(&second, URL, 3).await.unwrap();
    let log = arrivals(&server);
    assert!(log[1].0 < 10 && log[2].0 < 10, "{log:?}");
    assert!(log[3].0 >= 800, "{log:?}");
    assert!(limiter.pace(&URL.parse().unwrap()).is_some());
    assert_eq!(limiter.pace(&"http://never.test/".parse().unwrap()), None);
}

/// Sends `POST url` with a JSON body naming `model`, from a task of its own.
fn send_model(client: &ClientWithMiddleware, model: &str, id: usize) -> JoinHandle<u16> {
    let body = format!(r#"{{"messages":[{{"role":"user","content":"hi"}}],"model":"{model}"}}"#);
    let request = client.post(URL).header("x-id", id.to_string()).body(body);
    tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
}

#[tokio::test(start_paused = true)]
async fn models_on_one_host_do_not_share_a_cooldown_unless_told_to() {
    for per_model in [true, false] {
        let server = Scripted::once_then_ok(429, &[("retry-after-ms", "800")]);
        let limiter = RateLimitMiddleware::builder()
            .initial_rate(100.0)
            .per_model(per_model)
            .build();
        let client = client_with(vec![Arc::new(limiter.clone())], server.clone());
        assert_eq!(send_model(&client, "m-slow", 0).await.unwrap(), 429);
        send_model(&client, "m-fast", 1).await.unwrap();
        send_model(&client, "m-slow", 2).await.unwrap();
        let log = arrivals(&server);
        let url = URL.parse().unwrap();
        if per_model {
            // Another model goes at once; the model that was refused waits its cooldown.
            assert!(log[1].0 < 10, "{log:?}");
            assert!(log[2].0 >= 800, "{log:?}");
            let (slow, fast) = (
                limiter.model_pace(&url, "m-slow"),
                limiter.model_pace(&url, "m-fast"),
            );
            assert!(
                slow.unwrap() < fast.unwrap(),
                "the 429 cut m-slow's pace only"
            );
            assert_eq!(limiter.pace(&url), Some(slow.unwrap() + fast.unwrap()));
        } else {
            assert!(log[1].0 >= 800, "one limit for all: {log:?}");
            assert_eq!(limiter.model_pace(&url, "m-fast"), None);
            assert!(limiter.pace(&url).is_some());
        }
    }
}

/// The retry policy under test: a 429's hint decides, else 1 s of backoff.
const POLICY: Policy = Policy::constant()
    .attempts(3)
    .initial(Duration::from_secs(1))
    .jitter(Jitter::None);

#[tokio::test(start_paused = true)]
async fn a_retry_waits_in_the_limiter_not_on_its_own_and_keeps_its_place() {
    let server = Scripted::once_then_ok(429, &[("retry-after-ms", "500")]);
    let limiter = RateLimitMiddleware::builder().initial_rate(100.0).build();
    let client = client_with(
        vec![Arc::new(RetryMiddleware::new(POLICY)), Arc::new(limiter)],
        server.clone(),
    );
    let tasks: Vec<_> = (0..4).map(|id| send(&client, URL, id)).collect();
    assert_eq!(join(tasks).await, [200; 4]);
    let log = arrivals(&server);
    let ids: Vec<&str> = log.iter().map(|(_, id)| id.as_str()).collect();
    // The retry of request 0 goes first when the cooldown ends, ahead of later requests...
    assert_eq!(ids, ["0", "0", "1", "2", "3"]);
    // ...once, at the end of the shared cooldown: not after a sleep of its own on top.
    assert!((500..520).contains(&log[1].0), "{log:?}");
}

#[tokio::test(start_paused = true)]
async fn a_whole_second_hint_holds_the_host_for_the_second_it_cannot_rule_out() {
    for (hint, held_at_least, held_less_than) in [("1", 0, 200), ("3", 2000, 2200)] {
        let server = Scripted::new(move |n| match n {
            0 => respond(429, &[("retry-after", hint)]),
            _ => respond(200, &[]),
        });
        let limiter = RateLimitMiddleware::builder().initial_rate(100.0).build();
        let client = client_with(vec![Arc::new(limiter)], server.clone());
        assert_eq!(send(&client, URL, 0).await.unwrap(), 429);
        send(&client, URL, 1).await.unwrap();
        let log = arrivals(&server);
        assert!(
            (held_at_least..held_less_than).contains(&log[1].0),
            "Retry-After: {hint}: {log:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn alone_the_retry_layer_sleeps_the_whole_hint() {
    let server = Scripted::once_then_ok(429, &[("retry-after", "1")]);
    let client = client_with(vec![Arc::new(RetryMiddleware::new(POLICY))], server.clone());
    assert_eq!(send(&client, URL, 0).await.unwrap(), 200);
    let log = arrivals(&server);
    assert_eq!(log[1].0, 1002, "1 s, after the 2 ms round trip");
}

#[tokio::test(start_paused = true)]
async fn a_bucket_reading_whose_predictions_hold_sets_the_pace_and_spends_the_burst() {
    // A real bucket of 4 refilling 10 a second, with Together's headers read as documented:
    // once its predictions of `remaining` have come true, its pace is the pace.
    let server = SimServer::new(10.0, 4, Dialect::RateLimitHeaders);
    let limiter = RateLimitMiddleware::default();
    let layers: Vec<Arc<dyn Middleware>> = vec![
        Arc::new(RetryMiddleware::default()),
        Arc::new(limiter.clone()),
    ];
    let stack = client_with(layers, server.clone());
    let run = load(&stack, URL, 60, 8).await;
    assert_eq!(run.succeeded, 60);
    let pace = limiter.pace(&URL.parse().unwrap()).unwrap();
    // The least of the recent estimates; `remaining` is rounded down, so a little above.
    assert!((10.0..11.0).contains(&pace), "{pace}");
    // The few 429s of slow start and of the burst licence finding the bucket's size (a 429 to
    // a request it sent early halves it), before the reading has earned its trust; none after.
    assert!(server.rejected() <= 5, "{}", server.rejected());
    let last_429 = server.log().iter().rposition(|(_, taken)| !taken);
    assert!(last_429 < Some(25), "a 429 at request {last_429:?}");
    let ideal = (60.0 - 4.0) / 10.0;
    let elapsed = run.elapsed.as_secs_f64();
    assert!(elapsed < ideal * 1.04, "{elapsed} s against {ideal} s");
}

#[tokio::test(start_paused = true)]
async fn a_reading_that_means_something_else_is_refuted_not_obeyed() {
    // The same names on a server where `limit` is the rate (50 a second) and `reset` the wait
    // for the next slot: read as a bucket, that is 2,500 requests a second, and a burst of 50.
    // This server takes everything, so only the limiter's own reading could go wrong.
    let server = Scripted::new(|_| {
        respond(
            200,
            &[
                ("x-ratelimit-limit", "50"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "0.020"),
            ],
        )
    });
    let limiter = RateLimitMiddleware::default();
    let client = client_with(vec![Arc::new(limiter.clone())], server.clone());
    for id in 0..20 {
        send(&client, URL, id).await.unwrap();
    }
    // Its predictions failed at once: the pace is the header-blind learner's slow start.
    let pace = limiter.pace(&URL.parse().unwrap()).unwrap();
    assert!(pace < 200.0, "{pace}");
    // And `remaining: 0` never read above 0: no burst, one request at a time.
    let times = arrival_ms(&server);
    assert!(times.windows(2).all(|w| w[1] > w[0]), "{times:?}");
}

#[tokio::test(start_paused = true)]
async fn a_429_from_a_bucket_of_one_holds_the_host_until_its_reset() {
    // A free tier's bucket of one, before any reading is trusted: "0 of 1 left, 1.8 s to go"
    // means the same under every reading, so nothing goes before it, counted from when the
    // refused request went (the learner's own pause would be 150 ms at slow start's first cut,
    // and its retries would meet three more 429s).
    let (statuses, log) = after_an_empty_bucket("1", "1.8", 3).await;
    assert_eq!(statuses, [429, 200, 200]);
    // 1.8 s after the refused request went (it arrived 1 ms after, as does the next one).
    assert!(log[1] >= 1_800, "{log:?}");

    // The same reset from a bucket of 5 is not a bucket of one's: the learner's pause.
    let (statuses, log) = after_an_empty_bucket("5", "1.8", 3).await;
    assert_eq!(statuses, [429, 200, 200]);
    assert!(log[1] < 1_000, "{log:?}");
}

/// `n` requests at once through `RateLimitMiddleware::default()` to a server whose first
/// answer is a 429 reading `limit`, `remaining: 0` and `reset`, and every other a 200: their
/// statuses, and when each arrived (ms).
async fn after_an_empty_bucket(limit: &str, reset: &str, n: usize) -> (Vec<u16>, Vec<u128>) {
    let headers = [
        ("x-ratelimit-limit", limit.to_owned()),
        ("x-ratelimit-remaining", "0".to_owned()),
        ("x-ratelimit-reset", reset.to_owned()),
    ];
    let server = Scripted::new(move |n| match n {
        0 => {
            let headers: Vec<_> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            respond(429, &headers)
        }
        _ => respond(200, &[]),
    });
    let client = client_with(
        vec![Arc::new(RateLimitMiddleware::default())],
        server.clone(),
    );
    let tasks: Vec<_> = (0..n).map(|id| send(&client, URL, id)).collect();
    let statuses = join(tasks).await;
    (statuses, arrival_ms(&server))
}

/// No reading holds the host past `MAX_COOLDOWN`, however far off the instant it names: a
/// bucket of one "full in 10 minutes" (or a fixed window's end an hour away) holds it for a
/// minute, a call's default deadline, and the next request then asks again. (The cap applied
/// to hints alone; the instants these readings name went uncapped.)
#[tokio::test(start_paused = true)]
async fn no_reading_holds_the_host_past_the_longest_cooldown() {
    let (statuses, log) = after_an_empty_bucket("1", "600", 2).await;
    assert_eq!(statuses, [429, 200]);
    let longest = retry_core::middleware::MAX_COOLDOWN.as_millis();
    assert!(log[1] >= longest && log[1] <= longest + 100, "{log:?}");
}

#[tokio::test(start_paused = true)]
async fn an_empty_token_bucket_holds_the_host_for_its_stated_reset_only() {
    let tokens_out = |reset: Option<&'static str>| {
        Scripted::new(move |n| {
            let mut headers = vec![
                ("x-tokenlimit-limit", "1000"),
                ("x-tokenlimit-remaining", "0"),
            ];
            if let Some(reset) = reset {
                headers.push(("x-tokenlimit-reset", reset));
            }
            respond(200, if n == 0 { &headers } else { &[] })
        })
    };
    // With a reset, the next request waits for it.
    let server = tokens_out(Some("0.5"));
    let limiter = RateLimitMiddleware::builder().initial_rate(1_000.0).build();
    let first = client_with(vec![Arc::new(limiter)], server.clone());
    for id in 0..2 {
        send(&first, URL, id).await.unwrap();
    }
    let times = arrival_ms(&server);
    assert_eq!(times, [0, 502], "the 0.5 s reset from the answer at 2 ms");
    // Without one (Together sends none), the pace goes on: how long an empty bucket takes to
    // refill is not known, and a guessed second would idle a fast server.
    let server = tokens_out(None);
    let limiter = RateLimitMiddleware::builder().initial_rate(1_000.0).build();
    let second = client_with(vec![Arc::new(limiter)], server.clone());
    for id in 0..2 {
        send(&second, URL, id).await.unwrap();
    }
    let times = arrival_ms(&server);
    assert_eq!(times, [0, 2]);
}
