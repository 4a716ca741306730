//! [`UnitSet`]: the systemd units a group of test hosts gets (`testhosts up --units DIR`).
//!
//! Every unit is `Type=oneshot`, `RemainAfterExit=no`, and runs
//! `/bin/sh -c '… sleep SECS; exit CODE'`, so its duration and result are chosen by the
//! test. Around that it appends `<unix time> start NAME` and `<unix time> exit NAME` to
//! [`TRACE_FILE`] on its host: tests judge ordering and concurrency from the units' own
//! timestamps, not from what the product reports. Units that the plan must never run
//! also `touch` [`excluded_marker`] first, so a test can prove they were not started.
//!
//! Units are installed, not enabled: they run only when something starts them over D-Bus.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

/// Where every unit appends its `start` / `exit` lines, on its host.
pub const TRACE_FILE: &str = "/run/bo-unit-trace";

/// The user's plan: the 15 units it runs.
pub const PLAN_UNITS: [&str; 15] = [
    "sanoid.service",
    "syncoid-tank-services-prowlarr.service",
    "syncoid-tank-services-sonarr.service",
    "syncoid-tank-services-radarr.service",
    "syncoid-tank-services-plex.service",
    "syncoid-tank-services-home-assistant.service",
    "syncoid-tank-services-grafana.service",
    "syncoid-tank-services-postgresql.service",
    "pgbackrest-full-backup.service",
    "restic-backup-plex.service",
    "restic-backup-sonarr.service",
    "restic-backup-radarr.service",
    "restic-backup-home-assistant.service",
    "restic-backup-paperless.service",
    "restic-backup-immich.service",
];

/// Units present on the host that the user's plan must never start; each touches its
/// [`excluded_marker`] when started.
pub const EXCLUDED_UNITS: [&str; 3] = [
    "syncoid-replication-info.service",
    "syncoid-target-reachability.service",
    "pgbackrest-incr-backup.service",
];

/// The file an excluded unit creates on its host when it is (wrongly) started.
pub fn excluded_marker(unit: &str) -> String {
    format!("/run/excluded-started-{}", unit_name(unit))
}

#[derive(Debug, Clone, PartialEq)]
struct UnitDef {
    duration_secs: f64,
    exit_code: i32,
    /// Touches [`excluded_marker`] when started.
    excluded: bool,
}

/// Builder for the units of a group: shared ones (every host) and per-host ones.
///
/// ```
/// use backup_orchestrator_tests::UnitSet;
/// let units = UnitSet::user_plan(0.5)
///     .fail("restic-backup-immich", 1)
///     .for_host("h2", "only-on-h2", 0.0, 0);
/// assert!(units.render("sanoid.service").is_some());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UnitSet {
    /// Host (`None`: every host) → unit name → definition.
    units: BTreeMap<Option<String>, BTreeMap<String, UnitDef>>,
}

impl UnitSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// The user's 15 plan units ([`PLAN_UNITS`]), each sleeping `duration_secs` and
    /// succeeding, plus the [`EXCLUDED_UNITS`], which succeed at once.
    pub fn user_plan(duration_secs: f64) -> Self {
        let mut set = Self::new();
        for unit in PLAN_UNITS {
            set = set.unit(unit, duration_secs, 0);
        }
        for unit in EXCLUDED_UNITS {
            set = set.excluded(unit);
        }
        set
    }

    /// A unit on every host. `name` may omit `.service`.
    pub fn unit(self, name: &str, duration_secs: f64, exit_code: i32) -> Self {
        self.insert(None, name, duration_secs, exit_code, false)
    }

    /// A unit only on `host` (`h1`, `h2`, …).
    pub fn for_host(self, host: &str, name: &str, duration_secs: f64, exit_code: i32) -> Self {
        assert!(
            host.strip_prefix('h')
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
            "bad host {host:?}: expected h1, h2, …"
        );
        self.insert(Some(host.to_owned()), name, duration_secs, exit_code, false)
    }

    /// A unit on every host that must never be started: it touches [`excluded_marker`].
    pub fn excluded(self, name: &str) -> Self {
        self.insert(None, name, 0.0, 0, true)
    }

    /// Makes every unit called `name` exit with `code`.
    pub fn fail(mut self, name: &str, code: i32) -> Self {
        self.modify(name, |def| def.exit_code = code);
        self
    }

    /// Makes every unit called `name` sleep `secs`.
    pub fn duration(mut self, name: &str, secs: f64) -> Self {
        check_duration(secs);
        self.modify(name, |def| def.duration_secs = secs);
        self
    }

    /// Unit names installed on `host`, sorted.
    pub fn names_on(&self, host: &str) -> Vec<String> {
        let mut names: Vec<String> = [None, Some(host.to_owned())]
            .iter()
            .filter_map(|h| self.units.get(h))
            .flat_map(|units| units.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The unit file for `name` (shared, else the first host that has it).
    pub fn render(&self, name: &str) -> Option<String> {
        let name = unit_name(name);
        self.units
            .values()
            .find_map(|units| units.get(&name))
            .map(|def| render(&name, def))
    }

    /// Writes shared units to `dir/NAME` and per-host ones to `dir/HOST/NAME`, the layout
    /// `testhosts up --units` reads.
    pub fn write_to(&self, dir: &Path) -> io::Result<()> {
        for (host, units) in &self.units {
            let dir = match host {
                Some(host) => dir.join(host),
                None => dir.to_path_buf(),
            };
            fs::create_dir_all(&dir)?;
            for (name, def) in units {
                fs::write(dir.join(name), render(name, def))?;
            }
        }
        Ok(())
    }

    fn insert(
        mut self,
        host: Option<String>,
        name: &str,
        duration_secs: f64,
        exit_code: i32,
        excluded: bool,
    ) -> Self {
        check_duration(duration_secs);
        self.units.entry(host).or_default().insert(
            unit_name(name),
            UnitDef {
                duration_secs,
                exit_code,
                excluded,
            },
        );
        self
    }

    fn modify(&mut self, name: &str, change: impl Fn(&mut UnitDef)) {
        let name = unit_name(name);
        let mut found = false;
        for def in self
            .units
            .values_mut()
            .filter_map(|units| units.get_mut(&name))
        {
            change(def);
            found = true;
        }
        assert!(found, "no unit {name} in this UnitSet");
    }
}

/// `foo` → `foo.service`; checks the name is safe inside the unit's `sh -c '…'`.
fn unit_name(name: &str) -> String {
    assert!(
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"@._-".contains(&b)),
        "bad unit name {name:?}: [A-Za-z0-9@._-] only"
    );
    if name.ends_with(".service") {
        name.to_owned()
    } else {
        format!("{name}.service")
    }
}

fn check_duration(secs: f64) {
    assert!(
        secs.is_finite() && secs >= 0.0,
        "bad unit duration {secs}: finite and >= 0"
    );
}

fn render(name: &str, def: &UnitDef) -> String {
    // In unit files `%%` is a literal `%` and `$$` a literal `$`; everything inside the
    // single quotes is then the shell's.
    let now = "$$(date +%%s.%%N)";
    let mut script = String::new();
    if def.excluded {
        script += &format!("touch {}; ", excluded_marker(name));
    }
    script += &format!("echo \"{now} start {name}\" >> {TRACE_FILE}; ");
    if def.duration_secs > 0.0 {
        script += &format!("sleep {}; ", def.duration_secs);
    }
    script += &format!(
        "echo \"{now} exit {name}\" >> {TRACE_FILE}; exit {}",
        def.exit_code
    );
    format!(
        "# Written by backup-orchestrator-tests' UnitSet.\n\
         [Unit]\n\
         Description=backup-orchestrator test unit {name}\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         RemainAfterExit=no\n\
         ExecStart=/bin/sh -c '{script}'\n"
    )
}

/// Whether a [`TraceEvent`] marks a unit's start or its exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceKind {
    Start,
    Exit,
}

/// One line of [`TRACE_FILE`]: `<unix time> start|exit NAME`.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceEvent {
    /// Seconds since the epoch, from the host's clock (`date +%s.%N`).
    pub at: f64,
    pub kind: TraceKind,
    pub unit: String,
}

/// Parses the contents of [`TRACE_FILE`], sorted by time.
///
/// # Panics
/// On a malformed line: the file is written only by our units.
pub fn parse_trace(text: &str) -> Vec<TraceEvent> {
    let mut events: Vec<TraceEvent> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut fields = line.split_whitespace();
            let (Some(at), Some(kind), Some(unit), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                panic!("malformed trace line {line:?}");
            };
            TraceEvent {
                at: at
                    .parse()
                    .unwrap_or_else(|e| panic!("bad time in trace line {line:?}: {e}")),
                kind: match kind {
                    "start" => TraceKind::Start,
                    "exit" => TraceKind::Exit,
                    _ => panic!("bad event in trace line {line:?}"),
                },
                unit: unit.to_owned(),
            }
        })
        .collect();
    events.sort_by(|a, b| a.at.total_cmp(&b.at));
    events
}

/// The most units running at once according to `events` (from [`parse_trace`]).
pub fn max_concurrency(events: &[TraceEvent]) -> usize {
    let (mut running, mut max) = (0usize, 0usize);
    for event in events {
        match event.kind {
            TraceKind::Start => {
                running += 1;
                max = max.max(running);
            }
            TraceKind::Exit => running = running.saturating_sub(1),
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_plan_has_fifteen_plan_units_and_three_excluded_ones() {
        let set = UnitSet::user_plan(1.0);
        let names = set.names_on("h1");
        assert_eq!(names.len(), 18);
        for unit in PLAN_UNITS {
            let file = set.render(unit).expect("plan unit present");
            assert!(file.contains("sleep 1; "), "{file}");
            assert!(!file.contains("touch"), "{file}");
        }
        for unit in EXCLUDED_UNITS {
            let file = set.render(unit).expect("excluded unit present");
            assert!(
                file.contains(&format!("touch /run/excluded-started-{unit}; ")),
                "{file}"
            );
        }
    }

    #[test]
    fn render_escapes_specifiers_and_dollars_for_systemd() {
        let file = UnitSet::new()
            .unit("x", 0.25, 3)
            .render("x.service")
            .expect("x present");
        assert!(file.contains("Type=oneshot\n"));
        assert!(file.contains("RemainAfterExit=no\n"));
        assert!(file.contains(
            "ExecStart=/bin/sh -c 'echo \"$$(date +%%s.%%N) start x.service\" >> /run/bo-unit-trace; \
             sleep 0.25; echo \"$$(date +%%s.%%N) exit x.service\" >> /run/bo-unit-trace; exit 3'\n"
        ));
    }

    #[test]
    fn fail_and_duration_change_shared_and_per_host_units() {
        let set = UnitSet::new()
            .unit("a", 0.0, 0)
            .for_host("h2", "a", 0.0, 0)
            .fail("a", 4)
            .duration("a.service", 2.0);
        let written = tempfile::tempdir().expect("tempdir");
        set.write_to(written.path()).expect("write units");
        for path in [
            written.path().join("a.service"),
            written.path().join("h2/a.service"),
        ] {
            let file = std::fs::read_to_string(&path).expect("unit written");
            assert!(file.contains("sleep 2; "), "{file}");
            assert!(file.ends_with("exit 4'\n"), "{file}");
        }
        assert_eq!(set.names_on("h1"), ["a.service"]);
    }

    #[test]
    #[should_panic(expected = "no unit nope.service")]
    fn fail_panics_when_unit_is_unknown() {
        let _ = UnitSet::new().fail("nope", 1);
    }

    #[test]
    #[should_panic(expected = "bad unit name")]
    fn unit_rejects_names_that_would_break_the_shell_quoting() {
        let _ = UnitSet::new().unit("a'b", 0.0, 0);
    }

    #[test]
    fn max_concurrency_counts_overlapping_units_from_trace() {
        let events = parse_trace(
            "10.0 start a.service\n10.1 start b.service\n11.0 exit a.service\n\
             11.5 start c.service\n12.0 exit b.service\n12.1 exit c.service\n",
        );
        assert_eq!(events.len(), 6);
        assert_eq!(max_concurrency(&events), 2);
        assert_eq!(
            max_concurrency(&parse_trace("1 start a\n2 exit a\n3 start b\n4 exit b\n")),
            1
        );
    }
}
