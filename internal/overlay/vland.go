package overlay

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

// VlandScripts are the lava-vland test shell helpers and what each
// prints: the device's interfaces (label,mac,sysfs), the job's VLANs
// (name,interface label) and the interfaces' tags (label,tag).
var vlandScripts = []struct{ name, variable, doc string }{
	{"lava-vland-self", "LAVA_VLAND_SELF", "Prints the interfaces of this device, one \"label,mac,sysfs\" a line."},
	{"lava-vland-names", "LAVA_VLAND_NAMES", "Prints the VLANs of this device, one \"vlan name,interface label\" a line."},
	{"lava-vland-tags", "LAVA_VLAND_TAGS", "Prints the tags of this device's interfaces, one \"label,tag\" a line."},
}

// WriteVlandScripts writes lava-vland-self, lava-vland-names and
// lava-vland-tags into binDir for the device's shell. LAVA's helpers
// echo a variable holding "\n" sequences, which prints one entry a line
// only under a shell whose echo expands them; these print one entry a
// line under any POSIX shell, as LAVA's documentation shows. The lines
// come from the job and the device dictionary: they are single-quoted.
func WriteVlandScripts(binDir, shell string, self, names, tags []string) ([]string, error) {
	if !strings.HasPrefix(shell, "/") || strings.ContainsAny(shell, "\n\r") {
		return nil, pipeline.ConfigurationError("invalid lava_test_sh_cmd %q: an absolute path to the device's shell is needed", shell)
	}
	lines := [][]string{self, names, tags}
	var written []string
	for i, s := range vlandScripts {
		for _, l := range lines[i] {
			if strings.ContainsAny(l, "\n\r\x00") {
				return nil, pipeline.JobError("%s: %q has a line break or NUL", s.name, l)
			}
		}
		var b strings.Builder
		fmt.Fprintf(&b, "#!%s\n\n# %s\n# %s\n\n", shell, s.name, s.doc)
		b.WriteString(s.variable + "=" + singleQuote(strings.Join(lines[i], "\n")) + "\n\n")
		fmt.Fprintf(&b, "[ -z \"$%s\" ] || printf '%%s\\n' \"$%s\"\n", s.variable, s.variable)
		if err := writeExecutable(filepath.Join(binDir, s.name), b.String()); err != nil {
			return nil, err
		}
		written = append(written, s.name)
	}
	return written, nil
}
