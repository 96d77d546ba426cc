//! The fault matrix: every fault × every front end (`#[retry]` around reqwest, the
//! reqwest-middleware layers alone and over the limiter, the typed client, the batch engine),
//! each cell checked for its outcome class, the requests sent and the virtual time taken, and
//! that nothing panics.
//!
//! Faults come from a byte-level server on the test's runtime (`fault_support/server.rs`) on a
//! paused clock, with one jitter-free policy for every front end (4 attempts, 100 ms doubling,
//! 2 s attempt timeout), so times are exact. A "×2" fault hits the first two requests and then
//! the server answers normally; "always" hits every request.
//!
//! `cargo test -p together-client --all-features --test fault_matrix -- --nocapture` prints
//! the table that RELIABILITY.md carries.

use std::future::Future;

use crate::fault_support::front::{by_batch, by_client, by_macro, by_middleware};
use crate::fault_support::{Answer, Cell, Expect, Kind, Row, Times, between, cell, status, table};

fn row(name: &'static str, fault: Answer, times: Times, kind: Kind) -> Row {
    Row {
        name,
        fault,
        times,
        kind,
    }
}

fn twice(name: &'static str, fault: Answer) -> Row {
    row(name, fault, Times::Twice, Kind::Plain)
}

/// The policy's backoff before retry 1, 2 and 3: 100, 200, 400 ms.
const TWO_BACKOFFS: u64 = 300;
const THREE_BACKOFFS: u64 = 700;
/// The limiter's own wait before each retry after a 429 with no usable hint: it cuts its pace
/// and holds the host 1.5 intervals of the cut pace, and the retry (told the host is held)
/// queues at once instead of sleeping the backoff.
const LIMITER_PAUSE: u64 = 225;
/// The limiter's wait after a 429 with `retry-after-ms: 250`: the hint, then the cut pace.
const LIMITER_HINTED: u64 = 275;

/// A fault every front end survives: `Ok` after 3 requests, in `plain` ms without the
/// limiter and `limited` ms with it.
fn recovers(plain: u64, limited: u64) -> [Expect; 5] {
    [
        cell("Ok", 3, plain),
        cell("Ok", 3, plain),
        cell("Ok", 3, limited),
        cell("Ok", 3, limited),
        cell("Ok line", 3, limited),
    ]
}

/// A status no front end retries: one request, the status handed back, no time.
fn refused(code: u16, client: &'static str, batch: &'static str) -> [Expect; 5] {
    let macro_err = leak(format!("Err(Status {code})"));
    let status = leak(format!("Status {code}"));
    [
        cell(macro_err, 1, 0),
        cell(status, 1, 0),
        cell(status, 1, 0),
        cell(client, 1, 0),
        cell(batch, 1, 0),
    ]
}

/// The rows, each with its expected cell in every column: macro, retry middleware, retry +
/// rate-limit middleware, client, batch.
fn matrix() -> Vec<(Row, [Expect; 5])> {
    use Expect::Na;
    let hint = |h: &str| status(429, &[("retry-after", h)]);
    let no_batch = Na("the batch engine does not stream");
    // A body error reaches the middleware's caller after the layers returned: not retried.
    let body_cut = || cell("Ok, body Err(connect)", 1, 0);
    let unreadable = || cell("Ok, body unreadable", 1, 0);
    let mut rows = vec![
        (
            twice("429, no hint", status(429, &[])),
            recovers(TWO_BACKOFFS, 2 * LIMITER_PAUSE),
        ),
        (
            twice(
                "429 `retry-after-ms: 250`",
                status(429, &[("retry-after-ms", "250")]),
            ),
            recovers(500, 2 * LIMITER_HINTED),
        ),
        // The limiter reads a whole-second hint as "within the second": its cooldown ends at
        // the start of it and its pause does the rest. Alone, the retry layer sleeps all of it.
        (
            twice("429 `Retry-After: 1`", hint("1")),
            recovers(2000, 2 * LIMITER_PAUSE),
        ),
        (
            // The date is whole seconds on the wall clock: a wait of (1, 2] s each time, or,
            // under the limiter, its lower bound (0, 1] s.
            twice(
                "429 `Retry-After: <date in 2 s>`",
                Answer::DateHinted {
                    status: 429,
                    ahead: 2,
                },
            ),
            [
                between("Ok", 3, 2000, 4000),
                between("Ok", 3, 2000, 4000),
                between("Ok", 3, 0, 2200),
                between("Ok", 3, 0, 2200),
                between("Ok line", 3, 0, 2200),
            ],
        ),
        (
            twice(
                "429 `x-ratelimit-remaining: 0`, `-reset: 0.5`",
                status(
                    429,
                    &[
                        ("x-ratelimit-limit", "10"),
                        ("x-ratelimit-remaining", "0"),
                        ("x-ratelimit-reset", "0.5"),
                    ],
                ),
            ),
            // The retry layer alone sleeps the reset; the limiter holds only until one request
            // of the 10 is back (50 ms after the request that emptied the bucket), then paces.
            recovers(1000, 450),
        ),
        (
            row(
                "429 always, `retry-after-ms: 250`",
                status(429, &[("retry-after-ms", "250")]),
                Times::Always,
                Kind::Plain,
            ),
            [
                cell("Err(Status 429)", 4, 750),
                cell("Status 429", 4, 750),
                // Under the limiter a held 429 costs no attempt: the limiter cuts its pace at
                // the first (20 -> 10 a second), then doubles its pause at each 429 with nothing
                // taken in between (the pace kept: a spent window looks the same), and halves
                // the pace again only at the ones after its longest pause (5, 2.5... a second),
                // until its wait outlasts the 2 s attempt timeout; those four timeouts end the
                // call: 7 held 429s, then 4 attempts that time out waiting, the last a 429.
                between("Status 429", 11, 16_000, 17_000),
                between("Err(RateLimited 429)", 11, 16_000, 17_000),
                between("Err line (429)", 11, 16_000, 17_000),
            ],
        ),
    ];
    for code in [500, 502, 503, 504, 524] {
        rows.push((
            twice(leak(format!("{code}")), status(code, &[])),
            recovers(TWO_BACKOFFS, TWO_BACKOFFS),
        ));
    }
    rows.push((
        row("503 always", status(503, &[]), Times::Always, Kind::Plain),
        [
            cell("Err(Status 503)", 4, THREE_BACKOFFS),
            cell("Status 503", 4, THREE_BACKOFFS),
            cell("Status 503", 4, THREE_BACKOFFS),
            cell("Err(Overloaded 503)", 4, THREE_BACKOFFS),
            cell("Err line (503)", 4, THREE_BACKOFFS),
        ],
    ));
    // 501 and 505 say the server will never support the request: permanent everywhere.
    for code in [501, 505] {
        let expected = refused(
            code,
            leak(format!("Err(Server {code})")),
            leak(format!("Err line ({code})")),
        );
        rows.push((twice(leak(format!("{code}")), status(code, &[])), expected));
    }
    rows.extend([
        (
            twice("400", status(400, &[])),
            refused(400, "Err(BadRequest 400)", "Err line (400)"),
        ),
        // A bad key or an empty balance fails every line alike: the batch stops, writes nothing.
        (
            twice("401", status(401, &[])),
            refused(401, "Err(Auth 401)", "Fatal (Auth 401)"),
        ),
        (
            twice("402", status(402, &[])),
            refused(402, "Err(Payment 402)", "Fatal (Payment 402)"),
        ),
        (
            twice("403", status(403, &[])),
            refused(403, "Err(Auth 403)", "Fatal (Auth 403)"),
        ),
        (
            twice("404", status(404, &[])),
            refused(404, "Err(NotFound 404)", "Err line (404)"),
        ),
        (
            twice("422", status(422, &[])),
            refused(422, "Err(BadRequest 422)", "Err line (422)"),
        ),
        (
            row(
                "connection refused",
                Answer::Close,
                Times::Always,
                Kind::Refused,
            ),
            [
                cell("Err(Http connect)", 4, THREE_BACKOFFS),
                cell("Err(connect)", 4, THREE_BACKOFFS),
                cell("Err(connect)", 4, THREE_BACKOFFS),
                cell("Err(Transport connect)", 4, THREE_BACKOFFS),
                cell("Err line (no status)", 4, THREE_BACKOFFS),
            ],
        ),
        (
            twice("closed before the answer", Answer::Close),
            recovers(TWO_BACKOFFS, TWO_BACKOFFS),
        ),
        (
            twice("reset mid-body", Answer::ResetMidBody),
            [
                cell("Ok", 3, TWO_BACKOFFS),
                body_cut(),
                body_cut(),
                cell("Ok", 3, TWO_BACKOFFS),
                cell("Ok line", 3, TWO_BACKOFFS),
            ],
        ),
        // Two attempt timeouts of 2 s and two backoffs.
        (
            twice("hangs (no answer)", Answer::Hang),
            recovers(4300, 4300),
        ),
        (
            twice("truncated JSON", Answer::TruncatedJson),
            [
                cell("Err(Decode)", 1, 0),
                unreadable(),
                unreadable(),
                cell("Err(Decode)", 1, 0),
                cell("Err line (no status)", 1, 0),
            ],
        ),
        (
            twice("invalid JSON", Answer::InvalidJson),
            [
                cell("Err(Decode)", 1, 0),
                unreadable(),
                unreadable(),
                cell("Err(Decode)", 1, 0),
                cell("Err line (no status)", 1, 0),
            ],
        ),
        (
            // Past its first chunk a stream is the caller's: the client does not retry it.
            row(
                "SSE cut after 2 chunks",
                Answer::CutStream { after: 2 },
                Times::Twice,
                Kind::Stream,
            ),
            [
                cell("Ok", 3, TWO_BACKOFFS),
                body_cut(),
                body_cut(),
                cell("Err(Transport connect) after 2 chunks", 1, 0),
                no_batch.clone(),
            ],
        ),
        (
            row(
                "SSE cut before the first chunk",
                Answer::CutStream { after: 0 },
                Times::Twice,
                Kind::Stream,
            ),
            [
                cell("Ok", 3, TWO_BACKOFFS),
                body_cut(),
                body_cut(),
                cell("Ok", 3, TWO_BACKOFFS),
                no_batch,
            ],
        ),
    ]);
    // An absurd hint is no hint: the backoff (or the limiter's own pause) applies.
    for (name, fault) in [
        ("429 `Retry-After: 1e12`", hint("1e12")),
        ("429 `Retry-After: -5`", hint("-5")),
        ("429 `Retry-After: soon`", hint("soon")),
        (
            "429 `Retry-After: <date 1 h ago>`",
            Answer::DateHinted {
                status: 429,
                ahead: -3600,
            },
        ),
    ] {
        rows.push((
            twice(name, fault),
            recovers(TWO_BACKOFFS, 2 * LIMITER_PAUSE),
        ));
    }
    rows
}

/// A row name made at run time (the table keeps `&'static str`s).
fn leak(name: String) -> &'static str {
    Box::leak(name.into_boxed_str())
}

/// Runs one cell in a task of its own, so that a panic is a cell's result, not the test's end.
async fn run<F, Fut>(front: F, row: &Row) -> Result<Cell, String>
where
    F: FnOnce(Row) -> Fut,
    Fut: Future<Output = Cell> + Send + 'static,
{
    tokio::spawn(front(row.clone())).await.map_err(|e| {
        let panic = e.into_panic();
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "a panic".to_owned())
    })
}

#[tokio::test(start_paused = true)]
async fn every_fault_through_every_front_end() {
    let columns = ["macro", "retry mw", "retry + limit mw", "client", "batch"];
    let matrix = matrix();
    let mut printed = Vec::new();
    let mut wrong = Vec::new();
    for (row, expected) in &matrix {
        let mut cells = Vec::new();
        for (i, (column, expect)) in columns.iter().zip(expected).enumerate() {
            if let Expect::Na(why) = expect {
                cells.push(format!("n/a: {why}"));
                continue;
            }
            let seen = match i {
                0 => run(by_macro, row).await,
                1 => run(|r| by_middleware(r, false), row).await,
                2 => run(|r| by_middleware(r, true), row).await,
                3 => run(by_client, row).await,
                _ => run(by_batch, row).await,
            };
            cells.push(match &seen {
                Ok(cell) => cell.to_string(),
                Err(panic) => format!("PANIC: {panic}"),
            });
            if let Some(why) = expect.check(&seen) {
                wrong.push(format!("{} × {column}: {why}", row.name));
            }
        }
        printed.push(cells);
    }
    let rows: Vec<Row> = matrix.into_iter().map(|(row, _)| row).collect();
    println!("{}", table(&columns, &rows, &printed));
    assert!(
        wrong.is_empty(),
        "{} cells differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
