//! The few timestamps the broker writes and reads: RFC 3339 output (`expires_at` given to
//! callers, the log summary's `since`/`until`) through the `time` crate, and the HTTP-date of
//! `Retry-After` ([RFC 9110 §5.6.7](https://www.rfc-editor.org/rfc/rfc9110#section-5.6.7))
//! through `httpdate`. All instants are milliseconds since the Unix epoch, UTC.

use std::time::UNIX_EPOCH;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Formats an instant as RFC 3339 in UTC with second precision, e.g. `2026-11-23T04:29:01Z`.
/// Milliseconds are dropped. An instant past the end of year 9999 (only a peer's absurd expiry
/// gets there) is written as the last second of that year.
pub fn rfc3339(ms: u64) -> String {
    let secs = i64::try_from(ms / 1000).unwrap_or(i64::MAX);
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|at| at.format(&Rfc3339).ok())
        .unwrap_or_else(|| LAST_SECOND.to_owned())
}

/// The last instant [`rfc3339`] writes as itself.
const LAST_SECOND: &str = "9999-12-31T23:59:59Z";

/// Parses an HTTP-date such as `Sun, 06 Nov 1994 08:49:37 GMT` (IMF-fixdate, or the obsolete
/// RFC 850 and asctime forms a recipient must also accept) into epoch milliseconds. `None` for
/// anything else, including instants before 1970.
pub fn parse_http_date(text: &str) -> Option<u64> {
    let at = httpdate::parse_http_date(text.trim()).ok()?;
    let since = at.duration_since(UNIX_EPOCH).ok()?;
    u64::try_from(since.as_millis()).ok()
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
        assert_eq!(rfc3339(253_402_300_799_000), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(u64::MAX), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn formatted_instants_parse_back() {
        for ms in [0, 59_000, 951_782_400_000, 1_795_408_141_000] {
            let text = rfc3339(ms);
            let back = OffsetDateTime::parse(&text, &Rfc3339).unwrap();
            assert_eq!(back.unix_timestamp() as u64 * 1000, ms, "{text}");
        }
    }

    #[test]
    fn parses_http_dates() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777_000)
        );
        assert_eq!(
            parse_http_date(" Sunday, 06-Nov-94 08:49:37 GMT "),
            Some(784_111_777_000)
        );
        assert_eq!(
            parse_http_date("Sun Nov  6 08:49:37 1994"),
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
}
