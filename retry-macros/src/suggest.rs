//! "Did you mean" suggestions for misspelt names.

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

#[cfg(test)]
mod tests {
    use super::did_you_mean;

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
