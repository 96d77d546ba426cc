//! The plot: requests per second over time, per strategy, against the limit.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::strategies::Strategy;
use crate::workloads::{Row, Workload};

/// A chart of [`rates`]: virtual seconds against a rate, drawn into an SVG.
pub(crate) type Chart<'a> =
    ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Requests per second (every status, as the simulator saw them) over time, one line per
/// strategy, against the limit.
pub(crate) fn plot(
    path: &std::path::Path,
    w: &Workload,
    rows: &[Row],
) -> Result<(), Box<dyn std::error::Error>> {
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
    let series = series
        .into_iter()
        .map(|(strategy, points)| (strategy.name().to_owned(), points));
    rates(
        path,
        &format!("requests/s seen by the simulator: {}", w.label()),
        "requests/s (1 s bins)",
        (bins as f64, w.rate),
        series,
        |_, _, _| Ok(()),
    )
}

/// The chart both rate plots draw (this one and the fleet's): rates over virtual time up to
/// `x_end`, one line per series in the palette's colours, against the horizontal `limit`,
/// with `more` drawing what a series adds (given its index and colour).
pub(crate) fn rates<'a>(
    path: &'a std::path::Path,
    caption: &str,
    y_desc: &str,
    (x_end, limit): (f64, f64),
    series: impl Iterator<Item = (String, Vec<(f64, f64)>)>,
    mut more: impl FnMut(usize, &mut Chart<'a>, RGBAColor) -> Result<(), Box<dyn std::error::Error>>,
) -> Result<(), Box<dyn std::error::Error>> {
    let series: Vec<(String, Vec<(f64, f64)>)> = series.collect();
    let top = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|&(_, y)| y))
        .fold(limit, f64::max)
        * 1.1;

    let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..x_end, 0f64..top)?;
    chart
        .configure_mesh()
        .x_desc("virtual time (s)")
        .y_desc(y_desc)
        .draw()?;
    chart
        .draw_series(LineSeries::new(
            [(0.0, limit), (x_end, limit)],
            BLACK.stroke_width(2),
        ))?
        .label(format!("limit {limit}/s"))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.stroke_width(2)));
    for (i, (name, points)) in series.into_iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        more(i, &mut chart, color)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
