//! The middleware's metrics, all of them in this module: per host, the responses by status
//! class, the 429s, the time requests waited in the limiter, the queue's depth, the learned
//! pace and the cooldowns started. Every series has the label `host` (plus `status`, one of
//! six classes, on the responses). The limiter's own series (wait, queue depth, pace,
//! cooldowns) of a model paced apart also have `model`; the responses and 429s are summed
//! over a host's models. Bounded by the hosts and models a limiter talks to.
//!
//! A host's handles are registered once, on the first request to it, with the recorder in
//! force then (so install a recorder before the first request); after that each request
//! costs a few atomic updates, and nothing at all without a recorder.

use std::future::Future;
use std::time::Duration;

use http::{Extensions, StatusCode};
use metrics::{Counter, Gauge, Histogram, SharedString};
use reqwest::Url;
use tokio::time::Instant;

/// The time a request waited for its turn in a
/// [`RateLimitMiddleware`](super::RateLimitMiddleware): its queue, its pace, any cooldown,
/// the fixed quotas.
///
/// The limiter adds each attempt's wait to the one in the request's extensions, so a caller
/// that sends every attempt of a call with one [`Extensions`]
/// ([`execute_with_extensions`](reqwest_middleware::ClientWithMiddleware::execute_with_extensions))
/// reads the call's whole wait there, or each attempt's if it removes the value after each:
///
/// ```
/// use std::time::Duration;
/// use http::Extensions;
/// use retry_core::middleware::LimiterWait;
///
/// let mut extensions = Extensions::new();
/// // ... `client.execute_with_extensions(request, &mut extensions).await` ...
/// # extensions.insert(LimiterWait(Duration::from_millis(40)));
/// let waited = extensions.remove::<LimiterWait>().unwrap_or_default().0;
/// assert_eq!(waited, Duration::from_millis(40));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct LimiterWait(pub Duration);

/// The status classes of `retry_http_responses_total`, by index: `1xx` to `5xx`, then
/// `error` for a request that got no response (a transport error).
const STATUS_CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "error"];

/// One host's metric handles.
pub(crate) struct HostMetrics {
    responses: [Counter; 6],
    rate_limited: Counter,
    wait: Histogram,
    depth: Gauge,
    pace: Gauge,
    cooldowns: Counter,
}

impl HostMetrics {
    /// Registers `url`'s host's series (`model`'s, if paced apart) with the recorder in force.
    pub(crate) fn new(url: &Url, model: Option<&str>) -> Self {
        let host = SharedString::from(label(url));
        let responses = STATUS_CLASSES.map(|status| {
            metrics::counter!("retry_http_responses_total", "host" => host.clone(), "status" => status)
        });
        let mut labels = vec![metrics::Label::new("host", host.clone())];
        if let Some(model) = model {
            labels.push(metrics::Label::new("model", model.to_owned()));
        }
        HostMetrics {
            responses,
            rate_limited: metrics::counter!("retry_rate_limited_total", "host" => host),
            wait: metrics::histogram!("retry_limiter_wait_seconds", labels.clone()),
            depth: metrics::gauge!("retry_limiter_queue_depth", labels.clone()),
            pace: metrics::gauge!("retry_limiter_pace", labels.clone()),
            cooldowns: metrics::counter!("retry_limiter_cooldowns_total", labels),
        }
    }

    /// The queue now holds `depth` requests.
    pub(crate) fn queue_depth(&self, depth: usize) {
        #[allow(clippy::cast_precision_loss)] // a queue is far shorter than 2^52
        self.depth.set(depth as f64);
    }

    /// A response (or, with `status` `None`, a transport error) came back; `pace` is the pace
    /// learned from it, `cooldown` whether it started a cooldown of the whole host.
    pub(crate) fn answered(&self, status: Option<StatusCode>, pace: Option<f64>, cooldown: bool) {
        let class = status.map_or(5, |s| usize::from(s.as_u16() / 100).clamp(1, 5) - 1);
        self.responses[class].increment(1);
        if status == Some(StatusCode::TOO_MANY_REQUESTS) {
            self.rate_limited.increment(1);
        }
        if let Some(pace) = pace.filter(|p| p.is_finite()) {
            self.pace.set(pace);
        }
        if cooldown {
            self.cooldowns.increment(1);
        }
    }
}

/// Runs `admit` (a request waiting for its turn), recording the time it took in the host's
/// histogram and adding it to the request's [`LimiterWait`].
pub(crate) async fn timed<T>(
    host: &HostMetrics,
    extensions: &mut Extensions,
    admit: impl Future<Output = T>,
) -> T {
    let queued = Instant::now();
    let admitted = admit.await;
    let waited = queued.elapsed();
    host.wait.record(waited.as_secs_f64());
    let total = extensions
        .get::<LimiterWait>()
        .map_or(Duration::ZERO, |w| w.0);
    extensions.insert(LimiterWait(total.saturating_add(waited)));
    admitted
}

/// The `host` label: the host and, when not the scheme's default, the port.
fn label(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_label_has_no_path_or_query() {
        let url = Url::parse("https://api.together.ai/v1/chat?id=123").unwrap();
        assert_eq!(label(&url), "api.together.ai");
        let url = Url::parse("http://127.0.0.1:8080/v1/models").unwrap();
        assert_eq!(label(&url), "127.0.0.1:8080");
    }
}
