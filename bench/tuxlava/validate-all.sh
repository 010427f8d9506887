#!/usr/bin/env bash
# Renders the LAVA jobs of TuxLAVA's test suite (generate.py), asks current
# LAVA's own checks for their verdicts (lava-verdicts.py) and runs `basalt
# validate` on each job in its three modes, then prints the counts: above
# all, how many jobs a LAVA server accepts that Basalt's default refuses
# (the goal is 0).
#
#   bench/tuxlava/validate-all.sh [--sweep] [OUT_DIR]
#
# By default the jobs are the 208 that TuxLAVA's test suite pins (its
# test_definition cases); --sweep renders every device × every test it
# supports instead (about 10,000 jobs, some minutes).
#
# Sources (read only, never copied into the repository):
#   TUXLAVA_SRC  TuxLAVA, https://github.com/kernelci/tuxlava (default
#                ../src/tuxlava beside the repository; the session that
#                wrote this used commit f99d452c of 2026-05-19)
#   LAVA_SRC     LAVA, https://gitlab.com/lava/lava (default ../src/lava;
#                d27bcfdb of 2026-08-21)
# Needs /usr/bin/python3 with Debian's python3-jinja2, python3-yaml and
# python3-voluptuous (apt-get install -y python3-jinja2 python3-yaml
# python3-voluptuous), and Go to build basalt.
#
# OUT_DIR (default: a temporary folder, removed) receives jobs/, the
# jobs, and verdicts.tsv: job, LAVA's server/strict/lax verdicts, Basalt's
# default/strict/lax verdicts.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export TUXLAVA_SRC=${TUXLAVA_SRC:-$ROOT/../src/tuxlava}
export LAVA_SRC=${LAVA_SRC:-$ROOT/../src/lava}
PY=/usr/bin/python3
for d in "$TUXLAVA_SRC/tuxlava" "$LAVA_SRC/lava_scheduler_app"; do
	[ -d "$d" ] || { echo "validate-all: $d not found (set TUXLAVA_SRC / LAVA_SRC)" >&2; exit 2; }
done

SWEEP=
if [ "${1:-}" = --sweep ]; then SWEEP=--sweep; shift; fi
if [ $# -ge 1 ]; then
	OUT=$1
	mkdir -p "$OUT"
else
	OUT=$(mktemp -d)
	trap 'rm -rf "$OUT"' EXIT
fi
rm -rf "$OUT/jobs"

(cd "$ROOT" && go build -trimpath -o "$OUT/basalt" ./cmd/basalt)
$PY "$ROOT/bench/tuxlava/generate.py" $SWEEP "$OUT/jobs"
$PY "$ROOT/bench/tuxlava/lava-verdicts.py" --base "$OUT/jobs" "$OUT/jobs" > "$OUT/lava.yaml"

verdict() { if "$OUT/basalt" validate --quiet "$@" >/dev/null 2>&1; then echo valid; else echo invalid; fi; }
: > "$OUT/basalt.tsv"
for f in "$OUT"/jobs/*.yaml; do
	printf '%s\t%s\t%s\t%s\n' "$(basename "$f")" "$(verdict "$f")" "$(verdict --strict "$f")" "$(verdict --lax "$f")" >> "$OUT/basalt.tsv"
done

$PY - "$OUT" <<'PY'
import sys, yaml
out = sys.argv[1]
lava = {j["job"]: j for j in yaml.safe_load(open(out + "/lava.yaml"))["jobs"]}
rows, n = [], 0
counts = {m: {"agree": 0, "refused": 0, "accepted": 0} for m in ("server", "strict", "lax")}
for line in open(out + "/basalt.tsv"):
    job, default, strict, lax = line.split()
    l = lava[job]
    rows.append("\t".join([job, l["server"], l["strict"], l["lax"], default, strict, lax]))
    n += 1
    for mode, got in (("server", default), ("strict", strict), ("lax", lax)):
        want = l[mode]
        if got == want:
            counts[mode]["agree"] += 1
        elif want == "valid":
            counts[mode]["refused"] += 1
            print("  %s: LAVA (%s) accepts, Basalt refuses" % (job, mode))
        else:
            counts[mode]["accepted"] += 1
            print("  %s: LAVA (%s) refuses (%s), Basalt accepts" % (job, mode, l.get(mode + "_error", "")))
with open(out + "/verdicts.tsv", "w") as f:
    f.write("job\tlava_server\tlava_strict\tlava_lax\tbasalt_default\tbasalt_strict\tbasalt_lax\n")
    f.write("\n".join(rows) + "\n")
print("%d TuxLAVA jobs" % n)
for mode, flag in (("server", "default"), ("strict", "--strict"), ("lax", "--lax")):
    c = counts[mode]
    print("  basalt validate %-9s vs LAVA %-6s: agree %d/%d; LAVA accepts, Basalt refuses: %d; LAVA refuses, Basalt accepts: %d"
          % (flag, mode, c["agree"], n, c["refused"], c["accepted"]))
for mode in ("server", "strict", "lax"):
    print("  LAVA %-6s accepts %d" % (mode, sum(1 for j in lava.values() if j[mode] == "valid")))
sys.exit(1 if counts["server"]["refused"] else 0)
PY
