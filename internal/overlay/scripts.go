package overlay

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

// scripts holds the lava-test-shell helpers: scripts/lava-* for every
// device, scripts/distro/<distro>/lava-* replacing some of them for one
// distribution. The files have no #! line: the interpreter is the
// device's, written in when the overlay is made.
//
//go:embed scripts
var scripts embed.FS

// distroAliases maps distributions onto the helpers of a relative that
// manages packages the same way.
var distroAliases = map[string]string{
	"ubuntu":  "debian",
	"apertis": "debian",
	"centos":  "fedora",
}

// Storage is one entry of a device's storage_info: a method (UMS, SATA,
// …) and the device path the test may use.
type Storage struct {
	Method string
	ID     string
}

// ScriptConfig says how the helpers are written for one device.
type ScriptConfig struct {
	// Shell is the interpreter of the #! line (LAVA's lava_test_sh_cmd),
	// an absolute path.
	Shell string
	// Distro picks the distribution's own helpers (deployment data
	// "distro"); empty or unknown means the generic ones only.
	Distro string
	// TargetIP, TargetMAC, ProbeIP and ProbeChannel are written into
	// lava-target-ip, lava-target-mac, lava-probe-ip and
	// lava-probe-channel, which print them.
	TargetIP, TargetMAC, ProbeIP, ProbeChannel string
	// Storage is written into lava-target-storage.
	Storage []Storage
}

// ScriptNames returns the helpers WriteScripts writes for distro, sorted
// (each once: a distribution's helper replaces the generic one).
func ScriptNames(distro string) []string {
	var names []string
	for _, p := range scriptPaths(distro) {
		names = append(names, path.Base(p))
	}
	return names
}

func scriptPaths(distro string) []string {
	generic, _ := fs.Glob(scripts, "scripts/lava-*")
	sort.Strings(generic)
	if a, ok := distroAliases[distro]; ok {
		distro = a
	}
	if distro == "" || strings.ContainsAny(distro, "/*?[\\") {
		return generic
	}
	own, _ := fs.Glob(scripts, "scripts/distro/"+distro+"/lava-*")
	sort.Strings(own)
	// A distribution's helper takes the place of the generic one.
	at := map[string]int{}
	for i, p := range generic {
		at[path.Base(p)] = i
	}
	for _, p := range own {
		if i, ok := at[path.Base(p)]; ok {
			generic[i] = p
		} else {
			generic = append(generic, p)
		}
	}
	return generic
}

// WriteScripts writes the helpers into binDir, each 0755 and starting
// with "#!<Shell>" and a blank line, as LAVA does; the per-device values
// follow as shell assignments before the script itself. It returns the
// names written; a distribution's helper replaces the generic one.
func WriteScripts(binDir string, cfg ScriptConfig) ([]string, error) {
	if !strings.HasPrefix(cfg.Shell, "/") || strings.ContainsAny(cfg.Shell, "\n\r") {
		return nil, pipeline.ConfigurationError("invalid lava_test_sh_cmd %q: an absolute path to the device's shell is needed", cfg.Shell)
	}
	var written []string
	for _, p := range scriptPaths(cfg.Distro) {
		body, err := scripts.ReadFile(p)
		if err != nil {
			return nil, pipeline.Bug("embedded helper %s: %v", p, err)
		}
		name := path.Base(p)
		var b strings.Builder
		fmt.Fprintf(&b, "#!%s\n\n", cfg.Shell)
		b.WriteString(injected(name, cfg))
		b.Write(body)
		if err := writeExecutable(filepath.Join(binDir, name), b.String()); err != nil {
			return nil, err
		}
		written = append(written, name)
	}
	return written, nil
}

// injected returns the assignments a helper needs before its body.
func injected(name string, cfg ScriptConfig) string {
	switch name {
	case "lava-target-ip":
		return "TARGET_DEVICE_IP=" + singleQuote(cfg.TargetIP) + "\n"
	case "lava-target-mac":
		return "TARGET_DEVICE_MAC=" + singleQuote(cfg.TargetMAC) + "\n"
	case "lava-probe-ip":
		return "PROBE_DEVICE_IP=" + singleQuote(cfg.ProbeIP) + "\n"
	case "lava-probe-channel":
		return "PROBE_DEVICE_CHANNEL=" + singleQuote(cfg.ProbeChannel) + "\n"
	case "lava-target-storage":
		var lines strings.Builder
		for _, s := range cfg.Storage {
			lines.WriteString(s.Method + "\t" + s.ID + "\n")
		}
		return "LAVA_STORAGE=" + singleQuote(lines.String()) + "\n"
	}
	return ""
}

// writeExecutable writes an executable file; Chmod after the write because
// the umask may have taken bits off the mode given to OpenFile.
func writeExecutable(name, content string) error {
	if err := os.WriteFile(name, []byte(content), 0o755); err != nil {
		return pipeline.InfrastructureError("writing %s: %w", name, err)
	}
	if err := os.Chmod(name, 0o755); err != nil {
		return pipeline.InfrastructureError("making %s executable: %w", name, err)
	}
	return nil
}
