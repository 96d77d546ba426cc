//! A [`Timeline`] drawn as SVG with plotters (feature `report`): requests per second sent,
//! answered and rate-limited, the limiter's pace and the server's reported limit above;
//! tokens per second below. Every series is named in the legend (SVG `<text>`; the SVG
//! backend needs no font).

use std::fmt;

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::timeline::{Rates, Timeline};

/// The names of the series, as the legend shows them.
pub const SERIES: [&str; 6] = [
    "sent (req/s)",
    "answered (req/s)",
    "429s (/s)",
    "limiter pace (req/s)",
    "server limit (x-ratelimit-limit)",
    "tokens/s",
];

/// Why a timeline could not be drawn.
#[derive(Debug)]
pub struct DrawError(String);

impl fmt::Display for DrawError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot draw the timeline: {}", self.0)
    }
}

impl std::error::Error for DrawError {}

fn err(e: impl fmt::Display) -> DrawError {
    DrawError(e.to_string())
}

impl Timeline {
    /// The timeline as an SVG document, titled `title`.
    ///
    /// ```
    /// use together_client::report::Timeline;
    ///
    /// let svg = Timeline::new().to_svg("an empty run").unwrap();
    /// assert!(svg.contains("<svg") && svg.contains("tokens/s"));
    /// ```
    pub fn to_svg(&self, title: &str) -> Result<String, DrawError> {
        let rates = self.rates();
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, (1000, 720)).into_drawing_area();
            root.fill(&WHITE).map_err(err)?;
            let root = root.titled(title, ("sans-serif", 20)).map_err(err)?;
            let (top, bottom) = root.split_vertically(460);
            requests(&top, &rates)?;
            tokens(&bottom, &rates)?;
            root.present().map_err(err)?;
        }
        Ok(out)
    }

    /// Writes [`to_svg`](Self::to_svg) to `path`.
    pub fn write_svg(&self, path: &std::path::Path, title: &str) -> std::io::Result<()> {
        let svg = self.to_svg(title).map_err(std::io::Error::other)?;
        std::fs::write(path, svg)
    }
}

/// The end of the x axis, in seconds (at least one).
fn end(rates: &[Rates]) -> f64 {
    rates.last().map_or(1.0, |r| r.at).max(1.0)
}

fn top(values: impl Iterator<Item = f64>) -> f64 {
    (values.filter(|v| v.is_finite()).fold(1.0, f64::max) * 1.15).ceil()
}

/// Reads one series' value from an interval's rates.
type Value = fn(&Rates) -> Option<f64>;

fn requests<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    rates: &[Rates],
) -> Result<(), DrawError> {
    let y = top(rates.iter().flat_map(|r| {
        [r.sent, r.answered, r.rate_limited]
            .into_iter()
            .chain(r.pace)
            .chain(r.server_limit)
    }));
    let mut chart = axes(area, rates, y, "requests/s")?;
    let lines: [(usize, RGBColor, Value); 5] = [
        (0, BLUE, |r| Some(r.sent)),
        (1, GREEN, |r| Some(r.answered)),
        (2, RED, |r| Some(r.rate_limited)),
        (3, MAGENTA, |r| r.pace),
        (4, BLACK, |r| r.server_limit),
    ];
    for (name, color, value) in lines {
        let points: Vec<(f64, f64)> = rates
            .iter()
            .filter_map(|r| value(r).map(|v| (r.at, v)))
            .collect();
        line(&mut chart, points, color, name)?;
    }
    legend(&mut chart)
}

fn tokens<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    rates: &[Rates],
) -> Result<(), DrawError> {
    let y = top(rates.iter().map(|r| r.tokens));
    let mut chart = axes(area, rates, y, "tokens/s")?;
    line(&mut chart, rates.iter().map(|r| (r.at, r.tokens)), CYAN, 5)?;
    legend(&mut chart)
}

/// A chart of seconds against a rate.
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Axes of seconds (to the end of `rates`) against a rate from 0 to `y`, mesh drawn.
fn axes<'a, DB: DrawingBackend + 'a>(
    area: &'a DrawingArea<DB, plotters::coord::Shift>,
    rates: &[Rates],
    y: f64,
    y_desc: &str,
) -> Result<Chart<'a, DB>, DrawError> {
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..end(rates), 0f64..y)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc(y_desc)
        .draw()
        .map_err(err)?;
    Ok(chart)
}

/// Draws `points` in `color` as the series `SERIES[name]`, named in the legend.
fn line<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    points: impl IntoIterator<Item = (f64, f64)>,
    color: RGBColor,
    name: usize,
) -> Result<(), DrawError> {
    chart
        .draw_series(LineSeries::new(points, color.stroke_width(2)))
        .map_err(err)?
        .label(SERIES[name])
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    Ok(())
}

fn legend<'a, DB: DrawingBackend + 'a>(chart: &mut Chart<'a, DB>) -> Result<(), DrawError> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)
}
