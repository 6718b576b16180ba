//! Times on the command line: RFC 3339 (`2026-12-01T20:00:00Z`,
//! `2026-12-01T21:00:00+01:00`, fractions allowed) or Unix seconds
//! (`1764619200`, `1764619200.5`). Stored times are Unix nanoseconds.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Parses a time into Unix nanoseconds (the clap value parser of
/// `--since` and `--until`).
pub(crate) fn parse_time(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let bad =
        || format!("expected an RFC 3339 time (2026-12-01T20:00:00Z) or Unix seconds, got {s:?}");
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.') {
        // Exact decimal arithmetic: no float rounding of the fraction.
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        if int.is_empty() || frac.contains('.') || frac.len() > 9 {
            return Err(bad());
        }
        let secs: i64 = int.parse().map_err(|_| bad())?;
        let frac_nanos: i64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<9}").parse().map_err(|_| bad())?
        };
        return secs
            .checked_mul(1_000_000_000)
            .and_then(|n| n.checked_add(frac_nanos))
            .ok_or_else(bad);
    }
    let dt = OffsetDateTime::parse(t, &Rfc3339).map_err(|_| bad())?;
    i64::try_from(dt.unix_timestamp_nanos()).map_err(|_| bad())
}

/// Unix nanoseconds as RFC 3339 (UTC), for the JSON output.
pub(crate) fn format_time(nanos: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos))
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| nanos.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn both_forms_parse_to_the_same_instant() {
        assert_eq!(
            parse_time("2026-12-01T20:00:00Z"),
            Ok(1_796_155_200_000_000_000)
        );
        assert_eq!(parse_time("1796155200"), Ok(1_796_155_200_000_000_000));
        assert_eq!(
            parse_time("2026-12-01T21:00:00+01:00"),
            Ok(1_796_155_200_000_000_000)
        );
        assert_eq!(parse_time("1796155200.25"), Ok(1_796_155_200_250_000_000));
        assert_eq!(
            format_time(1_796_155_200_000_000_000),
            "2026-12-01T20:00:00Z"
        );
    }

    #[test]
    fn malformed_times_are_refused() {
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-12-01",
            "-5",
            "1e3",
            "99999999999999999999",
        ] {
            assert!(parse_time(bad).is_err(), "{bad:?} parsed");
        }
    }
}
