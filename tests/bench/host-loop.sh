#!/usr/bin/env bash
# Figures 1 and 2, on the bench host as root (tests/bench/run feeds this script to
# `ssh h1 sudo bash -s -- RUNS WARMUP BASELINE` on stdin).
#
# Times the agent's whole run (`backup-orchestrator --yes --quiet`, from exec to its exit after
# the summary) and the baseline script, alternately, with bash's $EPOCHREALTIME: no fork per
# timestamp, and SSH is not inside the measured interval. Meanwhile `busctl monitor` records
# every JobRemoved signal with its µs receive time, for figure 2's pairing with the agent's
# UnitFinished events (done on the machine by report.py).
#
# A third, unjudged figure puts the two in proportion: the systemd floor, the plan as 5
# `systemctl start` calls of several units each (one per stage, restic in two waves of 3), i.e.
# about the time systemd itself needs to run these units in this order. No orchestrator, however
# fast, can finish the plan much below it.
#
# Output on stdout, one line per measured iteration: `agent US RUN_ID`, `baseline US`, `floor US`.
# The monitor's JSON lines are left in $MONITOR_OUT for the caller to fetch.
set -euo pipefail

readonly MONITOR_OUT=/run/bench-jobremoved.json
readonly MONITOR_ERR=/run/bench-monitor.err
readonly STATE_DIR=/var/lib/backup-orchestrator
readonly RUN_UNIT=backup-orchestrator-run.service

runs=$1
warmup=$2
baseline=$3

# $EPOCHREALTIME is "SECONDS.MICROS" with exactly 6 decimals: dropping the dot gives µs.
us() { echo "${1/./}"; }

# The systemd floor (see above): one `systemctl start` per stage or restic wave; systemctl starts
# the units of one call together and waits for all of them.
floor_plan() {
	systemctl start sanoid.service
	systemctl start syncoid-tank-services-{prowlarr,sonarr,radarr,plex,home-assistant,grafana,postgresql}.service
	systemctl start pgbackrest-full-backup.service
	systemctl start restic-backup-{plex,sonarr,radarr}.service
	systemctl start restic-backup-{home-assistant,paperless,immich}.service
}

# Bounded wait until the previous run's transient unit is gone, so a measured run never meets
# the lock of the one before (that wait is not what figure 1 measures).
wait_run_unit_gone() {
	local i
	for ((i = 0; i < 100; i++)); do
		systemctl is-active --quiet "$RUN_UNIT" || return 0
		sleep 0.05
	done
	echo "host-loop: $RUN_UNIT still active after 5 s" >&2
	return 1
}

busctl monitor --json=short \
	--match "type=signal,interface=org.freedesktop.systemd1.Manager,member=JobRemoved" \
	>"$MONITOR_OUT" 2>"$MONITOR_ERR" &
monitor=$!
trap 'kill "$monitor" 2>/dev/null || true' EXIT
# busctl says so on stderr once it is a monitor; signals before that would be lost.
for ((i = 0; i < 100; i++)); do
	grep -q 'Monitoring' "$MONITOR_ERR" 2>/dev/null && break
	sleep 0.05
done
grep -q 'Monitoring' "$MONITOR_ERR" || {
	echo "host-loop: busctl monitor did not start: $(cat "$MONITOR_ERR")" >&2
	exit 1
}

for ((i = 0; i < warmup + runs; i++)); do
	wait_run_unit_gone
	t0=$EPOCHREALTIME
	rc=0
	backup-orchestrator --yes --quiet </dev/null >/dev/null || rc=$?
	t1=$EPOCHREALTIME
	if ((rc != 0)); then
		echo "host-loop: backup-orchestrator --yes --quiet exited $rc" >&2
		exit 1
	fi
	run_id=$(<"$STATE_DIR/current")

	t2=$EPOCHREALTIME
	bash "$baseline" </dev/null >/dev/null
	t3=$EPOCHREALTIME

	t4=$EPOCHREALTIME
	floor_plan </dev/null >/dev/null
	t5=$EPOCHREALTIME

	if ((i >= warmup)); then
		echo "agent $(($(us "$t1") - $(us "$t0"))) $run_id"
		echo "baseline $(($(us "$t3") - $(us "$t2")))"
		echo "floor $(($(us "$t5") - $(us "$t4")))"
	fi
done

# Let the last signals reach the monitor's file before it is stopped.
sleep 0.2
