//! The counters: one outcome per request, successes per prompt ("no request completed
//! twice"), the time series, reset; and the simulator's lifecycle (shutdown, drop).

use std::time::Duration;

use crate::kit::sim::{chat, chat_body, launch, post};
use crate::kit::untimed_http as client;
use futures_util::future::join_all;
use serde_json::json;
use together_client::sim::{Fault, Outcome, Simulator};

#[tokio::test(start_paused = true)]
async fn every_request_counts_once_in_exactly_one_outcome() {
    let sim = launch(
        Simulator::builder()
            .rate_per_second(200.0)
            .burst(10)
            .fault(Fault::Overloaded, 0.1)
            .fault(Fault::ServerError, 0.1)
            .fault(Fault::Drop, 0.1)
            .seed(11),
    )
    .await;
    let client = client();
    for round in 0..5 {
        let prompts: Vec<String> = (0..20).map(|i| format!("r{round} p{i}")).collect();
        join_all(prompts.iter().map(|p| async {
            let _ = client
                .post(format!("{}/chat/completions", sim.base_url()))
                .bearer_auth(sim.api_key())
                .json(&chat_body(p))
                .send()
                .await;
        }))
        .await;
        tokio::time::advance(Duration::from_millis(50)).await;
    }
    // And two unauthorized requests.
    for _ in 0..2 {
        let url = format!("{}/models", sim.base_url());
        client.get(url).send().await.unwrap();
    }
    let stats = sim.stats();
    assert_eq!(stats.requests, 102);
    let outcomes = stats.successes
        + stats.rate_limited
        + stats.overloaded
        + stats.server_errors
        + stats.dropped
        + stats.unauthorized
        + stats.broken_streams
        + stats.stream_errors
        + stats.other_errors
        + stats.cancelled;
    assert_eq!(outcomes, stats.requests, "{stats:?}");
    assert_eq!(stats.log.len() as u64, stats.requests);
    assert_eq!(stats.unauthorized, 2);
    assert!(stats.rate_limited > 0 && stats.overloaded > 0 && stats.server_errors > 0);
    assert!(stats.dropped > 0 && stats.successes > 0, "{stats:?}");
    // The log agrees with the counters.
    assert_eq!(stats.count_status(200), stats.successes);
    assert_eq!(stats.count_status(429), stats.rate_limited);
    assert_eq!(stats.count_status(503), stats.overloaded);
    assert_eq!(stats.count_status(500), stats.server_errors);
    assert_eq!(stats.count(Outcome::Dropped), stats.dropped);
    assert!(stats.log.windows(2).all(|w| w[0].at <= w[1].at));
    // Each prompt was sent once: none can have completed twice.
    assert!(stats.repeated_prompts().is_empty());
    assert_eq!(
        stats.successes_by_prompt.values().sum::<u64>(),
        stats.successes
    );
}

#[tokio::test]
async fn repeated_prompts_are_reported() {
    let sim = Simulator::start().await.unwrap();
    let client = client();
    for prompt in ["a", "b", "a", "c", "a", "b"] {
        chat(&client, &sim, prompt).await;
    }
    let stats = sim.stats();
    assert_eq!(stats.repeated_prompts(), [("a", 3), ("b", 2)]);
    assert_eq!(stats.successes_for("c"), 1);
    assert_eq!(stats.successes_for("never sent"), 0);
}

#[tokio::test]
async fn prompt_keys_for_every_endpoint() {
    let sim = Simulator::start().await.unwrap();
    let client = client();
    let chat = json!({"model": "m", "messages": [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "reply"},
        {"role": "user", "content": "last user"},
        {"role": "assistant", "content": "trailing"},
    ]});
    post(&client, &sim, "/chat/completions", &chat).await;
    post(
        &client,
        &sim,
        "/completions",
        &json!({"model": "m", "prompt": "a prompt"}),
    )
    .await;
    post(
        &client,
        &sim,
        "/embeddings",
        &json!({"model": "m", "input": ["x", "y"]}),
    )
    .await;
    let rerank = json!({"model": "m", "query": "q", "documents": ["d"]});
    post(&client, &sim, "/rerank", &rerank).await;
    let stats = sim.stats();
    assert_eq!(stats.successes, 4);
    for key in ["last user", "a prompt", "x\ny", "q"] {
        assert_eq!(stats.successes_for(key), 1, "{key}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_time_series_has_time_since_start_and_status() {
    let sim = launch(Simulator::builder().rate_per_second(4.0).burst(1)).await;
    let client = client();
    for _ in 0..4 {
        chat(&client, &sim, "x").await;
        tokio::time::advance(Duration::from_millis(125)).await;
    }
    let series: Vec<(Duration, Option<u16>)> =
        sim.stats().log.iter().map(|e| (e.at, e.status)).collect();
    let ms = Duration::from_millis;
    assert_eq!(
        series,
        [
            (ms(0), Some(200)),
            (ms(125), Some(429)),
            (ms(250), Some(200)),
            (ms(375), Some(429)),
        ]
    );
    sim.reset_stats();
    let stats = sim.stats();
    assert_eq!((stats.requests, stats.log.len()), (0, 0));
    assert!(stats.successes_by_prompt.is_empty());
}

async fn refused(url: &str) -> bool {
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(url).send().await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}

#[tokio::test]
async fn shutdown_closes_the_port() {
    let sim = Simulator::start().await.unwrap();
    let url = format!("{}/models", sim.base_url());
    assert_eq!(client().get(&url).send().await.unwrap().status(), 401);
    sim.shutdown().await;
    assert!(client().get(&url).send().await.is_err());
}

#[tokio::test]
async fn drop_shuts_it_down() {
    let sim = Simulator::start().await.unwrap();
    let url = format!("{}/models", sim.base_url());
    assert_eq!(client().get(&url).send().await.unwrap().status(), 401);
    drop(sim);
    assert!(refused(&url).await, "still answering after drop");
}

#[tokio::test]
async fn shutdown_cuts_requests_in_flight() {
    let sim = launch(Simulator::builder().latency(Duration::from_secs(30))).await;
    let client = client();
    let request = client
        .post(format!("{}/chat/completions", sim.base_url()))
        .bearer_auth(sim.api_key())
        .json(&chat_body("x"))
        .send();
    let in_flight = tokio::spawn(request);
    while sim.stats().requests == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stats_before = sim.stats();
    sim.shutdown().await;
    assert!(in_flight.await.unwrap().is_err());
    assert_eq!(stats_before.requests, 1);
}
