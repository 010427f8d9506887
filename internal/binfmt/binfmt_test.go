package binfmt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Entries as Linux 6.x prints them for Debian's qemu-user-static
// handlers (registered from /usr/lib/binfmt.d/qemu-*.conf).
const (
	aarch64Entry = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POCF\noffset 0\n" +
		"magic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n"
	s390xEntry = "disabled\ninterpreter /usr/libexec/qemu-binfmt/s390x-binfmt-P\nflags: POC\noffset 0\n" +
		"magic 7f454c4602020100000000000000000000020016\nmask ffffffffffffff00fffffffffffffffffffeffff\n"
	pythonEntry = "enabled\ninterpreter /usr/bin/python3.11\nflags: \noffset 0\nmagic a70d0d0a\n"
)

func fakeDir(t *testing.T, status string, entries map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if status != "" {
		if err := os.WriteFile(filepath.Join(dir, "status"), []byte(status+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "register"), nil, 0o200)
	}
	for n, e := range entries {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(e), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFor(t *testing.T) {
	all := map[string]string{"qemu-aarch64": aarch64Entry, "qemu-s390x": s390xEntry, "python3.11": pythonEntry}
	for _, tc := range []struct {
		name, status string
		entries      map[string]string
		arch         string
		handler      string // the handler found, or
		err          string // the error's text
	}{
		{"aarch64 found", "enabled", all, "arm64", "qemu-aarch64", ""},
		{"kernel name", "enabled", all, "aarch64", "qemu-aarch64", ""},
		{"no handler", "enabled", all, "riscv64", "", "no binfmt_misc handler for riscv64 executables is registered"},
		{"arm is not aarch64", "enabled", map[string]string{"qemu-aarch64": aarch64Entry}, "armhf", "", "no binfmt_misc handler for arm"},
		{"handler disabled", "enabled", all, "s390x", "", "the binfmt_misc handler qemu-s390x for s390x is disabled"},
		{"binfmt disabled", "disabled", all, "arm64", "", "binfmt_misc is disabled"},
		{"not mounted", "", nil, "arm64", "", "binfmt_misc is not mounted"},
		{"empty", "enabled", nil, "arm64", "", "install qemu-user-static"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := fakeDir(t, tc.status, tc.entries)
			a, ok := Lookup(tc.arch)
			if !ok {
				t.Fatalf("Lookup(%q) failed", tc.arch)
			}
			h, err := For(dir, a)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("For(%s) = %+v, %v; want an error with %q", tc.arch, h, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Name != tc.handler || !h.FixBinary() || h.Interpreter != "/usr/libexec/qemu-binfmt/aarch64-binfmt-P" {
				t.Errorf("For(%s) = %+v, want %s with the F flag", tc.arch, h, tc.handler)
			}
		})
	}
}

func TestLookupAndNative(t *testing.T) {
	if _, ok := Lookup("pdp11"); ok {
		t.Error("Lookup(pdp11) succeeded")
	}
	if !Native(Host()) {
		t.Error("the host's own architecture is not native")
	}
	a, _ := Lookup("s390x")
	if Host().Name != "s390x" && Native(a) {
		t.Error("s390x is native on", Host().Name)
	}
}

// TestHeaderMatchesDebianMasks: the ELF header built for each
// architecture is what Debian's handler for it claims (the magic and
// mask of /usr/lib/binfmt.d/qemu-*.conf, when qemu-user-static is
// installed), both for static (ET_EXEC) and static-pie (ET_DYN) programs.
func TestHeaderMatchesDebianMasks(t *testing.T) {
	confs, _ := filepath.Glob("/usr/lib/binfmt.d/qemu-*.conf")
	if len(confs) == 0 {
		t.Skip("qemu-user-static is not installed (/usr/lib/binfmt.d/qemu-*.conf)")
	}
	for name, want := range map[string]string{"arm64": "qemu-aarch64", "armhf": "qemu-arm", "s390x": "qemu-s390x",
		"ppc64el": "qemu-ppc64le", "riscv64": "qemu-riscv64", "i386": "qemu-i386", "mips64el": "qemu-mips64el"} {
		if _, err := os.Stat("/usr/lib/binfmt.d/" + want + ".conf"); err != nil {
			continue // none for the host's own architectures
		}
		a, _ := Lookup(name)
		var found []string
		for _, c := range confs {
			b, err := os.ReadFile(c)
			if err != nil {
				t.Fatal(err)
			}
			h := fromConf(t, string(b))
			if h.matches(a.header(2)) && h.matches(a.header(3)) {
				found = append(found, h.Name)
			}
		}
		if len(found) != 1 || found[0] != want {
			t.Errorf("%s: matched by %v, want only %s", name, found, want)
		}
	}
}

// fromConf reads a binfmt.d line (:name:M:offset:magic:mask:interp:flags
// with \xNN escapes) the way the kernel registers it.
func fromConf(t *testing.T, line string) Handler {
	t.Helper()
	f := strings.Split(strings.TrimSpace(line), ":")
	if len(f) != 8 {
		t.Fatalf("odd binfmt.d line %q", line)
	}
	unescape := func(s string) []byte {
		var out []byte
		for i := 0; i < len(s); i++ {
			if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
				var v byte
				for _, c := range s[i+2 : i+4] {
					v <<= 4
					switch {
					case c >= '0' && c <= '9':
						v |= byte(c - '0')
					case c >= 'a' && c <= 'f':
						v |= byte(c - 'a' + 10)
					case c >= 'A' && c <= 'F':
						v |= byte(c - 'A' + 10)
					}
				}
				out = append(out, v)
				i += 3
				continue
			}
			out = append(out, s[i])
		}
		return out
	}
	return Handler{Name: f[1], Enabled: true, Interpreter: f[6], Flags: f[7], magic: unescape(f[4]), mask: unescape(f[5])}
}

// TestRealHost reads this machine's binfmt_misc: the entries parse, and
// when a handler for aarch64 is registered it is found.
func TestRealHost(t *testing.T) {
	hs, _, err := Handlers("")
	if err != nil {
		t.Skipf("binfmt_misc: %v", err)
	}
	for _, h := range hs {
		if h.Enabled && strings.Contains(h.Name, "aarch64") {
			a, _ := Lookup("arm64")
			if got, err := For("", a); err != nil || got.Name != h.Name {
				t.Errorf("For(arm64) = %+v, %v; want %s", got, err, h.Name)
			}
		}
	}
}
