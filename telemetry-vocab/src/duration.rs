//! The one duration grammar: SLO latency targets of `#[instrumented_adapter]`
//! (`latency_p99 = "500ms"`) and durations in the runtime's configuration file
//! (`window = "60s"`) are read by the same rules.
//!
//! ```text
//! duration = number [spaces] unit
//! number   = digits ["." [digits]] | "." digits
//! unit     = "us" | "µs" | "ms" | "s" | "m" | "min" | "h"
//! ```
//!
//! Whitespace around the whole is ignored. A number has no sign, exponent or
//! digit separators; a duration is never negative, and every form is finite.
//!
//! ```
//! use std::time::Duration;
//! use telemetry_vocab::duration;
//!
//! assert_eq!(duration::parse_secs_f64("800us"), Ok(0.0008));
//! assert_eq!(duration::parse("1.5s"), Ok(Duration::from_millis(1500)));
//! assert_eq!(
//!     duration::parse("5 parsecs").unwrap_err().to_string(),
//!     r#"unknown duration unit "parsecs" in "5 parsecs", expected one of "us", "µs", "ms", "s", "m", "min", "h""#
//! );
//! ```

use std::fmt;
use std::time::Duration;

/// Every unit spelling the grammar accepts, in the order error messages list
/// them: microseconds (two spellings), milliseconds, seconds, minutes (two
/// spellings), hours.
///
/// ```
/// use telemetry_vocab::duration::{self, UNITS};
/// for unit in UNITS {
///     assert!(duration::parse(&format!("1{unit}")).is_ok());
/// }
/// ```
pub const UNITS: &[&str] = &["us", "µs", "ms", "s", "m", "min", "h"];

/// `value` in `unit` as seconds. Sub-second units divide instead of
/// multiplying by a reciprocal, so `800us` is exactly `0.0008` (as `0.0008`
/// is written in Rust) and not `800.0 * 1e-6 = 0.0007999999999999999`.
fn seconds(value: f64, unit: &str) -> Option<f64> {
    match unit {
        "us" | "µs" => Some(value / 1e6),
        "ms" => Some(value / 1e3),
        "s" => Some(value),
        "m" | "min" => Some(value * 60.0),
        "h" => Some(value * 3600.0),
        _ => None,
    }
}

/// Parses a duration into seconds.
///
/// ```
/// use telemetry_vocab::duration::{parse_secs_f64, DurationError};
///
/// assert_eq!(parse_secs_f64("500ms"), Ok(0.5));
/// assert_eq!(parse_secs_f64(" 2 min "), Ok(120.0));
/// assert_eq!(parse_secs_f64("500"), Err(DurationError::MissingUnit { input: "500".into() }));
/// assert_eq!(parse_secs_f64("-1s"), Err(DurationError::Negative { input: "-1s".into() }));
/// ```
pub fn parse_secs_f64(input: &str) -> Result<f64, DurationError> {
    let s = input.trim();
    let owned = || s.to_owned();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    let number_len = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(number_len);
    if number.is_empty()
        && s.strip_prefix('-')
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit() || c == '.'))
    {
        return Err(DurationError::Negative { input: owned() });
    }
    // Only digits and dots reach `parse`, so "NaN", "inf" and signs cannot.
    let value: f64 = number
        .parse()
        .map_err(|_| DurationError::InvalidNumber { input: owned() })?;
    let unit = unit.trim_start();
    if unit.is_empty() {
        return Err(DurationError::MissingUnit { input: owned() });
    }
    let secs = seconds(value, unit).ok_or_else(|| DurationError::UnknownUnit {
        input: owned(),
        unit: unit.to_owned(),
    })?;
    // A number of some 300 digits is infinite as an `f64`.
    if secs.is_finite() {
        Ok(secs)
    } else {
        Err(DurationError::Overflow { input: owned() })
    }
}

/// Parses a duration into a [`Duration`] (rounded to the nanosecond).
///
/// ```
/// use std::time::Duration;
/// use telemetry_vocab::duration::{parse, DurationError};
///
/// assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
/// assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
/// assert_eq!(parse("800µs"), Ok(Duration::from_micros(800)));
/// // More seconds than a `Duration` holds (about 584 billion years).
/// assert_eq!(
///     parse("6000000000000000h"),
///     Err(DurationError::Overflow { input: "6000000000000000h".into() })
/// );
/// ```
pub fn parse(input: &str) -> Result<Duration, DurationError> {
    let secs = parse_secs_f64(input)?;
    Duration::try_from_secs_f64(secs).map_err(|_| DurationError::Overflow {
        input: input.trim().to_owned(),
    })
}

/// Why a duration did not parse. The message names the input as written
/// (trimmed) and what would be right; it is lowercase with no trailing
/// period, so it reads the same after a configuration key
/// (`health.window: ...`) as in a compile error.
///
/// ```
/// use telemetry_vocab::duration::{parse, DurationError};
///
/// let err = parse("half a second").unwrap_err();
/// assert_eq!(err, DurationError::InvalidNumber { input: "half a second".into() });
/// assert_eq!(
///     err.to_string(),
///     r#"expected a duration such as "500ms", "30s" or "2m", got "half a second""#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DurationError {
    /// Nothing, or only whitespace, was written.
    Empty,
    /// The input does not start with a number (`"ms"`, `"NaN"`, `"1.2.3s"`).
    InvalidNumber {
        /// The input, trimmed.
        input: String,
    },
    /// The number has a minus sign (`"-5s"`).
    Negative {
        /// The input, trimmed.
        input: String,
    },
    /// A number with no unit (`"500"`).
    MissingUnit {
        /// The input, trimmed.
        input: String,
    },
    /// A unit outside [`UNITS`] (`"5 parsecs"`).
    UnknownUnit {
        /// The input, trimmed.
        input: String,
        /// The unit as written.
        unit: String,
    },
    /// Too long to represent: a number of 300-odd digits (infinite as an
    /// `f64`), or more seconds than a [`Duration`] holds.
    Overflow {
        /// The input, trimmed.
        input: String,
    },
}

/// `"us", "µs", ...`: the expected units, quoted.
struct UnitList;

impl fmt::Display for UnitList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, unit) in UNITS.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{unit:?}")?;
        }
        Ok(())
    }
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const EXAMPLES: &str = r#""500ms", "30s" or "2m""#;
        match self {
            DurationError::Empty => write!(f, r#"expected a duration such as {EXAMPLES}, got """#),
            DurationError::InvalidNumber { input } => {
                write!(f, "expected a duration such as {EXAMPLES}, got {input:?}")
            }
            DurationError::Negative { input } => {
                write!(f, "duration {input:?} is negative, expected zero or more")
            }
            DurationError::MissingUnit { input } => write!(
                f,
                "duration {input:?} has no unit, expected one of {UnitList}"
            ),
            DurationError::UnknownUnit { input, unit } => write!(
                f,
                "unknown duration unit {unit:?} in {input:?}, expected one of {UnitList}"
            ),
            DurationError::Overflow { input } => write!(f, "duration {input:?} is out of range"),
        }
    }
}

impl std::error::Error for DurationError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit() {
        assert_eq!(parse_secs_f64("800us"), Ok(0.0008));
        assert_eq!(parse_secs_f64("800µs"), Ok(0.0008));
        assert_eq!(parse_secs_f64("250ms"), Ok(0.25));
        assert_eq!(parse_secs_f64("1.5s"), Ok(1.5));
        assert_eq!(parse_secs_f64("2m"), Ok(120.0));
        assert_eq!(parse_secs_f64("2min"), Ok(120.0));
        assert_eq!(parse_secs_f64("1h"), Ok(3600.0));
        assert_eq!(parse("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn sub_second_units_divide() {
        // Multiplying by 1e-6 gives 0.0007999999999999999.
        assert_eq!(
            parse_secs_f64("800us").map(f64::to_bits),
            Ok(0.0008f64.to_bits())
        );
        assert_eq!(parse_secs_f64("1ms"), Ok(0.001));
        assert_eq!(parse_secs_f64("3ms"), Ok(0.003));
    }

    #[test]
    fn numbers_and_spacing() {
        assert_eq!(parse_secs_f64(" 500 ms "), Ok(0.5));
        assert_eq!(parse_secs_f64(".5s"), Ok(0.5));
        assert_eq!(parse_secs_f64("1.s"), Ok(1.0));
        let invalid = |s: &str| DurationError::InvalidNumber { input: s.into() };
        assert_eq!(parse_secs_f64("ms"), Err(invalid("ms")));
        assert_eq!(parse_secs_f64(".s"), Err(invalid(".s")));
        assert_eq!(parse_secs_f64("1.2.3s"), Err(invalid("1.2.3s")));
        assert_eq!(parse_secs_f64("NaN"), Err(invalid("NaN")));
        assert_eq!(parse_secs_f64("inf"), Err(invalid("inf")));
        assert_eq!(parse_secs_f64("+1s"), Err(invalid("+1s")));
        assert_eq!(parse_secs_f64("-"), Err(invalid("-")));
    }

    #[test]
    fn errors() {
        assert_eq!(parse_secs_f64(""), Err(DurationError::Empty));
        assert_eq!(parse_secs_f64("   "), Err(DurationError::Empty));
        assert_eq!(
            parse_secs_f64("-0.5s"),
            Err(DurationError::Negative {
                input: "-0.5s".into()
            })
        );
        assert_eq!(
            parse_secs_f64("1e3s"),
            Err(DurationError::UnknownUnit {
                input: "1e3s".into(),
                unit: "e3s".into()
            })
        );
        let huge = format!("{}s", "9".repeat(400));
        assert_eq!(
            parse_secs_f64(&huge),
            Err(DurationError::Overflow {
                input: huge.clone()
            })
        );
        assert_eq!(
            parse("18446744073709551616s"),
            Err(DurationError::Overflow {
                input: "18446744073709551616s".into()
            })
        );
    }

    #[test]
    fn messages() {
        let message = |s: &str| parse(s).map_err(|e| e.to_string());
        assert_eq!(
            message(""),
            Err(r#"expected a duration such as "500ms", "30s" or "2m", got """#.into())
        );
        assert_eq!(
            message("-5s"),
            Err(r#"duration "-5s" is negative, expected zero or more"#.into())
        );
        assert_eq!(
            message("500"),
            Err(r#"duration "500" has no unit, expected one of "us", "µs", "ms", "s", "m", "min", "h""#.into())
        );
        assert_eq!(
            message(" 5 parsecs"),
            Err(r#"unknown duration unit "parsecs" in "5 parsecs", expected one of "us", "µs", "ms", "s", "m", "min", "h""#.into())
        );
        assert_eq!(
            message("18446744073709551616s"),
            Err(r#"duration "18446744073709551616s" is out of range"#.into())
        );
    }
}
