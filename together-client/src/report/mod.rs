//! The report of a run: what it used ([`RunSummary`]), what the limit cost it ([`LimitCost`]),
//! a timeline of it ([`Timeline`], drawn as SVG with feature `report`) and its metrics served
//! to Prometheus while it runs (`MetricsServer`, feature `prometheus`).
//!
//! A batch job wires them up like this (each piece is optional):
//!
//! ```no_run
//! # #[cfg(all(feature = "report", feature = "prometheus"))]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use together_client::Together;
//! use together_client::report::{MetricsServer, RunSummary, Timeline};
//!
//! // `--metrics-addr`: before the client's first request.
//! let server = MetricsServer::install("127.0.0.1:9000".parse()?).await?;
//! let client = Together::from_env()?;
//! let (start, before) = (tokio::time::Instant::now(), client.usage());
//! // `--report`: sample the client every second while the job runs.
//! let recording = Timeline::record(&client, Duration::from_secs(1));
//!
//! // ... the job ...
//!
//! let timeline = recording.finish();
//! timeline.write_svg("run.svg".as_ref(), "batch: requests, 429s and the limit")?;
//! let pace = client.rate_limiter().and_then(|l| l.pace(client.base_url()));
//! let summary = RunSummary::between(&before, &client.usage(), start.elapsed()).with_pace(pace);
//! eprintln!("{summary}"); // ends with the limit's cost, one sentence
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod cost;
#[cfg(feature = "prometheus")]
mod exporter;
mod summary;
#[cfg(feature = "report")]
mod svg;
mod timeline;

pub use cost::{LimitCost, RunFigures};
#[cfg(feature = "prometheus")]
pub use exporter::MetricsServer;
pub use summary::RunSummary;
#[cfg(feature = "report")]
pub use svg::{DrawError, SERIES};
pub use timeline::{Rates, Recording, Sample, Timeline};
