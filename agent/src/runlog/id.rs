//! Run ids: `YYYYMMDDTHHMMSSZ-xxxx`, the UTC start second and four random hex digits.
//!
//! The id names the run's directory, its transient unit's description and the `attach` argument, so
//! it is short, safe in a path, and sorts in start order as plain text (the retention and the "last
//! run" lookup rely on that). The random suffix keeps two runs started in the same second apart.

use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

/// Length of `20251103T120000Z-ab12`.
const RUN_ID_LEN: usize = 21;

/// A new run id for a run starting at `now`.
pub fn new_run_id(now: SystemTime) -> String {
    let [a, b] = random_pair();
    format!("{}-{a:02x}{b:02x}", compact_utc(now))
}

/// `20251103T120000Z` for 2025-11-03 12:00:00 UTC.
fn compact_utc(now: SystemTime) -> String {
    humantime::format_rfc3339_seconds(now)
        .to_string()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect()
}

/// Two random bytes from the kernel; a hash of the clock and pid if /dev/urandom is unreadable
/// (collisions then only matter within one second, where the unit lock refuses the second run).
fn random_pair() -> [u8; 2] {
    let mut pair = [0u8; 2];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut pair))
        .is_ok()
    {
        return pair;
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let mixed = nanos ^ std::process::id().rotate_left(16);
    [(mixed >> 8) as u8, mixed as u8]
}

/// Whether `text` has the shape of a run id (so it is safe to use as a directory name).
pub fn is_run_id(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == RUN_ID_LEN
        && bytes[..8].iter().all(u8::is_ascii_digit)
        && bytes[8] == b'T'
        && bytes[9..15].iter().all(u8::is_ascii_digit)
        && bytes[15] == b'Z'
        && bytes[16] == b'-'
        && bytes[17..]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// The RFC 3339 start time an id encodes: `2025-11-03T12:00:00Z`.
pub fn started_at_of(run_id: &str) -> Option<String> {
    if !is_run_id(run_id) {
        return None;
    }
    let d = &run_id[..15];
    Some(format!(
        "{}-{}-{}T{}:{}:{}Z",
        &d[0..4],
        &d[4..6],
        &d[6..8],
        &d[9..11],
        &d[11..13],
        &d[13..15]
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn run_id_has_the_utc_second_and_four_hex_digits() {
        // 2025-11-03T12:34:56Z
        let at = UNIX_EPOCH + Duration::from_secs(1_762_173_296);
        let id = new_run_id(at);
        assert!(id.starts_with("20251103T123456Z-"), "{id}");
        assert!(is_run_id(&id), "{id}");
        assert_eq!(started_at_of(&id).as_deref(), Some("2025-11-03T12:34:56Z"));
    }

    #[test]
    fn run_ids_sort_in_start_order_as_text() {
        let mut ids: Vec<String> = [5u64, 1, 3_600, 86_400 * 40, 59]
            .iter()
            .map(|s| new_run_id(UNIX_EPOCH + Duration::from_secs(1_762_173_296 + s)))
            .collect();
        let by_time = ids.clone();
        ids.sort();
        assert_eq!(ids[0], by_time[1]);
        assert_eq!(ids[1], by_time[0]);
        assert_eq!(ids[2], by_time[4]);
        assert_eq!(ids[3], by_time[2]);
        assert_eq!(ids[4], by_time[3]);
    }

    #[test]
    fn is_run_id_refuses_paths_and_other_shapes() {
        assert!(is_run_id("20251103T123456Z-0a9f"));
        for bad in [
            "",
            "../../etc/passwd",
            "20251103T123456Z-0A9F",
            "20251103T123456Z_0a9f",
            "20251103 123456Z-0a9f",
            "20251103T123456Z-0a9f0",
            "2025110XT123456Z-0a9f",
        ] {
            assert!(!is_run_id(bad), "{bad}");
        }
    }
}
