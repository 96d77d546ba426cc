//! `fleet.svg`: the fleet's rate over time.

use together_client::sim::Scenario;

use super::run::{Run, run_seeded};
use super::{BIN, MEMBERS, Member, PLOT, REQUESTS, TASKS, Variant};
use crate::family::TOKENS_EACH;

/// Successes per second in [`BIN`]-second bins, from the times they came back.
fn rate(times: impl Iterator<Item = f64>, bins: usize) -> Vec<(f64, f64)> {
    let mut counts = vec![0u32; bins];
    // Past the last bin is past the plot, not piled into its edge.
    for t in times {
        if let Some(count) = counts.get_mut((t / BIN) as usize) {
            *count += 1;
        }
    }
    counts
        .iter()
        .enumerate()
        .map(|(b, &c)| ((b as f64 + 0.5) * BIN, f64::from(c) / BIN))
        .collect()
}

/// `fleet.svg`: the fleet's successes per second over time, one line per strategy (N = 4 on
/// together-bucket, seed 0, all starting together), and each process of `ours-shared`
/// dashed, against the limit.
pub(super) fn plot(path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;

    let (name, n, seed) = PLOT;
    let scenario = Scenario::named(name).expect("a scenario of the catalogue");
    let runs: Vec<(Member, Run)> = MEMBERS
        .into_iter()
        .map(|m| (m, run_seeded(&scenario, seed, m, n, Variant::Together)))
        .collect();
    let ideal = scenario.ideal(n * REQUESTS, TOKENS_EACH);
    let last = runs
        .iter()
        .flat_map(|(_, r)| r.processes.iter().flat_map(|p| p.done_at.iter().copied()))
        .fold(ideal, f64::max);
    // A peer's retries can stretch over a minute (backon's delays reach 60 s), which would
    // squeeze the part where the fleet shares the limit into a corner: the plot shows twice
    // the ideal, and says where it cuts.
    let end = last.min(2.0 * ideal);
    let cut = if last > end {
        format!(", first {end:.0} s of {last:.0}")
    } else {
        String::new()
    };
    let bins = (end / BIN).ceil() as usize + 1;
    let series: Vec<(Member, Vec<(f64, f64)>)> = runs
        .iter()
        .map(|(m, r)| {
            let all = r.processes.iter().flat_map(|p| p.done_at.iter().copied());
            (*m, rate(all, bins))
        })
        .collect();
    let names = series
        .into_iter()
        .map(|(member, points)| (format!("{} (fleet)", member.name()), points));
    let caption = format!(
        "successes/s of a fleet of {n} processes ({REQUESTS} requests, {TASKS} tasks each), {name}, seed {seed}{cut}"
    );
    let y_desc = format!("successes/s ({} ms bins)", BIN * 1000.0);
    let x_end = bins as f64 * BIN;
    crate::plot::rates(
        path,
        &caption,
        &y_desc,
        (x_end, scenario.rate),
        names,
        |i, chart, color| {
            let (member, run) = &runs[i];
            if *member == Member::Shared {
                for process in &run.processes {
                    let points = rate(process.done_at.iter().copied(), bins);
                    chart.draw_series(DashedLineSeries::new(
                        points,
                        4,
                        4,
                        color.stroke_width(1),
                    ))?;
                }
                chart
                    .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())?
                    .label(format!("{} (each process)", member.name()))
                    .legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 8, y)], color.stroke_width(1))
                    });
            }
            Ok(())
        },
    )
}
