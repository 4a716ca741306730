#!/usr/bin/env bash
# Baseline for figure 1: the user's plan as a plain shell script on the host, as root.
#
# The same stages and limits as the product's plan, with `systemctl start` (which, for a
# Type=oneshot unit, returns when the unit has finished): sanoid; the 7 syncoid jobs in
# parallel; pgbackrest-full-backup; the 6 restic jobs at most 3 at once.
#
# Unit names are written out rather than discovered, and there is no disk-space preflight, no
# state check and no summary: this is the least work a script can do for the plan, so the ratio
# it gives the product is a strict one (the user's 678-line script does all of that on top).
set -euo pipefail

systemctl start sanoid.service

syncoid=(
	syncoid-tank-services-prowlarr.service
	syncoid-tank-services-sonarr.service
	syncoid-tank-services-radarr.service
	syncoid-tank-services-plex.service
	syncoid-tank-services-home-assistant.service
	syncoid-tank-services-grafana.service
	syncoid-tank-services-postgresql.service
)
pids=()
for unit in "${syncoid[@]}"; do
	systemctl start "$unit" &
	pids+=("$!")
done
# `wait PID` one by one, not a bare `wait`: a bare wait would swallow a failed start.
for pid in "${pids[@]}"; do
	wait "$pid"
done

systemctl start pgbackrest-full-backup.service

# xargs -P3 keeps at most 3 restic jobs running, starting the next as soon as one ends.
printf '%s\n' \
	restic-backup-plex.service \
	restic-backup-sonarr.service \
	restic-backup-radarr.service \
	restic-backup-home-assistant.service \
	restic-backup-paperless.service \
	restic-backup-immich.service |
	xargs -P3 -n1 systemctl start
