#!/usr/bin/python3
"""LAVA's own device-schema verdict for device dictionaries or rendered
device configurations, written as the YAML that Basalt's tests pin.

    bench/lava/device-verdicts.py --lava-src DIR --device-types DIR DICTIONARY...
    bench/lava/device-verdicts.py --lava-src DIR --rendered FILE.yaml...

DIR given to --lava-src is a checkout of LAVA's source (lava_common/ at its
top). Each DICTIONARY is rendered with LAVA's own template environment
(lava_common.jinja: sandboxed, trim_blocks, its three filters) with the
dictionary's folder and then the --device-types folder as search path and
no job context, as lava-server renders a device; with --rendered, each
FILE is an already rendered configuration. The text is loaded with
lava_common.yaml.yaml_safe_load and checked with
lava_common.schemas.device.validate, the check of "lava-server manage
devices check" and of LAVA's share/lava-schema.py.

For each input it prints the verdict: "valid", or "invalid" with the
sorted, de-duplicated paths of every error voluptuous reports ("a.b[0].c";
"" for the document itself), or "invalid-yaml", or "error" when LAVA's
check itself raised something other than voluptuous.Invalid. Names are
given relative to --base (default: the current folder).

Run it with Debian's /usr/bin/python3 (python3-voluptuous, python3-yaml,
python3-jinja2). Basalt's golden file internal/cli/testdata/device-verdicts.yaml
was produced this way; see internal/cli/device_corpus_test.go.
"""

import argparse
import os
import sys


def path_text(path):
    out = ""
    for p in path:
        if isinstance(p, int) and not isinstance(p, bool):
            out += "[%d]" % p
        else:
            out += ("." if out else "") + str(p)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lava-src", required=True, help="LAVA source checkout")
    ap.add_argument("--device-types", help="folder of device-type templates")
    ap.add_argument("--rendered", action="store_true", help="inputs are rendered YAML")
    ap.add_argument("--base", default=".", help="print input names relative to this folder")
    ap.add_argument("inputs", nargs="+")
    args = ap.parse_args()

    sys.path.insert(0, args.lava_src)
    import jinja2
    import voluptuous
    import yaml
    from lava_common.jinja import create_device_templates_env
    from lava_common.schemas.device import validate
    from lava_common.yaml import yaml_safe_load

    if not args.rendered and not args.device_types:
        ap.error("--device-types is needed to render dictionaries")

    print("devices:")
    for name in args.inputs:
        rel = os.path.relpath(name, args.base)
        print("- device: %s" % rel)
        try:
            if args.rendered:
                with open(name) as f:
                    text = f.read()
            else:
                env = create_device_templates_env(
                    loader=jinja2.FileSystemLoader(
                        [os.path.dirname(os.path.abspath(name)), args.device_types]
                    )
                )
                text = env.get_template(os.path.basename(name)).render()
        except jinja2.TemplateError as e:
            print("  verdict: template-error  # %s" % e)
            continue
        try:
            data = yaml_safe_load(text)
        except yaml.YAMLError:
            print("  verdict: invalid-yaml")
            continue
        try:
            validate(data)
        except voluptuous.MultipleInvalid as e:
            paths = sorted({path_text(err.path) for err in e.errors})
            print("  verdict: invalid")
            print("  paths:")
            for p in paths:
                print("  - %s" % yaml_quote(p))
            continue
        except voluptuous.Invalid as e:
            print("  verdict: invalid")
            print("  paths:")
            print("  - %s" % yaml_quote(path_text(e.path)))
            continue
        except Exception as e:  # LAVA's check crashed on this input
            print("  verdict: error  # %s: %s" % (type(e).__name__, e))
            continue
        print("  verdict: valid")


def yaml_quote(s):
    # Paths are keys joined by dots; quote them all so that "" and keys
    # that look like numbers or booleans stay strings.
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


if __name__ == "__main__":
    main()
