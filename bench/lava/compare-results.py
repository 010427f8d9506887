#!/usr/bin/python3
"""Compare the results of one job run by Debian's lava-run and by basalt run.

    bench/lava/compare-results.py LAVA_LOG BASALT_LOGS_YAML

LAVA_LOG is lava-run's log (its stderr: one JSON or YAML object per line);
BASALT_LOGS_YAML is basalt's logs.yaml. Both hold the job's results as
"results" lines. What is compared, for each side:

- every test case result (definition, case, result, measurement, units)
  outside the "lava" suite;
- in the "lava" suite, the result of each test run (0_smoke ...) and of
  the job.

The lava suite's per-action results are left out: the two dispatchers
run different actions (basalt has no libguestfs step). Prints both lists
and the differences; exit status 0 when they agree, 1 otherwise.
"""
import json
import sys

import yaml


def results(path):
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if line.startswith("- "):
                line = line[2:]
            if not line.startswith("{"):
                continue
            try:
                try:
                    d = json.loads(line)
                except ValueError:
                    d = yaml.safe_load(line)
            except Exception:
                continue
            if not isinstance(d, dict) or d.get("lvl") != "results" or not isinstance(d.get("msg"), dict):
                continue
            out.append(d["msg"])
    return out


def key_rows(rs):
    runs = {r["case"] for r in rs if r.get("definition") == "lava" and "uuid" in r}
    rows = set()
    for r in rs:
        d, c = r.get("definition"), r.get("case")
        if d == "lava" and c not in runs and c != "job":
            continue
        m = r.get("measurement")
        rows.add((d, str(c), r.get("result"), "" if m is None else "%g" % float(m), r.get("units", "") or ""))
    return rows


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    lava, basalt = key_rows(results(sys.argv[1])), key_rows(results(sys.argv[2]))
    for name, rows in (("lava-run", lava), ("basalt", basalt)):
        print("%s: %d results" % (name, len(rows)))
        for r in sorted(rows):
            print("  %-10s %-24s %-5s %s %s" % r)
    if lava == basalt:
        print("same results")
        return 0
    for r in sorted(lava - basalt):
        print("only lava-run: %s %s %s %s %s" % r)
    for r in sorted(basalt - lava):
        print("only basalt:   %s %s %s %s %s" % r)
    return 1


if __name__ == "__main__":
    sys.exit(main())
