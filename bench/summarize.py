#!/usr/bin/python3
"""Summarise a bench/run-vs-lava.sh folder: medians per dispatcher and the
ratios the issue asks for. Usage: summarize.py OUTDIR"""
import datetime, glob, json, os, re, statistics, sys

out = sys.argv[1]
marks = {k: re.compile(rb"%s ([0-9]+\.[0-9]+)" % k.encode()) for k in ("GUEST-END", "CONSOLE-START", "CONSOLE-END")}

stamp = re.compile(rb'"dt": "([0-9T:.+-]+)".*"msg": "(start: 2 |end: 3 )')

def boot_and_test(d):
    """Seconds from the start of the boot block (level 2) to the end of the
    test block (level 3), from the dispatcher's own log: the guest's boot
    and test time as the anchor figures count it (boot 11.0 s + test 1.2 s)."""
    t = {}
    for f in ("logs.yaml", "stderr"):
        p = os.path.join(d, f)
        if not os.path.exists(p):
            continue
        with open(p, "rb") as fh:
            for line in fh:
                if b"start: 2 " not in line and b"end: 3 " not in line:
                    continue
                m = stamp.search(line)
                if m:
                    ts = datetime.datetime.fromisoformat(m.group(1).decode().replace("+00:00", ""))
                    t.setdefault(m.group(2)[:3], ts) if m.group(2).startswith(b"start") else t.__setitem__(b"end", ts)
    if b"sta" in t and b"end" in t:
        return (t[b"end"] - t[b"sta"]).total_seconds()
    return None

def markers(d):
    """Last value of each marker in the run's logs (basalt: logs.yaml; lava-run: its stderr)."""
    found = {}
    for f in ("logs.yaml", "stderr"):
        p = os.path.join(d, f)
        if not os.path.exists(p):
            continue
        with open(p, "rb") as fh:
            for line in fh:
                if b"-START" not in line and b"-END" not in line:
                    continue
                for k, r in marks.items():
                    m = r.search(line)
                    if m:
                        found[k] = float(m.group(1))
    return found

rows = {}
for d in sorted(glob.glob(os.path.join(out, "*-*-*"))):
    mj = os.path.join(d, "measure.json")
    if not os.path.isdir(d) or not os.path.exists(mj):
        continue
    job, tool, _ = os.path.basename(d).rsplit("-", 2)
    m = json.load(open(mj))
    mk = markers(d)
    r = {"rc": m["rc"], "wall": m["wall_s"], "cpu": m["dispatcher_cpu_s"], "rss_mb": m["dispatcher_peak_rss_kb"] / 1024}
    if "GUEST-END" in mk:
        r["uptime"] = mk["GUEST-END"]
    bt = boot_and_test(d)
    if bt is not None:
        r["boot+test"] = bt
        r["overhead"] = m["wall_s"] - bt
    if "CONSOLE-START" in mk and "CONSOLE-END" in mk:
        r["console"] = mk["CONSOLE-END"] - mk["CONSOLE-START"]
    rows.setdefault((job, tool), []).append(r)

def med(rs, k):
    v = [r[k] for r in rs if k in r]
    return statistics.median(v) if v else float("nan")

serial = []
for p in sorted(glob.glob(os.path.join(out, "serial-*.json"))):
    try:
        serial.append(json.load(open(p))["guest_seconds"])
    except (ValueError, KeyError):
        print(f"skipping {p}: no result (failed or still running)")
for job in sorted({j for j, _ in rows}):
    print(f"== {job}")
    keys = ["wall", "boot+test", "overhead", "uptime", "cpu", "rss_mb"] + (["console"] if job == "throughput" else [])
    print(f"{'':8}" + "".join(f"{k:>11}" for k in keys) + "   runs (exit codes)")
    for tool in ("lava", "basalt"):
        rs = rows.get((job, tool), [])
        if rs:
            print(f"{tool:8}" + "".join(f"{med(rs, k):11.2f}" for k in keys) + f"   {len(rs)} {[r['rc'] for r in rs]}")
    lv, bs = rows.get((job, "lava"), []), rows.get((job, "basalt"), [])
    if lv and bs:
        for k, what in (("overhead", "overhead (wall - boot and test)"), ("cpu", "dispatcher CPU"), ("rss_mb", "peak memory"), ("wall", "wall")):
            b = med(bs, k)
            print(f"  lava-run / basalt {what}: {med(lv, k) / b:.1f}x" if b > 0 else f"  {what}: basalt {b}")
    if job == "throughput" and serial:
        s = statistics.median(serial)
        print(f"qemu alone: median {s:.1f} s for 50 MB over {len(serial)} runs")
        for tool in ("lava", "basalt"):
            rs = rows.get((job, tool), [])
            if rs:
                print(f"  {tool} console time / qemu alone: {med(rs, 'console') / s:.3f}x")
