package command_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/basalt-lava/basalt/internal/actions/command"
	_ "github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func decode(t *testing.T, s string) *value.Map {
	t.Helper()
	v, err := value.DecodeYAML([]byte(s))
	if err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v.(*value.Map)
}

// commandJob builds a job whose only block is `command: {name: name}` on
// a device with the given commands block, its log in a buffer.
func commandJob(t *testing.T, name, timeout, commands string) (*pipeline.Job, *lockedBuffer, *[]*value.Map) {
	t.Helper()
	job := fmt.Sprintf(`
job_name: command
timeouts: {job: {minutes: 5}}
actions:
- command: {name: %s, timeout: %s}
`, name, timeout)
	j, err := pipeline.Build(decode(t, job), decode(t, "commands:\n"+commands))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	j.Pipeline.Actions = j.Pipeline.Actions[:len(j.Pipeline.Actions)-1] // no finalize
	log := &lockedBuffer{}
	var results []*value.Map
	var mu sync.Mutex
	j.Runtime.Log = joblog.New(nil, joblog.Options{Human: log, OnResult: func(m *value.Map) {
		mu.Lock()
		defer mu.Unlock()
		results = append(results, m)
	}})
	t.Cleanup(func() {
		if t.Failed() {
			j.Runtime.Log.Flush()
			t.Logf("job log:\n%s", log.String())
		}
	})
	return j, log, &results
}

func run(t *testing.T, j *pipeline.Job) (runErr, cleanupErr error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, runErr = j.Pipeline.Run(ctx, nil)
	return runErr, j.Pipeline.Cleanup(ctx)
}

func TestCommandRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		command  string // the block's name
		timeout  string
		commands func(dir string) string // the device's commands block
		class    pipeline.Class
		msg      string
		logged   []string                 // lines of the job log, in order
		files    map[string]string        // contents of files in dir afterwards
		check    func(*testing.T, string) // more checks on dir
	}{
		{name: "do and undo", command: "touch", timeout: "{seconds: 30}",
			commands: func(d string) string {
				return fmt.Sprintf(`  users:
    touch:
      do: echo hello; echo oops >&2; echo a | tr a b; echo do >> %[1]s/log
      undo: echo undo >> %[1]s/log
`, d)
			},
			logged: []string{"info: Running user command 'touch'", "debug: >> hello", "debug: >> oops", "debug: >> b",
				"info: end: 1 user-command", "info: Running cleanup for user command 'touch'"},
			files: map[string]string{"log": "do\nundo\n"}},
		{name: "failing do still undoes", command: "broken", timeout: "{seconds: 30}",
			commands: func(d string) string {
				return fmt.Sprintf("  users:\n    broken: {do: 'echo do >> %[1]s/log; exit 3', undo: 'echo undo >> %[1]s/log'}\n", d)
			},
			class: pipeline.ClassInfrastructure, msg: "failed with exit code 3",
			files: map[string]string{"log": "do\nundo\n"}},
		{name: "built-in list", command: "hard_reset", timeout: "{seconds: 30}",
			commands: func(d string) string {
				return fmt.Sprintf("  hard_reset: ['echo one >> %[1]s/log', 'echo two >> %[1]s/log']\n", d)
			},
			files: map[string]string{"log": "one\ntwo\n"}},
		{name: "built-in list stops at the first failure", command: "power_on", timeout: "{seconds: 30}",
			commands: func(d string) string {
				return fmt.Sprintf("  power_on: ['false', 'echo two >> %[1]s/log']\n", d)
			},
			class: pipeline.ClassInfrastructure, msg: `"false" failed with exit code 1`,
			check: func(t *testing.T, d string) {
				if _, err := os.Stat(filepath.Join(d, "log")); err == nil {
					t.Errorf("the second command ran after the first failed")
				}
			}},
		{name: "hung command", command: "hang", timeout: "{seconds: 1}",
			commands: func(d string) string {
				return fmt.Sprintf("  users:\n    hang: {do: 'echo $$ > %[1]s/pgid; sleep 1000'}\n", d)
			},
			class: pipeline.ClassInfrastructure, msg: "user-command timed out after 1 seconds",
			logged: []string{"error: Timed out after"},
			check: func(t *testing.T, d string) {
				data, err := os.ReadFile(filepath.Join(d, "pgid"))
				if err != nil {
					t.Fatal(err)
				}
				pgid, err := strconv.Atoi(strings.TrimSpace(string(data)))
				if err != nil {
					t.Fatal(err)
				}
				if left := waitGroupGone(pgid); len(left) > 0 {
					t.Errorf("processes %v of the command's group still running", left)
				}
			}},
		{name: "background process left running", command: "daemon", timeout: "{seconds: 30}",
			commands: func(d string) string {
				return fmt.Sprintf("  users:\n    daemon: {do: 'sleep 1000 & echo $! > %[1]s/pid; echo started'}\n", d)
			},
			logged: []string{"debug: >> started", "debug: Returned 0"},
			check: func(t *testing.T, d string) {
				data, err := os.ReadFile(filepath.Join(d, "pid"))
				if err != nil {
					t.Fatal(err)
				}
				pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
				if pid <= 0 {
					t.Fatalf("no pid in %q", data)
				}
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
					t.Errorf("the background process %d was not left running: %v", pid, err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			j, log, results := commandJob(t, tt.command, tt.timeout, tt.commands(dir))
			if errs := j.Validate(); len(errs) > 0 {
				t.Fatalf("Validate() = %q", errs)
			}
			err, cerr := run(t, j)
			if got := pipeline.ClassOf(err); got != tt.class {
				t.Fatalf("Run() = %v (class %q), want class %q", err, got, tt.class)
			}
			if err != nil && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Run() = %q, want it to say %q", err, tt.msg)
			}
			if cerr != nil {
				t.Errorf("Cleanup() = %v", cerr)
			}
			// A second cleanup must not undo again.
			if err := j.Pipeline.Cleanup(context.Background()); err != nil {
				t.Errorf("second Cleanup() = %v", err)
			}
			j.Runtime.Log.Flush()
			text := log.String()
			at := 0
			for _, l := range tt.logged {
				i := strings.Index(text[at:], l)
				if i < 0 {
					t.Errorf("the job log does not say %q (after position %d)", l, at)
					continue
				}
				at += i + len(l)
			}
			for name, want := range tt.files {
				got, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil || string(got) != want {
					t.Errorf("%s = %q (%v), want %q", name, got, err, want)
				}
			}
			want := "pass"
			if tt.class != "" {
				want = "fail"
			}
			if n := len(*results); n != 1 || (*results)[0].String("case") != "user-command" || (*results)[0].String("result") != want {
				t.Errorf("results = %v, want one user-command %s", *results, want)
			}
			if tt.check != nil {
				tt.check(t, dir)
			}
		})
	}
}

func TestCommandValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, command, commands, want string
	}{
		{"unknown user command", "nope", "  users: {touch: {do: touch /tmp/x}}\n", "unknown user command 'nope'"},
		{"no user commands", "nope", "  power_on: 'true'\n", "device has no configured user commands"},
		{"built-in not defined", "power_off", "  power_on: 'true'\n", "command 'power_off' not defined for this device"},
		{"undo not a string", "x", "  users: {x: {do: 'true', undo: [a]}}\n", "'undo' should be a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j, _, _ := commandJob(t, tt.command, "{seconds: 30}", tt.commands)
			errs := j.Validate()
			if !strings.Contains(strings.Join(errs, "\n"), tt.want) {
				t.Errorf("Validate() = %q, want %q", errs, tt.want)
			}
		})
	}
}

// waitGroupGone returns the processes of group pgid still running
// (zombies waiting for init do not count) after ten seconds at most.
func waitGroupGone(pgid int) []string {
	deadline := time.Now().Add(10 * time.Second)
	for {
		var left []string
		stats, _ := filepath.Glob("/proc/[0-9]*/stat")
		for _, f := range stats {
			data, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			i := bytes.LastIndexByte(data, ')')
			if i < 0 {
				continue
			}
			fields := strings.Fields(string(data[i+1:]))
			if len(fields) >= 3 && fields[2] == strconv.Itoa(pgid) && fields[0] != "Z" {
				left = append(left, string(data[:i+1]))
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}
