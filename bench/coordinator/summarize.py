#!/usr/bin/python3
"""Summarise bench/coordinator/compare.sh results (results.jsonl): one row
per scenario and server with the median over the runs that did not fail
(failed runs are counted in "failed" and listed), then Basalt/LAVA ratios
of requests per second and completed rounds per second, and the machine's
load average during the runs.

    summarize.py results.jsonl
"""
import json
import statistics
import sys


def med(rows, key, sub=None):
    vals = []
    for r in rows:
        v = r.get(key)
        if sub is not None and isinstance(v, dict):
            # a summary of nothing (no round completed) is no figure
            v = v.get(sub) if v.get("n") else None
        if isinstance(v, (int, float)):
            vals.append(v)
    return statistics.median(vals) if vals else None


def fmt(v, digits=2):
    if v is None:
        return "-"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.{digits}f}"
    return str(int(v))


def main(path):
    rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    by = {}
    order = []
    failed = {}
    loads = [float(r[k].split()[0]) for r in rows for k in ("loadavg_start", "loadavg_end") if r.get(k)]
    for r in rows:
        if r.get("failed"):
            if r["bench"] not in order:
                order.append(r["bench"])
            failed.setdefault((r["bench"], r["label"]), []).append(r)
            continue
        k = (r["bench"], r["label"])
        if r["bench"] not in order:
            order.append(r["bench"])
        by.setdefault(k, []).append(r)

    cols = ["scenario", "server", "runs", "failed", "req/s", "rounds/s", "round med s",
            "round max s", "group_data s", "done", "conn err", "resets", "SYN drops", "wall s",
            "srv cpu s", "srv rss MB", "load cpu s"]
    table = []
    for bench in order:
        for server in ("basalt", "lava"):
            rs = by.get((bench, server))
            nfail = str(len(failed.get((bench, server), [])))
            if not rs:
                if nfail != "0":
                    table.append([bench, server, "0", nfail] + ["-"] * (len(cols) - 4))
                continue
            # every run's count: a run cut off by the time limit must show
            done = "%s/%s" % (",".join(str(r["rounds_completed"]) for r in rs), fmt(med(rs, "rounds_expected")))
            resets = [r.get("conn_errors", {}).get("reset", 0) for r in rs]
            rss = med(rs, "server_peak_rss_kb")
            table.append([bench, server, str(len(rs)), nfail, fmt(med(rs, "requests_per_s"), 0),
                          fmt(med(rs, "rounds_per_s"), 3), fmt(med(rs, "round_s", "median"), 3),
                          fmt(med(rs, "round_s", "max"), 3), fmt(med(rs, "group_data_s", "median"), 3),
                          done, fmt(med(rs, "conn_errors_total")),
                          fmt(statistics.median(resets)), fmt(med(rs, "listen_overflows")),
                          fmt(med(rs, "wall_s")),
                          fmt(med(rs, "server_cpu_s")), fmt(rss / 1024 if rss else None, 1),
                          fmt(med(rs, "client_cpu_s"))])
    widths = [max(len(c), *(len(row[i]) for row in table)) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))
    print("(medians over the runs that did not fail; round = first node entering a round to the last leaving it;"
          " done = completed rounds of each run/expected; resets are counted in conn err;"
          " SYN drops = the kernel's listen-queue overflows during the run)")

    for (bench, server), fs in failed.items():
        for r in fs:
            print(f"  left out: {bench} {server} run {r['run']}: {r['failed']}")
    if loads:
        print(f"machine load average (1 min) before and after each run: {min(loads):.2f} to {max(loads):.2f}"
              f" (median {statistics.median(loads):.2f})")

    print()
    print("Basalt / LAVA (ratio of the medians):")
    for bench in order:
        b, l = by.get((bench, "basalt")), by.get((bench, "lava"))
        if not b or not l:
            continue
        parts = []
        for key, name in (("requests_per_s", "requests/s"), ("rounds_per_s", "rounds/s")):
            vb, vl = med(b, key), med(l, key)
            if vb and vl:
                parts.append(f"{name} x{vb / vl:.2f}")
        rb, rl = med(b, "round_s", "median"), med(l, "round_s", "median")
        if rb and rl:
            parts.append(f"round time {rb:.3f} s vs {rl:.3f} s (LAVA/Basalt x{rl / rb:.1f})")
        cb, cl = med(b, "server_cpu_s"), med(l, "server_cpu_s")
        if cb is not None and cl is not None:
            parts.append(f"server CPU {cb:.2f} s vs {cl:.2f} s")
        print(f"  {bench}: " + "; ".join(parts))

    for bench in order:
        for server in ("basalt", "lava"):
            for r in by.get((bench, server), []):
                w = r.get("waitall_role")
                if w:
                    print(f"  {bench} {server} run {r['run']}: lava_wait_all on a role of "
                          f"{w['role_members']}: {w['waiter_replies']} replies held "
                          f"{w['senders_in_reply_min']}..{w['senders_in_reply_max']} senders, "
                          f"{w['returned_before_all_sent']} returned before the whole role had sent")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: summarize.py results.jsonl")
    main(sys.argv[1])
