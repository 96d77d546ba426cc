//! Clock skew between processes does not matter: three workers (this test binary run again)
//! whose wall clocks are an hour apart (libfaketime: `+1h`, none, `-1h`) share one 30 req/s
//! limit as well as if their clocks agreed, since the schedule runs on Redis's clock (`TIME`).
//! Needs `REDIS_URL` and libfaketime (`apt-get install faketime`; CI installs both); skipped,
//! and says so, without them.

use crate::kit::sim::launch;
use crate::redis_support::{Worker, run_fleet};
use test_kit::{redis_url, skipped};
use together_client::sim::Simulator;

/// libfaketime's library, where Debian puts it.
fn libfaketime() -> Option<String> {
    let dirs = std::fs::read_dir("/usr/lib").ok()?;
    dirs.flatten()
        .map(|dir| dir.path().join("faketime/libfaketime.so.1"))
        .chain([std::path::PathBuf::from(
            "/usr/lib/faketime/libfaketime.so.1",
        )])
        .find(|path| path.exists())
        .map(|path| path.display().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skewed_clocks_share_one_limit() {
    let Some(redis) = redis_url("skewed_clocks_share_one_limit") else {
        return;
    };
    let Some(lib) = libfaketime() else {
        skipped(
            "SKIPPED skewed_clocks_share_one_limit: libfaketime is not installed \
             (apt-get install faketime; CI installs it)",
        );
        return;
    };
    let sim = launch(Simulator::builder().rate_per_second(30.0).burst(3)).await;
    let (base_url, key) = (sim.base_url(), sim.api_key().to_owned());
    let figures = tokio::task::spawn_blocking(move || {
        let workers: Vec<Worker> = ["+1h", "", "-1h"]
            .into_iter()
            .map(|skew| Worker {
                // 6 s: long enough that one 429 and its cooldown on a loaded machine do not
                // move the sum by the 5 % the test allows.
                requests: 60,
                env: if skew.is_empty() {
                    Vec::new()
                } else {
                    // The wall clock only: a naive limiter would read it for the time.
                    vec![
                        ("LD_PRELOAD".into(), lib.clone()),
                        ("FAKETIME".into(), skew.into()),
                        ("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()),
                    ]
                },
            })
            .collect();
        run_fleet(&base_url, &key, &redis, &workers)
    })
    .await
    .unwrap();
    let stats = sim.stats();
    let sum: f64 = figures.iter().map(|f| f.rate).sum();
    let failed: u64 = figures.iter().map(|f| f.failed).sum();
    let share_429 = stats.rate_limited as f64 / stats.requests as f64;
    let skews: Vec<f64> = figures
        .iter()
        .map(|f| ((f.clock - figures[1].clock) / 60.0).round())
        .collect();
    println!(
        "3 processes with clocks {skews:?} minutes apart, one 30 req/s limit: sum of their rates \
         {sum:.2} req/s; {} 429s of {} requests; {failed} failed",
        stats.rate_limited, stats.requests
    );
    assert_eq!(skews, [60.0, 0.0, -60.0], "the clocks were not skewed");
    assert_eq!(failed, 0);
    assert!((sum / 30.0 - 1.0).abs() <= 0.05, "{sum}");
    assert!(share_429 <= 0.05, "{share_429}");
}
