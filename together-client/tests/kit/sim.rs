//! Shared by the `sim_*` tests: a plain reqwest client fit for paused time, and request
//! helpers. (Plain reqwest on purpose: these tests check the simulator, not the typed client.)
#![allow(dead_code)]

use reqwest::{Client, Response};
use retry_core::Policy;
use retry_core::middleware::RateLimitMiddleware;
use serde_json::{Value, json};
use together_client::sim::{HintDialect, Simulator, SimulatorBuilder};
use together_client::{Together, TogetherBuilder};

/// Starts the simulator `builder` describes: a test has no use for one that failed to start.
pub async fn launch(builder: SimulatorBuilder) -> Simulator {
    builder.start().await.unwrap()
}

/// A simulator that takes `rate` requests a second, `burst` at once, and says so in `dialect`.
pub async fn limited(rate: f64, burst: u32, dialect: HintDialect) -> Simulator {
    launch(
        Simulator::builder()
            .rate_per_second(rate)
            .burst(burst)
            .dialect(dialect),
    )
    .await
}

/// The simulator's chat URL and its key, for the tasks of an untyped run to share.
pub fn chat_target(sim: &Simulator) -> (std::sync::Arc<str>, std::sync::Arc<str>) {
    let url = format!("{}/chat/completions", sim.base_url());
    (url.into(), sim.api_key().into())
}

/// A typed client of `sim` on `http` behind `limiter`, with `policy`, left to build. Below the
/// limiter, [`OnTheWire`](super::on_the_wire::OnTheWire) keeps a paused clock from leaping
/// while a request crosses the loopback socket.
pub fn client_of(
    sim: &Simulator,
    http: Client,
    limiter: &RateLimitMiddleware,
    policy: Policy,
) -> TogetherBuilder {
    let stack = reqwest_middleware::ClientBuilder::new(http)
        .with(limiter.clone())
        .with(super::on_the_wire::OnTheWire::default())
        .build();
    Together::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .policy(policy)
        .http_client(stack)
}

/// A chat request body with one user message.
pub fn chat_body(prompt: &str) -> Value {
    json!({
        "model": super::MODEL,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": prompt},
        ],
    })
}

/// POSTs `body` to `path` (e.g. `/chat/completions`) with the simulator's key.
pub async fn post(client: &Client, sim: &Simulator, path: &str, body: &Value) -> Response {
    client
        .post(format!("{}{path}", sim.base_url()))
        .bearer_auth(sim.api_key())
        .json(body)
        .send()
        .await
        .unwrap()
}

/// A chat request for `prompt`.
pub async fn chat(client: &Client, sim: &Simulator, prompt: &str) -> Response {
    post(client, sim, "/chat/completions", &chat_body(prompt)).await
}

/// A header's value as text, if present.
pub fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// Asserts Together's error shape and returns the error object.
pub async fn error_of(response: Response) -> Value {
    let body: Value = response.json().await.unwrap();
    let error = body["error"].clone();
    assert!(error["message"].is_string(), "{body}");
    assert!(error["type"].is_string(), "{body}");
    assert!(
        error.get("param").is_some() && error.get("code").is_some(),
        "{body}"
    );
    error
}
