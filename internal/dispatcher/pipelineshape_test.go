package dispatcher_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	_ "github.com/basalt-lava/basalt/internal/dispatcher"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// TestPipelineShapes builds each testdata/pipelines/<case>/job.yaml on
// its device.yaml and compares the pipeline with want.txt: one action a
// line, "LEVEL NAME TIMEOUT MAX_RETRIES [URL]", as current LAVA (2026) builds
// it for the same two files. The cases are where current LAVA builds a
// different pipeline from Debian's 2023.01, which Basalt first followed;
// want.txt says so in its comments.
func TestPipelineShapes(t *testing.T) {
	t.Parallel()
	dirs, err := filepath.Glob(filepath.Join("testdata", "pipelines", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no cases under testdata/pipelines")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			jobData := decodeFile(t, filepath.Join(dir, "job.yaml"))
			dev := decodeFile(t, filepath.Join(dir, "device.yaml"))
			j, err := pipeline.Build(jobData, dev)
			if err != nil {
				t.Fatalf("pipeline.Build(%s): %v", dir, err)
			}
			got := shapeLines(j.Describe(), nil)
			want := readShape(t, filepath.Join(dir, "want.txt"))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("pipeline of %s (-want +got):\n%s", dir, diff)
			}
		})
	}
}

func decodeFile(t *testing.T, path string) *value.Map {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := value.DecodeYAML(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	m, ok := v.(*value.Map)
	if !ok {
		t.Fatalf("%s: not a map", path)
	}
	return m
}

// shapeLines flattens a description depth first into want.txt's lines.
func shapeLines(desc []any, out []string) []string {
	for _, a := range desc {
		m, _ := a.(*value.Map)
		line := fmt.Sprintf("%v %v %v %v", m.Value("level"), m.Value("name"), m.Value("timeout"), m.Value("max_retries"))
		if u := m.String("url"); u != "" {
			line += " " + u
		}
		out = append(out, line)
		if kids, ok := m.Value("pipeline").([]any); ok {
			out = shapeLines(kids, out)
		}
	}
	return out
}

// readShape reads want.txt: blank lines and # comments skipped, the
// indentation (which shows the nesting to a reader) ignored.
func readShape(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if n := len(strings.Fields(line)); n != 4 && n != 5 {
			t.Fatalf("%s: %q: want LEVEL NAME TIMEOUT MAX_RETRIES [URL]", path, line)
		}
		out = append(out, strings.Join(strings.Fields(line), " "))
	}
	return out
}

// TestFastbootAutoDetectionValidates checks the other half of
// fastboot_auto_detection: the actions after the detection do not ask
// for a serial number the device does not have, and without the
// detection they do (the two errors current LAVA reports).
func TestFastbootAutoDetectionValidates(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "pipelines", "fastboot-auto-detection")
	for _, tt := range []struct {
		detect bool
		want   []string
	}{
		{true, nil},
		{false, []string{
			"1.6 fastboot-flash-order-action: device fastboot serial number unset",
			"2.4 fastboot-reboot: device fastboot serial number unset",
		}},
	} {
		dev := decodeFile(t, filepath.Join(dir, "device.yaml"))
		dev.Set("fastboot_auto_detection", tt.detect)
		j, err := pipeline.Build(decodeFile(t, filepath.Join(dir, "job.yaml")), dev)
		if err != nil {
			t.Fatalf("pipeline.Build: %v", err)
		}
		var got []string
		for _, e := range j.Validate() {
			if strings.Contains(e, "serial number") {
				got = append(got, e)
			}
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("fastboot_auto_detection %v: serial number errors (-want +got):\n%s", tt.detect, diff)
		}
	}
}
