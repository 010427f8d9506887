#!/usr/bin/python3
"""Render the LAVA jobs of TuxLAVA's own test suite into a folder.

    TUXLAVA_SRC=/path/to/tuxlava bench/tuxlava/generate.py [--sweep] OUT_DIR

TuxLAVA (https://github.com/kernelci/tuxlava, the generator behind TuxRun)
pins the jobs it emits in test/unit/test_device.py: test_definition is
parametrised with a tuxlava command line and the file its output must
equal. This script reads those command lines from the test file (as data:
the module-level constants they use are evaluated, nothing else) and runs
tuxlava's own main() on each, in a scratch folder holding empty files with
the artefact names the test suite creates, as the test suite does. Each
job is written to OUT_DIR under the name the test suite gives it.

With --sweep, the jobs are instead every device × every test it supports
(and the boot-only job): each device with the command line of its first
test-suite case (so that its required arguments are there) and one
--tests value, about ten thousand jobs, written as DEVICE--TEST.yaml.
Combinations tuxlava itself refuses are counted and skipped.

TuxLAVA is imported from a source checkout (TUXLAVA_SRC, default
../src/tuxlava beside the repository); it needs Debian's python3-jinja2
and python3-yaml (apt-get install -y python3-jinja2 python3-yaml) and is
run with /usr/bin/python3.
"""

import ast
import contextlib
import io
import json
import os
import pathlib
import shutil
import sys
import tempfile


def cases(src):
    test = pathlib.Path(src, "test", "unit", "test_device.py")
    tree = ast.parse(test.read_text(encoding="utf-8"))
    ns = {
        "str": str,
        "BASE": test.parent,
        "DEVICE_DICTS": pathlib.Path(src, "test", "device_dicts"),
    }
    # Module-level constants in capitals (artefact names, argument lists).
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and all(isinstance(t, ast.Name) for t in node.targets)
            and node.targets[0].id not in ns
            and (node.targets[0].id.isupper() or node.targets[0].id == "metadata")
        ):
            exec(compile(ast.Module([node], []), str(test), "exec"), ns)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "test_definition":
            params = node.decorator_list[0].args[1]
            for elt in params.elts:
                args = eval(compile(ast.Expression(elt.elts[0]), str(test), "eval"), ns)
                yield args, elt.elts[1].value, ns
            return
    raise SystemExit("generate: no test_definition in %s" % test)


def sweep(suite):
    """Yields (args, name): every device × (no test and each test it
    supports), from each device's first test-suite command line."""
    from tuxlava.devices import Device
    from tuxlava.tests import Test

    base = {}
    for args, _, _ in suite:
        if "--device" in args:
            base.setdefault(args[args.index("--device") + 1], without_tests(args))
    for device in Device.list():
        args = base.get(device.name, ["--device", device.name])
        for test in [None] + Test.list(device=device.name):
            extra = ["--tests", test] if test else []
            if test == "hacking-session":
                extra += ["--parameters", "PUB_KEY=ssh-ed25519 AAAA bench"]
            yield args + extra, "%s--%s.yaml" % (device.name, test or "boot")


def without_tests(args):
    out, skip = [], False
    for a in args:
        if a == "--tests":
            skip = True
            continue
        if skip and not a.startswith("--"):
            continue
        skip = False
        out.append(a)
    return out


def main(argv):
    sweeping = argv[:1] == ["--sweep"]
    if sweeping:
        argv = argv[1:]
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    out = pathlib.Path(argv[0]).resolve()
    root = pathlib.Path(__file__).resolve().parents[2]
    src = pathlib.Path(os.environ.get("TUXLAVA_SRC", root / ".." / "src" / "tuxlava")).resolve()
    if not (src / "tuxlava" / "__main__.py").exists():
        print("generate: no TuxLAVA source at %s (set TUXLAVA_SRC)" % src, file=sys.stderr)
        return 2
    sys.path.insert(0, str(src))
    from tuxlava.__main__ import main as tuxlava

    out.mkdir(parents=True, exist_ok=True)
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="tuxlava-artefacts-"))
    # tuxlava makes a temporary folder per job: keep them in the scratch
    # folder, removed at the end.
    tempfile.tempdir = str(scratch / "tmp")
    os.mkdir(tempfile.tempdir)
    made = failed = 0
    suite = list(cases(src))
    ns = suite[0][2]
    jobs = sweep(suite) if sweeping else [(args, name) for args, name, _ in suite]
    for art in ns.get("ARTEFACTS", []):
        (scratch / art).touch()
    (scratch / "metadata.json").write_text(json.dumps(ns.get("metadata", {})), encoding="utf-8")
    for args, name in jobs:
        os.chdir(scratch)
        sys.argv = ["tuxlava"] + args
        stdout, stderr = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                rc = tuxlava()
        except SystemExit as exc:
            rc = exc.code
        except Exception as exc:  # a combination tuxlava cannot render
            rc = "%s: %s" % (type(exc).__name__, exc)
        if rc not in (0, None) or not stdout.getvalue().strip():
            failed += 1
            if not sweeping:
                print("generate: %s: tuxlava %s: exit %s %s" % (name, " ".join(args), rc, stderr.getvalue().strip()), file=sys.stderr)
            continue
        (out / name).write_text(stdout.getvalue(), encoding="utf-8")
        made += 1
    os.chdir(out)
    shutil.rmtree(scratch)
    what = "devices × tests" if sweeping else "TuxLAVA's test suite"
    print("generate: %d jobs from %s into %s (%d refused by tuxlava)" % (made, what, out, failed), file=sys.stderr)
    return 1 if failed and not sweeping else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
