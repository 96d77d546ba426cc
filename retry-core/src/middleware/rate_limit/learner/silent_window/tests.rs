use super::*;

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Answers come 10 ms after their request went.
fn taken(sign: &mut SilentWindow, sent: u64) {
    sign.taken(ms(sent), 0.0);
}

fn refused(sign: &mut SilentWindow, sent: u64) {
    sign.refused(ms(sent + 10), ms(sent));
}

/// One window of a server counting `count` per second, as the header-blind pace meets it:
/// `count` taken 20 ms apart from `start`, then a 429 and, with nothing taken, three more
/// after pauses that double (sent after the first one's answer came back).
fn spend(sign: &mut SilentWindow, start: u64, count: u64) {
    for i in 0..count {
        taken(sign, start + 20 * i);
    }
    refused_a_run(sign, start + 20 * count);
}

/// A 429 to a request sent at `from`, then three more after pauses that double.
fn refused_a_run(sign: &mut SilentWindow, from: u64) {
    for after in [0, 50, 150, 350] {
        refused(sign, from + after);
    }
}

/// 5 a second, each window opening at a whole second, the pace resuming 250 ms late: the
/// second run of 429s after five taken reads the window, a whole second long (the runs
/// bound it between 0.45 s and 1.8 s).
#[test]
fn two_runs_after_the_same_count_read_a_window() {
    let mut sign = SilentWindow::default();
    spend(&mut sign, 0, 5);
    spend(&mut sign, 1_250, 5);
    assert_eq!(sign.reading(), None, "one boundary seen");
    taken(&mut sign, 2_250);
    assert_eq!(sign.reading(), Some((5, ms(1_000))));
}

/// A bucket's 429s end at the pause: a request back within it. However many, however
/// evenly spaced, they read no window.
#[test]
fn runs_that_end_at_their_pause_read_no_window() {
    let mut sign = SilentWindow::default();
    let mut t = 0;
    for _ in 0..10 {
        for _ in 0..5 {
            taken(&mut sign, t);
            t += 20;
        }
        assert_eq!(sign.reading(), None, "at {t} ms");
        refused(&mut sign, t);
        // Sent after the 429's answer: one held refusal, not three.
        refused(&mut sign, t + 30);
        t += 70;
    }
    taken(&mut sign, t);
    assert_eq!((sign.reading(), sign.refuted), (None, 0));
}

/// Windows whose counts differ (a limit that moves, a bucket's refill) read no window.
#[test]
fn unequal_counts_read_no_window() {
    let mut sign = SilentWindow::default();
    spend(&mut sign, 0, 5);
    spend(&mut sign, 1_250, 7);
    taken(&mut sign, 2_250);
    assert_eq!(sign.reading(), None);
    // Nor a count under four: a slow bucket gives back one or two between long runs.
    let mut sign = SilentWindow::default();
    spend(&mut sign, 0, 3);
    spend(&mut sign, 1_250, 3);
    taken(&mut sign, 2_250);
    assert_eq!(sign.reading(), None);
}

/// An answer to a request sent before the boundary, coming after it, counts in the window
/// before; a 429 to one is news of the run already read, not a new run.
#[test]
fn late_answers_count_where_their_requests_went() {
    let mut sign = SilentWindow::default();
    // Window 0: four taken in time, the fifth (sent at 80 ms) answered after the boundary.
    for i in 0..4 {
        taken(&mut sign, 20 * i);
    }
    refused_a_run(&mut sign, 100);
    taken(&mut sign, 1_250);
    taken(&mut sign, 80);
    refused(&mut sign, 400);
    assert!(
        sign.run.is_none(),
        "a 429 from before the boundary opens no run"
    );
    for i in 1..5 {
        taken(&mut sign, 1_250 + 20 * i);
    }
    refused_a_run(&mut sign, 1_350);
    taken(&mut sign, 2_250);
    assert_eq!(sign.reading(), Some((5, ms(1_000))));
}

/// A 429 to a request sent once the window read was open refutes it. The next reading
/// needs three boundaries that agree; the second refutation is the last.
#[test]
fn a_429_under_the_reading_refutes_it() {
    let mut sign = SilentWindow::default();
    spend(&mut sign, 0, 5);
    spend(&mut sign, 1_250, 5);
    taken(&mut sign, 2_250);
    assert!(sign.reading().is_some());
    // Sent before the window it was read at opened (by 2 250 ms): no news of the reading.
    refused(&mut sign, 1_800);
    assert!(sign.reading().is_some());
    refused(&mut sign, 2_300);
    assert_eq!(sign.reading(), None);

    // The first run after it counts what went before the refutation too: three boundaries
    // with five before each are needed from the next one on.
    for k in 3..6 {
        spend(&mut sign, k * 1_000 + 250, 5);
    }
    assert_eq!(sign.reading(), None, "two boundaries after a refutation");
    spend(&mut sign, 6_250, 5);
    assert_eq!(sign.reading(), None, "three, the first of six");
    taken(&mut sign, 7_250);
    assert_eq!(sign.reading(), Some((5, ms(1_000))));

    refused(&mut sign, 7_300);
    for k in 8..14 {
        spend(&mut sign, k * 1_000 + 250, 5);
    }
    taken(&mut sign, 14_250);
    assert_eq!(sign.reading(), None, "refuted twice: never again");
}

/// Once read, the first request after a quarter of the window's length without a take goes
/// alone; the rest follow its answer.
#[test]
fn a_window_opening_is_probed_by_one_request() {
    let mut sign = SilentWindow::default();
    spend(&mut sign, 0, 5);
    spend(&mut sign, 1_250, 5);
    taken(&mut sign, 2_250);
    assert!(!sign.probing(ms(2_300)));
    assert!(sign.probing(ms(2_501)));
    taken(&mut sign, 2_490);
    assert!(!sign.probing(ms(2_510)));
}

#[test]
fn lengths_are_whole_seconds_where_the_span_holds_one() {
    assert_eq!(whole_seconds_within(ms(450), ms(1_800)), ms(1_000));
    assert_eq!(whole_seconds_within(ms(1_100), ms(2_400)), ms(2_000));
    assert_eq!(whole_seconds_within(ms(1_000), ms(1_400)), ms(1_000));
    assert_eq!(whole_seconds_within(ms(200), ms(900)), ms(900));
    assert_eq!(whole_seconds_within(ms(1_200), ms(1_900)), ms(1_900));
}
