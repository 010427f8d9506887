#!/usr/bin/python3
"""Summarise a bench/run-vs-lava.sh folder: medians per dispatcher over the
runs that succeeded, and lava-run / basalt ratios. Usage: summarize.py OUTDIR

A run counts only when the dispatcher exited 0 and its log shows the boot
and test blocks and the guest's GUEST-END line; any other run is left out
of every median and listed with the reason.

What the figures are (bench/measure documents how each is taken):
  wall      the dispatcher's wall time, start to exit;
  boot+test from the start of the boot block (level 2) to the end of the
            test block (level 3), as the dispatcher's own log times them;
  overhead  wall minus boot+test: the dispatcher's time outside those two
            blocks (starting, downloads, building the overlay, finishing);
  uptime    the guest's uptime when its test ended (GUEST-END), for
            reference: the guest's own share of boot+test;
  disp      the dispatcher process alone (CPU s, peak MB);
  helpers   CPU of every other process it started but the guest's QEMU
            (lava-run: libguestfs' appliance QEMU; basalt: mkfs.ext2...);
  side      dispatcher and helpers: CPU s, and peak MB: the largest sum of
            their proportional set sizes (Pss) at one moment, a page
            shared by n processes counting 1/n in each;
  guest     the guest's QEMU (the same for both dispatchers' jobs).
"""
import datetime, glob, json, os, re, statistics, sys

out = sys.argv[1]
marks = {k: re.compile(rb"%s ([0-9]+\.[0-9]+)" % k.encode()) for k in ("GUEST-END", "CONSOLE-START", "CONSOLE-END")}

stamp = re.compile(rb'"dt": "([0-9T:.+-]+)".*"msg": "(start: 2 |end: 3 )')


def boot_and_test(d):
    """Seconds from the start of the boot block (level 2) to the end of the
    test block (level 3), from the dispatcher's own log."""
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
                    if m.group(2).startswith(b"start"):
                        t.setdefault("start", ts)
                    else:
                        t["end"] = ts
    if "start" in t and "end" in t:
        return (t["end"] - t["start"]).total_seconds()
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


rows, failed, loads = {}, {}, []
for d in sorted(glob.glob(os.path.join(out, "*-*-*"))):
    mj = os.path.join(d, "measure.json")
    if not os.path.isdir(d):
        continue
    job, tool, run = os.path.basename(d).rsplit("-", 2)
    if not os.path.exists(mj):
        failed.setdefault((job, tool), []).append((run, "no measure.json (interrupted?)"))
        continue
    m = json.load(open(mj))
    loads += [m.get("loadavg_start", ""), m.get("loadavg_end", "")]
    mk = markers(d)
    bt = boot_and_test(d)
    why = []
    if m["rc"] != 0:
        why.append(f"exit code {m['rc']}")
    if bt is None:
        why.append("no boot and test blocks in its log")
    if "GUEST-END" not in mk:
        why.append("no GUEST-END from the guest")
    if job == "throughput" and not ("CONSOLE-START" in mk and "CONSOLE-END" in mk):
        why.append("no CONSOLE-START/END")
    if why:
        failed.setdefault((job, tool), []).append((run, "; ".join(why)))
        continue
    r = {"wall": m["wall_s"], "boot+test": bt, "overhead": m["wall_s"] - bt, "uptime": mk["GUEST-END"],
         "disp_cpu": m["dispatcher_cpu_s"], "disp_mb": m["dispatcher_peak_rss_kb"] / 1024,
         "help_cpu": m["helpers_cpu_s"], "side_cpu": m["side_cpu_s"], "side_mb": m["side_peak_pss_kb"] / 1024,
         "guest_cpu": m["guest_qemu_cpu_s"], "guest_mb": m["guest_qemu_peak_rss_kb"] / 1024,
         "guests": m["guest_qemu_count"], "helpers": m["processes"]}
    if "CONSOLE-START" in mk and "CONSOLE-END" in mk:
        r["console"] = mk["CONSOLE-END"] - mk["CONSOLE-START"]
    rows.setdefault((job, tool), []).append(r)


def med(rs, k):
    v = [r[k] for r in rs if k in r]
    return statistics.median(v) if v else float("nan")


one_min = [float(l.split()[0]) for l in loads if l]
print(f"machine: {os.cpu_count()} CPUs; 1-minute load average at the start and end of each run: "
      + (f"{min(one_min):.2f} to {max(one_min):.2f} (median {statistics.median(one_min):.2f})" if one_min else "not recorded"))
serial = []
for p in sorted(glob.glob(os.path.join(out, "serial-*.json"))):
    try:
        serial.append(json.load(open(p))["guest_seconds"])
    except (ValueError, KeyError):
        print(f"skipping {p}: no result (failed or still running)")
for job in sorted({j for j, _ in rows} | {j for j, _ in failed}):
    print(f"== {job}: medians of the runs that succeeded")
    keys = ["wall", "boot+test", "overhead", "uptime", "disp_cpu", "disp_mb", "help_cpu", "side_cpu", "side_mb",
            "guest_cpu", "guest_mb"] + (["console"] if job == "throughput" else [])
    print(f"{'':8}" + "".join(f"{k:>10}" for k in keys) + "   runs ok/failed")
    for tool in ("lava", "basalt"):
        rs, fs = rows.get((job, tool), []), failed.get((job, tool), [])
        if rs or fs:
            print(f"{tool:8}" + "".join(f"{med(rs, k):10.2f}" for k in keys) + f"   {len(rs)}/{len(fs)}")
    for tool in ("lava", "basalt"):
        for run, why in failed.get((job, tool), []):
            print(f"  left out: {tool} run {run}: {why}")
    for tool in ("lava", "basalt"):
        rs = rows.get((job, tool), [])
        if not rs:
            continue
        # What the side's helpers were, from the median run by side CPU.
        r = sorted(rs, key=lambda r: r["side_cpu"])[len(rs) // 2]
        hs = [p for p in r["helpers"] if p["role"] == "helper" and (p["cpu_s"] >= 0.01 or p["peak_rss_kb"] >= 10240)]
        print(f"  {tool} helpers (median run): " + (", ".join(
            f"{p['program']} x{p['count']} {p['cpu_s']:.2f} s {p['peak_rss_kb'] / 1024:.0f} MB RSS" for p in hs) or "none above 0.01 s or 10 MB")
              + f"; guest QEMUs: {r['guests']}")
    lv, bs = rows.get((job, "lava"), []), rows.get((job, "basalt"), [])
    if lv and bs:
        for k, what in (("wall", "wall"), ("overhead", "overhead (wall minus the boot and test blocks)"),
                        ("side_cpu", "CPU, dispatcher and helpers"), ("side_mb", "peak memory, dispatcher and helpers"),
                        ("disp_cpu", "CPU, dispatcher process alone"), ("disp_mb", "peak memory, dispatcher process alone")):
            b = med(bs, k)
            print(f"  lava-run / basalt {what}: {med(lv, k):.2f} / {b:.2f} = {med(lv, k) / b:.1f}x" if b > 0 else f"  {what}: basalt {b}")
    if job == "throughput" and serial:
        s = statistics.median(serial)
        print(f"qemu alone: median {s:.1f} s for 50 MB over {len(serial)} runs")
        for tool in ("lava", "basalt"):
            rs = rows.get((job, tool), [])
            if rs:
                print(f"  {tool} console time / qemu alone: {med(rs, 'console') / s:.3f}x")
