//! The `#[retry]` attribute of [`retry-core`](https://docs.rs/retry-core).
//!
//! Depend on `retry-core` and write `retry_core::retry`: the generated code names
//! `::retry_core` items, and this crate is only its compile-time half.
//!
//! The macro is three passes, one file each: `attr.rs` parses the arguments and `ast.rs` the
//! function, `valid.rs` checks what needs both, `expand.rs` generates the loop. Beside them,
//! `suggest.rs` holds the option names and what error messages suggest.

mod ast;
mod attr;
mod duration;
mod expand;
mod returns;
mod site;
mod suggest;
mod valid;

use proc_macro::TokenStream;

/// Retries a function that returns a `Result` when it fails with a retryable error.
///
/// ```
/// use retry_core::retry;
///
/// #[retry(backoff = "exponential", on = "connect", attempts = 3, initial = "1ms")]
/// async fn fetch(addr: &str) -> std::io::Result<String> {
///     // Any fallible work: each failure classified as `connect` is retried.
///     Ok(format!("fetched {addr}"))
/// }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() { assert_eq!(fetch("x").await.unwrap(), "fetched x"); }
/// ```
///
/// # Options
/// All are optional; `#[retry]` alone retries transient errors with the defaults of
/// `retry_core::Policy` (5 attempts, 500 ms exponential backoff with full jitter capped at
/// 30 s, a 60 s deadline).
///
/// | option | value | meaning |
/// |---|---|---|
/// | `backoff` | `"exponential"`, `"constant"`, `"linear"`, `"fibonacci"`, `"decorrelated"` | the delay curve |
/// | `on` | `"rate_limit"`, `"overloaded"`, `"server_error"`, `"timeout"`, `"connect"`, `"transient"` (default), `"any"`; a list `["rate_limit", "timeout"]`; or a path to `fn(&E) -> bool` | which errors to retry; class names need `E: retry_core::Classify` |
/// | `attempts` | integer ≥ 1 | total attempts, the first included |
/// | `initial` | `"500ms"` | first delay |
/// | `max_delay` | `"30s"` | cap on a computed delay (after jitter) |
/// | `factor` | float ≥ 1.0 | growth of exponential backoff |
/// | `jitter` | `"full"`, `"equal"`, `"none"` | randomisation of a delay |
/// | `deadline` | `"60s"` | bound on the whole call, attempts and sleeps |
/// | `attempt_timeout` | `"10s"` | bound on one attempt (async only; `E: From<retry_core::Elapsed>`) |
/// | `on_retry` | path to `fn(&retry_core::RetryDetails)` | hook called before each sleep |
/// | `budget` | path to a `static retry_core::RetryBudget` | retries as a share of recent calls, shared with every user of that budget |
/// | `policy` | an expression of type `retry_core::Policy` | a run-time policy instead of the knobs above |
/// | `crate` | a path | where `retry_core` is, if renamed |
///
/// Durations are string literals with a unit: `ms`, `s` or `m`.
///
/// `on = "any"` and `on = path` need no `Classify`, but still honour the error's
/// `retry_after()` hint when its type implements `Classify`.
///
/// # What it works on
/// Async and sync functions, free functions and methods (`&self`, `&mut self`), generic
/// functions, async fns in trait impls, any `Result` alias, bodies with `return` and `?`.
/// Owned arguments are cloned for each attempt but the last, which gets the original;
/// `&mut` arguments are reborrowed for each attempt. The returned error is the last error,
/// unchanged.
///
/// ```
/// use std::time::Duration;
/// use retry_core::{retry, Policy, RetryDetails};
///
/// struct Counter { calls: u32 }
///
/// fn log(details: &RetryDetails) {
///     eprintln!("attempt {} failed, retrying in {:?}", details.attempt, details.delay);
/// }
///
/// const FAST: Policy = Policy::constant().attempts(4).initial(Duration::from_millis(1));
///
/// impl Counter {
///     #[retry(policy = FAST, on = "any", on_retry = log)]
///     fn bump(&mut self, by: u32) -> Result<u32, String> {
///         self.calls += by;
///         if self.calls < 3 { Err(format!("only {}", self.calls)) } else { Ok(self.calls) }
///     }
/// }
///
/// let mut counter = Counter { calls: 0 };
/// assert_eq!(counter.bump(1), Ok(3));
/// ```
#[proc_macro_attribute]
pub fn retry(args: TokenStream, item: TokenStream) -> TokenStream {
    let item2: proc_macro2::TokenStream = item.clone().into();
    match expand(args.into(), item2.clone()) {
        Ok(tokens) => tokens.into(),
        // Emit the function unchanged beside the error, so its callers do not pile up
        // follow-on errors about a missing function.
        Err(error) => {
            let error = error.to_compile_error();
            // On an expression (a closure; unstable, but rustc still expands it) the output
            // must be one expression too, or rustc reports a parse error instead of ours.
            if syn::parse2::<syn::Item>(item2.clone()).is_err()
                && syn::parse2::<syn::Expr>(item2.clone()).is_ok()
            {
                return quote::quote!({ #error #item2 }).into();
            }
            let mut tokens = error;
            tokens.extend(item2);
            tokens.into()
        }
    }
}

fn expand(
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> syn::Result<proc_macro2::TokenStream> {
    let parsed_fn = ast::RetryFn::parse(item);
    let parsed_args = attr::Options::parse(args);
    let (func, options) = match (parsed_fn, parsed_args) {
        (Ok(func), Ok(options)) => (func, options),
        (Err(mut a), Err(b)) => {
            a.combine(b);
            return Err(a);
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    match valid::validate(&options, &func) {
        Ok(()) => Ok(expand::expand(options, func)),
        // The function still parses and the options are well-formed: expand it anyway, with
        // the knobs in error left out, so that the build also reports the function's other
        // mistakes, and what the attribute names (a `policy` const, an `on_retry` fn) does not
        // read as unused.
        Err(errors) => {
            let mut tokens = errors.to_compile_error();
            tokens.extend(expand::expand(valid::without_errors(options), func));
            Ok(tokens)
        }
    }
}
