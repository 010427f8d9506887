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
