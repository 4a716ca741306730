//! Sizes and durations as the user's script wrote them: `120GB` (powers of 1024, rounded down),
//! `2.1s`, `12m 3s`, `45m`.
//!
//! Everything here is a pure function of numbers carried in the events, never of the local clock, so
//! a replayed run reads exactly like the live one.

use std::time::Duration;

const KIB: u64 = 1024;
const MIB: u64 = KIB * 1024;
const GIB: u64 = MIB * 1024;

/// `120GB` as `df -BG` users read it, in powers of 1024 and rounded down (so 49.9 GiB free never
/// reads as the 50GB a check asked for). Below 1 GiB the unit shrinks to `MB`, `KB` or `B`, so a test
/// host with a 2 MiB disk reads `1MB`, not `0GB`.
pub(crate) fn size(bytes: u64) -> String {
    if bytes >= GIB {
        format!("{}GB", bytes / GIB)
    } else if bytes >= MIB {
        format!("{}MB", bytes / MIB)
    } else if bytes >= KIB {
        format!("{}KB", bytes / KIB)
    } else {
        format!("{bytes}B")
    }
}

/// A measured duration: tenths of a second below a minute (`0.3s`, `2.1s`, `48.3s`), whole seconds
/// above (`12m 3s`, `1h 2m 5s`).
pub(crate) fn duration_ms(ms: u64) -> String {
    if ms < 59_950 {
        // Round to the nearest tenth; 59.95s and up would print as `60.0s`, so they go below.
        let tenths = ms.saturating_add(50) / 100;
        format!("{}.{}s", tenths / 10, tenths % 10)
    } else {
        let secs = ms.saturating_add(500) / 1000;
        humantime::format_duration(Duration::from_secs(secs)).to_string()
    }
}

/// A configured limit in whole seconds: `45m`, `5m`, `1h 30m`.
pub(crate) fn duration_secs(secs: u64) -> String {
    humantime::format_duration(Duration::from_secs(secs)).to_string()
}

/// `1 unit`, `7 units`.
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_is_whole_gigabytes_rounded_down_like_the_script() {
        assert_eq!(size(120 * GIB), "120GB");
        assert_eq!(size(50 * GIB - 1), "49GB");
    }

    #[test]
    fn size_uses_smaller_units_below_one_gigabyte() {
        assert_eq!(size(2 * MIB), "2MB");
        assert_eq!(size(1536 * KIB), "1MB");
        assert_eq!(size(12 * KIB), "12KB");
        assert_eq!(size(512), "512B");
        assert_eq!(size(0), "0B");
    }

    #[test]
    fn duration_shows_tenths_below_a_minute_and_whole_seconds_above() {
        assert_eq!(duration_ms(0), "0.0s");
        assert_eq!(duration_ms(340), "0.3s");
        assert_eq!(duration_ms(2_100), "2.1s");
        assert_eq!(duration_ms(48_349), "48.3s");
        assert_eq!(duration_ms(59_949), "59.9s");
        assert_eq!(duration_ms(59_950), "1m");
        assert_eq!(duration_ms(723_400), "12m 3s");
        assert_eq!(duration_ms(3_725_000), "1h 2m 5s");
    }

    #[test]
    fn timeouts_read_as_the_plan_wrote_them() {
        assert_eq!(duration_secs(2_700), "45m");
        assert_eq!(duration_secs(300), "5m");
        assert_eq!(duration_secs(5_400), "1h 30m");
    }
}
