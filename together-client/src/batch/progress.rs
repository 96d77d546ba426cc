//! The progress bar of a batch run (indicatif): requests done, rate, 429s, errors, ETA.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// A progress bar, or nothing when the run is quiet.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    rate_limited: Option<super::Counter>,
    errors: u64,
}

impl Progress {
    /// A bar over `total` requests (unknown for standard input) drawn on stderr (hidden when
    /// stderr is not a terminal, as indicatif does), or none.
    pub(crate) fn new(
        total: Option<u64>,
        show: bool,
        rate_limited: Option<super::Counter>,
    ) -> Progress {
        let bar = show.then(|| {
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} requests  {rate}  {msg}  ETA {eta}",
                )
                .expect("the template is valid")
                .with_key(
                    "rate",
                    |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.1}/s", state.per_sec());
                    },
                ),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let progress = Progress {
            bar,
            rate_limited,
            errors: 0,
        };
        progress.message();
        progress
    }

    /// One more line done (`failed` if it ended in an error line).
    pub(crate) fn done(&mut self, failed: bool) {
        self.errors += u64::from(failed);
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        self.message();
    }

    fn message(&self) {
        if let Some(bar) = &self.bar {
            let limited = self.rate_limited.as_ref().map_or(0, |count| count());
            bar.set_message(format!("{limited} 429s  {} errors", self.errors));
        }
    }

    /// Leaves the bar as it is, finished.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}
