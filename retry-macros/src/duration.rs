//! Durations written as string literals with a unit: `"500ms"`, `"1.5s"`, `"2m"`.

/// Nanoseconds in `text`, or why it is not a duration.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.trim();
    if number.is_empty() {
        return Err(format!(
            "\"{text}\" does not start with a number; write it as \"500ms\", \"2s\" or \"1m\""
        ));
    }
    let nanos_per_unit: f64 = match unit {
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "" => {
            return Err(format!(
                "\"{text}\" has no unit; write \"{number}ms\", \"{number}s\" or \"{number}m\""
            ));
        }
        other => {
            let hint = match other {
                "sec" | "secs" | "second" | "seconds" => " (for seconds write `s`)",
                "min" | "mins" | "minute" | "minutes" => " (for minutes write `m`)",
                "msec" | "msecs" | "millis" | "milliseconds" => " (for milliseconds write `ms`)",
                _ => "",
            };
            return Err(format!(
                "unknown unit `{other}`{hint}; the units are `ms`, `s` and `m`"
            ));
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{number}` is not a number"))?;
    let nanos = value * nanos_per_unit;
    if !nanos.is_finite() || nanos >= u64::MAX as f64 {
        return Err(format!("\"{text}\" is too long for a `Duration`"));
    }
    if nanos.fract() != 0.0 {
        return Err(format!("\"{text}\" is finer than a nanosecond"));
    }
    Ok(nanos as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn units() {
        assert_eq!(parse_duration("500ms"), Ok(500_000_000));
        assert_eq!(parse_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_duration("2m"), Ok(120_000_000_000));
        assert_eq!(parse_duration("0s"), Ok(0));
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "",
            "ms",
            "500",
            "5 hours",
            "1.2.3s",
            "1e3s",
            "-1s",
            "99999999999999m",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
