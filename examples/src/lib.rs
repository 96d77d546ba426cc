//! Runnable examples of `retry-core` and `together-client`: see `examples/` and run one with
//! `cargo run --example NAME`.
//!
//! This crate also compiles and runs the code blocks of the workspace's README as doctests.
#![doc = include_str!("../../README.md")]

/// The code blocks of `retry-core/README.md`, compiled and run as doctests.
#[doc = include_str!("../../retry-core/README.md")]
pub mod retry_core_readme {}

/// Starts the simulator `sim` describes, and a client of it (its key, its URL): what the
/// examples run against when there is no `TOGETHER_API_KEY`.
pub async fn simulated(
    sim: together_client::sim::SimulatorBuilder,
) -> Result<(together_client::Together, together_client::sim::Simulator), Box<dyn std::error::Error>>
{
    let sim = sim.start().await?;
    let client = together_client::Together::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .build()?;
    Ok((client, sim))
}

/// How unevenly a fleet shared one limit, for the fleet benchmarks (`goodput --fleet` and
/// `fleet`): the worst `|share * N - 1|` over its processes, a process's share being its rate
/// (`successes / wall` seconds) over the sum of every process's rate. 0 when each got exactly
/// 1/N; 1 when nothing got through at all.
///
/// ```
/// // Two processes, one twice as fast as the other: shares 2/3 and 1/3.
/// let unfair = examples::unfairness([(20, 1.0), (10, 1.0)]);
/// assert!((unfair - 1.0 / 3.0).abs() < 1e-9);
/// assert_eq!(examples::unfairness([(5, 1.0), (10, 2.0)]), 0.0);
/// ```
pub fn unfairness(processes: impl IntoIterator<Item = (usize, f64)>) -> f64 {
    let rates: Vec<f64> = processes
        .into_iter()
        .map(|(successes, wall)| {
            if wall > 0.0 {
                successes as f64 / wall
            } else {
                0.0
            }
        })
        .collect();
    let total: f64 = rates.iter().sum();
    if total <= 0.0 {
        return 1.0;
    }
    let n = rates.len() as f64;
    rates
        .iter()
        .map(|r| (r / total * n - 1.0).abs())
        .fold(0.0, f64::max)
}
