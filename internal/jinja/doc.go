// Package jinja renders the Jinja2 dialect of LAVA's device-type
// templates and device dictionaries, producing the same bytes as Python
// Jinja2 3.1 in the environment LAVA uses: SandboxedEnvironment,
// trim_blocks on, lstrip_blocks off, autoescape off, the default
// Undefined (printing as ""), and LAVA's filters shlex_quote, yaml_quote
// and qemu_guest_fs_interface.
//
// It owns the template language only: lexing, parsing, scoping (after
// Jinja2's compiler, including its quirks), Python value semantics
// (str() and repr() printing, truthiness, arithmetic, comparisons,
// methods) and the filters and tests templates use. It knows nothing of
// devices or YAML; internal/device builds on it. Templates come from a
// Loader; DirLoader is the sandbox's file boundary.
//
// Values are internal/value's types (nil, bool, int, float64, string,
// []any, *value.Map); a template may also make tuples and dict views.
// Not supported: macros, call blocks, imports, recursive loops, and
// methods that change a list in place (lists are Go slices).
package jinja
