package download_test

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/download"
	"github.com/basalt-lava/basalt/internal/pipeline"
)

// entry is one member of a test archive.
type entry struct {
	name, body, link string
	kind             byte
}

func file(name, body string) entry   { return entry{name: name, body: body, kind: tar.TypeReg} }
func dir(name string) entry          { return entry{name: name, kind: tar.TypeDir} }
func symlink(name, to string) entry  { return entry{name: name, link: to, kind: tar.TypeSymlink} }
func hardlink(name, to string) entry { return entry{name: name, link: to, kind: tar.TypeLink} }

func tarball(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.kind, Mode: 0o644, Size: int64(len(e.body))}
		if e.kind == tar.TypeDir {
			h.Mode = 0o755
		}
		if err := w.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestUntarGood(t *testing.T) {
	t.Parallel()
	good := []entry{
		dir("./"), dir("tests/"), file("tests/smoke.yaml", "metadata: {name: smoke}\n"),
		symlink("tests/link.yaml", "smoke.yaml"), symlink("top.yaml", "tests/smoke.yaml"),
		symlink("tests/up", "../top.yaml"), hardlink("tests/hard.yaml", "tests/smoke.yaml"),
		file("deep/er/file", "x"), file("tests/smoke.yaml", "metadata: {name: smoke2}\n"),
		{name: "fifo", kind: tar.TypeFifo},
	}
	plain := tarball(t, good...)
	for _, tc := range []struct {
		name, compression string
		data              []byte
	}{
		{"plain", "", plain},
		{"gz detected", "", gz(t, plain)},
		{"xz detected", "", xzData(t, plain)},
		{"zstd detected", "", zstdData(t, plain)},
		{"gz decompressed first", "gz", gz(t, plain)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := filepath.Join(t.TempDir(), "tests.tar.gz")
			if err := os.WriteFile(src, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			into := filepath.Join(out, "url_repo")
			res, err := download.Fetch(context.Background(), download.Request{
				URL: "file://" + src, Dir: out, Compression: tc.compression, Archive: "tar", ArchiveDir: into,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Path != into {
				t.Errorf("Path %q, want %q", res.Path, into)
			}
			for p, want := range map[string]string{
				"tests/smoke.yaml": "metadata: {name: smoke2}\n", "tests/link.yaml": "metadata: {name: smoke2}\n",
				"top.yaml": "metadata: {name: smoke2}\n", "tests/up": "metadata: {name: smoke2}\n",
				"tests/hard.yaml": "metadata: {name: smoke}\n", "deep/er/file": "x",
			} {
				got, err := os.ReadFile(filepath.Join(into, p))
				if err != nil || string(got) != want {
					t.Errorf("%s = %q, %v; want %q", p, got, err, want)
				}
			}
			if _, err := os.Lstat(filepath.Join(into, "fifo")); !os.IsNotExist(err) {
				t.Errorf("a fifo was created: %v", err)
			}
		})
	}
}

func TestUntarRejectsEscapes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		entries []entry
		msg     string
	}{
		{"dot-dot", []entry{file("../evil", "x")}, `"../evil"`},
		{"dot-dot inside", []entry{file("a/../../evil", "x")}, "path traversal"},
		{"absolute", []entry{file("/tmp/evil", "x")}, "absolute name"},
		{"absolute symlink", []entry{symlink("etc", "/etc")}, `link "etc" points to "/etc"`},
		{"climbing symlink", []entry{symlink("a/b", "../../evil")}, "path traversal"},
		{"file below a symlink", []entry{dir("sub/"), symlink("l", "sub"), file("l/evil", "x")}, `below the link "l"`},
		{"symlink below a symlink", []entry{symlink("l", "."), symlink("l/m", "..")}, `below the link "l"`},
		{"climbing hard link", []entry{hardlink("h", "../evil")}, "path traversal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := t.TempDir()
			src := filepath.Join(base, "a.tar")
			if err := os.WriteFile(src, tarball(t, tc.entries...), 0o644); err != nil {
				t.Fatal(err)
			}
			into := filepath.Join(base, "out", "x")
			err := download.UntarFile(src, into, nil)
			if err == nil || pipeline.ClassOf(err) != pipeline.ClassJob || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v (%s), want a Job error saying %s", err, pipeline.ClassOf(err), tc.msg)
			}
			for _, p := range []string{filepath.Join(base, "evil"), filepath.Join(base, "out", "evil")} {
				if _, err := os.Lstat(p); !os.IsNotExist(err) {
					t.Errorf("%s exists after a refused archive", p)
				}
			}
		})
	}
}

func TestUntarCorrupt(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	data := tarball(t, file("a", strings.Repeat("x", 5000)))
	for name, b := range map[string][]byte{
		"truncated.tar":  data[:1000],
		"corrupt.tar.gz": corrupt(gz(t, data)),
		"not-a-tar":      []byte(strings.Repeat("hello", 200)),
	} {
		src := filepath.Join(base, name)
		if err := os.WriteFile(src, b, 0o644); err != nil {
			t.Fatal(err)
		}
		err := download.UntarFile(src, filepath.Join(base, name+".d"), nil)
		if err == nil || pipeline.ClassOf(err) != pipeline.ClassJob || !strings.Contains(err.Error(), "unable to unpack "+src) {
			t.Errorf("%s: err = %v (%s), want a Job error naming the file", name, err, pipeline.ClassOf(err))
		}
	}
}

// TestUntarRootfs checks what an NFS root's archive may hold and what it
// still may not: links keep their targets (absolute, climbing), yet
// nothing is written outside the folder, nor through a link, and device
// nodes are not made.
func TestUntarRootfs(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	good := []entry{
		dir("./"), dir("bin/"), file("bin/busybox", "elf"), symlink("bin/sh", "/bin/busybox"),
		symlink("lib", "usr/lib"), symlink("up", "../../../.."), symlink("escape", outside),
		{name: "dev/console", kind: tar.TypeChar}, {name: "dev/sda", kind: tar.TypeBlock},
	}
	src := filepath.Join(base, "root.tar")
	if err := os.WriteFile(src, tarball(t, good...), 0o644); err != nil {
		t.Fatal(err)
	}
	into := filepath.Join(base, "nfsroot")
	if err := download.UntarRootfs(src, into, nil, download.Limits{}); err != nil {
		t.Fatalf("UntarRootfs: %v", err)
	}
	for name, want := range map[string]string{"bin/sh": "/bin/busybox", "lib": "usr/lib", "up": "../../../..", "escape": outside} {
		if got, err := os.Readlink(filepath.Join(into, name)); err != nil || got != want {
			t.Errorf("link %s = %q, %v; want %q", name, got, err, want)
		}
	}
	for _, dev := range []string{"dev/console", "dev/sda"} {
		if _, err := os.Lstat(filepath.Join(into, dev)); !os.IsNotExist(err) {
			t.Errorf("device node %s was made: %v", dev, err)
		}
	}
	for _, tc := range []struct {
		name    string
		entries []entry
		msg     string
	}{
		{"write through an absolute link", []entry{symlink("escape", outside), file("escape/evil", "x")}, `below the link "escape"`},
		{"write through a climbing link", []entry{symlink("up", ".."), file("up/evil", "x")}, `below the link "up"`},
		{"dot-dot", []entry{file("../evil", "x")}, "path traversal"},
		{"absolute name", []entry{file(filepath.Join(outside, "evil"), "x")}, "absolute name"},
		{"hard link outside", []entry{hardlink("h", "../outside/evil")}, "path traversal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "bad.tar")
			if err := os.WriteFile(src, tarball(t, tc.entries...), 0o644); err != nil {
				t.Fatal(err)
			}
			err := download.UntarRootfs(src, filepath.Join(t.TempDir(), "root"), nil, download.Limits{})
			if err == nil || pipeline.ClassOf(err) != pipeline.ClassJob || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v (%s), want a Job error saying %s", err, pipeline.ClassOf(err), tc.msg)
			}
			if _, err := os.Lstat(filepath.Join(outside, "evil")); !os.IsNotExist(err) {
				t.Errorf("%s/evil written", outside)
			}
		})
	}
	// A hard link to a link that points out of the folder links the link,
	// never the host file it names (which the device could then write).
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	hl := filepath.Join(base, "hl.tar")
	if err := os.WriteFile(hl, tarball(t, symlink("s", victim), hardlink("h", "s")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := download.UntarRootfs(hl, filepath.Join(base, "hlroot"), nil, download.Limits{}); err != nil {
		t.Fatalf("hard link to a link: %v", err)
	}
	st, err := os.Lstat(filepath.Join(base, "hlroot", "h"))
	vs, _ := os.Stat(victim)
	if err != nil || st.Mode()&os.ModeSymlink == 0 || os.SameFile(st, vs) {
		t.Errorf("h = %v, %v: want a link, not the host file %s", st, err, victim)
	}
	// The limits hold: two entries against a limit of one.
	err = download.UntarRootfs(src, filepath.Join(base, "limited"), nil, download.Limits{MaxEntries: 1})
	if err == nil || !strings.Contains(err.Error(), "entries") {
		t.Errorf("MaxEntries 1: err = %v, want the limit named", err)
	}
}
