package cli

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/coordinator"
)

func writeCoordinatorConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lava-coordinator.conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCoordinatorServes runs the command, talks to it, stops it.
func TestCoordinatorServes(t *testing.T) {
	conf := writeCoordinatorConfig(t, `{"port": 3079, "poll_delay": 3}`)
	logPath := filepath.Join(t.TempDir(), "coordinator.log")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan net.Addr, 1)
	var stdout, stderr bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- coordinatorMain(ctx, []string{"--listen", "127.0.0.1:0", "--config", conf, "--log", logPath, "--loglevel", "debug"},
			&stdout, &stderr, func(a net.Addr) { addrc <- a })
	}()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case c := <-code:
		t.Fatalf("exit %d before listening: %s", c, stderr.String())
	}
	c := &coordinator.Client{Addr: addr.String(), Base: map[string]any{"client_name": "7", "group_name": "g", "role": "solo", "group_size": 1}}
	r, err := c.Exchange(ctx, map[string]any{"request": "group_data"})
	if err != nil || r.Response != coordinator.RespGroupData || r.Roles["7"] != "solo" {
		t.Fatalf("group_data: %+v, %v", r, err)
	}
	cancel()
	if c := <-code; c != exitOK {
		t.Fatalf("exit %d, stderr %s", c, stderr.String())
	}
	if want := "basalt coordinator: listening on " + addr.String() + " (config: " + conf + ")\n"; stdout.String() != want {
		t.Errorf("stdout %q, want %q", stdout.String(), want)
	}
	log, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"coordinator started", "group created", "request=group_data", "stopping on signal"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("log has no %q:\n%s", want, log)
		}
	}
}

func TestCoordinatorErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	good := writeCoordinatorConfig(t, `{}`)
	bad := writeCoordinatorConfig(t, `{"port": "x"}`)
	tests := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"bad config", []string{"--config", bad, "--listen", "127.0.0.1:0"}, exitFailed, `coordinator config ` + bad + `: "port" must be an integer`},
		{"missing config", []string{"--config", bad + ".absent", "--listen", "127.0.0.1:0"}, exitFailed, "no such file or directory"},
		{"port in use", []string{"--config", good, "--listen", busy.Addr().String()}, exitFailed, "address already in use"},
		{"bad log level", []string{"--loglevel", "LOUD"}, exitUsage, `--loglevel "LOUD": want DEBUG, INFO, WARN or ERROR`},
		{"negative ttl", []string{"--group-ttl", "-1h"}, exitUsage, "--group-ttl -1h0m0s is negative"},
		{"positional", []string{"extra"}, exitUsage, `unexpected argument "extra"`},
		{"log dir missing", []string{"--config", good, "--listen", "127.0.0.1:0", "--log", filepath.Join(t.TempDir(), "no", "such.log")}, exitFailed, "log file:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := coordinatorMain(context.Background(), tt.args, &stdout, &stderr, nil)
			if code != tt.code || !strings.Contains(stderr.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, stderr.String(), tt.code, tt.want)
			}
		})
	}
}

// TestCoordinatorSignal runs `basalt coordinator` as its own process (this
// test binary, re-executed) and stops it with a real SIGTERM.
func TestCoordinatorSignal(t *testing.T) {
	if os.Getenv("BASALT_TEST_COORDINATOR_CHILD") == "1" {
		os.Exit(Main(strings.Fields(os.Getenv("BASALT_TEST_ARGS")), os.Stdout, os.Stderr))
	}
	conf := writeCoordinatorConfig(t, `{}`)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCoordinatorSignal$")
	cmd.Env = append(os.Environ(), "BASALT_TEST_COORDINATOR_CHILD=1",
		"BASALT_TEST_ARGS=coordinator --listen 127.0.0.1:0 --config "+conf)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := false
	defer func() {
		if !waited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("no start-up line: %v; stderr %s", err, stderr.String())
	}
	addr, _, ok := strings.Cut(strings.TrimPrefix(line, "basalt coordinator: listening on "), " ")
	if !ok || !strings.HasPrefix(line, "basalt coordinator: listening on 127.0.0.1:") {
		t.Fatalf("start-up line %q", line)
	}
	c := &coordinator.Client{Addr: addr, Base: map[string]any{"client_name": "1", "group_name": "g", "role": "r", "group_size": 2}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if r, err := c.Exchange(ctx, map[string]any{"request": "group_data"}); err != nil || r.Response != coordinator.RespWait {
		t.Fatalf("group_data: %+v, %v", r, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	waited = true
	if err != nil {
		t.Fatalf("after SIGTERM: %v; stderr %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "stopping on signal") {
		t.Errorf("stderr %q does not log the stop", stderr.String())
	}
}

// TestCoordinatorLimits: the limits come from the flags, else from the
// config file, else the defaults; a request over one gets a nack naming
// the flag and the key.
func TestCoordinatorLimits(t *testing.T) {
	for _, tt := range []struct {
		name   string
		config string
		args   []string
		groups int // accepted before the nack; 0: no nack in 5
	}{
		{"flag", `{}`, []string{"--max-groups", "2"}, 2},
		{"config", `{"max_groups": 3}`, nil, 3},
		{"flag over config", `{"max_groups": 1}`, []string{"--max-groups", "2"}, 2},
		{"flag 0 lifts config", `{"max_groups": 1}`, []string{"--max-groups", "0"}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			addrc := make(chan net.Addr, 1)
			code := make(chan int, 1)
			var stdout, stderr bytes.Buffer
			args := append([]string{"--listen", "127.0.0.1:0", "--config", writeCoordinatorConfig(t, tt.config), "--log", filepath.Join(t.TempDir(), "log")}, tt.args...)
			go func() { code <- coordinatorMain(ctx, args, &stdout, &stderr, func(a net.Addr) { addrc <- a }) }()
			var addr net.Addr
			select {
			case addr = <-addrc:
			case c := <-code:
				t.Fatalf("exit %d before listening: %s", c, stderr.String())
			}
			for i := range 5 {
				c := &coordinator.Client{Addr: addr.String(), Base: map[string]any{"client_name": "1", "group_name": "g" + string(rune('a'+i)), "role": "r", "group_size": 2}}
				r, err := c.Exchange(ctx, map[string]any{"request": "group_data"})
				if err != nil {
					t.Fatal(err)
				}
				if i < tt.groups || tt.groups == 0 {
					if r.Response != coordinator.RespWait {
						t.Fatalf("group %d: %v", i, r.Raw)
					}
					continue
				}
				if msg, _ := r.Raw["error"].(string); r.Response != coordinator.RespNack || !strings.Contains(msg, "--max-groups") || !strings.Contains(msg, `"max_groups"`) {
					t.Fatalf("group %d: %v, want a nack naming the limit", i, r.Raw)
				}
				break
			}
			cancel()
			<-code
		})
	}
	var stdout, stderr bytes.Buffer
	if code := coordinatorMain(context.Background(), []string{"--max-groups", "-1"}, &stdout, &stderr, nil); code != exitUsage || !strings.Contains(stderr.String(), "--max-groups -1 is negative") {
		t.Fatalf("--max-groups -1: exit %d, stderr %q", code, stderr.String())
	}
}
