//! What error messages suggest: a close name for a misspelt one, an example of an option,
//! the list of accepted values; and the options themselves, beside their examples.

/// Every option the attribute takes, in the order the docs list them.
pub const OPTIONS: &[&str] = &[
    "backoff",
    "on",
    "attempts",
    "initial",
    "max_delay",
    "factor",
    "jitter",
    "deadline",
    "attempt_timeout",
    "on_retry",
    "budget",
    "policy",
    "crate",
];

/// `; did you mean `x`?` when one of `candidates` is close to `given` (`"x"` when `quoted`,
/// for values that are written in quotes).
pub fn did_you_mean(given: &str, candidates: &[&str], quoted: bool) -> Option<String> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(given, c), *c))
        .filter(|(distance, c)| {
            *distance <= (c.len() / 3).max(1) || c.starts_with(given) && given.len() >= 3
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| {
            if quoted {
                format!("; did you mean \"{c}\"?")
            } else {
                format!("; did you mean `{c}`?")
            }
        })
}

/// Names other retry libraries use, and the option that means the same here.
const ALIASES: &[(&str, &str)] = &[
    (
        "retries",
        "`attempts` (the total, the first attempt included)",
    ),
    (
        "max_retries",
        "`attempts` (the total, the first attempt included)",
    ),
    ("max_attempts", "`attempts`"),
    ("tries", "`attempts`"),
    ("delay", "`initial`"),
    ("initial_delay", "`initial`"),
    ("min_delay", "`initial`"),
    ("max_backoff", "`max_delay`"),
    ("multiplier", "`factor`"),
    ("backoff_factor", "`factor`"),
    (
        "timeout",
        "`attempt_timeout` (one attempt) or `deadline` (the whole call)",
    ),
    ("retry_on", "`on`"),
    ("when", "`on`"),
    ("retry_if", "`on`"),
    ("notify", "`on_retry`"),
    ("retry_budget", "`budget`"),
];

/// `; did you mean ...?` for an unknown option: a close name, or the option that another
/// library's name for it means here.
pub fn did_you_mean_option(given: &str) -> Option<String> {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == given)
        .map(|(_, option)| format!("; did you mean {option}?"))
        .or_else(|| did_you_mean(given, OPTIONS, false))
}

/// A value for each option, in the same order, for "write `name = example`" hints.
const EXAMPLES: &[&str] = &[
    "\"exponential\"",
    "\"rate_limit\"",
    "3",
    "\"500ms\"",
    "\"30s\"",
    "2.0",
    "\"full\"",
    "\"60s\"",
    "\"10s\"",
    "path::to::hook",
    "MY_BUDGET",
    "MY_POLICY",
    "::my_retry",
];

/// `name = example`, as the hint of an error about option `name`.
pub fn example(name: &str) -> String {
    let index = OPTIONS.iter().position(|o| *o == name);
    format!("{name} = {}", index.map_or("...", |i| EXAMPLES[i]))
}

/// `` `a`, `b` or `c` ``, for option names.
pub fn list(names: &[&str]) -> String {
    join(names.iter().map(|n| format!("`{n}`")).collect())
}

/// `"a", "b" or "c"`, for values written in quotes.
pub fn quoted_list(names: &[&str]) -> String {
    join(names.iter().map(|n| format!("\"{n}\"")).collect())
}

fn join(quoted: Vec<String>) -> String {
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::{EXAMPLES, OPTIONS, did_you_mean, did_you_mean_option};

    #[test]
    fn every_option_has_an_example() {
        assert_eq!(EXAMPLES.len(), OPTIONS.len());
    }

    #[test]
    fn other_libraries_names_point_at_ours() {
        assert_eq!(
            did_you_mean_option("max_attempts").as_deref(),
            Some("; did you mean `attempts`?")
        );
        assert_eq!(
            did_you_mean_option("retries").as_deref(),
            Some("; did you mean `attempts` (the total, the first attempt included)?")
        );
        assert_eq!(
            did_you_mean_option("attemps").as_deref(),
            Some("; did you mean `attempts`?")
        );
    }

    #[test]
    fn suggests_close_names_only() {
        let names = ["exponential", "constant", "linear"];
        assert_eq!(
            did_you_mean("exponentail", &names, true).as_deref(),
            Some("; did you mean \"exponential\"?")
        );
        assert_eq!(
            did_you_mean("expo", &names, false).as_deref(),
            Some("; did you mean `exponential`?")
        );
        assert_eq!(did_you_mean("zzz", &names, false), None);
    }
}
