//! Calendar arithmetic for the few timestamps the broker writes and reads: RFC 3339 output
//! (`expires_at` given to callers) and the IMF-fixdate form of `Retry-After`
//! ([RFC 9110 §10.2.3](https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3)).
//! All instants are milliseconds since the Unix epoch, UTC.

const MS_PER_DAY: u64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Formats an instant as RFC 3339 in UTC with second precision, e.g. `2026-11-23T04:29:01Z`.
pub fn rfc3339(ms: u64) -> String {
    let days = (ms / MS_PER_DAY) as i64;
    let secs = (ms % MS_PER_DAY) / 1000;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Parses an IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT` into epoch milliseconds.
pub fn parse_http_date(text: &str) -> Option<u64> {
    let mut parts = text.trim().split_ascii_whitespace();
    let _weekday = parts.next()?;
    let day: u32 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    // An IMF-fixdate's year has four digits. A peer's `Retry-After` may say anything: a huge
    // year overflowed the day and millisecond arithmetic below (found by `fuzz/token_response`).
    if !(1..=9999).contains(&year) {
        return None;
    }
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, mi, s) = (hms.next()??, hms.next()??, hms.next()??);
    if parts.next()? != "GMT" || !(1..=31).contains(&day) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let days = u64::try_from(days_from_civil(year, month, day)).ok()?;
    Some(days * MS_PER_DAY + (h * 3600 + mi * 60 + s) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_384_371_060_214), "2013-11-13T19:31:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_408_141_999), "2026-11-23T04:29:01Z");
    }

    #[test]
    fn parses_imf_fixdate() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777_000)
        );
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 PST"), None);
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn absurd_years_are_refused_not_overflowed() {
        // Regression (cargo fuzz, token_response): a multiply overflow on a huge year.
        assert_eq!(
            parse_http_date("Sun, 06 Nov 19947000000001994 08:49:39 GMT"),
            None
        );
        assert_eq!(
            parse_http_date(&format!("Sun, 06 Nov {} 08:49:39 GMT", i64::MAX)),
            None
        );
        assert_eq!(parse_http_date("Sun, 06 Nov 0 08:49:39 GMT"), None);
        assert_eq!(
            parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT"),
            Some(253_402_300_799_000)
        );
    }

    #[test]
    fn civil_round_trip() {
        for days in [-1, 0, 59, 60, 10_957, 20_415, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
