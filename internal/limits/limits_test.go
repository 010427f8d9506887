package limits

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// finishes fails the test when fn has not returned after limit, so a
// read that blocks (a named pipe) fails instead of hanging CI.
func finishes(t *testing.T, limit time.Duration, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("still running after %s", limit)
	}
}

func TestReadRefusesWhatIsNotARegularFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "job.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "zero.yaml")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	f := File{What: "job definition", Max: 1 << 20, Flag: JobSizeFlag}
	for _, tt := range []struct{ path, want string }{
		{fifo, "job.yaml: the job definition is a named pipe, not a regular file"},
		{"/dev/zero", "/dev/zero: the job definition is a character device, not a regular file"},
		{link, "zero.yaml: the job definition is a character device, not a regular file"},
		{dir, ": the job definition is a folder, not a regular file"},
	} {
		var err error
		finishes(t, 10*time.Second, func() { _, err = f.Read(tt.path) })
		if err == nil || !strings.HasSuffix(err.Error(), tt.want) || !IsNotRegular(err) {
			t.Errorf("Read(%s) = %v, want a *NotRegularError ending %q", tt.path, err, tt.want)
		}
	}
}

func TestReadInRefusesAPipeWithoutBlocking(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "t.yaml"), 0o600); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	finishes(t, 10*time.Second, func() { _, err = File{What: "test definition", Max: 10}.ReadIn(root, "t.yaml") })
	if !IsNotRegular(err) {
		t.Errorf("ReadIn(pipe) = %v, want a *NotRegularError", err)
	}
}

func TestReadBoundsTheSize(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(path, []byte(strings.Repeat("x", 2049)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := File{What: "job definition", Max: 2048, Flag: JobSizeFlag}.Read(path)
	want := path + ": the job definition is over the limit of 2K bytes (--max-job-size changes it)"
	var le *Error
	if err == nil || err.Error() != want || !errors.As(err, &le) {
		t.Errorf("Read(2049 bytes) = %v, want %q", err, want)
	}
	data, err := File{What: "job definition", Max: 2049}.Read(path)
	if err != nil || len(data) != 2049 {
		t.Errorf("Read at the limit = %d bytes, %v", len(data), err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	_, err = File{What: "test definition", Max: 100}.ReadIn(root, "job.yaml")
	if want := "job.yaml: the test definition is over the limit of 100 bytes (a fixed limit)"; err == nil || err.Error() != want {
		t.Errorf("ReadIn = %v, want %q", err, want)
	}
}

// A regular file whose size says nothing of what it holds (a /proc file
// reports 0 bytes and streams more) is read up to the limit and no
// further.
func TestReadStopsAtTheLimitWhileReading(t *testing.T) {
	t.Parallel()
	_, err := File{What: "job definition", Max: 1024}.Read("/proc/self/smaps")
	var le *Error
	if !errors.As(err, &le) {
		t.Errorf("Read(/proc/self/smaps) = %v, want the size limit's error", err)
	}
}

func TestOpenRegular(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "image")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	finishes(t, 10*time.Second, func() { _, _, err = OpenRegular(fifo, "image file") })
	if !IsNotRegular(err) {
		t.Errorf("OpenRegular(pipe) = %v, want a *NotRegularError", err)
	}
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, st, err := OpenRegular(file, "image file")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if b, _ := io.ReadAll(f); string(b) != "abc" || st.Size() != 3 {
		t.Errorf("read %q, size %d", b, st.Size())
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{
		"1": 1, "100B": 100, "2K": 2048, "2k": 2048, "2KiB": 2048, "3M": 3 << 20, "3MB": 3 << 20, "1G": 1 << 30, " 5 M ": 5 << 20,
	} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "M", "1T", "1.5M", "x", "99999999999G"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestAddFlags(t *testing.T) {
	t.Parallel()
	var l Limits
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	l.AddFlags(fs)
	if l != Defaults() {
		t.Errorf("before parsing: %+v, want the defaults", l)
	}
	if err := fs.Parse([]string{"--max-job-size", "4M", "--max-yaml-nodes", "10"}); err != nil {
		t.Fatal(err)
	}
	if l.JobSize != 4<<20 || l.YAMLNodes != 10 || l.DeviceSize != DefaultDeviceSize {
		t.Errorf("after parsing: %+v", l)
	}
	if fs.Lookup(TemplateSizeFlag).DefValue != "1M" {
		t.Errorf("default shown as %q", fs.Lookup(TemplateSizeFlag).DefValue)
	}
	if err := fs.Parse([]string{"--max-device-size", "0"}); err == nil {
		t.Error("--max-device-size 0 accepted")
	}
}
