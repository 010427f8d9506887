# The Debian lava-server side of side-by-side.sh, run inside the anchor's
# Django (../shared/anchor/lava-server/):
#
#   BENCH_MODE=MODE [env...] lava-server manage shell < bench/server/lava-bench.py
#
# Modes (one JSON line on stdout, prefixed "BENCH ", for the shell to pick):
#
#   fixture   device type "bench"; workers bench-offline (never pings) and
#             bench-online (state set only inside sched's rolled-back
#             transaction); devices bench01..bench<DEVICES> (Idle, Good, on
#             bench-offline, dictionary extending qemu.jinja2);
#             bench-tagged (type bench, tag bench-only, Maintenance); and a qemu
#             device "bench-qemu" tagged bench-only in Maintenance, so that a
#             qemu job tagged bench-only passes submission and is never run
#             (the anchor's own qemu01 stays free for the latency job).
#   queue     JOBS queued jobs of type bench from the definition in DEF: the
#             first through TestJob.from_yaml_and_user (what submit does),
#             the rest copies of its row (submission speed is measured
#             elsewhere; this only fills the queue).
#   sched     RUNS times lava_scheduler_app.scheduler.schedule(), the
#             function lava-scheduler calls once per loop, inside a
#             transaction that is rolled back (the anchor's bench_sched.py
#             method), with bench-online made Online and the bench devices
#             moved to it inside that transaction only: the lava-scheduler
#             daemon keeps running and never sees them usable, so nothing is
#             scheduled for real. SQL statements are counted.
#   clean     delete the bench jobs (type bench, or tagged bench-only).
import json
import logging
import os
import pwd
import statistics
import time

from django.contrib.auth.models import User
from django.db import connection, transaction
from lava_scheduler_app.models import Device, DeviceType, Tag, TestJob, Worker

MODE = os.environ.get("BENCH_MODE", "")
DEVDIR = "/etc/lava-server/dispatcher-config/devices"


def emit(obj):
    obj["loadavg"] = open("/proc/loadavg").read().split()[:3]
    print("BENCH " + json.dumps(obj))


def write_dict(name):
    path = os.path.join(DEVDIR, name + ".jinja2")
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        with open(path + ".tmp", "w") as f:
            mac = "52:54:00:12:35:%02x" % (sum(name.encode()) % 256)
            f.write("{% extends 'qemu.jinja2' %}\n{% set mac_addr = '" + mac + "' %}\n")
        os.replace(path + ".tmp", path)
        uid = pwd.getpwnam("lavaserver").pw_uid
        os.chown(path, uid, uid)  # lava-server reads and writes it as lavaserver


def fixture():
    devices = int(os.environ.get("DEVICES", "50"))
    with transaction.atomic():
        off, _ = Worker.objects.get_or_create(hostname="bench-offline", defaults={"description": "bench: never pings"})
        Worker.objects.get_or_create(hostname="bench-online", defaults={"description": "bench: online only in rolled-back passes"})
        dt, _ = DeviceType.objects.get_or_create(name="bench")
        qemu = DeviceType.objects.get(name="qemu")
        tag, _ = Tag.objects.get_or_create(name="bench-only")
        for i in range(1, devices + 1):
            name = "bench%02d" % i
            write_dict(name)
            d, created = Device.objects.get_or_create(hostname=name, defaults={"device_type": dt, "worker_host": off})
            d.worker_host = off
            d.state = Device.STATE_IDLE
            d.health = Device.HEALTH_GOOD
            d.save()
        # B2's jobs (type bench, tagged bench-only) pass submission
        # through this one, which no pass ever uses.
        write_dict("bench-tagged")
        d, _ = Device.objects.get_or_create(hostname="bench-tagged", defaults={"device_type": dt, "worker_host": off})
        d.health = Device.HEALTH_MAINTENANCE
        d.save()
        d.tags.add(tag)
        write_dict("bench-qemu")
        d, _ = Device.objects.get_or_create(hostname="bench-qemu", defaults={"device_type": qemu, "worker_host": off})
        d.health = Device.HEALTH_MAINTENANCE
        d.save()
        d.tags.add(tag)
    emit({"mode": "fixture", "bench_devices": Device.objects.filter(device_type=dt).count()})


def queue():
    n = int(os.environ.get("JOBS", "1000"))
    definition = open(os.environ["DEF"]).read()
    user = User.objects.get(username=os.environ.get("LAVA_USER", "admin"))
    t0 = time.perf_counter()
    with transaction.atomic():
        first = TestJob.from_yaml_and_user(definition, user)
        if isinstance(first, list):
            first = first[0]
        rows = []
        for _ in range(n - 1):
            j = TestJob.objects.get(pk=first.pk)
            j.pk = None
            j.id = None
            rows.append(j)
        TestJob.objects.bulk_create(rows, batch_size=500)
        # bulk_create copies no many-to-many field: the tags too.
        through = TestJob.tags.through
        tags = list(first.tags.all())
        links = [through(testjob_id=j.pk, tag_id=t.pk) for j in rows for t in tags]
        through.objects.bulk_create(links, batch_size=500)
    emit({"mode": "queue", "created": n, "seconds": round(time.perf_counter() - t0, 3),
          "queued_bench": TestJob.objects.filter(state=TestJob.STATE_SUBMITTED, requested_device_type__name="bench").count(),
          "tagged_bench": TestJob.objects.filter(state=TestJob.STATE_SUBMITTED, requested_device_type__name="bench",
                                                 tags__isnull=False).distinct().count()})


class Rollback(Exception):
    pass


def sched():
    from lava_scheduler_app.scheduler import schedule

    runs = int(os.environ.get("RUNS", "3"))
    log = logging.getLogger("bench-sched")
    log.propagate = False
    log.addHandler(logging.NullHandler())
    out = []
    for _ in range(runs):
        count = [0]

        def counter(execute, sql, params, many, context):
            count[0] += 1
            return execute(sql, params, many, context)

        r = {}
        try:
            with transaction.atomic():
                Worker.objects.filter(hostname="bench-online").update(state=Worker.STATE_ONLINE, health=Worker.HEALTH_ACTIVE)
                Device.objects.filter(device_type__name="bench", hostname__regex=r"^bench[0-9]+$").update(
                    worker_host=Worker.objects.get(hostname="bench-online"),
                    state=Device.STATE_IDLE, health=Device.HEALTH_GOOD)
                r["queued"] = TestJob.objects.filter(state=TestJob.STATE_SUBMITTED, requested_device_type__name="bench").count()
                r["idle_devices"] = Device.objects.filter(device_type__name="bench", state=Device.STATE_IDLE,
                                                         health=Device.HEALTH_GOOD).count()
                workers = [w.hostname for w in Worker.objects.filter(state=Worker.STATE_ONLINE, health=Worker.HEALTH_ACTIVE)]
                t0 = time.perf_counter()
                with connection.execute_wrapper(counter):
                    schedule(log, set(), workers)
                r["seconds"] = time.perf_counter() - t0
                r["scheduled"] = TestJob.objects.filter(state=TestJob.STATE_SCHEDULED, requested_device_type__name="bench").count()
                raise Rollback
        except Rollback:
            pass
        r["queries"] = count[0]
        out.append(r)
    secs = [r["seconds"] for r in out]
    emit({"mode": "sched", "runs": len(out), "median_s": round(statistics.median(secs), 3),
          "runs_s": [round(s, 3) for s in secs], "queued": out[-1]["queued"], "idle_devices": out[-1]["idle_devices"],
          "scheduled": out[-1]["scheduled"], "queries": [r["queries"] for r in out]})


def clean():
    with transaction.atomic():
        n1, _ = TestJob.objects.filter(requested_device_type__name="bench").delete()
        n2, _ = TestJob.objects.filter(tags__name="bench-only").delete()
    emit({"mode": "clean", "deleted_rows": n1 + n2})


{"fixture": fixture, "queue": queue, "sched": sched, "clean": clean}[MODE]()
