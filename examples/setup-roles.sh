#!/bin/sh
# Roles and permissions for privagg on one machine (docs/deployment.md,
# "Roles and permissions"): a pipeline account, a group of privacy officers
# and a group of analysts, kept apart by file permissions alone. Run as
# root; running it again changes nothing that is already in place.
#
#   sudo sh examples/setup-roles.sh
#   sudo PRIVAGG_OFFICER_USERS=alice PRIVAGG_ANALYST_USERS=bob sh examples/setup-roles.sh
#
# Settings (environment, with their defaults):
#   PRIVAGG_ROOT=/srv/privagg              the project folder
#   PRIVAGG_PIPELINE_USER=privagg          the pipeline account (created as a system account)
#   PRIVAGG_OFFICERS_GROUP=privagg-officers
#   PRIVAGG_ANALYSTS_GROUP=privagg-analysts
#   PRIVAGG_OFFICER_USERS=""               existing accounts to add to the officers' group
#   PRIVAGG_ANALYST_USERS=""               existing accounts to add to the analysts' group
#
# Then run the pipeline as the pipeline account with `umask 027` (nothing
# world-readable; the setgid folders give their group read access).
set -eu

root=${PRIVAGG_ROOT:-/srv/privagg}
pipeline=${PRIVAGG_PIPELINE_USER:-privagg}
officers=${PRIVAGG_OFFICERS_GROUP:-privagg-officers}
analysts=${PRIVAGG_ANALYSTS_GROUP:-privagg-analysts}

# The two groups, and the pipeline account, whose primary group is the
# officers' (it writes the ledger they read).
getent group "$officers" >/dev/null || groupadd "$officers"
getent group "$analysts" >/dev/null || groupadd "$analysts"
id -u "$pipeline" >/dev/null 2>&1 ||
	useradd --system --gid "$officers" --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$pipeline"

# People: officers read the ledger, analysts the published folders.
for u in ${PRIVAGG_OFFICER_USERS:-}; do usermod -aG "$officers" "$u"; done
for u in ${PRIVAGG_ANALYST_USERS:-}; do usermod -aG "$analysts" "$u"; done

# The folders. Raw input: the pipeline only. Ledger (with its journal,
# release store and run reports): written by the pipeline, read by
# officers. Published folders (every job's output.dir): written by the
# pipeline, read by analysts. 2750: setgid, so what the pipeline writes
# there belongs to the folder's group.
install -d -o root -g root -m 0755 "$root"
install -d -o "$pipeline" -g "$officers" -m 0700 "$root/raw"
install -d -o "$pipeline" -g "$officers" -m 2750 "$root/ledger"
install -d -o "$pipeline" -g "$analysts" -m 2750 "$root/published"
install -d -o "$pipeline" -g "$analysts" -m 2750 "$root/published/marketing"

# The project file: how every command, run in $root, finds the ledger and
# the published folders.
if [ ! -e "$root/privagg.yaml" ]; then
	printf 'version: 1\nledger: ledger/privagg-ledger.duckdb\npublished: [published/marketing]\n' >"$root/privagg.yaml"
	chmod 0644 "$root/privagg.yaml"
fi
echo "privagg roles set up in $root: pipeline $pipeline, officers $officers, analysts $analysts"
