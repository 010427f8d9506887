package overlay

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/basalt-lava/basalt/internal/limits"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// TestDef is a test definition file (metadata, install, run, parse, …).
type TestDef struct {
	*value.Map
	// Path is the definition's path inside its repository, for messages.
	Path string
}

// RelPath checks a path from a job (a test definition's path, a git-repos
// destination) and returns it cleaned: relative, and not leaving the
// directory it is relative to.
func RelPath(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("empty path")
	}
	if filepath.IsAbs(p) {
		return "", fmt.Errorf("%q is absolute: a path inside the repository is needed", p)
	}
	c := filepath.Clean(p)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%q leaves the repository", p)
	}
	return c, nil
}

// testDefFile bounds a test definition read from its repository.
var testDefFile = limits.File{What: "test definition", Max: limits.TestDefSize}

// LoadTestDef reads the test definition at rel inside dir. Problems are
// the job's: the definition is its input.
func LoadTestDef(dir, rel string) (*TestDef, error) {
	clean, err := RelPath(rel)
	if err != nil {
		return nil, pipeline.JobError("invalid test definition path: %v", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, pipeline.InfrastructureError("opening %s: %w", dir, err)
	}
	defer root.Close()
	// Through the root: a repository's symlink must not make us read a
	// file of the dispatcher. A regular file of bounded size only: an
	// archive can hold a named pipe, and a repository a huge file.
	data, err := testDefFile.ReadIn(root, clean)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, pipeline.JobError("unable to open test definition '%s': no such file in the repository", rel)
		}
		return nil, pipeline.JobError("unable to open test definition '%s': %v", rel, err)
	}
	v, err := value.DecodeYAML(data)
	if err != nil {
		return nil, pipeline.JobError("test definition '%s': invalid YAML: %v", rel, err)
	}
	m, ok := v.(*value.Map)
	if !ok {
		return nil, pipeline.JobError("test definition '%s': a map is needed, not %s", rel, value.GoString(v))
	}
	td := &TestDef{Map: m, Path: rel}
	if err := td.check(); err != nil {
		return nil, err
	}
	return td, nil
}

// check looks at what writing the overlay needs; the full schema is the
// job checker's business.
func (td *TestDef) check() error {
	meta, ok := td.Value("metadata").(*value.Map)
	if !ok {
		return pipeline.JobError("test definition '%s': metadata is missing or not a map", td.Path)
	}
	if _, ok := meta.Value("name").(string); !ok {
		return pipeline.JobError("test definition '%s': metadata.name is missing", td.Path)
	}
	for _, k := range []string{"params", "parameters"} {
		if v, ok := td.Get(k); ok && v != nil {
			if _, isMap := v.(*value.Map); !isMap {
				return pipeline.TestError("test definition item '%s' should be a dictionary", k)
			}
		}
	}
	if run, ok := td.Get("run"); ok {
		rm, isMap := run.(*value.Map)
		if !isMap {
			return pipeline.JobError("test definition '%s': run must be a map", td.Path)
		}
		if steps, ok := rm.Get("steps"); ok {
			if _, isList := steps.([]any); !isList && steps != nil {
				return pipeline.JobError("test definition '%s': run.steps must be a list", td.Path)
			}
		}
	}
	if in, ok := td.Get("install"); ok && in != nil {
		if _, isMap := in.(*value.Map); !isMap {
			return pipeline.JobError("test definition '%s': install must be a map", td.Path)
		}
	}
	return nil
}

// Name is metadata.name.
func (td *TestDef) Name() string { return td.Map.Map("metadata").String("name") }

// Metadata is what LAVA keeps of a definition in testdef_metadata.
func (td *TestDef) Metadata(vcs, commit string) *value.Map {
	meta := td.Map.Map("metadata")
	get := func(k string) any {
		if v, ok := meta.Get(k); ok {
			return v
		}
		return ""
	}
	// PyYAML sorts keys when LAVA dumps this map; so do we.
	m := value.MapOf("branch_vcs", vcs)
	if commit != "" {
		m.Set("commit_id", commit)
	}
	m.Set("devices", get("devices"))
	m.Set("environment", get("environment"))
	m.Set("os", get("os"))
	m.Set("project_name", td.Name())
	return m
}

// Parse returns the parse block (pattern, fixupdict), or nil.
func (td *TestDef) Parse() *value.Map { return td.Map.Map("parse") }

// DumpYAML writes v as YAML with its map keys sorted, as PyYAML's
// safe_dump (LAVA's) does by default.
func DumpYAML(v any) ([]byte, error) {
	return value.EncodeYAML(sortedCopy(v))
}

func sortedCopy(v any) any {
	switch t := v.(type) {
	case *value.Map:
		m := value.NewMap()
		for _, k := range value.SortedKeys(t) {
			m.Set(k, sortedCopy(t.Value(k)))
		}
		return m
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = sortedCopy(e)
		}
		return out
	}
	return v
}

// ParamBlock is the head of install.sh and run.sh: the definition's
// default parameters, then the job's, as shell assignments in LAVA's
// shape (name='value'). defs is the definition block of the job (its
// "parameters" and "params"). A name that is not a shell variable name
// is refused: it would be written before the quoting.
func ParamBlock(td *TestDef, def *value.Map) (string, error) {
	var b strings.Builder
	add := func(m *value.Map, whose string) error {
		var err error
		m.Range(func(k string, v any) bool {
			if !ValidName(k) {
				err = fmt.Errorf("%s parameter %q is not a usable shell variable name", whose, k)
				return false
			}
			s := ""
			if v != nil {
				s = pyStr(v)
			}
			b.WriteString(k + "=" + singleQuote(s) + "\n")
			return true
		})
		return err
	}
	b.WriteString("###default parameters from test definition###\n")
	for _, k := range []string{"params", "parameters"} {
		if err := add(td.Map.Map(k), "test definition"); err != nil {
			return "", pipeline.TestError("test definition '%s': %v", td.Path, err)
		}
	}
	b.WriteString("######\n")
	b.WriteString("###test parameters from job submission###\n")
	for _, k := range []string{"parameters", "params"} {
		v, ok := def.Get(k)
		if !ok {
			continue
		}
		m, isMap := v.(*value.Map)
		if !isMap {
			return "", pipeline.TestError("test definition item '%s' should be a dictionary", k)
		}
		if err := add(m, "job"); err != nil {
			return "", pipeline.JobError("%v", err)
		}
	}
	b.WriteString("######\n")
	return b.String(), nil
}

// RunScript says what run.sh holds beyond the parameters.
type RunScript struct {
	Params string
	// TestRunID is "<index>_<name>", the name of the results suite.
	TestRunID string
	// RunnerPath is the test's directory on the device.
	RunnerPath string
	// KMSG sends STARTRUN and ENDRUN, and the helpers' signals, to
	// /dev/kmsg (the definition's lava-signal: kmsg).
	KMSG bool
	// CharacterDelay, when not empty, is exported for the helpers, which
	// wait that many seconds before each signal.
	CharacterDelay string
	Steps          []string
}

// dollarArg is a positional parameter reference in a step.
var dollarArg = regexp.MustCompile(`\$(\d+)\b`)

// RunSteps returns run.steps as the lines run.sh runs. In steps that pass
// a command line on to a helper (--cmd, --shell), $1… are escaped so that
// the helper, not run.sh, expands them.
func (td *TestDef) RunSteps() []string {
	var out []string
	for _, s := range td.Map.Map("run").List("steps") {
		if s == nil {
			continue
		}
		cmd := pyStr(s)
		if strings.Contains(cmd, "--cmd") || strings.Contains(cmd, "--shell") {
			cmd = dollarArg.ReplaceAllString(cmd, `\$$$1`)
		}
		out = append(out, cmd)
	}
	return out
}

// Script returns run.sh in LAVA's shape.
func (r RunScript) Script() string {
	var b strings.Builder
	b.WriteString(r.Params)
	b.WriteString("set -e\n")
	b.WriteString("set -x\n")
	b.WriteString("export TESTRUN_ID=" + Quote(r.TestRunID) + "\n")
	b.WriteString("cd " + Quote(r.RunnerPath) + "\n")
	b.WriteString("UUID=`cat uuid`\n")
	b.WriteString("set +x\n")
	if r.CharacterDelay != "" {
		b.WriteString("export CHARACTER_DELAY=" + Quote(r.CharacterDelay) + "\n")
	}
	if r.KMSG {
		// The runner looks for this line to send the helpers' signals to
		// the kernel log too.
		b.WriteString("# USE_KMSG\n")
		b.WriteString("export KMSG=true\n")
		b.WriteString(`echo "<0><LAVA_SIGNAL_STARTRUN $TESTRUN_ID $UUID>" > /dev/kmsg` + "\n")
	} else {
		b.WriteString(`echo "<LAVA_SIGNAL_STARTRUN $TESTRUN_ID $UUID>"` + "\n")
	}
	b.WriteString("set -x\n")
	for _, s := range r.Steps {
		b.WriteString(s + "\n")
	}
	b.WriteString("set +x\n")
	if r.KMSG {
		b.WriteString("unset KMSG\n")
		b.WriteString(`echo "<0><LAVA_SIGNAL_ENDRUN $TESTRUN_ID $UUID>" > /dev/kmsg` + "\n")
	} else {
		b.WriteString(`echo "<LAVA_SIGNAL_ENDRUN $TESTRUN_ID $UUID>"` + "\n")
	}
	return b.String()
}

// SkipInstall lists the install sections a definition may skip; "all"
// skips every one.
var SkipInstall = []string{"keys", "sources", "deps", "steps", "git-repos"}

// InstallScript returns install.sh in LAVA's shape, or "" when the
// definition has no install section. skip holds the job's skip_install
// values, distro the deployment's distribution (for deps-<distro>),
// runnerPath the test's directory on the device (where the steps run).
// The git-repos are not in the script: they are cloned on the dispatcher.
func (td *TestDef) InstallScript(params string, skip []string, distro, runnerPath string) (string, bool) {
	in, ok := td.Value("install").(*value.Map)
	if !ok {
		return "", false
	}
	skipped := func(s string) bool {
		for _, k := range skip {
			if k == s || k == "all" {
				return true
			}
		}
		return false
	}
	strs := func(k string) []string {
		var out []string
		for _, v := range in.List(k) {
			out = append(out, pyStr(v))
		}
		return out
	}
	var b strings.Builder
	b.WriteString(params)
	if !skipped("keys") {
		for _, k := range strs("keys") {
			b.WriteString("lava-add-keys " + k + "\n")
		}
	}
	if !skipped("sources") {
		for _, s := range strs("sources") {
			b.WriteString("lava-add-sources " + s + "\n")
		}
	}
	if !skipped("deps") {
		deps := strs("deps")
		if distro != "" {
			deps = append(deps, strs("deps-"+distro)...)
		}
		if len(deps) > 0 {
			b.WriteString("lava-install-packages ")
			for _, d := range deps {
				b.WriteString(d + " ")
			}
			b.WriteString("\n")
		}
	}
	if !skipped("steps") {
		if steps := strs("steps"); len(steps) > 0 {
			b.WriteString("cd " + Quote(runnerPath) + "\n")
			b.WriteString("pwd\n")
			for _, s := range steps {
				b.WriteString(s + "\n")
			}
		}
	}
	return b.String(), true
}

// GitRepo is one entry of install.git-repos.
type GitRepo struct {
	URL, Branch string
	// Dest is the directory name under the test's directory.
	Dest string
}

// GitRepos returns install.git-repos. In the map form a url, branch or
// destination that names a parameter (of the definition, then of the job)
// is replaced by its value, as LAVA does.
func (td *TestDef) GitRepos(def *value.Map) ([]GitRepo, error) {
	in, _ := td.Value("install").(*value.Map)
	var out []GitRepo
	lookup := func(name string) string {
		s := name
		if v, ok := td.Map.Map("params").Get(name); ok && v != nil {
			s = pyStr(v)
		}
		if v, ok := def.Map("parameters").Get(name); ok && v != nil {
			s = pyStr(v)
		}
		return s
	}
	seen := map[string]bool{}
	for i, r := range in.List("git-repos") {
		var g GitRepo
		switch t := r.(type) {
		case string:
			g.URL = t
		case *value.Map:
			g.URL = lookup(t.String("url"))
			g.Branch = lookup(t.String("branch"))
			g.Dest = lookup(t.String("destination"))
		default:
			return nil, pipeline.TestError("git-repos[%d]: a URL or a map of url, branch, destination is needed", i)
		}
		if g.URL == "" {
			return nil, pipeline.TestError("invalid git-repos[%d] in the install definition: no url", i)
		}
		if g.Dest == "" {
			g.Dest = strings.TrimSuffix(filepath.Base(strings.TrimRight(g.URL, "/")), ".git")
		}
		if g.Dest == "" || g.Dest == "." || g.Dest == ".." || strings.ContainsRune(g.Dest, '/') {
			return nil, pipeline.JobError("git-repos[%d]: destination %q must be a directory name inside the test directory", i, g.Dest)
		}
		if seen[g.Dest] {
			return nil, pipeline.TestError("git-repos[%d]: destination %q is used twice", i, g.Dest)
		}
		seen[g.Dest] = true
		out = append(out, g)
	}
	return out, nil
}
