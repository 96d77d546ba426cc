//! A free tier's limit (a request every two seconds) and more callers than it serves within a
//! call's deadline: 64 tasks queue for about two minutes each, and every call waits its turn
//! and is answered. The deadline counts from a call's first send, not from when it joined the
//! queue: before that rule, the middleware pair (60 s deadline) lost 64 of these 160 calls and
//! the typed client (120 s) 57, each to a 429 whose retry found its deadline spent in line.
//! And the pace settles near the limit: slow start's level, held to three times what the
//! server served, no longer undoes every cut (0.47 of the ideal, 0.71 429s per request before;
//! the family's `free-tier-*` rows give the distributions). With Together's headers
//! (`0 of 1 left`) the bucket reading is trusted and paces it, and before it is, a bucket of
//! one's reset holds the host (0.987 of the ideal, 0.013 429s per request); before, a bucket
//! of one looked like a fixed window, the reading was refuted, and Together's headers did no
//! better than none.

use crate::e2e_sim::spread;
use crate::kit::MODEL;
use crate::kit::sim::{chat_target, client_of};
use retry_core::middleware::{RateLimitMiddleware, RetryMiddleware};
use together_client::ChatRequest;
use together_client::sim::Scenario;
use tokio::time::Instant;

const N: usize = 160;
const TASKS: usize = 64;
/// `prompt {i}` and its answer `Echo: prompt {i}`.
const TOKENS_EACH: u64 = 5;

#[derive(Clone, Copy, Debug)]
enum Front {
    /// `RetryMiddleware::default()` + `RateLimitMiddleware::default()` (60 s deadline).
    Pair,
    /// The typed client with its default policy (120 s deadline).
    Typed,
}

/// Calls lost, 429s per request, goodput.
async fn run(front: Front, scenario: &Scenario, seed: u64) -> (usize, f64, f64) {
    let sim = scenario.builder(seed).start().await.unwrap();
    let limiter = RateLimitMiddleware::default();
    let pair = reqwest_middleware::ClientBuilder::new(crate::kit::untimed_http())
        .with(RetryMiddleware::default())
        .with(limiter.clone())
        .with(crate::kit::on_the_wire::OnTheWire::default())
        .build();
    let typed = client_of(
        &sim,
        crate::kit::untimed_http(),
        &limiter,
        together_client::DEFAULT_POLICY,
    )
    .build()
    .unwrap();
    let (url, key) = chat_target(&sim);
    let started = Instant::now();
    let lost = spread(N, TASKS, move |i| {
        let (pair, typed, url, key) = (pair.clone(), typed.clone(), url.clone(), key.clone());
        async move {
            let prompt = format!("prompt {i}");
            match front {
                Front::Pair => {
                    let body = serde_json::json!({
                        "model": MODEL,
                        "messages": [{"role": "user", "content": prompt}],
                    });
                    let sent = pair.post(&*url).bearer_auth(&*key).json(&body).send();
                    sent.await.is_ok_and(|r| r.status().is_success())
                }
                Front::Typed => {
                    let request = ChatRequest::new(MODEL).user(prompt);
                    typed.chat().create(request).await.is_ok()
                }
            }
        }
    })
    .await as usize;
    let wall = started.elapsed().as_secs_f64();
    let stats = sim.stats();
    sim.shutdown().await;
    let goodput = scenario.ideal(N - lost, TOKENS_EACH) / wall;
    (lost, stats.rate_limited as f64 / N as f64, goodput)
}

#[tokio::test(start_paused = true)]
async fn a_queue_longer_than_the_deadline_loses_no_call() {
    for name in ["free-tier-none", "free-tier-together"] {
        let scenario = Scenario::named(name).unwrap();
        for front in [Front::Pair, Front::Typed] {
            for seed in 0..2 {
                let (lost, per_request_429, goodput) = run(front, &scenario, seed).await;
                eprintln!(
                    "{name} {front:?} seed {seed}: lost {lost}, {per_request_429:.3} 429s/request, goodput {goodput:.3}"
                );
                assert_eq!(lost, 0, "{name} {front:?} seed {seed}");
                assert!(goodput >= 0.7, "{name} {front:?} seed {seed}: {goodput:.3}");
                assert!(
                    per_request_429 <= 0.25,
                    "{name} {front:?} seed {seed}: {per_request_429:.3}"
                );
                if name == "free-tier-together" {
                    assert!(
                        goodput >= 0.95,
                        "{name} {front:?} seed {seed}: {goodput:.3}"
                    );
                    assert!(
                        per_request_429 <= 0.03,
                        "{name} {front:?} seed {seed}: {per_request_429:.3}"
                    );
                }
            }
        }
    }
}
