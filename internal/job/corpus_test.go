package job

import (
	"github.com/basalt-lava/basalt/internal/lavacorpus"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/value"
)

// corpusDir returns LAVA's conformance data, or skips.
func corpusDir(t testing.TB) string {
	t.Helper()
	return lavacorpus.Require(t, "schema-verdicts.yaml")
}

type verdict struct {
	job                   string
	strict, lax           string
	strictError, laxError string
}

func loadVerdicts(t *testing.T, corpus string) []verdict {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(corpus, "schema-verdicts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := value.DecodeYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	var out []verdict
	for _, e := range v.(*value.Map).List("jobs") {
		m := e.(*value.Map)
		out = append(out, verdict{
			job: m.String("job"), strict: m.String("strict"), lax: m.String("lax"),
			strictError: m.String("strict_error"), laxError: m.String("lax_error"),
		})
	}
	return out
}

var lavaPathRe = regexp.MustCompile(`\['([^']*)'\]`)

// lavaPath turns the path of a LAVA error ("... @ data['actions[4]']['boot']
// ['u_boot']['kernel']") into Basalt's form ("actions[4].boot.kernel"):
// LAVA names the schema module after the action type, Basalt does not.
func lavaPath(msg string) string {
	at := strings.LastIndex(msg, " @ data")
	if at < 0 {
		return ""
	}
	var parts []string
	for _, m := range lavaPathRe.FindAllStringSubmatch(msg[at:], -1) {
		parts = append(parts, m[1])
	}
	if len(parts) >= 3 && strings.HasPrefix(parts[0], "actions[") && parts[1] != "command" {
		parts = append(parts[:2], parts[3:]...)
	}
	path := ""
	for i := 0; i < len(parts); i++ {
		p := parts[i]
		if p == "actions" && i+1 < len(parts) {
			if n, err := strconv.Atoi(parts[i+1]); err == nil {
				path = indexPath(keyPath(path, "actions"), n)
				i++
				continue
			}
		}
		if strings.HasPrefix(p, "actions[") && path == "" {
			path = p
			continue
		}
		path = keyPath(path, p)
	}
	return path
}

func aboutPath(diags []Diagnostic, path string) bool {
	for _, d := range Errors(diags) {
		if path == "" || d.Path == path || strings.HasPrefix(d.Path, path+".") || strings.HasPrefix(d.Path, path+"[") {
			return true
		}
	}
	return false
}

// TestCorpusVerdicts checks every sample job against LAVA's own verdict,
// strict (as the server) and lax (as the dispatcher).
func TestCorpusVerdicts(t *testing.T) {
	corpus := corpusDir(t)
	verdicts := loadVerdicts(t, corpus)
	for _, mode := range []string{"strict", "lax"} {
		t.Run(mode, func(t *testing.T) {
			agree := 0
			for _, v := range verdicts {
				want, lavaErr := v.strict, v.strictError
				if mode == "lax" {
					want, lavaErr = v.lax, v.laxError
				}
				_, diags, err := Load(filepath.Join(corpus, v.job), Options{Lax: mode == "lax"})
				if err != nil {
					t.Errorf("%s: %v", v.job, err)
					continue
				}
				got := "valid"
				if HasErrors(diags) {
					got = "invalid"
				}
				switch {
				case got != want:
					t.Errorf("%s: LAVA says %s (%s), Basalt says %s:\n%s", v.job, want, lavaErr, got, joinDiags(diags))
				case got == "invalid" && !aboutPath(diags, lavaPath(lavaErr)):
					t.Errorf("%s: no error about %q (LAVA: %s):\n%s", v.job, lavaPath(lavaErr), lavaErr, joinDiags(diags))
				default:
					agree++
				}
			}
			t.Logf("%s: agree on %d of %d jobs", mode, agree, len(verdicts))
		})
	}
}

func joinDiags(diags []Diagnostic) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString("\t" + d.String() + "\n")
	}
	return b.String()
}
