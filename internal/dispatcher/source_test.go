package dispatcher

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/device"
	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/lavacorpus"
	"github.com/basalt-lava/basalt/internal/value"
	"github.com/google/go-cmp/cmp"
)

// relabel is diags with one file label swapped for another.
func relabel(diags []job.Diagnostic, from, to string) []job.Diagnostic {
	var out []job.Diagnostic
	for _, d := range diags {
		if d.File == from {
			d.File = to
		}
		d.Msg = strings.ReplaceAll(d.Msg, from, to)
		out = append(out, d)
	}
	return out
}

func texts(diags []job.Diagnostic) []string {
	var out []string
	for _, d := range diags {
		out = append(out, d.String())
	}
	return out
}

// samePrepared checks that PrepareBytes on the files' contents gives
// what Prepare gives on the files: the same diagnostics but for the
// labels, the same device and the same description.
func samePrepared(t *testing.T, jobPath, devicePath string, opts Options) {
	t.Helper()
	fromFiles, err := Prepare(jobPath, devicePath, opts)
	if err != nil {
		t.Fatalf("Prepare(%s, %s): %v", jobPath, devicePath, err)
	}
	jobText, err := os.ReadFile(jobPath)
	if err != nil {
		t.Fatal(err)
	}
	devText, err := os.ReadFile(devicePath)
	if err != nil {
		t.Fatal(err)
	}
	fromText, err := PrepareBytes(jobText, devText, opts)
	if err != nil {
		t.Fatalf("PrepareBytes: %v", err)
	}
	got := texts(relabel(relabel(fromText.Diagnostics, DefaultJobName, jobPath), DefaultDeviceName, devicePath))
	want := texts(fromFiles.Diagnostics)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("diagnostics differ (-Prepare +PrepareBytes):\n%s", diff)
	}
	if (fromFiles.Device == nil) != (fromText.Device == nil) ||
		fromFiles.Device != nil && !value.Equal(fromFiles.Device.Data, fromText.Device.Data) {
		t.Errorf("devices differ")
	}
	if (fromFiles.Pipeline == nil) != (fromText.Pipeline == nil) {
		t.Fatalf("pipeline from files %v, from text %v", fromFiles.Pipeline != nil, fromText.Pipeline != nil)
	}
	if fromFiles.Pipeline != nil {
		a, _ := DescriptionYAML(fromFiles.Pipeline)
		b, _ := DescriptionYAML(fromText.Pipeline)
		if diff := cmp.Diff(string(a), string(b)); diff != "" {
			t.Errorf("descriptions differ (-Prepare +PrepareBytes):\n%s", diff)
		}
	}
}

// The example job with its device rendered, as a worker would receive
// them: the same pipeline as from the files.
func TestPrepareBytesExample(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "qemu")
	jobPath := filepath.Join(dir, "job.yaml")
	j, _, err := job.Load(jobPath, job.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := device.Render(filepath.Join(dir, "device.jinja2"), j.Data.Map("context"), nil)
	if err != nil {
		t.Fatal(err)
	}
	devPath := filepath.Join(t.TempDir(), "device.yaml")
	if err := os.WriteFile(devPath, []byte(rendered), 0o644); err != nil {
		t.Fatal(err)
	}
	samePrepared(t, jobPath, devPath, Options{JobID: "12"})
	p, err := PrepareBytes(mustRead(t, jobPath), []byte(rendered), Options{})
	if err != nil || !p.Valid() || p.Pipeline == nil {
		t.Fatalf("PrepareBytes(example): %v, diagnostics %v", err, p.Diagnostics)
	}
}

// Every pipeline case of LAVA's corpus prepares the same from text as
// from files, with LAVA's rendered device configuration.
func TestPrepareBytesCorpus(t *testing.T) {
	corpus := lavacorpus.Require(t, "pipeline-cases.yaml")
	doc := loadYAML(t, filepath.Join(corpus, "pipeline-cases.yaml")).(*value.Map)
	n := 0
	for _, c := range doc.List("cases") {
		m := c.(*value.Map)
		t.Run(m.String("id"), func(t *testing.T) {
			samePrepared(t, filepath.Join(corpus, m.String("job")), filepath.Join(corpus, m.String("device_config")),
				Options{Job: job.Options{Lax: true, SubJob: true}})
		})
		n++
	}
	if n == 0 {
		t.Fatal("no pipeline cases in the corpus")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Diagnostics name the texts: job.yaml and device.yaml by default, the
// given names otherwise, with the line and column of a YAML error.
func TestPrepareBytesLabels(t *testing.T) {
	goodJob := commandJob("pass")
	goodDevice := mustRead(t, filepath.Join("testdata", "run", "device.yaml"))
	for _, tc := range []struct {
		name        string
		job, device Source
		want        string // the first diagnostic
	}{
		{"job YAML", Source{Text: []byte("job_name: [\n")}, Source{Text: goodDevice}, "job.yaml:1:1: invalid YAML"},
		{"job named", Source{Text: []byte("job_name: [\n"), Name: "job 42"}, Source{Text: goodDevice}, "job 42:1:1: invalid YAML"},
		{"job checked", Source{Text: []byte("job_name: x\n")}, Source{}, "job.yaml:1:1: "},
		{"device YAML", Source{Text: goodJob}, Source{Text: []byte("device_type: qemu\nconstants: [\n")}, "device.yaml: device.yaml:2:1: "},
		{"device named", Source{Text: goodJob}, Source{Text: []byte("- a list\n"), Name: "qemu01"}, "qemu01: qemu01:1:1: a device configuration must be a mapping"},
		{"device empty", Source{Text: goodJob}, Source{Text: []byte{}}, "device.yaml: device.yaml: empty device configuration"},
		// Device schema problems may be errors or warnings: either way
		// they name the device.
		{"device checked", Source{Text: goodJob}, Source{Text: []byte("device_type: qemu\n")}, "device.yaml: "},
		{"job path beside device text", Source{Path: "testdata/run/nosuch.yaml"}, Source{Text: goodDevice}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := PrepareSources(tc.job, tc.device, Options{})
			if tc.want == "" {
				if err == nil || !strings.Contains(err.Error(), "reading job definition") {
					t.Fatalf("err %v, want a read error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			diags := p.Diagnostics
			if len(diags) == 0 || !strings.HasPrefix(diags[0].String(), tc.want) {
				t.Fatalf("diagnostics %v, want the first to start %q", diags, tc.want)
			}
		})
	}
	// Without a device, the job alone is checked.
	p, err := PrepareBytes(goodJob, nil, Options{})
	if err != nil || !p.Valid() || p.Device != nil || p.Pipeline != nil {
		t.Errorf("PrepareBytes(job, nil): %v, %v; want the job alone, valid", err, p.Diagnostics)
	}
}
