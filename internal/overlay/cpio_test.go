package overlay

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// cpioMember is what unpacking an initramfs leaves at one path.
type cpioMember struct {
	mode     uint32
	uid, gid uint32
	data     string // a file's content, a symlink's target
}

// unpackInitramfs reads a ramdisk as the kernel does: each compressed
// part decompressed on its own (split tells where the first ends; the
// kernel finds it by decompressing), then one newc archive after
// another, zeros between them skipped, each header 4-byte aligned from
// the start of its part, later members replacing earlier ones.
func unpackInitramfs(t *testing.T, data []byte, split int) map[string]cpioMember {
	t.Helper()
	if bytes.HasPrefix(data, []byte("07070")) {
		return parseNewc(t, data, map[string]cpioMember{}, 2)
	}
	out := map[string]cpioMember{}
	parseNewc(t, decompressPart(t, data[:split]), out, 1)
	return parseNewc(t, decompressPart(t, data[split:]), out, 1)
}

func decompressPart(t *testing.T, data []byte) []byte {
	t.Helper()
	var r io.Reader = bytes.NewReader(data)
	switch {
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		zr.Multistream(false)
		r = zr
	case bytes.HasPrefix(data, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	case bytes.HasPrefix(data, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		zr, err := xz.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	default:
		t.Fatalf("unknown compression: % x", data[:min(6, len(data))])
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decompressing the ramdisk: %v", err)
	}
	return raw
}

// parseNewc reads the newc archives in raw into out; want is how many.
func parseNewc(t *testing.T, raw []byte, out map[string]cpioMember, want int) map[string]cpioMember {
	t.Helper()
	archives := 0
	for off := 0; off < len(raw); {
		if raw[off] == 0 {
			off++
			continue
		}
		if off%4 != 0 || off+110 > len(raw) || string(raw[off:off+6]) != "070701" {
			t.Fatalf("no newc header at %d (aligned %v): %q", off, off%4 == 0, raw[off:min(off+16, len(raw))])
		}
		field := func(i int) uint32 {
			v, err := strconv.ParseUint(string(raw[off+6+8*i:off+14+8*i]), 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			return uint32(v)
		}
		mode, uid, gid, size, namesize := field(1), field(2), field(3), field(6), field(11)
		nameAt := off + 110
		name := string(raw[nameAt : nameAt+int(namesize)-1])
		dataAt := (nameAt + int(namesize) + 3) &^ 3
		off = (dataAt + int(size) + 3) &^ 3
		if name == "TRAILER!!!" {
			archives++
			continue
		}
		out[name] = cpioMember{mode: mode, uid: uid, gid: gid, data: string(raw[dataAt : dataAt+int(size)])}
	}
	if archives != want {
		t.Errorf("%d archives in the part, want %d", archives, want)
	}
	return out
}

func TestAppendCpio(t *testing.T) {
	// The original ramdisk: one archive holding /init and /etc.
	var base bytes.Buffer
	cw := &cpioWriter{w: &base, dirs: map[string]bool{}}
	cw.entry(entry{path: "/etc", kind: 'd', perm: 0o755})
	cw.entry(entry{path: "/init", kind: 'f', perm: 0o755, size: 5, host: writeTemp(t, "init\n")})
	cw.entry(entry{path: "/etc/x", kind: 'f', perm: 0o644, size: 4, host: writeTemp(t, "old\n")})
	if err := cw.trailer(); err != nil {
		t.Fatal(err)
	}
	// Not a multiple of 4, as a hand-made ramdisk may be.
	plain := append(base.Bytes(), 0)

	tree := guestTree(t)
	modules := tarFile(t, "modules.tar", false,
		reg("lib/modules/6.1/x.ko", "module\n", 0o644, 0),
		reg("etc/x", "new\n", 0o600, 0),
		&tar.Header{Name: "etc/link", Typeflag: tar.TypeSymlink, Linkname: "x"})
	adds := []Addition{
		{Name: "ramdisk.lava", Dir: tree, Path: "/lava-42"},
		{Name: "ramdisk.modules", File: modules, Tar: true, Path: "/"},
	}
	for _, c := range []string{"", "gz", "xz", "zstd"} {
		t.Run("compression="+c, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "ramdisk")
			orig := compressBytes(t, c, plain)
			if err := os.WriteFile(img, orig, 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := AppendCpio(img, adds, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if res.Compression != c {
				t.Errorf("appended with compression %q, want %q", res.Compression, c)
			}
			data, _ := os.ReadFile(img)
			got := unpackInitramfs(t, data, len(orig))
			for name, want := range map[string]cpioMember{
				"init":                            {mode: 0o100755, data: "init\n"},
				"etc/x":                           {mode: 0o100600, data: "new\n"},
				"etc/link":                        {mode: 0o120777, data: "x"},
				"lib":                             {mode: 0o40755},
				"lib/modules/6.1/x.ko":            {mode: 0o100644, data: "module\n"},
				"lava-42":                         {mode: 0o40755},
				"lava-42/0/tests/0_smoke/run.sh":  {mode: 0o100644, data: "echo run\n"},
				"lava-42/0/lava-test-runner.conf": {mode: 0o100644, data: "/lava-42/0/tests/0_smoke\n"},
			} {
				if g, ok := got[name]; !ok || g != want {
					t.Errorf("%s = %+v (present %v), want %+v", name, g, ok, want)
				}
			}
			if g := got["lava-42/bin/lava-test-runner"]; g.mode != 0o100755 || !strings.HasPrefix(g.data, "#!") {
				t.Errorf("lava-test-runner: mode %o, data %.20q", g.mode, g.data)
			}
		})
	}
}

func TestAppendCpioRefused(t *testing.T) {
	for name, data := range map[string][]byte{
		"bzip2":    []byte("BZh91AY&SY"),
		"not cpio": []byte("hello world"),
	} {
		img := filepath.Join(t.TempDir(), "ramdisk")
		if err := os.WriteFile(img, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := AppendCpio(img, nil, t.TempDir())
		if pipeline.ClassOf(err) != pipeline.ClassJob {
			t.Errorf("%s: AppendCpio = %v, want a job error", name, err)
		}
		if after, _ := os.ReadFile(img); !bytes.Equal(after, data) {
			t.Errorf("%s: the ramdisk changed", name)
		}
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	writeTestFile(t, p, content)
	return p
}

func compressBytes(t *testing.T, c string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch c {
	case "":
		return data
	case "gz":
		w = gzip.NewWriter(&buf)
	case "xz":
		xw, err := xz.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w = xw
	case "zstd":
		zw, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w = zw
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
