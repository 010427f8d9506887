#!/usr/bin/python3
"""Print current LAVA's three verdicts on job definitions, as YAML.

    LAVA_SRC=/path/to/lava bench/tuxlava/lava-verdicts.py [--base DIR] JOB.yaml|DIR...

For each job: `server`, what a LAVA server's submit path checks first
(lava_scheduler_app/schema.py validate_submission, which the XML-RPC
submit_job, the REST API and the web form all reach through
dbutils.validate_job); `strict` and `lax`, lava_common's job schema
(lava_common.schemas.validate with strict=True and strict=False). Each
verdict is `valid` or `invalid`, with LAVA's message in `*_error`. A
folder stands for its *.yaml files. Job names are printed relative to
--base when given.

LAVA is imported from a source checkout (LAVA_SRC, default ../src/lava
beside the repository); it needs Debian's python3-voluptuous and
python3-yaml. Django is not needed: the server schema only reads
settings.EXTRA_CONTEXT_VARIABLES, which a stand-in module provides
(empty, as in a default server). The checks a server makes against its
database after the schema (device types, users, groups) are not run.
"""

import os
import sys
import types


def load_lava(src):
    # A stand-in for django.conf: the submission schema reads one setting.
    django = types.ModuleType("django")
    conf = types.ModuleType("django.conf")
    conf.settings = types.SimpleNamespace(EXTRA_CONTEXT_VARIABLES=[])
    django.conf = conf
    sys.modules.setdefault("django", django)
    sys.modules.setdefault("django.conf", conf)
    sys.path.insert(0, src)
    import voluptuous
    from lava_common.schemas import validate
    from lava_scheduler_app.schema import SubmissionException, validate_submission

    return voluptuous, validate, validate_submission, SubmissionException


def verdicts(path, lava):
    import yaml

    voluptuous, validate, validate_submission, SubmissionException = lava
    out = {}
    try:
        with open(path, encoding="utf-8") as f:
            # As LAVA's yaml_safe_load: libyaml's loader when there is one.
            data = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        msg = "invalid YAML: %s" % str(exc).splitlines()[0]
        return {k: v for m in ("server", "strict", "lax") for k, v in ((m, "invalid"), (m + "_error", msg))}
    try:
        validate_submission(data)
        out["server"] = "valid"
    except SubmissionException as exc:
        out["server"], out["server_error"] = "invalid", str(exc)
    except Exception as exc:  # the server answers these with an error too
        out["server"], out["server_error"] = "invalid", "%s: %s" % (type(exc).__name__, exc)
    for mode, strict in (("strict", True), ("lax", False)):
        try:
            validate(data, strict=strict)
            out[mode] = "valid"
        except voluptuous.Invalid as exc:
            out[mode], out[mode + "_error"] = "invalid", str(exc)
        except Exception as exc:
            out[mode], out[mode + "_error"] = "invalid", "%s: %s" % (type(exc).__name__, exc)
    return out


def main(argv):
    import yaml

    base = None
    if argv[:1] == ["--base"]:
        base, argv = argv[1], argv[2:]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    src = os.environ.get("LAVA_SRC", os.path.join(root, "..", "src", "lava"))
    if not os.path.isdir(os.path.join(src, "lava_scheduler_app")):
        print("lava-verdicts: no LAVA source at %s (set LAVA_SRC)" % src, file=sys.stderr)
        return 2
    lava = load_lava(src)
    paths = []
    for arg in argv:
        if os.path.isdir(arg):
            paths += sorted(os.path.join(arg, n) for n in os.listdir(arg) if n.endswith(".yaml"))
        else:
            paths.append(arg)
    jobs = []
    for path in paths:
        entry = {"job": os.path.relpath(path, base) if base else path}
        entry.update(verdicts(path, lava))
        jobs.append(entry)
    yaml.safe_dump({"jobs": jobs}, sys.stdout, sort_keys=False, width=1000)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
