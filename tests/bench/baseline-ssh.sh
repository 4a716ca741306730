#!/usr/bin/env bash
# Baseline for figure 5: the user's plan driven from this machine with one OpenSSH call per
# unit, `ssh HOST sudo systemctl start UNIT`, in the plan's stages: sanoid; the 7 syncoid jobs in
# parallel; pgbackrest-full-backup; the 6 restic jobs at most 3 at once.
#
# Every call is a fresh connection (no ControlMaster), as a script looping over units would make.
# Names are written out and nothing is checked or summarised: the least work for the plan.
#
# Usage: baseline-ssh.sh SSH_CONFIG HOST
set -euo pipefail

if [[ $# -ne 2 ]]; then
	echo "usage: $0 SSH_CONFIG HOST" >&2
	exit 64
fi
config=$1
host=$2
# -n: stdin from /dev/null, so parallel calls never compete for ours. BatchMode: a prompt
# would hang the benchmark instead of failing it.
ssh_start=(ssh -n -F "$config" -o BatchMode=yes "$host" sudo -n systemctl start)

"${ssh_start[@]}" sanoid.service

pids=()
for unit in \
	syncoid-tank-services-prowlarr.service \
	syncoid-tank-services-sonarr.service \
	syncoid-tank-services-radarr.service \
	syncoid-tank-services-plex.service \
	syncoid-tank-services-home-assistant.service \
	syncoid-tank-services-grafana.service \
	syncoid-tank-services-postgresql.service; do
	"${ssh_start[@]}" "$unit" &
	pids+=("$!")
done
# One `wait PID` each: a bare `wait` would swallow a failed call.
for pid in "${pids[@]}"; do
	wait "$pid"
done

"${ssh_start[@]}" pgbackrest-full-backup.service

# xargs appends one unit name to the ssh command line and keeps at most 3 calls running.
printf '%s\n' \
	restic-backup-plex.service \
	restic-backup-sonarr.service \
	restic-backup-radarr.service \
	restic-backup-home-assistant.service \
	restic-backup-paperless.service \
	restic-backup-immich.service |
	xargs -P3 -n1 "${ssh_start[@]}"
