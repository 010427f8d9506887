#!/bin/sh
# compare.sh JOB.yaml DEVICE_NAME
#
# Builds the same job on the same device with current LAVA (oracle.py)
# and with `basalt validate --lax --device` (the binary, build/basalt),
# and prints the difference of the two action trees (level, name,
# timeout, max_retries, url); nothing when they are equal. Exit 1 on a
# difference, 2 when LAVA itself cannot build the job.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
basalt=${BASALT:-$here/../../../build/basalt}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$here/oracle.py" "$1" "$2" "$work/device.yaml" > "$work/lava.txt" || exit 2
"$basalt" validate --lax "$1" --device "$work/device.yaml" --output-dir "$work/out" > /dev/null 2>&1 || true
/usr/bin/python3 - "$work/out/description.yaml" > "$work/basalt.txt" <<'PY'
import sys, yaml
def walk(actions, depth=0):
    for a in actions:
        url = " url=" + a["url"] if a.get("url") else ""
        print("  " * depth + "%s %s %s %s%s" % (a["level"], a["name"], a["timeout"], a["max_retries"], url))
        walk(a.get("pipeline", []), depth + 1)
walk(yaml.safe_load(open(sys.argv[1]))["pipeline"])
PY
diff -u "$work/lava.txt" "$work/basalt.txt"
