package labe2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/labtest"
)

// The lab every case sets up is labtest's (a server, workers with QEMU
// devices, users with tokens); lab adds what lavacli does on it.
type lab struct {
	*labtest.Lab
}

// newLab sets up and starts a lab; it is torn down when t ends.
func newLab(t *testing.T, cfg labtest.Config) *lab {
	t.Helper()
	return &lab{labtest.Start(t, cfg)}
}

// run is one lavacli command's outcome.
type run struct {
	args   []string
	stdout string
	stderr string
	code   int
}

func (r run) String() string {
	return fmt.Sprintf("lavacli %s → exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// uri is the lavacli --uri of user (with its token) on this lab.
func (l *lab) uri(user string) string {
	return fmt.Sprintf("http://%s:%s@%s/RPC2", user, l.Tokens[user], l.Addr)
}

// lavacli runs c as user with args; HOME is the lab's, so no identity
// file of the machine's is read.
func (l *lab) lavacli(t *testing.T, c lavacli, user string, args ...string) run {
	t.Helper()
	return l.lavacliURI(t, c, l.uri(user), args...)
}

func (l *lab) lavacliURI(t *testing.T, c lavacli, uri string, args ...string) run {
	t.Helper()
	r, err := l.exec(c, uri, args...)
	if err != nil {
		t.Fatalf("lavacli %v: %v", args, err)
	}
	transcript(t, c, r)
	return r
}

// exec runs lavacli; the error is one of running it, not its exit status.
func (l *lab) exec(c lavacli, uri string, args ...string) (run, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	argv := append([]string{"--uri", uri}, args...)
	cmd := exec.CommandContext(ctx, c.bin, argv...)
	home := filepath.Join(l.Dir, "home")
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "PYTHONDONTWRITEBYTECODE=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := run{args: args, stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
		err = nil
	}
	return r, err
}

// ok fails the test unless the command exited 0.
func ok(t *testing.T, r run) run {
	t.Helper()
	if r.code != 0 {
		t.Errorf("%s", r)
	}
	return r
}

// fields reads lavacli's "key : value" listing (jobs show, devices show).
func fields(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		k, v, found := strings.Cut(line, ":")
		if found {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// transcripts keeps every lavacli command and its output, written to
// $BASALT_LABE2E_TRANSCRIPT (when set) as the record of what was checked.
var transcripts struct {
	sync.Mutex
	b strings.Builder
}

func transcript(t *testing.T, c lavacli, r run) {
	transcripts.Lock()
	defer transcripts.Unlock()
	fmt.Fprintf(&transcripts.b, "### %s  %s\n$ lavacli %s   (exit %d)\n%s", t.Name(), c.name, strings.Join(r.args, " "), r.code, clip(r.stdout, 40))
	if r.stderr != "" {
		fmt.Fprintf(&transcripts.b, "[stderr]\n%s", clip(r.stderr, 20))
	}
	transcripts.b.WriteString("\n")
	if path := os.Getenv("BASALT_LABE2E_TRANSCRIPT"); path != "" {
		os.WriteFile(path, []byte(transcripts.b.String()), 0o644)
	}
}

// clip keeps the first n lines of s (and says how many it dropped).
func clip(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) <= n {
		return s
	}
	return strings.Join(lines[:n], "") + fmt.Sprintf("... (%d more lines)\n", len(lines)-n)
}

var jobIDLine = regexp.MustCompile(`(?m)^(\d+)\s*$`)

// submitted reads the job id lavacli's `jobs submit` printed.
func submitted(t *testing.T, r run) string {
	t.Helper()
	m := jobIDLine.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		t.Fatalf("no job id from the submission: %s", r)
	}
	return m[1]
}
