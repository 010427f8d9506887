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
	job                                string
	server, strict, lax                string
	serverError, strictError, laxError string
}

// loadVerdicts reads the corpus' schema-verdicts.yaml (lava_common's
// strict and lax verdicts) and adds the server's submission verdicts
// pinned in testdata/verdicts/corpus.yaml.
func loadVerdicts(t *testing.T, corpus string) []verdict {
	t.Helper()
	out := readVerdicts(t, filepath.Join(corpus, "schema-verdicts.yaml"))
	server := map[string]verdict{}
	for _, v := range readVerdicts(t, filepath.Join("testdata", "verdicts", "corpus.yaml")) {
		server[v.job] = v
	}
	for i, v := range out {
		s, ok := server[v.job]
		if !ok {
			t.Fatalf("%s: no server verdict in testdata/verdicts/corpus.yaml", v.job)
		}
		if s.strict != v.strict || s.lax != v.lax {
			t.Errorf("%s: testdata/verdicts/corpus.yaml says strict %s, lax %s; the corpus says %s, %s", v.job, s.strict, s.lax, v.strict, v.lax)
		}
		out[i].server, out[i].serverError = s.server, s.serverError
	}
	if len(server) != len(out) {
		t.Errorf("testdata/verdicts/corpus.yaml has %d jobs, the corpus %d", len(server), len(out))
	}
	return out
}

func readVerdicts(t *testing.T, path string) []verdict {
	t.Helper()
	data, err := os.ReadFile(path)
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
			job: m.String("job"), server: m.String("server"), strict: m.String("strict"), lax: m.String("lax"),
			serverError: m.String("server_error"), strictError: m.String("strict_error"), laxError: m.String("lax_error"),
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

// TestCorpusVerdicts checks every sample job against LAVA's own verdict in
// each mode: the default against a LAVA server's submission check,
// Strict against lava_common's strict schema and Lax against its lax one
// (the corpus' schema-verdicts.yaml).
func TestCorpusVerdicts(t *testing.T) {
	corpus := corpusDir(t)
	verdicts := loadVerdicts(t, corpus)
	modes := []struct {
		name string
		opts Options
		want func(verdict) (string, string)
	}{
		{"server", Options{}, func(v verdict) (string, string) { return v.server, v.serverError }},
		{"strict", Options{Strict: true}, func(v verdict) (string, string) { return v.strict, v.strictError }},
		{"lax", Options{Lax: true}, func(v verdict) (string, string) { return v.lax, v.laxError }},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			agree := 0
			for _, v := range verdicts {
				want, lavaErr := mode.want(v)
				_, diags, err := Load(filepath.Join(corpus, v.job), mode.opts)
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
			t.Logf("%s: agree on %d of %d jobs", mode.name, agree, len(verdicts))
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
