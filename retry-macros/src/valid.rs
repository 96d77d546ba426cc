//! Checks that need the whole attribute, or the attribute and the function together.

use proc_macro2::Span;

use crate::ast::RetryFn;
use crate::attr::{On, Options};

/// The defaults of `retry_core::Policy`, repeated here to check knobs against them at compile
/// time (retry-core's tests assert that the two agree).
const DEFAULT_INITIAL_NANOS: u64 = 500_000_000;
const DEFAULT_MAX_DELAY_NANOS: u64 = 30_000_000_000;

pub fn validate(options: &Options, func: &RetryFn) -> syn::Result<()> {
    let mut errors: Vec<syn::Error> = Vec::new();

    if options.policy.is_some() {
        for key in &options.keys {
            let name = key.to_string();
            if !matches!(
                name.as_str(),
                "policy" | "on" | "on_retry" | "budget" | "crate"
            ) {
                errors.push(syn::Error::new(
                    key.span(),
                    format!(
                        "`{name}` cannot be combined with `policy`: the policy already says it; set it there instead (`Policy::...().{name}(...)`)"
                    ),
                ));
            }
        }
    }

    if let Some(attempts) = &options.attempts
        && attempts.value == 0
    {
        errors.push(syn::Error::new(
                attempts.span,
                "`attempts` counts every call, the first included, so it must be at least 1 (`attempts = 1` never retries)",
            ));
    }

    if let Some(factor) = &options.factor {
        if factor.value.is_nan() || factor.value < 1.0 || factor.value.is_infinite() {
            errors.push(syn::Error::new(
                factor.span,
                format!("`factor` must be a finite number of at least 1.0, not {}: a backoff that shrinks would retry faster and faster", factor.value),
            ));
        }
        if let Some(backoff) = &options.backoff
            && backoff.value != "exponential"
        {
            errors.push(syn::Error::new(
                    factor.span,
                    format!("`factor` only shapes exponential backoff, but `backoff = \"{}\"`; remove `factor`", backoff.value),
                ));
        }
    }

    if let (Some(jitter), Some(backoff)) = (&options.jitter, &options.backoff)
        && backoff.value == "decorrelated"
    {
        errors.push(syn::Error::new(
                jitter.span,
                "`jitter` has no effect on `backoff = \"decorrelated\"`, which is random by construction; remove `jitter`",
            ));
    }

    let initial = options
        .initial
        .as_ref()
        .map(|d| d.value)
        .unwrap_or(DEFAULT_INITIAL_NANOS);
    let max_delay = options
        .max_delay
        .as_ref()
        .map(|d| d.value)
        .unwrap_or(DEFAULT_MAX_DELAY_NANOS);
    if initial > max_delay {
        let span = options
            .initial
            .as_ref()
            .map(|d| d.span)
            .or(options.max_delay.as_ref().map(|d| d.span))
            .unwrap_or_else(Span::call_site);
        let whose = if options.max_delay.is_some() {
            "`max_delay`"
        } else {
            "the default `max_delay` of 30s"
        };
        errors.push(syn::Error::new(
            span,
            format!("`initial` ({}) is longer than {whose} ({}): every delay would be capped; raise `max_delay` or lower `initial`", human(initial), human(max_delay)),
        ));
    }

    for (name, value) in [
        ("deadline", &options.deadline),
        ("attempt_timeout", &options.attempt_timeout),
    ] {
        if let Some(d) = value
            && d.value == 0
        {
            errors.push(syn::Error::new(
                d.span,
                format!(
                    "a zero `{name}` leaves no time for any attempt; give it a length, or remove it"
                ),
            ));
        }
    }

    if let Some(timeout) = &options.attempt_timeout
        && !func.is_async()
    {
        errors.push(syn::Error::new(
                timeout.span,
                "`attempt_timeout` needs an `async fn`: a running sync call cannot be abandoned; use `deadline`, or a timeout inside the function",
            ));
    }

    if let Some(on) = &options.on
        && let On::Classes(classes) = &on.value
        && classes.len() > 1
    {
        for class in classes {
            if class.value == "any" || class.value == "transient" {
                errors.push(syn::Error::new(
                    class.span,
                    format!(
                        "\"{}\" already includes the other classes; write `on = \"{}\"` alone",
                        class.value, class.value
                    ),
                ));
            }
        }
        for (i, class) in classes.iter().enumerate() {
            if classes[..i].iter().any(|c| c.value == class.value) {
                errors.push(syn::Error::new(
                    class.span,
                    format!("\"{}\" is listed twice in `on`; remove one", class.value),
                ));
            }
        }
    }

    let mut errors = errors.into_iter();
    match errors.next() {
        None => Ok(()),
        Some(mut first) => {
            first.extend(errors);
            Err(first)
        }
    }
}

/// `options` without the values that the expansion cannot take (it takes every other
/// rejected value as the policy does, or ignores it): for expanding beside the errors.
pub fn without_errors(mut options: Options) -> Options {
    if options
        .factor
        .as_ref()
        .is_some_and(|f| !f.value.is_finite() || f.value < 1.0)
    {
        options.factor = None;
    }
    options
}

/// A duration in nanoseconds as the user would write it.
fn human(nanos: u64) -> String {
    if nanos.is_multiple_of(60_000_000_000) && nanos > 0 {
        format!("{}m", nanos / 60_000_000_000)
    } else if nanos.is_multiple_of(1_000_000_000) {
        format!("{}s", nanos / 1_000_000_000)
    } else if nanos.is_multiple_of(1_000_000) {
        format!("{}ms", nanos / 1_000_000)
    } else {
        format!("{}s", nanos as f64 / 1e9)
    }
}
