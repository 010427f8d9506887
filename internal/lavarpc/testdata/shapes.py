"""Calls the methods lavacli's daily commands use with Python's own
xmlrpc.client, as lavacli does (allow_none=True, ids as strings), and prints
the shape of each reply: the Python types lavacli sees, one line per key.
Usage: shapes.py URL ANON_URL JOB SUBJOB HIDDEN (URL with user:token, as
lavacli's; ANON_URL without)."""
import sys
import xmlrpc.client

import yaml

url, anon_url, job, subjob, hidden = sys.argv[1:6]
proxy = xmlrpc.client.ServerProxy(url, allow_none=True)
anon = xmlrpc.client.ServerProxy(anon_url, allow_none=True)


def shape(v):
    if isinstance(v, dict):
        return "{" + ", ".join("%s: %s" % (k, shape(v[k])) for k in sorted(v)) + "}"
    if isinstance(v, list):
        return "[" + (shape(v[0]) + (", ..." if len(v) > 1 else "") if v else "") + "]"
    return type(v).__name__


def show(name, v):
    print("%s -> %s" % (name, shape(v)))


def call(name, *args, via=proxy):
    try:
        v = getattr(via, name)(*args)
    except xmlrpc.client.Fault as f:
        print("%s -> Fault %d: %s" % (name, f.faultCode, f.faultString))
        return None
    show(name, v)
    return v


print("system.version ->", proxy.system.version())
call("system.whoami")
j = call("scheduler.jobs.show", job)
# lavacli jobs show --yaml calls .value on truthy times.
for k in ("submit_time", "start_time", "end_time"):
    if j[k]:
        j[k].value
call("scheduler.jobs.show", subjob)
call("scheduler.jobs.show", hidden, via=anon)
call("results.get_testjob_results_yaml", job, via=anon)
finished, data = proxy.scheduler.jobs.logs(job, 0, None)
# lavacli: str(data) then YAML, records with a quoted dt and a known lvl.
for rec in yaml.safe_load(str(data)) or []:
    assert isinstance(rec["dt"], str) and rec["lvl"] in ("debug", "info", "target", "results"), rec
print("scheduler.jobs.logs -> %s, %d records, chunk %s" % (type(finished).__name__, len(yaml.safe_load(str(data)) or []), type(data).__name__))
_, rest = proxy.scheduler.jobs.logs(job, 100, None)
print("scheduler.jobs.logs past the end ->", repr(str(rest)))
call("scheduler.jobs.list", None, None, 0, 25, 0, True)
call("scheduler.jobs.list", "SUBMITTED", None, 0, 25, None, False)
call("scheduler.jobs.queue", None, 0, 25)
call("scheduler.jobs.definition", job)
call("scheduler.devices.list", False)
call("scheduler.devices.show", "qemu01")
d = call("scheduler.devices.get_dictionary", "qemu01", False, None)
print("  str() starts", repr(str(d)[:20]))
call("scheduler.devices.get_dictionary", "qemu02", False, None)
call("scheduler.device_types.list", False)
call("scheduler.device_types.show", "qemu")
t = call("scheduler.device_types.get_template", "qemu")
print("  str() starts", repr(str(t)[:20]))
call("scheduler.workers.list")
w = call("scheduler.workers.show", "w1")
w["last_ping"].value
print("  job_limit %d" % w["job_limit"])
r = call("results.get_testjob_results_yaml", job)
for case in yaml.safe_load(r):
    print("  * %s.%s [%s]" % (case["suite"], case["name"], case["result"]))
    # lavacli results --yaml prints these as LAVA's export_testcase gives
    # them: every scalar a str ("" for no log line).
    print("    " + ", ".join("%s: %s %r" % (k, type(case[k]).__name__, case[k]) for k in ("id", "url", "logged", "log_start_line", "log_end_line")))
call("scheduler.job_details", job)
call("scheduler.all_devices")
call("scheduler.devices.update", "qemu02", None, None, None, None, "MAINTENANCE", None)
call("scheduler.devices.update", "qemu02", None, None, None, None, "GOOD", None, None, "back")
call("scheduler.jobs.cancel", job)
