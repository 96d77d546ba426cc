//! The rate-limit streak alert: N 429s in a row log one warning and call the callback once;
//! a success ends the streak, and the next streak alerts again. And what monitoring sees: the
//! Prometheus exporter answers `/metrics` while a client runs, and the run's timeline is
//! well-formed SVG with every series named.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use crate::kit::client::{Captured, KEY, chat_body, error_body, fast, on_chat};
use crate::kit::sim::launch;
use together_client::{ChatRequest, RateLimitAlert, Together};
use wiremock::{MockServer, ResponseTemplate};

/// A client with no limiter (no pacing to wait for) and one attempt per call.
fn client(server: &MockServer, alerts: Arc<Mutex<Vec<RateLimitAlert>>>) -> Together {
    Together::builder()
        .api_key(KEY)
        .base_url(format!("{}/v1", server.uri()))
        .policy(fast(1))
        .http_client(reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).build())
        .alert_after(3)
        .on_rate_limit_streak(move |alert| alerts.lock().unwrap().push(alert.clone()))
        .build()
        .unwrap()
}

/// The tests of this file run one at a time: `tracing` caches per call site whether anyone
/// listens, and a test that fires the alert on threads with no subscriber can leave that cache
/// saying "no one" while `once_per_streak` captures on its own thread (seen: 0 lines captured).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn answer(server: &MockServer, status: u16) {
    server.reset().await;
    let template = if status == 429 {
        ResponseTemplate::new(429)
            .insert_header("x-ratelimit-remaining", "0")
            .set_body_json(error_body("slow down", "dynamic_token_limited", None))
    } else {
        ResponseTemplate::new(status).set_body_json(chat_body("ok"))
    };
    on_chat().respond_with(template).mount(server).await;
}

#[tokio::test]
async fn once_per_streak() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let server = MockServer::start().await;
    let alerts = Arc::new(Mutex::new(Vec::new()));
    let client = client(&server, alerts.clone());
    let (captured, _guard) = Captured::new();
    let request = ChatRequest::new("m").user("u");

    answer(&server, 429).await;
    for _ in 0..7 {
        assert!(client.chat().create(request.clone()).await.is_err());
    }
    assert_eq!(client.rate_limit_streak(), 7);
    assert_eq!(
        alerts.lock().unwrap().len(),
        1,
        "one alert for a streak of 7"
    );
    let first = alerts.lock().unwrap()[0].clone();
    assert_eq!(first.streak, 3);
    assert_eq!(first.last.kind.as_deref(), Some("dynamic_token_limited"));
    assert_eq!(first.last.rate_limits.requests.remaining, Some(0));

    // A success ends the streak; the next streak alerts again.
    answer(&server, 200).await;
    client.chat().create(request.clone()).await.unwrap();
    assert_eq!(client.rate_limit_streak(), 0);
    answer(&server, 429).await;
    for _ in 0..2 {
        let _ = client.chat().create(request.clone()).await;
    }
    assert_eq!(
        alerts.lock().unwrap().len(),
        1,
        "a streak of 2 is below the threshold"
    );
    let _ = client.chat().create(request.clone()).await;
    assert_eq!(alerts.lock().unwrap().len(), 2);

    let logs = captured.text();
    assert_eq!(
        logs.matches("rate-limited responses (429) in a row")
            .count(),
        2,
        "{logs}"
    );
    assert!(logs.contains("WARN"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_one_alert() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let server = MockServer::start().await;
    answer(&server, 429).await;
    let alerts = Arc::new(Mutex::new(Vec::new()));
    let client = client(&server, alerts.clone());
    let tasks: Vec<_> = (0..24)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.chat().create(ChatRequest::new("m").user("u")).await })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap().is_err());
    }
    assert_eq!(client.rate_limit_streak(), 24);
    assert_eq!(alerts.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn zero_turns_it_off() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let server = MockServer::start().await;
    answer(&server, 429).await;
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let client = Together::builder()
        .api_key(KEY)
        .base_url(format!("{}/v1", server.uri()))
        .policy(fast(1))
        .http_client(reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).build())
        .alert_after(0)
        .on_rate_limit_streak(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        })
        .build()
        .unwrap();
    for _ in 0..6 {
        let _ = client.chat().create(ChatRequest::new("m").user("u")).await;
    }
    assert_eq!(calls.load(Ordering::Relaxed), 0);
}

// ---- Monitoring: the exporter and the timeline ------------------------------------------------

/// Checks that `xml` is well-formed enough for any SVG reader: tags balanced and properly
/// nested, attribute values quoted, no stray `<` or `&` in text. Returns the root's name.
#[cfg(feature = "report")]
fn well_formed(xml: &str) -> Result<String, String> {
    let mut open: Vec<&str> = Vec::new();
    let mut root = None;
    let mut rest = xml;
    while let Some(at) = rest.find('<') {
        let text = &rest[..at];
        if let Some(amp) = text.find('&') {
            let entity = &text[amp..];
            if !["&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#"]
                .iter()
                .any(|e| entity.starts_with(e))
            {
                return Err(format!("a bare & in {text:?}"));
            }
        }
        rest = &rest[at..];
        let skip = |end: &str, rest: &str| rest.find(end).map(|i| i + end.len());
        let len = if rest.starts_with("<?") {
            skip("?>", rest)
        } else if rest.starts_with("<!--") {
            skip("-->", rest)
        } else {
            // A tag: up to the first `>` outside quotes.
            let mut quote = None;
            rest.char_indices()
                .skip(1)
                .find_map(|(i, c)| match (quote, c) {
                    (None, '"' | '\'') => {
                        quote = Some(c);
                        None
                    }
                    (Some(q), c) if c == q => {
                        quote = None;
                        None
                    }
                    (None, '<') => Some(None),
                    (None, '>') => Some(Some(i + 1)),
                    _ => None,
                })
                .flatten()
        };
        let len =
            len.ok_or_else(|| format!("unterminated markup at {:?}", &rest[..rest.len().min(40)]))?;
        let tag = &rest[..len];
        rest = &rest[len..];
        if tag.starts_with("<?") || tag.starts_with("<!--") {
            continue;
        }
        let name_of = |t: &str| {
            t.trim_start_matches(['<', '/'])
                .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .next()
                .unwrap_or_default()
                .to_owned()
        };
        if tag.starts_with("</") {
            let name = name_of(tag);
            match open.pop() {
                Some(top) if name_of(top) == name => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
        } else {
            root.get_or_insert_with(|| name_of(tag));
            if !tag.ends_with("/>") {
                open.push(tag);
            }
        }
    }
    if let Some(top) = open.last() {
        return Err(format!("{top} is never closed"));
    }
    root.ok_or_else(|| "no element".to_owned())
}

#[cfg(feature = "report")]
#[test]
fn the_checker_tells_broken_xml() {
    assert_eq!(
        well_formed("<?xml version=\"1.0\"?><svg a=\"x>y\"><g/><text>a &amp; b</text></svg>"),
        Ok("svg".into())
    );
    assert!(well_formed("<svg><g></svg>").is_err());
    assert!(well_formed("<svg><text>a & b</text></svg>").is_err());
    assert!(well_formed("<svg").is_err());
}

#[cfg(all(feature = "sim", feature = "report", feature = "prometheus"))]
#[tokio::test]
async fn the_exporter_answers_during_a_run_and_the_timeline_draws_it() {
    use std::time::Duration;
    use together_client::report::{MetricsServer, RunSummary, SERIES, Timeline};
    use together_client::sim::Simulator;

    // The recorder of this thread (the test's runtime runs every task here).
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let server = MetricsServer::start("127.0.0.1:0".parse().unwrap(), recorder.handle())
        .await
        .unwrap();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let sim = launch(Simulator::builder().rate_per_second(40.0).burst(4)).await;
    let client = Together::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .build()
        .unwrap();
    let recording = Timeline::record(&client, Duration::from_millis(100));
    let started = tokio::time::Instant::now();
    let calls: Vec<_> = (0..60)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let request = ChatRequest::new("sim/model")
                    .user(format!("hello {i}"))
                    .max_tokens(8);
                client.chat().create(request).await.map(|_| ())
            })
        })
        .collect();

    // Mid-run: the exporter already shows requests and tokens.
    while client.usage().total().successes < 10 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let url = format!("http://{}/metrics", server.local_addr());
    let scrape = reqwest::get(&url).await.unwrap();
    assert_eq!(scrape.status(), 200);
    let text = scrape.text().await.unwrap();
    let value = |series: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(series))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    assert!(value("together_requests_total{model=\"sim/model\",status=\"2xx\"}") >= 10.0);
    assert!(value("together_prompt_tokens_total{model=\"sim/model\"}") > 0.0);
    assert!(value("together_completion_tokens_total{model=\"sim/model\"}") > 0.0);
    assert!(text.contains("retry_limiter_wait_seconds"), "{text}");
    assert!(!text.contains(sim.api_key()));
    assert!(
        client.usage().total().successes < 60,
        "scraped after the run, not during it"
    );
    assert_eq!(
        reqwest::get(format!("http://{}/", server.local_addr()))
            .await
            .unwrap()
            .status(),
        404
    );

    for call in calls {
        call.await.unwrap().unwrap();
    }
    let timeline = recording.finish();
    assert!(timeline.rates().len() >= 2, "{timeline:?}");
    let usage = client.usage();
    assert_eq!(timeline.samples().last().unwrap().totals, usage.total());
    let svg = timeline.to_svg("60 calls at 40/s").unwrap();
    assert_eq!(well_formed(&svg), Ok("svg".to_owned()));
    for name in SERIES {
        assert!(
            svg.contains(&format!(">{name}</text>"))
                || svg.contains(&format!(">\n{name}\n</text>")),
            "{name} is not named:\n{svg}"
        );
    }
    let summary = RunSummary::new(&usage, started.elapsed()).to_string();
    assert!(summary.contains("60 answered"), "{summary}");
    assert!(!svg.contains(sim.api_key()) && !summary.contains(sim.api_key()));
    server.shutdown().await;
    sim.shutdown().await;
}
