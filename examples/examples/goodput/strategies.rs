//! The strategies: the peers, written as their users would write them, and ours.

use std::time::{Duration, SystemTime};

use backon::{ExponentialBuilder, Retryable};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use reqwest_middleware::ClientWithMiddleware;
use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;
use retry_core::middleware::{RateLimitMiddleware, RetryMiddleware};
use together_client::sim::Simulator;
use together_client::{ChatRequest, Together};

pub(crate) const MODEL: &str = "meta-llama/Llama-3.3-70B-Instruct-Turbo";
pub(crate) const SEED: u64 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Strategy {
    Naive,
    ReqwestRetry,
    Backon,
    SdkRule,
    AsyncOpenAi,
    OursPair,
    OursClient,
    /// The pair, with the server's rate-limit headers hidden from the limiter (hints kept):
    /// what the header-blind learner alone reaches on the same server.
    OursBlind,
}

impl Strategy {
    pub(crate) const ALL: [Strategy; 7] = [
        Strategy::Naive,
        Strategy::ReqwestRetry,
        Strategy::Backon,
        Strategy::SdkRule,
        Strategy::AsyncOpenAi,
        Strategy::OursPair,
        Strategy::OursClient,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Strategy::Naive => "naive",
            Strategy::ReqwestRetry => "reqwest-retry",
            Strategy::Backon => "backon",
            Strategy::SdkRule => "sdk-rule",
            Strategy::AsyncOpenAi => "async-openai",
            Strategy::OursPair => "ours-pair",
            Strategy::OursClient => "ours-client",
            Strategy::OursBlind => "ours-blind",
        }
    }

    pub(crate) fn ours(self) -> bool {
        matches!(
            self,
            Strategy::OursPair | Strategy::OursClient | Strategy::OursBlind
        )
    }
}

/// What one strategy calls with.
pub(crate) enum Caller {
    Plain(reqwest::Client),
    Stack(ClientWithMiddleware),
    Client(Together),
    OpenAi(async_openai::Client<async_openai::config::OpenAIConfig>),
}

/// A reqwest client without timers of its own: on a paused clock, reqwest's 90 s pool-idle
/// timer would make the clock jump ahead while a request is on the loopback socket.
pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(None)
        .build()
        .expect("a reqwest client")
}

impl Caller {
    pub(crate) fn new(strategy: Strategy, sim: &Simulator) -> Caller {
        match strategy {
            Strategy::Naive | Strategy::Backon | Strategy::SdkRule => Caller::Plain(http()),
            Strategy::ReqwestRetry => Caller::Stack(
                reqwest_middleware::ClientBuilder::new(http())
                    .with(RetryTransientMiddleware::new_with_policy(
                        ExponentialBackoff::builder().build_with_max_retries(5),
                    ))
                    .build(),
            ),
            Strategy::AsyncOpenAi => Caller::OpenAi(
                async_openai::Client::with_config(
                    async_openai::config::OpenAIConfig::new()
                        .with_api_base(sim.base_url())
                        .with_api_key(sim.api_key()),
                )
                .with_http_client(http()),
            ),
            Strategy::OursPair => Caller::Stack(
                reqwest_middleware::ClientBuilder::new(http())
                    .with(RetryMiddleware::default())
                    .with(RateLimitMiddleware::default())
                    .build(),
            ),
            Strategy::OursBlind => Caller::Stack(
                reqwest_middleware::ClientBuilder::new(http())
                    .with(RetryMiddleware::default())
                    .with(RateLimitMiddleware::default())
                    .with(HideLimitHeaders)
                    .build(),
            ),
            Strategy::OursClient => Caller::Client(
                Together::builder()
                    .api_key(sim.api_key())
                    .base_url(sim.base_url())
                    .http_client(
                        reqwest_middleware::ClientBuilder::new(http())
                            .with(RateLimitMiddleware::default())
                            .build(),
                    )
                    .build()
                    .expect("a Together client"),
            ),
        }
    }
}

/// Removes every rate-limit header from responses (`x-ratelimit-*`, `x-tokenlimit-*`,
/// `anthropic-ratelimit-*`, the IETF draft's `ratelimit*`), keeping the hints (`retry-after`,
/// `retry-after-ms`).
pub(crate) struct HideLimitHeaders;

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for HideLimitHeaders {
    async fn handle(
        &self,
        req: reqwest::Request,
        extensions: &mut http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let mut response = next.run(req, extensions).await?;
        let headers = response.headers_mut();
        let hidden: Vec<_> = headers
            .keys()
            .filter(|name| {
                let name = name.as_str();
                name.starts_with("x-ratelimit")
                    || name.starts_with("x-tokenlimit")
                    || name.starts_with("anthropic-ratelimit")
                    || name.starts_with("ratelimit")
            })
            .cloned()
            .collect();
        for name in hidden {
            headers.remove(name);
        }
        Ok(response)
    }
}

/// Why an attempt failed, for backon's `when` and `adjust`.
#[derive(Debug)]
pub(crate) struct Failure {
    retryable: bool,
    retry_after: Option<Duration>,
}

/// `Retry-After`, in seconds or as an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The official SDKs' hint: `retry-after-ms`, then `Retry-After`.
pub(crate) fn sdk_hint(headers: &HeaderMap) -> Option<Duration> {
    let ms = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .map(|ms| Duration::from_secs_f64(ms / 1000.0));
    ms.or_else(|| retry_after(headers))
}

pub(crate) fn sdk_retryable(status: StatusCode, headers: &HeaderMap) -> bool {
    match headers.get("x-should-retry").and_then(|v| v.to_str().ok()) {
        Some("true") => return true,
        Some("false") => return false,
        _ => {}
    }
    matches!(status.as_u16(), 408 | 409 | 429) || status.is_server_error()
}

pub(crate) async fn send_plain(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    body: &serde_json::Value,
) -> Result<(), Failure> {
    let response = client
        .post(url)
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .map_err(|_| Failure {
            retryable: true,
            retry_after: None,
        })?;
    let status = response.status();
    if status.is_success() {
        return response.bytes().await.map(drop).map_err(|_| Failure {
            retryable: true,
            retry_after: None,
        });
    }
    let failure = Failure {
        retryable: status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT
            || status.is_server_error(),
        retry_after: retry_after(response.headers()),
    };
    let _ = response.bytes().await;
    Err(failure)
}

/// One call of the hand-written SDK rule.
pub(crate) async fn sdk_rule(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    body: &serde_json::Value,
    mut rng: fastrand::Rng,
) -> bool {
    const RETRIES: u32 = 5;
    for n in 0..=RETRIES {
        let (retryable, hint) = match client.post(url).bearer_auth(key).json(body).send().await {
            Err(_) => (true, None),
            Ok(response) => {
                let status = response.status();
                if status.is_success() {
                    if response.bytes().await.is_ok() {
                        return true;
                    }
                    (true, None)
                } else {
                    let retryable = sdk_retryable(status, response.headers());
                    let hint = sdk_hint(response.headers());
                    let _ = response.bytes().await;
                    (retryable, hint)
                }
            }
        };
        if !retryable || n == RETRIES {
            return false;
        }
        let delay = match hint {
            Some(h) if h > Duration::ZERO && h <= Duration::from_secs(60) => h,
            _ => {
                let base = (0.5 * 2f64.powi(n as i32)).min(8.0);
                Duration::from_secs_f64(base * (1.0 - 0.25 * rng.f64()))
            }
        };
        tokio::time::sleep(delay).await;
    }
    false
}

impl Caller {
    /// One call to `model`; `true` if it succeeded (in the end).
    /// The sdk rule's jitter is seeded per call (`i`), so its rows repeat as far as the
    /// order of the tasks does.
    pub(crate) async fn call(
        &self,
        strategy: Strategy,
        url: &str,
        key: &str,
        i: usize,
        model: &str,
    ) -> bool {
        let prompt = format!("prompt {i}");
        let body = serde_json::json!({
            "model": model,
            "messages": [{"role": "user", "content": prompt}],
        });
        match (self, strategy) {
            (Caller::Plain(client), Strategy::Naive) => {
                send_plain(client, url, key, &body).await.is_ok()
            }
            (Caller::Plain(client), Strategy::Backon) => (|| send_plain(client, url, key, &body))
                .retry(
                    ExponentialBuilder::default()
                        .with_jitter()
                        .with_max_times(5),
                )
                .sleep(tokio::time::sleep)
                .when(|f: &Failure| f.retryable)
                .adjust(|f: &Failure, delay| delay.map(|d| f.retry_after.unwrap_or(d)))
                .await
                .is_ok(),
            (Caller::Plain(client), _) => {
                let rng = fastrand::Rng::with_seed(SEED.wrapping_mul(1_000_003) + i as u64);
                sdk_rule(client, url, key, &body, rng).await
            }
            (Caller::Stack(client), _) => {
                match client.post(url).bearer_auth(key).json(&body).send().await {
                    Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                    Ok(r) => {
                        let _ = r.bytes().await;
                        false
                    }
                    Err(_) => false,
                }
            }
            (Caller::OpenAi(client), _) => {
                use async_openai::types::chat::{
                    ChatCompletionRequestUserMessageArgs, CreateChatCompletionRequestArgs,
                };
                let Ok(message) = ChatCompletionRequestUserMessageArgs::default()
                    .content(prompt)
                    .build()
                else {
                    return false;
                };
                let Ok(request) = CreateChatCompletionRequestArgs::default()
                    .model(model)
                    .messages([message.into()])
                    .build()
                else {
                    return false;
                };
                let result = client.chat().create(request).await;
                if let Err(e) = &result
                    && std::env::var_os("GOODPUT_DEBUG").is_some()
                {
                    eprintln!("async-openai: {e}");
                }
                result.is_ok()
            }
            (Caller::Client(client), _) => client
                .chat()
                .create(ChatRequest::new(model).user(prompt))
                .await
                .is_ok(),
        }
    }
}
