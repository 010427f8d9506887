package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWorkerRefusesBadFlags: `basalt worker` says what is missing or
// wrong before it tries to reach a server.
func TestWorkerRefusesBadFlags(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no url", []string{"--name", "w1", "--token", "t"}, exitUsage, "--url, --name and a token"},
		{"no name", []string{"--url", "http://127.0.0.1:1", "--token", "t"}, exitUsage, "--url, --name and a token"},
		{"no token", []string{"--url", "http://127.0.0.1:1", "--name", "w1"}, exitUsage, "--url, --name and a token"},
		{"both tokens", []string{"--url", "http://127.0.0.1:1", "--name", "w1", "--token", "t", "--token-file", tokenFile}, exitUsage, "not both"},
		{"missing token file", []string{"--url", "http://127.0.0.1:1", "--name", "w1", "--token-file", filepath.Join(dir, "absent")}, exitFailed, "absent"},
		{"bad url", []string{"--url", "127.0.0.1:8000", "--name", "w1", "--token-file", tokenFile}, exitUsage, "want http(s)://host[:port]"},
		{"allowed folder holds the token file", []string{"--url", "http://127.0.0.1:1", "--name", "w1", "--token-file", tokenFile, "--allow-local-files", dir}, exitUsage, "holds the --token-file"},
		{"allowed folder holds the work dir", []string{"--url", "http://127.0.0.1:1", "--name", "w1", "--token", "t", "--work-dir", filepath.Join(dir, "work"), "--allow-local-files", dir}, exitUsage, "must not hold the worker's --work-dir"},
		{"allowed folder missing", []string{"--url", "http://127.0.0.1:1", "--name", "w1", "--token", "t", "--allow-local-files", filepath.Join(dir, "absent")}, exitUsage, "allowed folder"},
		{"stray argument", []string{"--url", "http://127.0.0.1:1", "--name", "w1", "--token", "t", "extra"}, exitUsage, `unexpected argument "extra"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(append([]string{"worker"}, c.args...), &stdout, &stderr)
			if code != c.code || !strings.Contains(stderr.String(), c.msg) {
				t.Errorf("basalt worker %s = %d, stderr %q; want %d with %q", strings.Join(c.args, " "), code, stderr.String(), c.code, c.msg)
			}
		})
	}
}
