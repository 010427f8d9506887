package overlay

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"unicode"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

// multinodeScripts holds the MultiNode helpers (lava-send, lava-wait,
// lava-group, …) and the library they share. They are apart from the
// other helpers because only a job with a role in a MultiNode group gets
// them. Like those, they have no #! line.
//
//go:embed multinode
var multinodeScripts embed.FS

// Where the helpers keep the answers they read, on the device: LAVA's
// paths, which test definitions read directly.
const (
	DefaultMultinodeCache        = "/tmp/lava_multi_node_cache.txt"
	DefaultMultinodeNetworkCache = "/tmp/lava_multi_node_network_cache.txt"
)

// GroupMember is one job of a MultiNode group: its name (the job id, what
// LAVA calls the client name) and its role.
type GroupMember struct {
	Client string
	Role   string
}

// MultinodeConfig says how the MultiNode helpers are written for one job.
type MultinodeConfig struct {
	// Shell is the interpreter of the #! line (lava_test_sh_cmd).
	Shell string
	// Group is the whole group, in the job's order: what lava-group
	// prints.
	Group []GroupMember
	// Role is this job's role (lava-role), Self its name (lava-self).
	Role, Self string
	// TestBin is the helpers' folder on the device, where they find
	// their library: <results dir>/bin.
	TestBin string
	// Cache and NetworkCache are where lava-wait & co. and lava-network
	// collect write the answers; empty means LAVA's paths.
	Cache, NetworkCache string
	// Debug makes the helpers log each step on stderr, as LAVA always
	// has them do.
	Debug bool
}

// MultinodeScriptNames returns the files WriteMultinodeScripts writes,
// sorted.
func MultinodeScriptNames() []string {
	paths, _ := fs.Glob(multinodeScripts, "multinode/lava-*")
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = path.Base(p)
	}
	sort.Strings(names)
	return names
}

// WriteMultinodeScripts writes the MultiNode helpers into binDir, next to
// those of WriteScripts (they use lava-common-functions), each 0755 and
// starting with "#!<Shell>", a blank line and the job's values as shell
// assignments. The values come from the job: each is single-quoted, and
// names and roles are refused when the helpers could not carry them (a
// blank would split the group's lines and the console's words). It
// returns the names written.
func WriteMultinodeScripts(binDir string, cfg MultinodeConfig) ([]string, error) {
	header, err := multinodeHeader(cfg)
	if err != nil {
		return nil, err
	}
	var written []string
	for _, name := range MultinodeScriptNames() {
		body, err := multinodeScripts.ReadFile("multinode/" + name)
		if err != nil {
			return nil, pipeline.Bug("embedded MultiNode helper %s: %v", name, err)
		}
		if err := writeExecutable(filepath.Join(binDir, name), header+string(body)); err != nil {
			return nil, err
		}
		written = append(written, name)
	}
	return written, nil
}

// multinodeHeader is the #! line and the assignments every helper starts
// with. LAVA_GROUP holds one "client role" line per member; lava-group
// prints it in LAVA's layout.
func multinodeHeader(cfg MultinodeConfig) (string, error) {
	if !strings.HasPrefix(cfg.Shell, "/") || strings.ContainsAny(cfg.Shell, "\n\r") {
		return "", pipeline.ConfigurationError("invalid lava_test_sh_cmd %q: an absolute path to the device's shell is needed", cfg.Shell)
	}
	if len(cfg.Group) == 0 {
		return "", pipeline.JobError("multinode group without members")
	}
	var group strings.Builder
	for _, m := range cfg.Group {
		if err := groupWord("job id", m.Client); err != nil {
			return "", err
		}
		if err := groupWord(fmt.Sprintf("role of job %s", m.Client), m.Role); err != nil {
			return "", err
		}
		group.WriteString(m.Client + " " + m.Role + "\n")
	}
	if err := groupWord("role", cfg.Role); err != nil {
		return "", err
	}
	if err := groupWord("job id", cfg.Self); err != nil {
		return "", err
	}
	for _, p := range []struct{ what, path string }{
		{"the helpers' folder", cfg.TestBin},
		{"the MultiNode cache", cfg.Cache},
		{"the MultiNode network cache", cfg.NetworkCache},
	} {
		if p.path != "" && (!strings.HasPrefix(p.path, "/") || strings.ContainsAny(p.path, "\n\r")) {
			return "", pipeline.Bug("%s: %q is not an absolute path", p.what, p.path)
		}
	}
	if cfg.TestBin == "" {
		return "", pipeline.Bug("the helpers' folder on the device is not known")
	}
	cache, netCache := cfg.Cache, cfg.NetworkCache
	if cache == "" {
		cache = DefaultMultinodeCache
	}
	if netCache == "" {
		netCache = DefaultMultinodeNetworkCache
	}
	debug := ""
	if cfg.Debug {
		debug = "yes"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#!%s\n\n", cfg.Shell)
	for _, kv := range [][2]string{
		{"LAVA_GROUP", group.String()},
		{"TARGET_ROLE", cfg.Role},
		{"LAVA_HOSTNAME", cfg.Self},
		{"LAVA_TEST_BIN", cfg.TestBin},
		{"LAVA_MULTI_NODE_CACHE", cache},
		{"LAVA_MULTI_NODE_NETWORK_CACHE", netCache},
		{"LAVA_MULTI_NODE_DEBUG", debug},
	} {
		b.WriteString(kv[0] + "=" + singleQuote(kv[1]) + "\n")
	}
	return b.String(), nil
}

// groupWord refuses a name or role that is empty or has a blank or a
// control character: the group's lines are split on blanks, and the
// console line that carries a role ends at the first '>' (refused too).
func groupWord(what, s string) error {
	if s == "" {
		return pipeline.JobError("multinode %s is empty", what)
	}
	if i := strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == '<' || r == '>'
	}); i >= 0 {
		return pipeline.JobError("multinode %s %q: blanks, control characters, '<' and '>' cannot be used", what, s)
	}
	return nil
}
