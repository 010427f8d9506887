package kernelmsg

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/connection"
)

func TestScan(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		kinds []Kind
		texts []string
		fatal bool
	}{
		{"nothing", "[ 0.0] Linux version 6.1\nlogin: ", nil, nil, false},
		{"one-line oops takes the whole line", "a\n[ 1.0] Internal error: Oops - BUG: 0 [#1] SMP\nb\n",
			[]Kind{Oops}, []string{"[ 1.0] Internal error: Oops - BUG: 0 [#1] SMP"}, false},
		{"trace classified by its text", "x ------------[ cut here ]------------\nWARNING: CPU: 0\nBUG here\n---[ end trace 00ab ]---\nafter\n",
			[]Kind{Bug}, []string{"x ------------[ cut here ]------------\nWARNING: CPU: 0\nBUG here\n---[ end trace 00ab ]---"}, false},
		{"trace without a known word", "-[ cut here ]-\nsomething\n-[ end trace 1 ]-\n",
			[]Kind{Unknown}, []string{"-[ cut here ]-\nsomething\n-[ end trace 1 ]-"}, false},
		{"kasan runs to the next line of =", "==========\n[ 3] BUG: KASAN: oob in f\nRead of size 1\n==========\n[ 4] BUG: unable to handle\n",
			[]Kind{KASAN, Bug}, []string{"[ 3] BUG: KASAN: oob in f\nRead of size 1\n==========", "[ 4] BUG: unable to handle"}, false},
		{"panic stops the scan", "Kernel panic - not syncing: VFS\nCPU: 0\n---[ end Kernel panic - not syncing: VFS ]---\nOops: 1\n",
			[]Kind{Panic}, []string{"Kernel panic - not syncing: VFS\nCPU: 0\n---[ end Kernel panic - not syncing: VFS ]---"}, true},
		{"end in the start line", "WARNING: x ---[ end trace 1 ]---\nWARNING: y\n",
			[]Kind{Warning, Warning}, []string{"WARNING: x ---[ end trace 1 ]---", "WARNING: y"}, false},
		{"earliest pattern in a line wins", "invalid opcode: 0000 [#1] Oops: 2\n",
			[]Kind{InvalidOpcode}, []string{"invalid opcode: 0000 [#1] Oops: 2"}, false},
		{"carriage returns dropped", "Unhandled fault: alignment\r\n",
			[]Kind{Fault}, []string{"Unhandled fault: alignment"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Scan(tt.text)
			var texts []string
			for _, m := range got {
				texts = append(texts, m.Text)
			}
			if !slices.Equal(kinds(got), tt.kinds) || !slices.Equal(texts, tt.texts) {
				t.Fatalf("got %v %q, want %v %q", kinds(got), texts, tt.kinds, tt.texts)
			}
			if n := len(got); n > 0 && got[n-1].Fatal != tt.fatal {
				t.Errorf("fatal %v", got[n-1].Fatal)
			}
		})
	}
}

func TestScannerMaxLines(t *testing.T) {
	s := Scanner{MaxLines: 3}
	for _, l := range []string{"WARNING: a", "1", "2", "3", "Oops: 4"} {
		s.Line(l)
	}
	got := s.Close()
	if !slices.Equal(kinds(got), []Kind{Warning, Oops}) || got[0].Complete || got[0].Text != "WARNING: a\n1\n2" {
		t.Fatalf("got %+v", got)
	}
}

func TestScannerIncompleteAtEnd(t *testing.T) {
	got := Scan("Kernel panic - not syncing: x\nreset\n")
	if len(got) != 1 || !got[0].Fatal || got[0].Complete || got[0].Text != "Kernel panic - not syncing: x\nreset" {
		t.Fatalf("got %+v", got)
	}
}

// console runs script under sh as a device would print it; the script
// is the test's own.
func console(t *testing.T, script string) *connection.Session {
	t.Helper()
	s, err := connection.Start([]string{"sh", "-c", script}, connection.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestWatch(t *testing.T) {
	login := regexp.MustCompile(`login:`)
	shell := regexp.MustCompile(`root@x:~# `)
	tests := []struct {
		name    string
		script  string
		kernel  bool
		timeout time.Duration
		prompt  int
		err     error
		kinds   []Kind
		fatal   bool
		text    string // of the last report, when set
	}{
		{name: "warning then login", kernel: true,
			script: `printf '[ 1.0] WARNING: CPU: 0 PID: 1 at x\n[ 1.1] Modules linked in:\n[ 1.2] ---[ end trace 0 ]---\nbasalt login: '; sleep 30`,
			prompt: 0, kinds: []Kind{Warning}, text: "[ 1.0] WARNING: CPU: 0 PID: 1 at x\n[ 1.2] ---[ end trace 0 ]---"},
		// "BUG:" arrives before " KASAN:": still a KASAN report.
		{name: "kasan split across writes", kernel: true,
			script: `printf '[ 2.0] BUG:'; sleep 0.3; printf ' KASAN: slab-out-of-bounds\nRead\n=====\n'; sleep 0.3; printf 'login: '; sleep 30`,
			prompt: 0, kinds: []Kind{KASAN}},
		{name: "one line, two patterns", kernel: true,
			script: `printf 'Internal error: Oops - BUG: 0 [#1] SMP\nlogin: '; sleep 30`,
			prompt: 0, kinds: []Kind{Oops}, text: "Internal error: Oops - BUG: 0 [#1] SMP"},
		{name: "panic ends the wait", kernel: true,
			script: `printf 'Kernel panic - not syncing: VFS\nCPU: 0\n---[ end Kernel panic - not syncing: VFS ]---\n'; sleep 30`,
			prompt: -1, kinds: []Kind{Panic}, fatal: true},
		{name: "panic then the output ends", kernel: true,
			script: `printf 'Kernel panic - not syncing: VFS\nCPU: 0\n'`,
			prompt: -1, err: connection.ErrClosed, kinds: []Kind{Panic}, fatal: true},
		{name: "panic then silence", kernel: true, timeout: 2 * time.Second,
			script: `printf 'Kernel panic - not syncing: VFS\n'; sleep 30`,
			prompt: -1, err: context.DeadlineExceeded, kinds: []Kind{Panic}, fatal: true},
		{name: "prompt cuts a trace short", kernel: true,
			script: `printf -- '-[ cut here ]-\nWARNING: x\nroot@x:~# '; sleep 30`,
			prompt: 1, kinds: []Kind{Warning}, text: "-[ cut here ]-\nWARNING\nroot@x:~#"},
		{name: "kernel messages ignored",
			script: `printf 'Oops: 1\nKernel panic - not syncing: x\nlogin: '; sleep 30`,
			prompt: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := console(t, tt.script)
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 20 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			var found []Kind
			w := &Watch{Kernel: tt.kernel, Prompts: []*regexp.Regexp{login, shell},
				Found: func(m Message) { found = append(found, m.Kind) }}
			out, err := w.Wait(ctx, s)
			if tt.err == nil && err != nil || tt.err != nil && !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if out.Prompt != tt.prompt {
				t.Errorf("prompt %d, want %d", out.Prompt, tt.prompt)
			}
			if !slices.Equal(kinds(out.Messages), tt.kinds) || !slices.Equal(found, tt.kinds) {
				t.Errorf("kinds %v (found %v), want %v", kinds(out.Messages), found, tt.kinds)
			}
			if (out.Fatal != nil) != tt.fatal {
				t.Errorf("fatal %v", out.Fatal)
			}
			if tt.text != "" && len(out.Messages) > 0 {
				if got := out.Messages[len(out.Messages)-1].Text; got != tt.text {
					t.Errorf("text %q, want %q", got, tt.text)
				}
			}
		})
	}
}
