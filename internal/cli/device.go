package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/basalt-lava/basalt/internal/device"
	"github.com/basalt-lava/basalt/internal/limits"
	"github.com/basalt-lava/basalt/internal/value"
)

const deviceSynopsis = "basalt device render DICTIONARY.jinja2 [--device-types DIR]... [--context KEY=VALUE]... [--context-file F.yaml] [--check]"

func runDevice(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "render" {
		fmt.Fprintf(stderr, "usage: %s\n", deviceSynopsis)
		return exitUsage
	}
	fs := newFlagSet("device render", deviceSynopsis, stderr)
	var dtDirs, ctxPairs listFlag
	fs.Var(&dtDirs, "device-types", "folder of device-type templates (repeatable; searched after the dictionary's folder)")
	fs.Var(&ctxPairs, "context", "job context variable KEY=VALUE (repeatable; VALUE is read as YAML, so 512 is a number and true a bool)")
	ctxFile := fs.String("context-file", "", "YAML file holding a job context map, or a job whose context: is used")
	check := fs.Bool("check", false, "also check the rendered configuration against LAVA's device schema")
	var lim limits.Limits
	lim.AddFlags(fs)
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return flagStatus(err)
	}
	if len(pos) != 1 {
		fs.Usage()
		return exitUsage
	}
	ctx, err := renderContext(*ctxFile, ctxPairs, lim)
	if err != nil {
		fmt.Fprintf(stderr, "basalt: %v\n", err)
		return exitUsage
	}
	out, err := device.RenderLimited(pos[0], ctx, dtDirs, lim)
	if err != nil {
		fmt.Fprintf(stderr, "basalt: %v\n", err)
		return exitFailed
	}
	fmt.Fprint(stdout, out)
	if !strings.HasSuffix(out, "\n") {
		// Jinja2 drops the template's last newline; a terminal wants one.
		fmt.Fprintln(stdout)
	}
	if !*check {
		return exitOK
	}
	cfg, err := device.ParseLimit([]byte(out), lim.Nodes())
	if err != nil {
		fmt.Fprintf(stderr, "%s: rendered YAML: %v\n", pos[0], err)
		return exitFailed
	}
	problems := cfg.Check()
	for _, p := range problems {
		fmt.Fprintf(stderr, "%s: %v\n", pos[0], p)
	}
	if len(problems) > 0 {
		return exitFailed
	}
	return exitOK
}

// renderContext builds the render variables from a context file and
// KEY=VALUE pairs; pairs win over the file. The file is bounded as a job
// is (lim).
func renderContext(file string, pairs []string, lim limits.Limits) (*value.Map, error) {
	ctx := value.NewMap()
	if file != "" {
		b, err := limits.File{What: "context file", Max: lim.Job().Max, Flag: limits.JobSizeFlag}.Read(file)
		if err != nil {
			return nil, err
		}
		v, err := value.DecodeYAMLLimit(b, lim.Nodes())
		if err != nil {
			return nil, fmt.Errorf("%s:%v", file, err)
		}
		m, ok := v.(*value.Map)
		if !ok && v != nil {
			return nil, fmt.Errorf("%s: expected a map of context variables", file)
		}
		if jc := m.Map("context"); jc != nil && m.Has("actions") {
			m = jc // a whole job: use its context
		}
		m.Range(func(k string, v any) bool { ctx.Set(k, v); return true })
	}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--context %q: expected KEY=VALUE", p)
		}
		parsed, err := value.DecodeYAML([]byte(v))
		if err != nil {
			parsed = v
		}
		ctx.Set(k, parsed)
	}
	return ctx, nil
}
