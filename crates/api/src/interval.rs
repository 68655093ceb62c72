//! The check interval of a DriftMonitor: a Go duration string (`30s`, `5m`, `1h30m`), the form
//! Kubernetes users write (Flux, Argo CD) and CEL's `duration()` reads, so the apiserver can bound it.

use std::time::Duration;

/// The shortest interval: a check costs GitHub and apiserver requests, so faster than this is abuse.
pub const MIN_INTERVAL: Duration = Duration::from_secs(30);
/// The longest interval: a drift unnoticed for more than a day is not being monitored.
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);
/// What a monitor gets when nobody says.
pub const DEFAULT_INTERVAL: &str = "5m";

/// The CEL rule the apiserver enforces on every interval field.
pub const INTERVAL_RULE: &str =
    "duration(self) >= duration('30s') && duration(self) <= duration('24h')";
/// Go's duration syntax, which CEL's `duration()` parses: one or more number-unit pairs.
pub const INTERVAL_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntervalError {
    #[error("interval {0:?} is not a duration such as 30s, 5m or 1h30m")]
    Syntax(String),
    #[error("interval {0:?} is outside 30s..24h")]
    OutOfBounds(String),
}

/// Parses a Go duration string and checks it against the bounds.
pub fn parse_interval(text: &str) -> Result<Duration, IntervalError> {
    let duration = parse_go_duration(text).ok_or_else(|| IntervalError::Syntax(text.to_owned()))?;
    if (MIN_INTERVAL..=MAX_INTERVAL).contains(&duration) {
        Ok(duration)
    } else {
        Err(IntervalError::OutOfBounds(text.to_owned()))
    }
}

/// Parses Go's duration syntax (`250ms`, `90s`, `1h30m`, `1.5h`), without bounds: the one parser
/// for the CRD's intervals and the operator's duration flags.
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * seconds_per_unit;
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_interval("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_interval("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_interval("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_interval("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_interval("24h"), Ok(MAX_INTERVAL));
    }

    #[test]
    fn refuses_bad_syntax() {
        for bad in ["", "5", "m", "5 m", "5min", "-5m", "1h-3m", "5m!"] {
            assert_eq!(
                parse_interval(bad),
                Err(IntervalError::Syntax(bad.into())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn refuses_out_of_bounds() {
        for bad in ["29s", "100ms", "24h1s", "48h"] {
            assert_eq!(
                parse_interval(bad),
                Err(IntervalError::OutOfBounds(bad.into()))
            );
        }
    }

    #[test]
    fn the_default_is_within_bounds() {
        assert!(parse_interval(DEFAULT_INTERVAL).is_ok());
    }
}
