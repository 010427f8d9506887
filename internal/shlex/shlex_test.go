package shlex

import (
	"slices"
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   ", nil},
		{"-m 256", []string{"-m", "256"}},
		{"  -m   256  ", []string{"-m", "256"}},
		{"-net nic,model=virtio,macaddr=52:54:00:12:34:59 -net user",
			[]string{"-net", "nic,model=virtio,macaddr=52:54:00:12:34:59", "-net", "user"}},
		// LAVA's qemu-nfs append and the usual image_arg quoting.
		{`--append "console=ttyS0 root=/dev/nfs rw"`, []string{"--append", "console=ttyS0 root=/dev/nfs rw"}},
		{`-append 'console=ttyS0,115200 rdinit=/sbin/init'`, []string{"-append", "console=ttyS0,115200 rdinit=/sbin/init"}},
		// Quotes join with what touches them, as in a shell.
		{`file="a b"c`, []string{"file=a bc"}},
		{`'a'"b"c`, []string{"abc"}},
		{`a\ b`, []string{"a b"}},
		{`"a\b"`, []string{`a\b`}}, // no escapes inside quotes (pexpect)
		{`'$HOME' $HOME`, []string{"$HOME", "$HOME"}},
		{"`id` $(id) ; | &", []string{"`id`", "$(id)", ";", "|", "&"}},
		{`'' x ""`, []string{"", "x", ""}},
		{"a\tb\nc", []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		got, err := Split(tt.in)
		if err != nil {
			t.Errorf("Split(%q): %v", tt.in, err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Split(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSplitErrors(t *testing.T) {
	for _, in := range []string{`"abc`, `a 'b`, `x\`} {
		if got, err := Split(in); err == nil {
			t.Errorf("Split(%q) = %q, want an error", in, got)
		} else if !strings.Contains(err.Error(), in) {
			t.Errorf("Split(%q): error %q does not name the input", in, err)
		}
	}
}

func TestJoinRoundTrip(t *testing.T) {
	for _, args := range [][]string{
		{"qemu-system-x86_64", "-m", "256"},
		{"-drive", "file=/tmp/a b/c.img,format=raw"},
		{"it's", `"q"`, "", `back\slash`, "$x", "tab\there"},
	} {
		line := Join(args)
		got, err := Split(line)
		if err != nil || !slices.Equal(got, args) {
			t.Errorf("Split(Join(%q)) = %q, %v (line %s)", args, got, err, line)
		}
	}
	if got := Join([]string{"-m", "256", "a b"}); got != "-m 256 'a b'" {
		t.Errorf("Join quoted more than needed: %s", got)
	}
}

func FuzzJoinSplit(f *testing.F) {
	f.Add("a", "b c", "'")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		args := []string{a, b, c}
		got, err := Split(Join(args))
		if err != nil || !slices.Equal(got, args) {
			t.Fatalf("Split(Join(%q)) = %q, %v", args, got, err)
		}
	})
}
