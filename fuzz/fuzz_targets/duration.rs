//! Go durations (a DriftMonitor's interval, the operator's duration flags): never a panic; the
//! parser reads what Go's `time.ParseDuration` reads (less the sign and the bare `0`) as Go does;
//! the interval is that, within its bounds; and a duration read, written as Go writes it, reads
//! back as itself, to the nanosecond.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use prtracker_fuzz::interval::{
    IntervalError, MAX_INTERVAL, MIN_INTERVAL, parse_go_duration, parse_interval,
};

/// Go refuses a duration of this many nanoseconds or more (it overflows an i64).
const GO_LIMIT: u128 = 1 << 63;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = parse_go_duration(text);

    // The interval is the same parse, within its bounds.
    match parse_interval(text) {
        Ok(interval) => {
            assert_eq!(parsed, Some(interval));
            assert!((MIN_INTERVAL..=MAX_INTERVAL).contains(&interval));
        }
        Err(IntervalError::Syntax(_)) => assert_eq!(parsed, None),
        Err(IntervalError::OutOfBounds(_)) => {
            let duration = parsed.expect("out of bounds, so read");
            assert!(!(MIN_INTERVAL..=MAX_INTERVAL).contains(&duration));
        }
    }

    // Go's reading of the same text: the same, to within a nanosecond a term (Go computes a
    // term's fraction in float64, this reference exactly); nothing past Go's largest duration.
    match go_parse(text) {
        None => assert_eq!(parsed, None, "{text:?}: Go refuses it"),
        Some((nanos, terms)) if nanos.saturating_add(terms) < GO_LIMIT => {
            let duration = parsed.unwrap_or_else(|| panic!("{text:?}: Go reads {nanos}ns"));
            let difference = duration.as_nanos().abs_diff(nanos);
            assert!(
                difference <= terms,
                "{text:?}: Go reads {nanos}ns, the parser {duration:?}"
            );
        }
        Some((nanos, terms)) if nanos > GO_LIMIT.saturating_add(terms) => {
            assert_eq!(parsed, None, "{text:?}: past Go's largest duration")
        }
        Some(_) => {}
    }

    // Written as Go writes it, a duration reads back as itself.
    if let Some(duration) = parsed {
        let written = go_format(duration);
        assert_eq!(
            go_parse(&written).map(|(n, _)| n),
            Some(duration.as_nanos())
        );
        assert_eq!(
            parse_go_duration(&written),
            Some(duration),
            "{text:?} read as {duration:?}, written {written:?}"
        );
    }
});

/// Go's `time.ParseDuration`, in whole nanoseconds (saturating), with the number of terms; without
/// a sign (durations here are never negative) and without the unit-less `0`.
fn go_parse(text: &str) -> Option<(u128, u128)> {
    if text.is_empty() {
        return None;
    }
    let mut rest = text;
    let mut total: u128 = 0;
    let mut terms = 0;
    while !rest.is_empty() {
        let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
        let int_len = digits(rest);
        let int = &rest[..int_len];
        rest = &rest[int_len..];
        let mut fraction = "";
        if let Some(after) = rest.strip_prefix('.') {
            let fraction_len = digits(after);
            fraction = &after[..fraction_len];
            rest = &after[fraction_len..];
        }
        if int.is_empty() && fraction.is_empty() {
            return None;
        }
        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit: u128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        let whole = int.bytes().fold(0u128, |n, d| {
            n.saturating_mul(10).saturating_add(u128::from(d - b'0'))
        });
        // Go reads a fraction's digits while they fit; 20 digits are far past a nanosecond of an
        // hour.
        let fraction = &fraction[..fraction.len().min(20)];
        let (numerator, scale) = fraction.bytes().fold((0u128, 1u128), |(n, s), d| {
            (n * 10 + u128::from(d - b'0'), s * 10)
        });
        let term = whole
            .saturating_mul(unit)
            .saturating_add(numerator * unit / scale);
        total = total.saturating_add(term);
        terms += 1;
    }
    Some((total, terms))
}

/// A duration as Go's `Duration.String` writes it: `1h2m3.5s`, `1.5ms`, `0s`.
fn go_format(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    let with_fraction = |whole: u128, fraction: u128, digits: usize| {
        let fraction = format!("{fraction:0digits$}");
        let fraction = fraction.trim_end_matches('0');
        if fraction.is_empty() {
            whole.to_string()
        } else {
            format!("{whole}.{fraction}")
        }
    };
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}\u{b5}s", with_fraction(nanos / 1_000, nanos % 1_000, 3));
    }
    if nanos < 1_000_000_000 {
        return format!(
            "{}ms",
            with_fraction(nanos / 1_000_000, nanos % 1_000_000, 6)
        );
    }
    let seconds = nanos / 1_000_000_000;
    let fraction = nanos % 1_000_000_000;
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let seconds = format!("{}s", with_fraction(seconds, fraction, 9));
    match (hours, minutes) {
        (0, 0) => seconds,
        (0, _) => format!("{minutes}m{seconds}"),
        _ => format!("{hours}h{minutes}m{seconds}"),
    }
}
