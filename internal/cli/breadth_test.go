package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/lavacorpus"
	"github.com/google/go-cmp/cmp"
)

// unrunnableRE finds the method in a "cannot run" error of validate:
// "2 uboot-action: boot method u-boot cannot run in Basalt yet (…)".
var unrunnableRE = regexp.MustCompile(`: [0-9]+ [a-z0-9-]+: (.+?) cannot run in Basalt yet`)

// breadthVerdict is what `basalt validate` said of one corpus job (of
// all its sub-jobs, for a MultiNode submission).
type breadthVerdict struct {
	job, device string
	noDevice    string // why the job was not checked
	valid       bool
	methods     []string // the methods Basalt cannot run, sorted
	built       bool     // some pipeline was built
	other       string   // the first error that is not a "cannot run" one
}

// add merges the verdict c of one (sub-)job into v.
func (v *breadthVerdict) add(c breadthVerdict) {
	v.valid = v.valid && c.valid
	v.built = v.built || c.built
	for _, m := range c.methods {
		if !containsString(v.methods, m) {
			v.methods = append(v.methods, m)
		}
	}
	sort.Strings(v.methods)
	if v.other == "" {
		v.other = c.other
	}
}

// validateForBreadth runs `basalt validate --lax` (the check `basalt run`
// makes) on job with device through the CLI's entry point.
func validateForBreadth(corpus, job, device string) breadthVerdict {
	v := breadthVerdict{device: device, valid: true}
	var stdout, stderr bytes.Buffer
	code := Main([]string{"validate", "--lax", "--device-types", filepath.Join(corpus, "device-types"), job, "--device", filepath.Join(corpus, device)}, &stdout, &stderr)
	v.built = strings.HasPrefix(stdout.String(), "job timeout ")
	if code == exitOK {
		return v
	}
	v.valid = false
	for _, line := range strings.Split(stderr.String(), "\n") {
		if m := unrunnableRE.FindStringSubmatch(line); m != nil {
			if !containsString(v.methods, m[1]) {
				v.methods = append(v.methods, m[1])
			}
			continue
		}
		if v.other == "" && line != "" && !strings.Contains(line, ": warning: ") && !strings.Contains(line, ": invalid: ") {
			v.other = strings.ReplaceAll(line, corpus+string(filepath.Separator), "")
		}
	}
	sort.Strings(v.methods)
	return v
}

// onBestDevice validates job on the first candidate device whose pipeline
// gets built (LAVA's samples were written for one device of their type,
// and devices of a type differ), or on the first candidate if none.
func onBestDevice(corpus, job string, candidates []string) breadthVerdict {
	var first breadthVerdict
	for i, d := range candidates {
		v := validateForBreadth(corpus, job, d)
		if v.built {
			return v
		}
		if i == 0 {
			first = v
		}
	}
	return first
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestBreadth is the honest breadth figure: of the corpus's jobs (jobs/
// and scheduler-jobs/), how many `basalt validate --lax --device` accepts,
// how many it refuses because they hold an action Basalt cannot run yet
// (by method), and how many it refuses for other reasons. Each job gets
// a corpus device of its device type (lavacorpus.Pairing: a pipeline
// case's own device first, then devices/*.jinja2 by the template it
// extends, keeping the first on which the pipeline gets built); a
// MultiNode definition is split with `basalt multinode split`
// and each sub-job checked with a device of its role's type. The table
// and each job's verdict are pinned in testdata/golden/breadth.txt, so
// the figure visibly falls as methods are written:
//
//	go test ./internal/cli -run TestBreadth -v        # prints the table
//	go test ./internal/cli -run TestBreadth -update   # after adding a method
func TestBreadth(t *testing.T) {
	corpus := lavacorpus.Require(t, "pipeline-cases.yaml")
	pairing, err := lavacorpus.NewPairing(corpus)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	var verdicts []*breadthVerdict
	for _, jf := range lavacorpus.Jobs(corpus) {
		path := filepath.Join(corpus, jf)
		v := &breadthVerdict{job: jf, valid: true}
		verdicts = append(verdicts, v)
		dt, err := lavacorpus.DeviceType(path)
		if err != nil {
			v.valid, v.other = false, err.Error()
			continue
		}
		if cands := pairing.Candidates(jf, dt); len(cands) > 0 {
			c := onBestDevice(corpus, path, cands)
			v.device = c.device
			v.add(c)
			continue
		}
		if dt != "" {
			v.noDevice = "no corpus device of type " + dt
			continue
		}
		// A MultiNode definition: its sub-jobs, as the server makes them.
		// Without device_type and not one of those (a sub-job the
		// scheduler tests made, a fragment), there is no device to pick.
		dir := filepath.Join(tmp, strings.TrimSuffix(strings.ReplaceAll(jf, "/", "_"), ".yaml"))
		var stdout, stderr bytes.Buffer
		if code := Main([]string{"multinode", "split", path, "--output-dir", dir, "--job-id", "1"}, &stdout, &stderr); code != exitOK {
			first, _, _ := strings.Cut(strings.ReplaceAll(stderr.String(), corpus+string(filepath.Separator), ""), "\n")
			v.noDevice = "no device_type, and not a MultiNode submission (" + first + ")"
			continue
		}
		subs, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		sort.Strings(subs)
		var devs []string
		for _, s := range subs {
			sdt, err := lavacorpus.DeviceType(s)
			if err != nil {
				t.Fatal(err)
			}
			if sdt == "" {
				v.noDevice = "a role without device_type (a guest of a dynamic connection)"
				break
			}
			cands := pairing.Candidates("", sdt)
			if len(cands) == 0 {
				v.noDevice = "no corpus device of type " + sdt + " (a role's)"
				break
			}
			c := onBestDevice(corpus, s, cands)
			devs = append(devs, c.device)
			v.add(c)
		}
		v.device = "multinode: " + strings.Join(devs, ", ")
	}

	var out strings.Builder
	checked, valid, unrunnable, unrunnableOther, otherBuilt, otherNotBuilt, noDevice := 0, 0, 0, 0, 0, 0, 0
	byMethod := map[string]int{}
	for _, v := range verdicts {
		switch {
		case v.noDevice != "":
			noDevice++
			fmt.Fprintf(&out, "%s: not checked: %s\n", v.job, v.noDevice)
			continue
		case v.valid:
			valid++
			fmt.Fprintf(&out, "%s [%s]: valid\n", v.job, v.device)
		case len(v.methods) > 0:
			unrunnable++
			if v.other != "" {
				unrunnableOther++
			}
			for _, m := range v.methods {
				byMethod[m]++
			}
			fmt.Fprintf(&out, "%s [%s]: cannot run %s\n", v.job, v.device, strings.Join(v.methods, "; "))
		default:
			if v.built {
				otherBuilt++
			} else {
				otherNotBuilt++
			}
			fmt.Fprintf(&out, "%s [%s]: invalid: %s\n", v.job, v.device, v.other)
		}
		checked++
	}
	var table strings.Builder
	fmt.Fprintf(&table, "corpus jobs: %d; checked with a device of their type: %d; not checked (no such device, or no device_type): %d\n", len(verdicts), checked, noDevice)
	fmt.Fprintf(&table, "valid (Basalt can run them): %d\n", valid)
	fmt.Fprintf(&table, "refused, holding an action Basalt cannot run: %d (%d of them with other errors too)\n", unrunnable, unrunnableOther)
	fmt.Fprintf(&table, "refused for other reasons only: %d (pipeline built: %d; refused before building: %d)\n", otherBuilt+otherNotBuilt, otherBuilt, otherNotBuilt)
	fmt.Fprintf(&table, "methods Basalt cannot run yet, by jobs refused:\n")
	var methods []string
	for m := range byMethod {
		methods = append(methods, m)
	}
	sort.Slice(methods, func(i, k int) bool {
		if byMethod[methods[i]] != byMethod[methods[k]] {
			return byMethod[methods[i]] > byMethod[methods[k]]
		}
		return methods[i] < methods[k]
	})
	for _, m := range methods {
		fmt.Fprintf(&table, "  %4d  %s\n", byMethod[m], m)
	}
	t.Logf("breadth of `basalt validate --lax --device` over the corpus jobs:\n%s", table.String())
	got := table.String() + "\n" + out.String()
	golden := filepath.Join("testdata", "golden", "breadth.txt")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got; go test -run TestBreadth -update after a deliberate change):\n%s", golden, diff)
	}
}
