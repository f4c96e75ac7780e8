//! Enriched-event timestamps: `YYYY-MM-DD hh:mm:ss` in UTC with an optional fraction of 1 to 9 digits.

use std::fmt;

/// A UTC instant with nanosecond precision, as enriched events carry them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z.
    secs: i64,
    /// Nanoseconds within the second, below 1e9.
    nanos: u32,
}

/// Why a timestamp did not parse; kept short because it ends up in bad rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampError(pub &'static str);

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Timestamp {
    /// Parses `YYYY-MM-DD hh:mm:ss[.f]` where the fraction has 1 to 9 digits.
    pub fn parse(text: &[u8]) -> Result<Timestamp, TimestampError> {
        const SHAPE: TimestampError = TimestampError("expected YYYY-MM-DD hh:mm:ss[.fraction]");
        if text.len() < 19 {
            return Err(SHAPE);
        }
        let (head, rest) = text.split_at(19);
        let sep = |i: usize, c: u8| head[i] == c;
        if !(sep(4, b'-') && sep(7, b'-') && sep(10, b' ') && sep(13, b':') && sep(16, b':')) {
            return Err(SHAPE);
        }
        let num = |from: usize, to: usize| -> Result<u32, TimestampError> {
            head[from..to].iter().try_fold(0u32, |acc, &b| {
                if b.is_ascii_digit() { Ok(acc * 10 + u32::from(b - b'0')) } else { Err(SHAPE) }
            })
        };
        let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
        let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
        if !(1..=12).contains(&month) {
            return Err(TimestampError("month out of range"));
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(TimestampError("day out of range"));
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(TimestampError("time of day out of range"));
        }
        let nanos = match rest {
            [] => 0,
            [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
                let mut n = 0u32;
                for &d in digits {
                    if !d.is_ascii_digit() {
                        return Err(TimestampError("fraction must be digits"));
                    }
                    n = n * 10 + u32::from(d - b'0');
                }
                // Scale the fraction up to nine digits.
                n * 10u32.pow(9 - digits.len() as u32)
            }
            [b'.', ..] => return Err(TimestampError("fraction must have 1 to 9 digits")),
            _ => return Err(SHAPE),
        };
        let days = days_from_civil(i64::from(year), month, day);
        let secs = days * 86_400 + i64::from(hour) * 3_600 + i64::from(minute) * 60 + i64::from(second);
        Ok(Timestamp { secs, nanos })
    }

    /// Milliseconds since the Unix epoch, the fraction below a millisecond dropped (as `Date.parse` and
    /// Go's `UnixMilli` do).
    pub fn epoch_millis(self) -> i64 {
        self.secs * 1000 + i64::from(self.nanos / 1_000_000)
    }

    /// Seconds since the Unix epoch.
    pub fn epoch_seconds(self) -> i64 {
        self.secs
    }

    /// Nanoseconds within the second.
    pub fn subsec_nanos(self) -> u32 {
        self.nanos
    }
}

/// Renders RFC 3339 as Go's `time.Time` marshals to JSON: `2024-05-01T10:15:01.1005Z`, trailing zeros of
/// the fraction removed and no fraction at all when it is zero.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.secs.div_euclid(86_400);
        let in_day = self.secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        write!(f, "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}", in_day / 3600, in_day / 60 % 60, in_day % 60)?;
        if self.nanos != 0 {
            let digits = format!("{:09}", self.nanos);
            write!(f, ".{}", digits.trim_end_matches('0'))?;
        }
        f.write_str("Z")
    }
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Result<Timestamp, TimestampError> {
        Timestamp::parse(s.as_bytes())
    }

    #[test]
    fn parses_every_fraction_length() {
        let cases = [
            ("2024-05-01 10:15:02", 1_714_558_502_000, "2024-05-01T10:15:02Z"),
            ("2024-05-01 10:15:01.1", 1_714_558_501_100, "2024-05-01T10:15:01.1Z"),
            ("2024-05-01 10:15:01.250", 1_714_558_501_250, "2024-05-01T10:15:01.25Z"),
            ("2024-05-01 10:15:01.100500", 1_714_558_501_100, "2024-05-01T10:15:01.1005Z"),
            ("2021-09-17 09:05:28.590000001", 1_631_869_528_590, "2021-09-17T09:05:28.590000001Z"),
            ("2024-05-01 10:15:03.000", 1_714_558_503_000, "2024-05-01T10:15:03Z"),
            ("1969-12-31 23:59:59.999", -1, "1969-12-31T23:59:59.999Z"),
            ("2000-02-29 00:00:00", 951_782_400_000, "2000-02-29T00:00:00Z"),
        ];
        for (text, millis, rendered) in cases {
            let t = ts(text).unwrap();
            assert_eq!(t.epoch_millis(), millis, "{text}");
            assert_eq!(t.to_string(), rendered, "{text}");
        }
    }

    #[test]
    fn rejects_what_is_not_the_enriched_format() {
        for bad in [
            "",
            "2024-05-01T10:15:02.001Z",
            "2024-05-01 10:15:02.",
            "2024-05-01 10:15:02.1234567890",
            "2024-05-01 10:15:02,5",
            "2024-13-01 10:15:02",
            "2023-02-29 10:15:02",
            "2024-05-01 24:00:00",
            "2024-05-01 10:60:00",
            "2024-05-01 10:15:02 ",
            "2024-05-01 1a:15:02",
            "+024-05-01 10:15:02",
        ] {
            assert!(ts(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn civil_round_trip() {
        for days in [-719_468, -1, 0, 1, 10_957, 19_844, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
