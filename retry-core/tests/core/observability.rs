//! Every retry is visible: a `tracing` event (target `retry`) with the fields operators filter
//! on, and `metrics` counters labelled by function and class. A success emits nothing. The
//! middleware's per-host series (responses, 429s, the limiter's wait, queue, pace, cooldowns)
//! are recorded with bounded labels.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use crate::support::{Fail, ms};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use retry_core::{Class, Policy, RetryOn, retry, retry_fn_named};
use tracing::field::{Field, Visit};
use tracing::{Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

// ---- A tracing layer that keeps every event -------------------------------------------------

#[derive(Clone, Debug)]
struct Event {
    target: String,
    level: Level,
    fields: BTreeMap<String, String>,
}

impl Event {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Event>>>);

impl Capture {
    fn retry_events(&self) -> Vec<Event> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.target == "retry")
            .cloned()
            .collect()
    }
}

struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields(BTreeMap::new());
        event.record(&mut fields);
        self.0.lock().unwrap().push(Event {
            target: event.metadata().target().to_owned(),
            level: *event.metadata().level(),
            fields: fields.0,
        });
    }
}

fn capture() -> (Capture, tracing::subscriber::DefaultGuard) {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let guard = tracing::subscriber::set_default(subscriber);
    (capture, guard)
}

// ---- Metrics ---------------------------------------------------------------------------------

/// `name{function,class}` → value, for the counters of one recorder.
fn counters(snapshotter: &Snapshotter) -> BTreeMap<(String, String, String), u64> {
    series(snapshotter)
        .into_iter()
        .map(|((name, labels), value)| {
            let label = |wanted: &str| {
                labels
                    .iter()
                    .find(|(key, _)| key == wanted)
                    .map(|(_, value)| value.clone())
                    .unwrap_or_default()
            };
            let DebugValue::Counter(n) = value else {
                panic!("{name} is not a counter");
            };
            ((name.clone(), label("function"), label("class")), n)
        })
        .collect()
}

/// Every series of a snapshot: (name, sorted labels) -> value.
fn series(snapshotter: &Snapshotter) -> BTreeMap<(String, Vec<(String, String)>), DebugValue> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let mut labels: Vec<_> = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort();
            ((key.name().to_owned(), labels), value)
        })
        .collect()
}

fn key(name: &str, function: &str, class: &str) -> (String, String, String) {
    (name.to_owned(), function.to_owned(), class.to_owned())
}

// ---- The functions under observation ------------------------------------------------------

/// Fails with a 503-like error, then with a 429 and a hint of 1.5 s, then succeeds.
#[retry(backoff = "constant", initial = "200ms", jitter = "none", attempts = 4)]
async fn flaky(calls: &AtomicU32) -> Result<u32, Fail> {
    let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
    match n {
        1 => Err(Fail::new(Class::Overloaded, n)),
        2 => Err(Fail::hinted(Class::RateLimited, n, ms(1500))),
        _ => Ok(n),
    }
}

#[retry(backoff = "constant", initial = "10ms", attempts = 3)]
async fn always_failing(class: Class) -> Result<(), Fail> {
    Err(Fail::new(class, 0))
}

fn never(_: &String) -> bool {
    false
}

#[retry(on = never)]
async fn unclassified() -> Result<(), String> {
    Err("nope".to_owned())
}

const FLAKY: &str = concat!(module_path!(), "::flaky");
const ALWAYS: &str = concat!(module_path!(), "::always_failing");

// ---- Tracing ---------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn each_retry_emits_one_event_with_its_fields() {
    let (capture, _guard) = capture();
    let calls = AtomicU32::new(0);
    assert_eq!(flaky(&calls).await, Ok(3));

    let events = capture.retry_events();
    assert_eq!(events.len(), 2, "{events:#?}");
    for e in &events {
        assert_eq!(e.level, Level::INFO);
        assert_eq!(e.field("message"), Some("retrying"));
        assert_eq!(e.field("function"), Some(FLAKY));
    }
    let (first, second) = (&events[0], &events[1]);
    assert_eq!(first.field("attempt"), Some("1"));
    assert_eq!(first.field("delay_ms"), Some("200"));
    assert_eq!(first.field("class"), Some("overloaded"));
    assert_eq!(first.field("hint_ms"), None);
    assert_eq!(second.field("attempt"), Some("2"));
    assert_eq!(second.field("delay_ms"), Some("1500"));
    assert_eq!(second.field("class"), Some("rate_limit"));
    assert_eq!(second.field("hint_ms"), Some("1500"));
}

#[tokio::test(start_paused = true)]
async fn a_success_at_once_emits_nothing() {
    let (capture, _guard) = capture();
    let calls = AtomicU32::new(2);
    assert_eq!(flaky(&calls).await, Ok(3));
    assert!(capture.retry_events().is_empty());
}

#[tokio::test(start_paused = true)]
async fn giving_up_is_a_warning_and_a_permanent_error_a_debug_event() {
    let (capture, _guard) = capture();
    always_failing(Class::Timeout).await.unwrap_err();
    let events = capture.retry_events();
    assert_eq!(events.len(), 3, "{events:#?}");
    let last = &events[2];
    assert_eq!(last.level, Level::WARN);
    assert_eq!(last.field("message"), Some("giving up"));
    assert_eq!(last.field("function"), Some(ALWAYS));
    assert_eq!(last.field("attempt"), Some("3"));
    assert_eq!(last.field("class"), Some("timeout"));
    assert_eq!(last.field("reason"), Some("attempts_exhausted"));

    let (capture, _guard) = self::capture();
    always_failing(Class::Permanent).await.unwrap_err();
    let events = capture.retry_events();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].level, Level::DEBUG);
    assert_eq!(events[0].field("message"), Some("not retrying"));
    assert_eq!(events[0].field("reason"), Some("not_retryable"));
    assert_eq!(events[0].field("class"), Some("permanent"));
}

#[tokio::test(start_paused = true)]
async fn an_unclassified_error_is_of_class_unknown() {
    let (capture, _guard) = capture();
    unclassified().await.unwrap_err();
    let events = capture.retry_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].field("class"), Some("unknown"));
}

#[tokio::test(start_paused = true)]
async fn retry_fn_named_names_its_events() {
    let (capture, _guard) = capture();
    let policy = Policy::constant().attempts(2).initial(ms(5));
    let result: Result<(), Fail> = retry_fn_named("billing::charge", policy, RetryOn::ALL, || {
        std::future::ready(Err(Fail::new(Class::ServerError, 0)))
    })
    .await;
    result.unwrap_err();
    let events = capture.retry_events();
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .all(|e| e.field("function") == Some("billing::charge"))
    );
    assert_eq!(events[0].field("class"), Some("server_error"));
}

// ---- Metrics ---------------------------------------------------------------------------------

/// The counters of a run, under a recorder of this thread: `flaky` with `calls` already made
/// (it succeeds), then `always_failing` with `class`.
async fn counted(calls: u32, class: Class) -> BTreeMap<(String, String, String), u64> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);

    let calls = AtomicU32::new(calls);
    flaky(&calls).await.unwrap();
    always_failing(class).await.unwrap_err();
    counters(&snapshotter)
}

#[tokio::test(start_paused = true)]
async fn retries_and_give_ups_are_counted_by_function_and_class() {
    let got = counted(0, Class::Connect).await;
    let want = BTreeMap::from([
        (key("retry_attempts_total", FLAKY, "overloaded"), 1),
        (key("retry_attempts_total", FLAKY, "rate_limit"), 1),
        (key("retry_attempts_total", ALWAYS, "connect"), 2),
        (key("retry_giveups_total", ALWAYS, "connect"), 1),
    ]);
    assert_eq!(got, want);
}

#[tokio::test(start_paused = true)]
async fn a_success_or_a_permanent_first_failure_counts_nothing() {
    assert_eq!(counted(2, Class::Permanent).await, BTreeMap::new());
}

#[test]
fn counters_also_work_through_with_local_recorder() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            always_failing(Class::Overloaded).await.unwrap_err();
            always_failing(Class::Overloaded).await.unwrap_err();
        })
    });
    let got = counters(&snapshotter);
    assert_eq!(got[&key("retry_attempts_total", ALWAYS, "overloaded")], 4);
    assert_eq!(got[&key("retry_giveups_total", ALWAYS, "overloaded")], 2);
}

// ---- The middleware's per-host series ---------------------------------------------------------

#[cfg(feature = "reqwest")]
#[tokio::test(start_paused = true)]
async fn the_middleware_records_each_host_series_with_bounded_labels() {
    use crate::support::sim::{Scripted, respond};
    use retry_core::middleware::{RateLimitMiddleware, RetryMiddleware};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);
    // The third request gets a 429 with a 300 ms hint (a cooldown of the host), the fourth a
    // 503; every other one a 200.
    let server = Scripted::new(|n| match n {
        2 => respond(429, &[("retry-after-ms", "300")]),
        3 => respond(503, &[]),
        _ => respond(200, &[]),
    });
    let client = reqwest_middleware::ClientBuilder::new(crate::support::sim::reqwest_client())
        .with(RetryMiddleware::new(
            Policy::constant()
                .initial(ms(10))
                .jitter(retry_core::Jitter::None),
        ))
        .with(RateLimitMiddleware::default())
        .with(server.clone())
        .build();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let request = client.get(format!("http://api.test/v1/chat?id={i}"));
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let sent = server.log().len();
    assert_eq!(sent, 10, "8 calls, a 429 and a 503 retried");

    let got = series(&snapshotter);
    let host = || ("host".to_owned(), "api.test".to_owned());
    let counter = |name: &str, extra: &[(&str, &str)]| {
        let mut labels = vec![host()];
        labels.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        labels.sort();
        match got.get(&(name.to_owned(), labels)) {
            Some(DebugValue::Counter(n)) => *n,
            other => panic!("{name}{extra:?}: {other:?}"),
        }
    };
    assert_eq!(
        counter("retry_http_responses_total", &[("status", "2xx")]),
        8
    );
    assert_eq!(
        counter("retry_http_responses_total", &[("status", "4xx")]),
        1
    );
    assert_eq!(
        counter("retry_http_responses_total", &[("status", "5xx")]),
        1
    );
    assert_eq!(
        counter("retry_http_responses_total", &[("status", "error")]),
        0
    );
    assert_eq!(counter("retry_rate_limited_total", &[]), 1);
    // The 429's hint, and the brief pause of the 503, read as a refusal of the pace.
    assert_eq!(counter("retry_limiter_cooldowns_total", &[]), 2);
    let key = |name: &str| (name.to_owned(), vec![host()]);
    let Some(DebugValue::Histogram(waits)) = got.get(&key("retry_limiter_wait_seconds")) else {
        panic!("no wait histogram: {got:?}");
    };
    assert_eq!(waits.len(), sent, "one wait per request sent");
    // Eight calls at once are paced (20/s to start with), and the 429 held the host 300 ms.
    let longest = waits.iter().map(|w| w.into_inner()).fold(0.0, f64::max);
    assert!(longest >= 0.3, "longest wait {longest}");
    let Some(DebugValue::Gauge(pace)) = got.get(&key("retry_limiter_pace")) else {
        panic!("no pace: {got:?}");
    };
    assert!(pace.into_inner() > 0.0);
    let Some(DebugValue::Gauge(depth)) = got.get(&key("retry_limiter_queue_depth")) else {
        panic!("no queue depth: {got:?}");
    };
    assert_eq!(depth.into_inner(), 0.0, "nobody waits at the end");

    // Bounded labels: the host (no path, no query) and six status classes, nothing else.
    for (name, labels) in got.keys() {
        for (label, value) in labels {
            match label.as_str() {
                "host" => assert_eq!(value, "api.test", "{name}"),
                "status" => assert!(
                    ["1xx", "2xx", "3xx", "4xx", "5xx", "error"].contains(&value.as_str()),
                    "{name}: {value}"
                ),
                "function" => assert_eq!(value, "reqwest", "{name}"),
                "class" => assert!(["rate_limit", "overloaded"].contains(&value.as_str())),
                other => panic!("{name} has an unexpected label {other}={value}"),
            }
        }
    }
}
