#!/usr/bin/python3
"""Reads the whole log of each job named, over XML-RPC, the way
`lavacli jobs logs` pages it: scheduler.jobs.logs(id, start, None) from
the line count read so far, until the server says the job finished and
returns nothing more. Counts lines and bytes (it does not parse the YAML,
so that the client is not the bottleneck). Prints one JSON line.

    read-logs.py URI JOB...
"""
import json
import sys
import time
import xmlrpc.client


def main():
    uri, jobs = sys.argv[1], sys.argv[2:]
    rpc = xmlrpc.client.ServerProxy(uri, allow_none=True)
    start = time.monotonic()
    total_lines = total_bytes = calls = 0
    biggest = 0
    for job in jobs:
        lines = 0
        while True:
            finished, data = rpc.scheduler.jobs.logs(job, lines, None)
            calls += 1
            text = data.data if hasattr(data, "data") else data.encode()
            n = text.count(b"\n")
            lines += n
            total_bytes += len(text)
            biggest = max(biggest, len(text))
            if finished and n == 0:
                break
            if n == 0:
                time.sleep(1)
        total_lines += lines
    wall = time.monotonic() - start
    print(json.dumps({"jobs": len(jobs), "lines": total_lines, "bytes": total_bytes, "calls": calls,
                      "largest_reply_bytes": biggest, "wall_s": round(wall, 2),
                      "mb_per_s": round(total_bytes / 2**20 / wall, 1) if wall else None,
                      "loadavg": open("/proc/loadavg").read().split()[:3]}))


if __name__ == "__main__":
    main()
