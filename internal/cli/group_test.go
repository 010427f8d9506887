package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The MultiNode group's command line: which device each sub-job gets,
// and the mistakes refused before anything runs.
func TestLoadGroupDevices(t *testing.T) {
	const job = "../../examples/multinode/job.yaml"
	const dev = "../../examples/multinode/device.jinja2"
	for _, tc := range []struct {
		name    string
		devices []string
		jobID   string
		want    []string // ROLE-N=device of each member
		status  int
		errText string
	}{
		{"one device for all", []string{dev}, "7", []string{"server-0=" + dev, "client-0=" + dev}, exitOK, ""},
		{"per role", []string{"server=a.jinja2", "client=b.jinja2"}, "1", []string{"server-0=a.jinja2", "client-0=b.jinja2"}, exitOK, ""},
		{"role and fallback", []string{"client=b.jinja2", dev}, "1", []string{"server-0=" + dev, "client-0=b.jinja2"}, exitOK, ""},
		{"missing role", []string{"server=a.jinja2"}, "1", nil, exitUsage, `no device for role "client"`},
		{"unknown role", []string{"servr=a.jinja2", dev}, "1", nil, exitUsage, `the job has no role "servr"`},
		{"too many for the role", []string{"server=a", "server=b", dev}, "1", nil, exitUsage, `role "server" has 1 instances but 2 devices`},
		{"job id not a number", []string{dev}, "abc", nil, exitUsage, "a MultiNode group needs a number"},
		{"two fallbacks", []string{dev, dev}, "1", nil, exitUsage, "only one device may be given without a role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			o := runOptions{jobPath: job, devices: tc.devices, jobID: tc.jobID, outDir: t.TempDir()}
			group, status := loadGroup(o, &stderr)
			if status != tc.status || !strings.Contains(stderr.String(), tc.errText) {
				t.Fatalf("status %d, stderr %q; want %d saying %q", status, stderr.String(), tc.status, tc.errText)
			}
			var got []string
			if group != nil {
				for _, m := range group.Members {
					got = append(got, m.Name()+"="+m.Config.Device.Path)
				}
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("members %v, want %v", got, tc.want)
			}
			if tc.status == exitOK && group.Members[0].ID != tc.jobID {
				t.Errorf("first id %s, want %s", group.Members[0].ID, tc.jobID)
			}
		})
	}
}

func TestPrefixWriter(t *testing.T) {
	var out bytes.Buffer
	p := &prefixWriter{out: &out, prefix: "[a-0] "}
	p.Write([]byte("one\ntw"))
	p.Write([]byte("o\nthree"))
	p.Flush()
	if got := out.String(); got != "[a-0] one\n[a-0] two\n[a-0] three\n" {
		t.Errorf("got %q", got)
	}
}

// A group with a sub-job that cannot run is refused before anything
// starts: every problem printed, no coordinator, no log opened.
func TestRunGroupRefusesInvalidMember(t *testing.T) {
	out := t.TempDir()
	missing := filepath.Join(out, "missing.jinja2")
	var stdout, stderr bytes.Buffer
	code := Main([]string{"run", "../../examples/multinode/job.yaml", "--device", "server=" + missing,
		"--device", "client=../../examples/multinode/device.jinja2", "--output-dir", out, "--quiet"}, &stdout, &stderr)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitFailed, stderr.String())
	}
	for _, want := range []string{"basalt: server-0 (role server, device " + missing + "): ", "basalt: the group was not started: every sub-job must be valid"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr.String())
		}
	}
	if strings.Contains(stderr.String(), "client-0") || strings.Contains(stdout.String(), "coordinator") {
		t.Errorf("stdout:\n%s\nstderr:\n%s\nwant only server-0's problem and no group started", stdout.String(), stderr.String())
	}
	for _, m := range []string{"server-0", "client-0"} {
		if _, err := os.Stat(filepath.Join(out, m, "job.yaml")); err != nil {
			t.Errorf("%s's job.yaml: %v", m, err)
		}
		if _, err := os.Stat(filepath.Join(out, m, "logs.yaml")); err == nil {
			t.Errorf("%s/logs.yaml written for a group that never started", m)
		}
	}
}
