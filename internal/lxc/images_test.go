package lxc

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/google/go-cmp/cmp"
)

func TestParseImageServer(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"", "", ""},
		{"images.example.org", "images.example.org", ""},
		{"127.0.0.1:8443", "127.0.0.1:8443", ""},
		{"127.0.0.1:8443/lxc/", "127.0.0.1:8443/lxc", ""},
		{"https://images.example.org:8443/lxc", "images.example.org:8443/lxc", ""},
		{"http://images.example.org", "", "https only"},
		{"https://user:pw@images.example.org", "", "no credentials"},
		{"https://images.example.org/?x=1", "", "no credentials, query"},
		{"-oops", "", "expected host"},
		{"host name", "", "expected host"},
		{"host;rm -rf /", "", "expected host"},
		{"host:99999999", "", "expected host"},
	} {
		got, err := ParseImageServer(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseImageServer(%q) = %q, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseImageServer(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestImageSourceCheck(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, []byte("x"), 0o644)
	for _, tc := range []struct {
		s   ImageSource
		err string
	}{
		{ImageSource{}, ""},
		{ImageSource{CAFile: ca, CacheDir: "/var/cache/x"}, ""},
		{ImageSource{CAFile: ca + ".missing"}, "--lxc-image-ca"},
		{ImageSource{CAFile: "a\nb"}, "newline"},
		{ImageSource{CacheDir: "relative"}, "absolute"},
	} {
		err := tc.s.Check()
		if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%+v.Check() = %v, want %q", tc.s, err, tc.err)
		}
	}
}

// TestCreateEnv: lxc-create gets the server after the template's own
// options, and the template's wget trusts the CA through WGETRC; the
// environment is checked as a child process sees it.
func TestCreateEnv(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, []byte("x"), 0o644)
	s := ImageSource{Server: "127.0.0.1:8443", CAFile: ca, CacheDir: "/srv/cache"}
	c := Config{Name: "c-1", Template: "download", Distribution: "busybox", Release: "1.35", Arch: "arm64"}
	wantArgs := []string{"-q", "-t", "download", "-n", "c-1", "-f", "/x.conf", "--", "--dist", "busybox", "--release", "1.35", "--arch", "arm64", "--server", "127.0.0.1:8443"}
	if diff := cmp.Diff(wantArgs, append(c.CreateArgs("/x.conf"), s.templateArgs()...)); diff != "" {
		t.Errorf("arguments (-want +got):\n%s", diff)
	}
	env, err := s.env(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"WGETRC=" + filepath.Join(dir, "wgetrc"), "LXC_CACHE_PATH=/srv/cache"}, env); diff != "" {
		t.Errorf("environment (-want +got):\n%s", diff)
	}
	rc, _ := os.ReadFile(filepath.Join(dir, "wgetrc"))
	if string(rc) != "ca_certificate = "+ca+"\n" {
		t.Errorf("wgetrc %q", rc)
	}
	// The environment reaches the program lxc-create would be.
	out, err := commandWithEnv(context.Background(), nil, env, "sh", "-c", `echo "$WGETRC $LXC_CACHE_PATH"`)
	if err != nil || out != env[0][len("WGETRC="):]+" /srv/cache" {
		t.Errorf("the program saw %q, %v", out, err)
	}
	// Other templates get neither.
	if env, _ := (ImageSource{}).env(t.TempDir()); len(env) != 0 {
		t.Errorf("an empty source sets %v", env)
	}
}

func TestCheckArch(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the cases are written for an x86_64 host")
	}
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "status"), []byte("enabled\n"), 0o644)
	noF := t.TempDir()
	os.WriteFile(filepath.Join(noF, "status"), []byte("enabled\n"), 0o644)
	os.WriteFile(filepath.Join(noF, "qemu-aarch64"), []byte("enabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: \noffset 0\n"+
		"magic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n"), 0o644)
	withF := t.TempDir()
	os.WriteFile(filepath.Join(withF, "status"), []byte("enabled\n"), 0o644)
	os.WriteFile(filepath.Join(withF, "qemu-aarch64"), []byte("enabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: F\noffset 0\n"+
		"magic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n"), 0o644)
	// busybox copies the host's own: whatever arch says, nothing to check.
	if note, err := CheckArch(Config{Template: "busybox", Arch: "arm64"}, empty); note != "" || err != nil {
		t.Errorf("CheckArch(busybox, arm64) = %q, %v", note, err)
	}
	for _, tc := range []struct {
		arch, dir, note, err string
	}{
		{"", empty, "", ""},
		{"amd64", empty, "", ""},
		{"i386", empty, "", ""},
		{"pdp11", empty, "not one Basalt knows", ""},
		{"arm64", empty, "", "no binfmt_misc handler for aarch64"},
		{"arm64", noF, "", "has no F flag"},
		{"arm64", withF, "through binfmt_misc's qemu-aarch64 (/usr/bin/qemu-aarch64-static)", ""},
		{"arm64", filepath.Join(empty, "nowhere"), "", "binfmt_misc is not mounted"},
	} {
		note, err := CheckArch(Config{Template: "download", Arch: tc.arch}, tc.dir)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("CheckArch(%s) = %q, %v; want an error with %q", tc.arch, note, err, tc.err)
			}
			continue
		}
		if err != nil || !strings.Contains(note, tc.note) || (tc.note == "") != (note == "") {
			t.Errorf("CheckArch(%s) = %q, %v; want %q", tc.arch, note, err, tc.note)
		}
	}
}

// TestConfigure: the front end's source reaches the job's protocol (the
// one the deploy later uses), and a job without lava-lxc is untouched.
func TestConfigure(t *testing.T) {
	s := ImageSource{Server: "127.0.0.1:8443", CacheDir: "/srv/cache"}
	j := &pipeline.Job{ID: "7", Params: block(t, "protocols:\n  lava-lxc:\n    name: c\n    template: download\n    distribution: busybox\n    release: '1.35'\n    arch: arm64\n")}
	s.Configure(j)
	p, err := Of(j)
	if err != nil {
		t.Fatal(err)
	}
	if p.Images != s || p.Config.Name != "c-7" || len(j.Protocols) != 1 {
		t.Errorf("protocol %+v after Configure, %d protocols", p, len(j.Protocols))
	}
	plain := &pipeline.Job{ID: "8", Params: block(t, "job_name: x\n")}
	s.Configure(plain)
	if len(plain.Protocols) != 0 {
		t.Errorf("a job without lava-lxc got %d protocols", len(plain.Protocols))
	}
}

func TestMissingInit(t *testing.T) {
	lxcPath := t.TempDir()
	mk := func(name, config string, files ...string) {
		root := filepath.Join(lxcPath, name, "rootfs")
		os.MkdirAll(root, 0o755)
		os.WriteFile(filepath.Join(lxcPath, name, "config"), []byte(config), 0o644)
		for _, f := range files {
			os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o755)
			os.Symlink("/bin/busybox", filepath.Join(root, f)) // dangling outside: Lstat sees it
		}
	}
	mk("ok", "lxc.arch = aarch64\n", "sbin/init")
	mk("noinit", "lxc.arch = aarch64\n")
	mk("cmd", "lxc.init.cmd = /does/not/exist --flag\n", "sbin/init")
	mk("cmd-ok", "lxc.init.cmd = /bin/sh\n", "bin/sh")
	for name, want := range map[string]string{"ok": "", "noinit": "/sbin/init", "cmd": "/does/not/exist", "cmd-ok": "", "absent": ""} {
		if got := MissingInit(lxcPath, name); got != want {
			t.Errorf("MissingInit(%s) = %q, want %q", name, got, want)
		}
	}
}
