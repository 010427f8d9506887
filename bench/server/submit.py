#!/usr/bin/python3
"""Submits a job definition over XML-RPC (scheduler.jobs.submit) from
CLIENTS threads, each with its own xmlrpc.client.ServerProxy (a new HTTP
connection per call, as Python's transport and lavacli's do), until TOTAL
submissions were made or LIMIT seconds passed. Prints one JSON line:
submissions per second over the wall time, latency quantiles, errors.

    submit.py URI JOB_FILE TOTAL CLIENTS LIMIT_S
"""
import json
import statistics
import sys
import threading
import time
import xmlrpc.client


def main():
    uri, job_file = sys.argv[1], sys.argv[2]
    total, clients, limit = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    with open(job_file) as f:
        definition = f.read()
    lock = threading.Lock()
    left = [total]
    latencies, errors, ids = [], [], []
    start = time.monotonic()

    def client():
        proxy = xmlrpc.client.ServerProxy(uri, allow_none=True)
        while True:
            with lock:
                if left[0] == 0 or time.monotonic() - start > limit:
                    return
                left[0] -= 1
            t = time.perf_counter()
            try:
                got = proxy.scheduler.jobs.submit(definition)
            except Exception as e:  # counted and shown, never fatal
                with lock:
                    errors.append(repr(e)[:300])
                continue
            took = time.perf_counter() - t
            with lock:
                latencies.append(took)
                ids.append(got)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - start
    ms = sorted(x * 1000 for x in latencies)

    def q(p):
        return round(ms[min(len(ms) - 1, int(p * len(ms)))], 2) if ms else None

    print(json.dumps({
        "ok": len(ms), "errors": len(errors), "error_sample": errors[:3],
        "clients": clients, "wall_s": round(wall, 3),
        "per_s": round(len(ms) / wall, 2) if wall > 0 else None,
        "lat_ms_median": round(statistics.median(ms), 2) if ms else None,
        "lat_ms_p10": q(0.1), "lat_ms_p90": q(0.9),
        "first_id": ids[0] if ids else None, "last_id": ids[-1] if ids else None,
        "loadavg": open("/proc/loadavg").read().split()[:3],
    }))


if __name__ == "__main__":
    main()
