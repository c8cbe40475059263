//! Small deterministic helpers: hashing to ids, time formatting and lenient parsing.

use jiff::{Timestamp, civil, tz::TimeZone};

/// SplitMix64 step: mixes a 64-bit value well enough for seeding and id derivation.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a of a string, then mixed: a stable 64-bit hash (std's hasher is not stable across releases).
pub(crate) fn hash_str(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    mix(h)
}

/// Hash of several parts, order-sensitive.
pub(crate) fn hash_parts(parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(0x51_7CC1_B727_220A, |acc, p| mix(acc ^ mix(*p)))
}

/// A version-4-shaped UUID derived from a hash, lower-case hyphenated.
pub(crate) fn uuid_from_hash(h: u64) -> String {
    let hi = mix(h);
    let lo = mix(h ^ 0xA5A5_A5A5_A5A5_A5A5);
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&hi.to_be_bytes());
    b[8..].copy_from_slice(&lo.to_be_bytes());
    uuid::Builder::from_random_bytes(b)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// A fresh random UUID (correlation and request ids, tokens' tracking ids).
pub(crate) fn random_uuid() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

/// `2024-03-12T15:04:53.780`: the Common alerts format (milliseconds, no zone, UTC).
pub(crate) fn format_local_ms(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%S%.3f").to_string(),
        Err(_) => String::from("1970-01-01T00:00:00.000"),
    }
}

/// `2024-03-12T15:04:53.780Z`: the SIEM and error-body format.
pub(crate) fn format_zulu_ms(ms: i64) -> String {
    format!("{}Z", format_local_ms(ms))
}

/// Parses a time filter leniently: with or without zone/offset, with or without fractional seconds, or
/// a bare date. Zone-less values are UTC.
pub(crate) fn parse_time_ms(s: &str) -> Option<i64> {
    // An unencoded `+` of an offset arrives as a space after query decoding.
    let s = s.trim().replace(' ', "+");
    let s = s.as_str();
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Some(ts.as_millisecond());
    }
    if let Ok(dt) = s.parse::<civil::DateTime>() {
        return TimeZone::UTC
            .to_timestamp(dt)
            .ok()
            .map(Timestamp::as_millisecond);
    }
    if let Ok(d) = s.parse::<civil::Date>() {
        return TimeZone::UTC
            .to_timestamp(d.to_datetime(civil::Time::midnight()))
            .ok()
            .map(Timestamp::as_millisecond);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let ms = 1_710_255_893_780;
        assert_eq!(format_local_ms(ms), "2024-03-12T15:04:53.780");
        assert_eq!(format_zulu_ms(ms), "2024-03-12T15:04:53.780Z");
        assert_eq!(parse_time_ms("2024-03-12T15:04:53.780"), Some(ms));
        assert_eq!(parse_time_ms("2024-03-12T15:04:53.780Z"), Some(ms));
        assert_eq!(parse_time_ms("2024-03-12T17:04:53.780+02:00"), Some(ms));
        assert_eq!(parse_time_ms("2024-03-12"), Some(1_710_201_600_000));
        assert_eq!(parse_time_ms("2024-03-12T17:04:53.780 02:00"), Some(ms));
        assert_eq!(parse_time_ms("yesterday"), None);
        assert_eq!(uuid_from_hash(7), uuid_from_hash(7));
        assert_ne!(uuid_from_hash(7), uuid_from_hash(8));
    }
}
