//! The plot: requests per second over time, per strategy, against the limit.

use crate::strategies::Strategy;
use crate::workloads::{Row, Workload};

/// Requests per second (every status, as the simulator saw them) over time, one line per
/// strategy, against the limit.
pub(crate) fn plot(
    path: &std::path::Path,
    w: &Workload,
    rows: &[Row],
) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;

    let end = rows
        .iter()
        .flat_map(|r| r.log.last())
        .map(|e| e.at.as_secs_f64())
        .fold(w.nominal(), f64::max);
    let bins = end.ceil() as usize + 1;
    let series: Vec<(Strategy, Vec<(f64, f64)>)> = rows
        .iter()
        .map(|r| {
            let mut counts = vec![0u32; bins];
            for e in &r.log {
                counts[(e.at.as_secs_f64() as usize).min(bins - 1)] += 1;
            }
            let points = counts
                .iter()
                .enumerate()
                .map(|(s, &c)| (s as f64 + 0.5, f64::from(c)))
                .collect();
            (r.strategy, points)
        })
        .collect();
    let top = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|&(_, y)| y))
        .fold(w.rate, f64::max)
        * 1.1;

    let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("requests/s seen by the simulator: {}", w.label()),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..bins as f64, 0f64..top)?;
    chart
        .configure_mesh()
        .x_desc("virtual time (s)")
        .y_desc("requests/s (1 s bins)")
        .draw()?;
    chart
        .draw_series(LineSeries::new(
            [(0.0, w.rate), (bins as f64, w.rate)],
            BLACK.stroke_width(2),
        ))?
        .label(format!("limit {}/s", w.rate))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.stroke_width(2)));
    for (i, (strategy, points)) in series.into_iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(strategy.name())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
