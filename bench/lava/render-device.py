#!/usr/bin/python3
"""Render a device dictionary with LAVA's own device-type templates, as
lava-server does before it hands a device to lava-run.

    bench/lava/render-device.py DICTIONARY OUTPUT [--job JOB] [--device-types DIR]...

DICTIONARY is a LAVA device dictionary such as examples/qemu/device.jinja2
("{% extends 'qemu.jinja2' %}" plus "{% set %}" lines). Templates are
looked up in the dictionary's folder, then in each --device-types folder,
then in the first of these that exists:
    /etc/lava-server/dispatcher-config/device-types   (lava-server installed)
    ../shared/anchor/device-types-2023.01              (beside the repository)

With --job, the job's "context:" is passed to the templates as variables,
which is what the server does, so job-level settings such as arch or no_kvm
reach the device configuration.

The result must be a YAML mapping; it is written to OUTPUT for
"lava-run --device OUTPUT". Run it with Debian's /usr/bin/python3, which
has python3-jinja2 and python3-yaml.
"""

import argparse
import os
import sys

import jinja2
import jinja2.sandbox
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_DEVICE_TYPES = [
    "/etc/lava-server/dispatcher-config/device-types",
    os.path.join(os.path.dirname(REPO), "shared", "anchor", "device-types-2023.01"),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dictionary")
    ap.add_argument("output")
    ap.add_argument("--job", help="job whose context: is passed to the templates")
    ap.add_argument("--device-types", action="append", default=[], metavar="DIR")
    args = ap.parse_args()

    search = [os.path.dirname(os.path.abspath(args.dictionary))]
    search += args.device_types
    found = [d for d in DEFAULT_DEVICE_TYPES if os.path.isfile(os.path.join(d, "base.jinja2"))]
    if found:
        search.append(found[0])
    elif not args.device_types:
        sys.exit("render-device: no LAVA device-type templates in %s; give --device-types DIR"
                 % " or ".join(DEFAULT_DEVICE_TYPES))

    context = {}
    if args.job:
        with open(args.job) as f:
            job = yaml.safe_load(f)
        if not isinstance(job, dict):
            sys.exit("render-device: %s is not a YAML mapping" % args.job)
        context = job.get("context") or {}
        if not isinstance(context, dict):
            sys.exit("render-device: %s: context is not a mapping" % args.job)

    # The server's settings: no autoescaping, trim_blocks, a sandbox since
    # dictionaries are user input.
    env = jinja2.sandbox.SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(search), autoescape=False, trim_blocks=True
    )
    try:
        text = env.get_template(os.path.basename(args.dictionary)).render(**context)
    except jinja2.TemplateError as e:
        sys.exit("render-device: %s: %s" % (args.dictionary, e))
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        sys.exit("render-device: %s renders to invalid YAML: %s" % (args.dictionary, e))
    if not isinstance(data, dict):
        sys.exit("render-device: %s does not render to a YAML mapping" % args.dictionary)
    with open(args.output, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
