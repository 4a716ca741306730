#!/usr/bin/env bash
# The fan-outs that tests/bench/fleet times: one background job per host, then a `wait` for
# each (one `wait PID` per job: a bare `wait` would swallow a failed host). fleet runs this
# script under GNU time, so its figures cover the whole process tree.
#
# Usage:
#   fleet-jobs.sh per-host-ctl SSH_CONFIG N CTL   # product fallback: N `CTL --yes --quiet hI`
#   fleet-jobs.sh ssh-loop SSH_CONFIG N           # (a) baseline-ssh.sh per host: ssh per unit
#   fleet-jobs.sh floor SSH_CONFIG N CONTROL_DIR  # (c) the agent over open ControlMaster masters
#
# Hosts are h1..hN of the ssh_config. Exit status: the highest of the hosts' statuses.
set -euo pipefail

if [[ $# -lt 3 ]]; then
	sed -n '/^# Usage:/,/^# Hosts/p' "$0" | sed -e '$d' -e 's/^# \{0,3\}//' >&2
	exit 64
fi
mode=$1 config=$2 count=$3
shift 3
here=$(dirname "$0")

case $mode in
per-host-ctl)
	ctl=$1
	job() { "$ctl" --ssh-config "$config" --yes --quiet "$1"; }
	;;
ssh-loop)
	job() { "$here/baseline-ssh.sh" "$config" "$1"; }
	;;
floor)
	control_dir=$1
	# ControlMaster=no: this job only uses the master fleet opened before the timing; it never
	# becomes one (and so never waits for one to exit).
	job() {
		ssh -n -F "$config" -o BatchMode=yes -o ControlMaster=no -o "ControlPath=$control_dir/%n" "$1" \
			sudo -n backup-orchestrator --yes --quiet
	}
	;;
*)
	echo "fleet-jobs.sh: unknown mode '$mode'" >&2
	exit 64
	;;
esac

pids=()
for ((i = 1; i <= count; i++)); do
	job "h$i" &
	pids+=("$!")
done
worst=0
for pid in "${pids[@]}"; do
	rc=0
	wait "$pid" || rc=$?
	if ((rc > worst)); then worst=$rc; fi
done
exit "$worst"
