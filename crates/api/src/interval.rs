//! The check interval of a DriftMonitor: a Go duration string (`30s`, `5m`, `1h30m`), the form
//! Kubernetes users write (Flux, Argo CD) and CEL's `duration()` reads, so the apiserver can bound it.

use std::time::Duration;

/// The shortest interval: a check costs GitHub and apiserver requests, so faster than this is abuse.
pub const MIN_INTERVAL: Duration = Duration::from_secs(30);
/// The longest interval: a drift unnoticed for more than a day is not being monitored.
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);
/// What a monitor gets when nobody says: a safety net, as the cluster watches check a monitor
/// at once when an object of its change is edited (it was 5m when every check polled).
pub const DEFAULT_INTERVAL: &str = "30m";

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

/// Parses Go's duration syntax (`250ms`, `90s`, `1h30m`, `1.5h`, `.5s`), without bounds: the one
/// parser for the CRD's intervals and the operator's duration flags. It reads what Go's
/// `time.ParseDuration` reads, as Go does (the apiserver evaluates the CRD's CEL rule with it): in
/// whole nanoseconds, a fraction truncated, at most Go's largest duration (about 292 years); less
/// the sign and the bare `0`, which no interval needs.
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    // Go's bound on every sum below; the total must stay under it.
    const LIMIT: u64 = 1 << 63;
    if text.is_empty() {
        return None;
    }
    let mut rest = text;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let (whole, after) = leading_digits(rest);
        rest = after;
        let mut fraction = "";
        if let Some(after) = rest.strip_prefix('.') {
            (fraction, rest) = leading_digits(after);
        }
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit: u64 = match &rest[..unit_len] {
            "ns" => 1,
            // The micro sign (U+00B5) and the Greek mu (U+03BC), both Go's.
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        let whole: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut nanos = whole.checked_mul(unit).filter(|n| *n <= LIMIT)?;
        // Go's leadingFraction: the digits that fit, and a float64 for the fraction of the unit
        // ("nanosecond accurate for fractions of hours"), truncated.
        let (digits, scale) = leading_fraction(fraction);
        if digits > 0 {
            nanos += (digits as f64 * (unit as f64 / scale)) as u64;
        }
        total = total.checked_add(nanos).filter(|n| *n <= LIMIT)?;
    }
    (total < LIMIT).then(|| Duration::from_nanos(total))
}

/// The ASCII digits `text` starts with, and the rest.
fn leading_digits(text: &str) -> (&str, &str) {
    text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    )
}

/// A fraction's digits as Go's `leadingFraction` reads them: as many as fit in an i64, with the
/// power of ten they are scaled by.
fn leading_fraction(digits: &str) -> (u64, f64) {
    let mut value: u64 = 0;
    let mut scale = 1f64;
    for digit in digits.bytes() {
        if value > (i64::MAX as u64) / 10 {
            break;
        }
        let next = value * 10 + u64::from(digit - b'0');
        if next > 1 << 63 {
            break;
        }
        value = next;
        scale *= 10.0;
    }
    (value, scale)
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
    fn microseconds_with_either_mu() {
        // Found by fuzzing (fuzz/fuzz_targets/duration.rs): Go reads the Greek mu too.
        for text in ["1us", "1\u{b5}s", "1\u{3bc}s"] {
            assert_eq!(
                parse_go_duration(text),
                Some(Duration::from_micros(1)),
                "{text:?}"
            );
        }
        assert_eq!(
            parse_go_duration("2h45000m.30\u{3bc}s01s"),
            Some(Duration::from_secs(2 * 3600 + 45_000 * 60 + 1) + Duration::from_nanos(300))
        );
    }

    #[test]
    fn reads_what_go_reads_exactly() {
        // Found by fuzzing: summed in f64, a long duration came back some nanoseconds off
        // ("2h888888888888888889s.1s" written "246913580246915h33m20s" read 128 s short).
        let ns = Duration::from_nanos;
        for (text, duration) in [
            ("2562047h47m16.854775807s", ns(i64::MAX as u64)),
            (
                "100000h0.000000001s",
                Duration::from_secs(360_000_000) + ns(1),
            ),
            ("1.000000001h", Duration::from_secs(3600) + ns(3600)),
            // A fraction is truncated to the nanosecond, as Go does: below 30s, as CEL reads it.
            ("29.9999999999s", Duration::from_secs(29) + ns(999_999_999)),
            (".5s", Duration::from_millis(500)),
            ("1.s", Duration::from_secs(1)),
            ("0.000000000000000000000000001s", Duration::ZERO),
        ] {
            assert_eq!(parse_go_duration(text), Some(duration), "{text:?}");
        }
        assert_eq!(
            parse_interval("29.9999999999s"),
            Err(IntervalError::OutOfBounds("29.9999999999s".into()))
        );
        // Beyond Go's largest duration, as Go: refused.
        for long in [
            "2562047h47m16.854775808s",
            "2h888888888888888889s.1s",
            "99999999999999999999s",
        ] {
            assert_eq!(parse_go_duration(long), None, "{long:?}");
        }
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
