package power_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/connection"
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// finalizeJob is a job of two namespaces whose finalize is the only
// action, with a console open in each namespace (a real process each).
func finalizeJob(t *testing.T, device string) (*pipeline.Job, map[string]*connection.Session, *bytes.Buffer) {
	t.Helper()
	params := decode(t, `{actions: [{boot: {namespace: host}}, {boot: {namespace: guest}}]}`)
	j := &pipeline.Job{Params: params, Device: decode(t, device), TestInfo: map[string][]pipeline.TestInfo{},
		Timeout: pipeline.Timeout{Seconds: 60}}
	var log bytes.Buffer
	j.Runtime.Log = joblog.New(&log, joblog.Options{})
	j.Pipeline = pipeline.NewTopPipeline(j)
	j.Pipeline.Add(power.NewFinalize(), nil)
	sessions := map[string]*connection.Session{}
	for _, ns := range []string{"host", "guest"} {
		s, err := connection.Start([]string{"sleep", "60"}, connection.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		j.Runtime.SetData(ns, "shared/connection", s)
		sessions[ns] = s
	}
	return j, sessions, &log
}

func closed(t *testing.T, sessions map[string]*connection.Session) {
	t.Helper()
	for ns, s := range sessions {
		select {
		case <-s.Done():
		case <-time.After(10 * time.Second):
			t.Errorf("console of %s still running", ns)
		}
	}
}

func TestFinalizeClosesEveryConsole(t *testing.T) {
	t.Parallel()
	j, sessions, log := finalizeJob(t, `{}`)
	if err := j.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	closed(t, sessions)
	j.Runtime.Log.Flush()
	for _, want := range []string{"Finalising connection for namespace 'host'", "Finalising connection for namespace 'guest'"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// A job that fails before finalize still powers off and closes its
// consoles: finalize's cleanup runs it.
func TestFinalizeRunsInCleanup(t *testing.T) {
	t.Parallel()
	j, sessions, log := finalizeJob(t, `{commands: {power_off: ['echo powering off']}}`)
	fin := j.Pipeline.Actions[0]
	if err := fin.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	closed(t, sessions)
	if err := fin.Cleanup(context.Background()); err != nil {
		t.Fatalf("second cleanup: %v", err)
	}
	j.Runtime.Log.Flush()
	if n := strings.Count(log.String(), "output: powering off"); n != 1 {
		t.Errorf("power_off ran %d times, want once:\n%s", n, log)
	}
}

func TestPowerOff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, device string
		class        pipeline.Class
		msg          string
		status       bool // results status: success
	}{
		{"no commands (QEMU)", `{}`, "", "", false},
		{"commands without power_off", `{commands: {connect: telnet x}}`, "", "", true},
		{"commands run in order", `{commands: {power_off: ['echo one', "sh -c 'echo two; echo to stderr >&2'"]}}`, "", "output: to stderr", true},
		{"no shell for a string", `{commands: {power_off: 'echo $HOME; id'}}`, "", "output: $HOME; id", true},
		{"failing command", `{commands: {power_off: ['false']}}`, pipeline.ClassInfrastructure, "Unable to power-off: 'false' failed", false},
		{"missing program", `{commands: {power_off: 'no-such-pdu-client --off'}}`, pipeline.ClassInfrastructure, "no-such-pdu-client", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j := &pipeline.Job{Params: value.NewMap(), Device: decode(t, tt.device), TestInfo: map[string][]pipeline.TestInfo{}}
			var log bytes.Buffer
			j.Runtime.Log = joblog.New(&log, joblog.Options{})
			j.Pipeline = pipeline.NewTopPipeline(j)
			a := power.NewPowerOff()
			j.Pipeline.Add(a, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := a.Run(ctx, nil)
			j.Runtime.Log.Flush()
			if pipeline.ClassOf(err) != tt.class {
				t.Fatalf("error %v, want class %q", err, tt.class)
			}
			text := log.String()
			if err != nil {
				text = err.Error()
			}
			if !strings.Contains(text, tt.msg) {
				t.Errorf("%q lacks %q", text, tt.msg)
			}
			if got := a.Results.String("status") == "success"; got != tt.status {
				t.Errorf("status success %v, want %v", got, tt.status)
			}
		})
	}
}

// A QEMU guest that reached a shell is asked to power off and ends on
// its own; another console with a shell is only stopped.
func TestFinalizePowersOffGuestWithShell(t *testing.T) {
	t.Parallel()
	params := decode(t, `{actions: [{boot: {namespace: host}}, {boot: {namespace: guest}}]}`)
	j := &pipeline.Job{Params: params, Device: decode(t, `{}`), TestInfo: map[string][]pipeline.TestInfo{},
		Timeout: pipeline.Timeout{Seconds: 60}}
	var log bytes.Buffer
	j.Runtime.Log = joblog.New(&log, joblog.Options{})
	j.Pipeline = pipeline.NewTopPipeline(j)
	j.Pipeline.Add(power.NewFinalize(), nil)
	// The guest: a shell that powers off (exits 0) when told to.
	guest, err := connection.Start([]string{"sh", "-c", `while read -r line; do [ "$line" = poweroff ] && exit 0; done; sleep 60`}, connection.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { guest.Close() })
	host, err := connection.Start([]string{"sh", "-c", `while read -r line; do [ "$line" = poweroff ] && exit 0; done; sleep 60`}, connection.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	j.Runtime.SetData("guest", "shared/connection", guest)
	j.Runtime.SetData("guest", "shared/shell", guest)
	j.Runtime.SetData("guest", "execute-qemu/session", guest)
	// The host reached a shell too, but is no QEMU guest (an ssh boot):
	// it must not be told to power off.
	j.Runtime.SetData("host", "shared/connection", host)
	j.Runtime.SetData("host", "shared/shell", host)
	if err := j.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	closed(t, map[string]*connection.Session{"guest": guest, "host": host})
	if exited, err := guest.Exited(); !exited || err != nil {
		t.Errorf("guest: exited %v, %v; want it ended by poweroff (exit status 0)", exited, err)
	}
	if exited, err := host.Exited(); !exited || err == nil {
		t.Errorf("host: exited %v, %v; want it stopped by a signal", exited, err)
	}
	j.Runtime.Log.Flush()
	if n := strings.Count(log.String(), "The guest powered off"); n != 1 {
		t.Errorf("%d guests powered off, want 1:\n%s", n, log.String())
	}
}
