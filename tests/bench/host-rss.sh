#!/usr/bin/env bash
# Figure 3 (peak RSS on the host), on the bench host as root (tests/bench/run feeds this script
# to `ssh h1 sudo bash -s` on stdin, then starts the long run with the controller).
#
# Base Debian 12 has neither /usr/bin/time nor systemd's MemoryPeak (systemd 252; and the
# container has no memory controller), so the peaks are read from /proc/PID/status: VmHWM is the
# process's own high-water mark of resident memory, monotonic, so its last value before exit is
# its peak. Sampled every 20 ms: the processes live for the whole long run, so only the last
# few milliseconds of each (writing the summary, exiting) can escape the reading.
#
# Three processes: the run itself (MainPID of the transient unit), `serve` (started over SSH by
# the controller, following the run's log) and a local `backup-orchestrator attach` started here
# (the follower the user's `sudo backup-orchestrator` runs on the host).
#
# Output on stdout: `run KB`, `serve KB`, `attach KB`.
set -euo pipefail

readonly RUN_UNIT=backup-orchestrator-run.service

hwm() {
	local key value _
	while read -r key value _; do
		if [[ $key == VmHWM: ]]; then
			echo "$value"
			return 0
		fi
	done 2>/dev/null <"/proc/$1/status"
	return 1
}

# The controller starts the run after this script is running: wait for it (bounded).
run_pid=0
for ((i = 0; i < 300; i++)); do
	run_pid=$(systemctl show -p MainPID --value "$RUN_UNIT" 2>/dev/null || echo 0)
	[[ $run_pid =~ ^[1-9][0-9]*$ ]] && break
	sleep 0.02
done
[[ $run_pid =~ ^[1-9][0-9]*$ ]] || {
	echo "host-rss: no $RUN_UNIT within 6 s" >&2
	exit 1
}

backup-orchestrator attach </dev/null >/dev/null 2>&1 &
attach_pid=$!

# `sudo -n backup-orchestrator serve` execs the agent as `backup-orchestrator serve`; pgrep only
# finds it (nothing is signalled).
serve_pid=""
for ((i = 0; i < 100; i++)); do
	serve_pid=$(pgrep -f -n '^(/usr/local/bin/)?backup-orchestrator serve' || true)
	[[ -n $serve_pid ]] && break
	sleep 0.02
done

declare -A peak=([run]=0 [serve]=0 [attach]=0)
declare -A pid=([run]=$run_pid [serve]=$serve_pid [attach]=$attach_pid)
while :; do
	alive=0
	for name in run serve attach; do
		[[ -n ${pid[$name]} ]] || continue
		if value=$(hwm "${pid[$name]}"); then
			peak[$name]=$value
			alive=1
		fi
	done
	((alive)) || break
	sleep 0.02
done
wait "$attach_pid" || echo "host-rss: attach exited $?" >&2

for name in run serve attach; do
	echo "$name ${peak[$name]}"
done
