# The Debian lava-server side of bench/web/lava-joblog.sh, run inside the
# anchor's Django (../shared/anchor/lava-server/):
#
#   BENCH_MODE=MODE [env...] lava-server manage shell < bench/web/lava-joblog.py
#
# Modes (one JSON line on stdout, prefixed "BENCH "):
#
#   make    a finished job (Complete, on qemu01) from the definition in DEF,
#           created through TestJob.from_yaml_and_user (what submit does)
#           and marked Finished in the same transaction, so the scheduler
#           never sees it queued; the file LOG is copied as its output.yaml
#           with LAVA's output.idx (line starts, "=Q") beside it, owned by
#           lavaserver as lava-server-gunicorn writes them. Prints the id
#           and the job's output folder.
#   clean   delete the jobs this script made (description "bench-web") and
#           their output folders.
import json
import os
import pwd
import shutil
import struct

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from lava_scheduler_app.models import Device, TestJob

MODE = os.environ.get("BENCH_MODE", "")
MARK = "bench-web"


def emit(obj):
    obj["loadavg"] = open("/proc/loadavg").read().split()[:3]
    print("BENCH " + json.dumps(obj))


def make():
    definition = open(os.environ["DEF"]).read()
    user = User.objects.get(username=os.environ.get("LAVA_USER", "admin"))
    device = Device.objects.get(hostname=os.environ.get("DEVICE", "qemu01"))
    with transaction.atomic():
        job = TestJob.from_yaml_and_user(definition, user)
        if isinstance(job, list):
            job = job[0]
        now = timezone.now()
        TestJob.objects.filter(pk=job.pk).update(
            state=TestJob.STATE_FINISHED,
            health=TestJob.HEALTH_COMPLETE,
            actual_device=device,
            start_time=now,
            end_time=now,
            description=MARK,
        )
    job = TestJob.objects.get(pk=job.pk)
    out = job.output_dir
    os.makedirs(out, exist_ok=True)
    uid = pwd.getpwnam("lavaserver").pw_uid
    log = os.path.join(out, "output.yaml")
    shutil.copyfile(os.environ["LOG"], log)
    # LAVA's index: the offset of each line's start, then the end.
    with open(log, "rb") as f, open(os.path.join(out, "output.idx"), "wb") as idx:
        idx.write(struct.pack("=Q", 0))
        lines = 0
        for line in f:
            lines += 1
        f.seek(0)
        pos = 0
        buf = []
        for line in f:
            pos += len(line)
            buf.append(struct.pack("=Q", pos))
            if len(buf) >= 65536:
                idx.write(b"".join(buf))
                buf = []
        idx.write(b"".join(buf))
    for root, dirs, files in os.walk(out):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, uid)
    os.chown(out, uid, uid)
    emit({"mode": "make", "id": job.pk, "dir": out, "lines": lines, "bytes": os.path.getsize(log)})


def clean():
    n = 0
    for job in TestJob.objects.filter(description=MARK):
        out = job.output_dir
        job.delete()
        shutil.rmtree(out, ignore_errors=True)
        n += 1
    emit({"mode": "clean", "deleted": n})


{"make": make, "clean": clean}[MODE]()
