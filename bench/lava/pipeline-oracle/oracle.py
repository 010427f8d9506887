#!/usr/bin/python3
# oracle.py JOB.yaml DEVICE_NAME RENDERED_DEVICE_OUT.yaml
#
# Prints the action tree current LAVA builds for a job on a device of
# LAVA's own test suite (level, name, timeout, max_retries, url), one
# action a line, indented by depth; writes the device configuration LAVA
# rendered, so that Basalt can be given the same one. Set ERRS=1 to also
# print what LAVA's validate() says, on stderr.
#
# Needs a checkout of LAVA (LAVA_SRC, default /work/src/lava; the
# device names are those LAVA's tests use, e.g. kvm01, bbb-01, db410c-01) and
# Debian's python3-yaml, python3-jinja2, python3-voluptuous,
# python3-requests, python3-pexpect. The AVH client LAVA imports is not
# packaged: stubs/ stands in for it. Downloads and host tools are not
# touched: their look-ups are answered as found, as LAVA's own test
# suite does.
import os
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
lava = os.environ.get("LAVA_SRC", "/work/src/lava")
sys.path.insert(0, lava)
sys.path.insert(0, os.path.join(here, "stubs"))
job_path, dev, devout = os.path.abspath(sys.argv[1]), sys.argv[2], os.path.abspath(sys.argv[3])
os.chdir(lava)

import lava_dispatcher.utils.filesystem as fs  # noqa: E402

scratch = tempfile.mkdtemp()
fs.dispatcher_download_dir = lambda _: scratch
fs.tftpd_dir = lambda: scratch
import lava_dispatcher.utils.shell as shell  # noqa: E402

shell.which = lambda path, match=None: "/usr/bin/" + path

import requests  # noqa: E402
import yaml  # noqa: E402

import lava_dispatcher.actions.deploy.download as download  # noqa: E402
from tests.lava_dispatcher.test_basic import Factory  # noqa: E402


class Head:
    status_code = 200
    headers = {}

    def close(self):
        pass


class Session:
    def head(self, *a, **k):
        return Head()

    def get(self, *a, **k):
        return Head()


requests.head = lambda *a, **k: Head()
download.requests_retry = lambda retries=15: Session()

factory = Factory()
with open(job_path) as f:
    definition = yaml.safe_load(f)
with open(devout, "w") as f:
    f.write(yaml.safe_dump(factory.load_device_configuration_dict(dev, definition.get("context"))))
job = factory.create_job(dev, job_path, validate=False)


def walk(actions, depth=0):
    for a in actions:
        url = " url=" + a["url"] if a.get("url") else ""
        print("  " * depth + "%s %s %s %s%s" % (a["level"], a["name"], a["timeout"], a["max_retries"], url))
        walk(a.get("pipeline", []), depth + 1)


walk(job.pipeline.describe())
if os.environ.get("ERRS"):
    try:
        job.validate()
    except Exception as e:  # LAVA raises its JobError and friends
        print("VALIDATE", type(e).__name__, e, file=sys.stderr)
