//! UTC timestamps with millisecond precision, formatted the way Marathon prints them
//! (`2017-03-01T23:42:20.938Z`).

use std::fmt;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

/// A UTC instant truncated to milliseconds (app versions, `versionInfo`, task times).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        Timestamp::from_datetime(Utc::now())
    }

    /// The instant `millis` milliseconds after the Unix epoch (`None` when out of range).
    pub fn from_millis(millis: i64) -> Option<Self> {
        Utc.timestamp_millis_opt(millis).single().map(Timestamp)
    }

    /// Wraps a chrono time, dropping sub-millisecond precision.
    pub fn from_datetime(time: DateTime<Utc>) -> Self {
        let millis = time.timestamp_millis();
        Timestamp(Utc.timestamp_millis_opt(millis).single().unwrap_or(time))
    }

    /// Parses ISO-8601 (`2017-03-01T23:42:20.938Z`, fraction optional, any offset; no offset = UTC).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Ok(time) = DateTime::parse_from_rfc3339(text) {
            return Some(Timestamp::from_datetime(time.with_timezone(&Utc)));
        }
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
            .map(|naive| Timestamp::from_datetime(Utc.from_utc_datetime(&naive)))
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    /// The underlying chrono value.
    pub fn datetime(&self) -> DateTime<Utc> {
        self.0
    }
}

impl fmt::Display for Timestamp {
    /// `2017-03-01T23:42:20.938Z`, written field by field: big reads format three timestamps per task, and
    /// chrono's `format` parses its pattern every time.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use chrono::{Datelike, Timelike};
        let t = &self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.timestamp_subsec_millis().min(999)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_milliseconds() {
        let ts = Timestamp::parse("2017-03-01T23:42:20.938Z").expect("valid");
        assert_eq!(ts.to_string(), "2017-03-01T23:42:20.938Z");
        assert_eq!(Timestamp::from_millis(0).expect("epoch").to_string(), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn parses_optional_fraction_and_offsets() {
        assert_eq!(
            Timestamp::parse("2015-12-28T05:33:05Z").expect("no fraction").to_string(),
            "2015-12-28T05:33:05.000Z"
        );
        assert_eq!(
            Timestamp::parse("2015-12-28T05:33:05.805123Z").expect("micros").to_string(),
            "2015-12-28T05:33:05.805Z"
        );
        assert_eq!(
            Timestamp::parse("2015-12-28T06:33:05.805+01:00").expect("offset").to_string(),
            "2015-12-28T05:33:05.805Z"
        );
        assert_eq!(Timestamp::parse("2015-12-28T05:33:05.8").expect("naive").to_string(), "2015-12-28T05:33:05.800Z");
        assert!(Timestamp::parse("yesterday").is_none());
        assert!(Timestamp::parse("").is_none());
    }

    #[test]
    fn now_is_truncated_and_ordered() {
        let a = Timestamp::now();
        assert_eq!(a.datetime().timestamp_subsec_nanos() % 1_000_000, 0);
        let later = Timestamp::from_millis(a.millis() + 1).expect("in range");
        assert!(later > a);
    }
}
