package overlay

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/download"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/google/go-cmp/cmp"
)

// member is one entry of a test tarball.
type member struct {
	name, body, link string
	typ              byte
	mode             int64
}

func makeTar(t *testing.T, gz bool, members ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.Writer = &buf
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		w = zw
	}
	tw := tar.NewWriter(w)
	for _, m := range members {
		h := &tar.Header{Name: m.name, Typeflag: m.typ, Mode: m.mode, Linkname: m.link, Size: int64(len(m.body))}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write([]byte(m.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestExtractTar(t *testing.T) {
	for _, gz := range []bool{false, true} {
		dest := filepath.Join(t.TempDir(), "0_tests")
		data := makeTar(t, gz,
			member{name: "./", typ: tar.TypeDir, mode: 0o755},
			member{name: "./defs/", typ: tar.TypeDir, mode: 0o755},
			member{name: "./defs/smoke.yaml", body: "metadata: {name: smoke}\n"},
			member{name: "run-me.sh", body: "#!/bin/sh\n", mode: 0o4755},
			member{name: "nested/deep/file", body: "x"},
			member{name: "defs/alias.yaml", typ: tar.TypeSymlink, link: "smoke.yaml"},
			member{name: "hard", typ: tar.TypeLink, link: "defs/smoke.yaml"},
			member{name: "abs-link", typ: tar.TypeSymlink, link: "/etc/passwd"},
		)
		if err := ExtractTar(bytes.NewReader(data), dest); err != nil {
			t.Fatalf("ExtractTar(gzip %v): %v", gz, err)
		}
		checkFile(t, filepath.Join(dest, "defs", "alias.yaml"), "metadata: {name: smoke}\n")
		checkFile(t, filepath.Join(dest, "hard"), "metadata: {name: smoke}\n")
		checkFile(t, filepath.Join(dest, "nested", "deep", "file"), "x")
		fi, err := os.Stat(filepath.Join(dest, "run-me.sh"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != 0o755 {
			t.Errorf("run-me.sh mode %v, want 0755 (no set-uid)", fi.Mode())
		}
		if _, err := LoadTestDef(dest, "defs/smoke.yaml"); err != nil {
			t.Errorf("LoadTestDef: %v", err)
		}
	}
}

// TestExtractTarEscapes feeds archives that try to write outside the
// destination: every one is refused as the job's error and nothing lands
// outside.
func TestExtractTarEscapes(t *testing.T) {
	tests := []struct {
		name    string
		members []member
		// harmless: unpacked, but nothing goes outside
		harmless bool
	}{
		{"dot-dot", []member{{name: "../evil", body: "x"}}, false},
		{"deep dot-dot", []member{{name: "a/../../evil", body: "x"}}, false},
		{"absolute", []member{{name: "/tmp/evil", body: "x"}}, false},
		{"through symlink", []member{{name: "out", typ: tar.TypeSymlink, link: ".."}, {name: "out/evil", body: "x"}}, false},
		{"through absolute symlink", []member{{name: "out", typ: tar.TypeSymlink, link: "OUTSIDE"}, {name: "out/evil", body: "x"}}, false},
		{"file over a symlink", []member{{name: "f", typ: tar.TypeSymlink, link: "OUTSIDE/evil"}, {name: "f", body: "x"}}, true},
		{"dot-dot that stays inside", []member{{name: "f", typ: tar.TypeSymlink, link: "OUTSIDE/evil"}, {name: "f/../g", body: "x"}}, true},
		{"hard link out", []member{{name: "h", typ: tar.TypeLink, link: "../../etc/passwd"}}, false},
		{"device", []member{{name: "dev", typ: tar.TypeChar}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			outside := filepath.Join(base, "outside")
			if err := os.Mkdir(outside, 0o755); err != nil {
				t.Fatal(err)
			}
			ms := make([]member, len(tt.members))
			for i, m := range tt.members {
				m.link = strings.ReplaceAll(m.link, "OUTSIDE", outside)
				ms[i] = m
			}
			dest := filepath.Join(base, "dest", "inner")
			err := ExtractTar(bytes.NewReader(makeTar(t, false, ms...)), dest)
			if tt.harmless {
				if err != nil {
					t.Errorf("ExtractTar = %v, want it unpacked", err)
				}
			} else if pipeline.ClassOf(err) != pipeline.ClassJob {
				t.Errorf("ExtractTar = %v (class %s), want a job error", err, pipeline.ClassOf(err))
			}
			t.Logf("error: %v", err)
			var found []string
			_ = filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
				if err == nil && d.Name() == "evil" && d.Type().IsRegular() {
					found = append(found, p)
				}
				return nil
			})
			if len(found) > 0 {
				t.Errorf("files written: %v", found)
			}
		})
	}
}

func TestExtractTarBroken(t *testing.T) {
	for name, data := range map[string][]byte{
		"not a tar": []byte("metadata: {name: x}\n"),
		"bad gzip":  {0x1f, 0x8b, 0, 0, 0},
		"bad xz":    {0xfd, '7', 'z', 'X', 'Z', 0, 1, 2},
		"bad zstd":  {0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3},
		"truncated": makeTar(t, false, member{name: "a", body: strings.Repeat("x", 2000)})[:1000],
	} {
		err := ExtractTar(bytes.NewReader(data), t.TempDir())
		if pipeline.ClassOf(err) != pipeline.ClassJob {
			t.Errorf("%s: ExtractTar = %v (class %s), want a job error", name, err, pipeline.ClassOf(err))
		}
	}
}

// TestExtractTarCompressions unpacks a test repository tarball in every
// compression a url definition comes in (TuxRun's is zstd).
func TestExtractTarCompressions(t *testing.T) {
	plain := makeTar(t, false, member{name: "automated/linux/smoke/smoke.yaml", body: "metadata: {name: smoke}\n"})
	for _, c := range []string{"", "gz", "xz", "zstd"} {
		dest := t.TempDir()
		if err := ExtractTar(bytes.NewReader(compressBytes(t, c, plain)), dest); err != nil {
			t.Errorf("%q: ExtractTar = %v", c, err)
			continue
		}
		if got, err := os.ReadFile(filepath.Join(dest, "automated/linux/smoke/smoke.yaml")); err != nil || string(got) != "metadata: {name: smoke}\n" {
			t.Errorf("%q: smoke.yaml = %q, %v", c, got, err)
		}
	}
}

func TestCompress(t *testing.T) {
	base := t.TempDir()
	tree := mkdir(t, base, "lava-42")
	mkdir(t, tree, "bin")
	if _, err := WriteScripts(filepath.Join(tree, "bin"), ScriptConfig{Shell: "/bin/sh"}); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(tree, "environment"), "export A=1\n")
	if err := os.Symlink("bin/lava-test-runner", filepath.Join(tree, "runner")); err != nil {
		t.Fatal(err)
	}
	root := mkdir(t, base, "root", ".ssh")
	writeTestFile(t, filepath.Join(root, "authorized_keys"), "ssh-ed25519 AAAA\n")
	out := filepath.Join(base, "overlay-1.1.3.tar.gz")
	if err := Compress(out, tree, "lava-42", filepath.Join(base, "root")); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	got := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "root" {
			t.Errorf("%s belongs to %d:%d %s, want root", h.Name, h.Uid, h.Gid, h.Uname)
		}
		got[h.Name] = string(h.Typeflag) + " " + os.FileMode(h.Mode).Perm().String() + " " + h.Linkname
	}
	var names []string
	for n := range got {
		names = append(names, n)
	}
	sort.Strings(names)
	want := []string{"./root/", "./root/.ssh/", "./root/.ssh/authorized_keys", "lava-42/", "lava-42/bin/"}
	for _, n := range ScriptNames("") {
		want = append(want, "lava-42/bin/"+n)
	}
	want = append(want, "lava-42/environment", "lava-42/runner")
	sort.Strings(want)
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
	for name, w := range map[string]string{
		"lava-42/bin/lava-test-case": "0 -rwxr-xr-x ",
		"lava-42/environment":        "0 -rw-r--r-- ",
		"lava-42/runner":             "2 -rwxrwxrwx bin/lava-test-runner",
	} {
		if got[name] != w {
			t.Errorf("%s: %q, want %q", name, got[name], w)
		}
	}
	// What the tarball holds unpacks again with our own extractor.
	f2, _ := os.Open(out)
	defer f2.Close()
	again := t.TempDir()
	if err := ExtractTar(f2, again); err != nil {
		t.Fatalf("ExtractTar of our own overlay: %v", err)
	}
	checkFile(t, filepath.Join(again, "lava-42", "environment"), "export A=1\n")
}

// TestExtractTarLimits: a test archive of many empty files (zstd makes
// 2,000 of them some KB) or of large files stops at the job's limits
// with a Job error naming the flag, before writing past them.
func TestExtractTarLimits(t *testing.T) {
	var many []member
	for i := range 2000 {
		many = append(many, member{name: "d/f" + strconv.Itoa(i)})
	}
	big := makeTar(t, false, member{name: "a", body: strings.Repeat("x", 4096)}, member{name: "b", body: strings.Repeat("y", 4096)})
	for _, c := range []struct {
		name string
		data []byte
		lim  download.Limits
		flag string
		max  int
	}{
		{"entries", compressBytes(t, "zstd", makeTar(t, false, many...)), download.Limits{MaxEntries: 1000}, download.FlagMaxEntries, 1000},
		{"bytes", big, download.Limits{MaxImage: 6000}, download.FlagMaxImage, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			dest := t.TempDir()
			err := ExtractTarWithin(bytes.NewReader(c.data), dest, c.lim)
			var le *download.LimitError
			if pipeline.ClassOf(err) != pipeline.ClassJob || !errors.As(err, &le) || !strings.Contains(err.Error(), c.flag) {
				t.Fatalf("ExtractTarWithin = %v (class %s), want a Job error naming %s", err, pipeline.ClassOf(err), c.flag)
			}
			n := 0
			_ = filepath.WalkDir(dest, func(_ string, d fs.DirEntry, _ error) error {
				if d != nil && d.Type().IsRegular() {
					n++
				}
				return nil
			})
			if n > c.max {
				t.Errorf("unpacked %d files, want at most %d", n, c.max)
			}
			// The defaults take the same archive.
			if err := ExtractTar(bytes.NewReader(c.data), t.TempDir()); err != nil {
				t.Errorf("ExtractTar with the default limits: %v", err)
			}
		})
	}
}

// bombTar is a zstd tar whose one member says it holds 2 GiB and carries
// 4 MiB of zeros before the stream ends: some KB to send.
func bombTar(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "big", Typeflag: tar.TypeReg, Mode: 0o644, Size: 2 << 30}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(make([]byte, 4<<20)); err != nil {
		t.Fatal(err)
	}
	return compressBytes(t, "zstd", buf.Bytes())
}

// TestArchiveBombs: a test archive (url, tar) and an overlay appended to
// an image (append-overlays) that would unpack to more than MaxExtract
// are refused at the member's header, before anything is written.
func TestArchiveBombs(t *testing.T) {
	data := bombTar(t)
	dest := t.TempDir()
	err := ExtractTar(bytes.NewReader(data), dest)
	if pipeline.ClassOf(err) != pipeline.ClassJob || !strings.Contains(err.Error(), "more than 1024 MB") {
		t.Errorf("ExtractTar = %v, want a Job error naming the limit", err)
	}
	if st, err := os.Stat(filepath.Join(dest, "big")); err == nil {
		t.Errorf("wrote %d bytes of the bomb", st.Size())
	}
	f := filepath.Join(t.TempDir(), "bomb.tar.zst")
	writeTestFile(t, f, string(data))
	scratch := t.TempDir()
	_, err = stage([]Addition{{Name: "rootfs.bomb", File: f, Tar: true, Path: "/"}}, scratch)
	if pipeline.ClassOf(err) != pipeline.ClassJob || !strings.Contains(err.Error(), "more than 1024 MB") {
		t.Errorf("stage = %v, want a Job error naming the limit", err)
	}
	if left, _ := os.ReadDir(scratch); len(left) != 0 {
		t.Errorf("staged %d files of the bomb", len(left))
	}
}
