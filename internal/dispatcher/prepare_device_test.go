package dispatcher

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/lavacorpus"
	"github.com/basalt-lava/basalt/internal/value"
	"github.com/google/go-cmp/cmp"
)

// writeDevice writes dev as YAML under dir and returns its path.
func writeDevice(t *testing.T, dir, name string, dev *value.Map) string {
	t.Helper()
	b, err := value.EncodeYAML(dev)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// schemaWarnings returns the paths of Prepare's device-schema warnings
// and fails on any device-schema error: LAVA's dispatcher does not check
// the device schema, so validate and run only warn.
func schemaWarnings(t *testing.T, p *Prepared, devPath string) []string {
	t.Helper()
	var paths []string
	for _, d := range p.Diagnostics {
		if d.File != devPath || !strings.HasPrefix(d.Msg, "device schema: ") {
			continue
		}
		if d.Severity != job.Warning {
			t.Errorf("device-schema diagnostic %q is an error, want a warning", d)
		}
		paths = append(paths, d.Path)
	}
	return paths
}

// TestPrepareDeviceSchemaIsAWarning runs the example QEMU job against
// devices that break LAVA's device schema in ways lava-run does not
// mind: each problem is a warning naming its key, and the job stays valid
// with its pipeline built.
func TestPrepareDeviceSchemaIsAWarning(t *testing.T) {
	jobPath := filepath.Join("..", "..", "examples", "qemu", "job.yaml")
	tux := filepath.Join("testdata", "devices", "tuxrun-qemu.yaml")
	tests := []struct {
		name   string
		mutate func(dev *value.Map) // nil: the TuxRun-style device as it is
		want   []string
	}{
		{"tuxrun-no-parameters", nil, []string{"parameters"}},
		{"old-usb-device-id", func(dev *value.Map) {
			usb := value.MapOf("SanDisk_Ultra", value.MapOf("uuid", "usb-SanDisk_Ultra_20060775320F43006019-0:0", "device_id", 0))
			dev.Set("parameters", value.MapOf("media", value.MapOf("usb", usb)))
		}, []string{"parameters.media.usb.SanDisk_Ultra.device_id"}},
		{"delay-not-a-number", func(dev *value.Map) {
			dev.Set("character_delays", value.MapOf("boot", "fast"))
			dev.Set("parameters", value.MapOf("pass", nil))
		}, []string{"character_delays.boot"}},
		{"schema-clean", func(dev *value.Map) {
			dev.Set("parameters", value.MapOf("pass", nil))
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			devPath := tux
			if tt.mutate != nil {
				b, err := os.ReadFile(tux)
				if err != nil {
					t.Fatal(err)
				}
				v, err := value.DecodeYAML(b)
				if err != nil {
					t.Fatal(err)
				}
				dev := v.(*value.Map)
				tt.mutate(dev)
				devPath = writeDevice(t, t.TempDir(), "device.yaml", dev)
			}
			p, err := Prepare(jobPath, devPath, Options{Job: job.Options{Lax: true}})
			if err != nil {
				t.Fatal(err)
			}
			if errs := job.Errors(p.Diagnostics); len(errs) > 0 {
				t.Fatalf("Prepare: %d errors, want none (first: %s)", len(errs), errs[0])
			}
			if p.Pipeline == nil {
				t.Fatal("Prepare built no pipeline")
			}
			if diff := cmp.Diff(tt.want, schemaWarnings(t, p, devPath)); diff != "" {
				t.Errorf("device-schema warnings (-want +got):\n%s", diff)
			}
		})
	}
}

// errorTexts returns the errors Prepare found, without their file names.
func errorTexts(p *Prepared) []string {
	var out []string
	for _, d := range job.Errors(p.Diagnostics) {
		out = append(out, d.Path+": "+d.Msg)
	}
	return out
}

// TestPrepareWithoutDeviceParameters takes every corpus pipeline case's
// rendered device, drops its parameters: block as TuxRun's devices lack
// it, and prepares the job against it: every strategy's builder and
// validation must cope with the missing map (never a panic), the missing
// block is a warning only, and the job's verdict does not change.
func TestPrepareWithoutDeviceParameters(t *testing.T) {
	corpus := lavacorpus.Require(t, "pipeline-cases.yaml")
	b, err := os.ReadFile(filepath.Join(corpus, "pipeline-cases.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := value.DecodeYAML(b)
	if err != nil {
		t.Fatal(err)
	}
	cases := doc.(*value.Map).List("cases")
	if len(cases) == 0 {
		t.Fatal("no pipeline cases")
	}
	built := 0
	for _, c := range cases {
		m := c.(*value.Map)
		ok := t.Run(m.String("id"), func(t *testing.T) {
			dir := t.TempDir()
			jb, err := os.ReadFile(filepath.Join(corpus, m.String("job")))
			if err != nil {
				t.Fatal(err)
			}
			jv, err := value.DecodeYAML(jb)
			if err != nil {
				t.Fatal(err)
			}
			jobData := jv.(*value.Map)
			if ctx := m.Map("context"); ctx != nil {
				jobData.Set("context", ctx)
			}
			jobPath := writeDevice(t, dir, "job.yaml", jobData)
			db, err := os.ReadFile(filepath.Join(corpus, m.String("device_config")))
			if err != nil {
				t.Fatal(err)
			}
			dv, err := value.DecodeYAML(db)
			if err != nil {
				t.Fatal(err)
			}
			dev := dv.(*value.Map)
			if !dev.Has("parameters") {
				t.Fatalf("%s has no parameters: to drop", m.String("device_config"))
			}
			opts := Options{Job: job.Options{Lax: true, SubJob: true}}
			withPath := writeDevice(t, dir, "with.yaml", dev)
			with, err := Prepare(jobPath, withPath, opts)
			if err != nil {
				t.Fatal(err)
			}
			dev.Delete("parameters")
			devPath := writeDevice(t, dir, "without.yaml", dev)
			p, err := Prepare(jobPath, devPath, opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := schemaWarnings(t, p, devPath); !cmp.Equal(got, []string{"parameters"}) {
				t.Errorf("device-schema warnings at %v, want one at parameters", got)
			}
			if p.Pipeline == nil {
				t.Errorf("no pipeline built")
			}
			// None of these jobs reads the device's parameters (media,
			// interfaces, image addresses), so dropping them must not add
			// an error; errors the job has anyway stay as they are.
			if diff := cmp.Diff(errorTexts(with), errorTexts(p)); diff != "" {
				t.Errorf("errors without parameters differ from errors with them (-with +without):\n%s", diff)
			}
		})
		if ok {
			built++
		}
	}
	t.Logf("%d of %d corpus jobs prepared against their device without parameters", built, len(cases))
}
