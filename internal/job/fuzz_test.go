package job

import (
	"os"
	"path/filepath"
	"testing"
)

var fuzzSeeds = []string{
	"job_name: x\ndevice_type: qemu\ntimeouts: {job: {minutes: 1}}\nvisibility: public\nactions: []\n",
	"actions:\n- deploy: {to: tmpfs, images: {r: {url: u, overlays: {lava: true, m: {url: x, format: tar, path: /}}, format: ext4}}}\n- boot: {method: qemu, auto_login: {login_prompt: l, username: u, password: p}}\n",
	"protocols: {lava-multinode: {roles: {a: {device_type: x, count: 1}, b: {connection: ssh, count: 1, expect_role: a, host_role: a}}}}\nactions: [{test: {role: [a], interactive: [{name: n, prompts: [p], script: [{command: ~}]}]}}]\n",
	"timeouts: {job: {minutes: 1}, actions: {a: {seconds: 99}}}\nnotify: {criteria: {status: complete, type: regression}, callbacks: [{url: u}]}\n",
	"a: &x {b: *x}\n",
	"job_name: &n x\nx: *n\n<<: {y: 1}\n",
}

// FuzzParse checks that no input makes Parse panic and that diagnostics
// are well-formed and in source order. Seeds are a few inline jobs plus,
// when the LAVA corpus is present, its sample jobs.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), false)
	}
	if dir := fuzzCorpusDir(); dir != "" {
		for _, sub := range []string{"jobs", "scheduler-jobs"} {
			files, _ := filepath.Glob(filepath.Join(dir, sub, "*.yaml"))
			for _, file := range files {
				if data, err := os.ReadFile(file); err == nil {
					f.Add(data, false)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, lax bool) {
		// lax picks the dispatcher's check; otherwise each of the
		// submission modes.
		modes := []Options{{Lax: true}}
		if !lax {
			modes = []Options{{}, {Dispatch: true}, {Strict: true}}
		}
		for _, opts := range modes {
			checkParse(t, data, opts)
		}
	})
}

func checkParse(t *testing.T, data []byte, opts Options) {
	t.Helper()
	j, diags := Parse("fuzz.yaml", data, opts)
	for i, d := range diags {
		if d.File != "fuzz.yaml" || d.Msg == "" || d.Pos.Line < 1 || d.Pos.Col < 1 {
			t.Fatalf("malformed diagnostic %#v", d)
		}
		if i > 0 {
			p, q := diags[i-1].Pos, d.Pos
			if p.Line > q.Line || p.Line == q.Line && p.Col > q.Col {
				t.Fatalf("diagnostics out of order: %s before %s", diags[i-1], d)
			}
		}
		_ = d.String()
	}
	if j != nil && j.Data == nil {
		t.Fatal("job without data")
	}
}

// fuzzCorpusDir is corpusDir without skipping: fuzzing works without it.
func fuzzCorpusDir() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			c := filepath.Join(dir, "..", "shared", "lava-corpus")
			if _, err := os.Stat(c); err == nil {
				return c
			}
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
