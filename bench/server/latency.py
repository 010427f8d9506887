#!/usr/bin/python3
"""Submits JOB_FILE once over XML-RPC and times, from the client's side:

  - submit_to_running_s: from the submit call's return to the first
    scheduler.jobs.show that says Running (polled every POLL seconds);
  - end_to_recorded_s: from the time stamp (dt) of the job's last log
    record, written by the dispatcher on the worker as the job ends, to
    the first show that says Finished (same machine, same clock).

Both include up to POLL of polling. Prints one JSON line.

    latency.py URI JOB_FILE [POLL] [LIMIT_S]
"""
import datetime
import json
import sys
import time
import xmlrpc.client

import yaml


def main():
    uri, job_file = sys.argv[1], sys.argv[2]
    poll = float(sys.argv[3]) if len(sys.argv) > 3 else 0.01
    limit = float(sys.argv[4]) if len(sys.argv) > 4 else 1800
    with open(job_file) as f:
        definition = f.read()
    rpc = xmlrpc.client.ServerProxy(uri, allow_none=True)
    t0 = time.time()
    ids = rpc.scheduler.jobs.submit(definition)
    t_submitted = time.time()
    job = str(ids[0] if isinstance(ids, list) else ids)
    running = finished = None
    show = {}
    while time.time() - t0 < limit:
        show = rpc.scheduler.jobs.show(job)
        now = time.time()
        if running is None and show["state"] in ("Running", "Canceling", "Finished"):
            running = now
        if show["state"] == "Finished":
            finished = now
            break
        time.sleep(poll)
    out = {"job": job, "submit_call_s": round(t_submitted - t0, 4), "state": show.get("state"),
           "health": show.get("health"), "loadavg": open("/proc/loadavg").read().split()[:3]}
    if running is not None:
        out["submit_to_running_s"] = round(running - t_submitted, 4)
    if finished is not None:
        # The whole log: the last record's dt.
        data = rpc.scheduler.jobs.logs(job, 0)[1]
        text = data.data.decode() if hasattr(data, "data") else data
        records = yaml.safe_load(text) or []
        last = records[-1]["dt"] if records else None
        if last:
            end = datetime.datetime.fromisoformat(last)
            if end.tzinfo is None:
                end = end.replace(tzinfo=datetime.timezone.utc)
            out["last_record_dt"] = last
            out["end_to_recorded_s"] = round(finished - end.timestamp(), 4)
            out["log_lines"] = len(records)
        out["running_to_finished_s"] = round(finished - running, 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
