package multinode

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/lavacorpus"
	"github.com/basalt-lava/basalt/internal/value"
)

// subJobForm matches the job checker's complaints about what makes a
// split sub-job differ from a submission: a scalar role in each action,
// device_type/context at the top, and roles as job id → role name (or
// absent before scheduling). LAVA's own schema rejects sub-jobs for the
// same reasons (its dispatcher never checks them against it); anything
// else the checker says about a sub-job is a real fault of the split.
var subJobForm = []struct{ path, msg *regexp.Regexp }{
	{regexp.MustCompile(`^actions\[\d+\]\.[a-z]+\.role$`), regexp.MustCompile(`^expected a list, got a string`)},
	{regexp.MustCompile(`^(device_type|context)$`), regexp.MustCompile(`is not allowed at the top of a MultiNode job`)},
	{regexp.MustCompile(`^protocols\.lava-multinode\.roles$`), regexp.MustCompile(`^missing required key "roles"$`)},
	{regexp.MustCompile(`^protocols\.lava-multinode\.roles(\.\d+|\["\d+"\])$`), regexp.MustCompile(`^expected a map, got a string`)},
}

// checkSubJobParses encodes a sub-job, reads it back with the job checker
// in lax mode and reports any error beyond the sub-job form.
func checkSubJobParses(t *testing.T, name string, s SubJob) {
	t.Helper()
	b, err := value.EncodeYAML(s.Definition)
	if err != nil {
		t.Fatalf("%s: encoding: %v", name, err)
	}
	j, diags := job.Parse(name, b, job.Options{Lax: true})
	if j == nil {
		t.Fatalf("%s: the job checker could not read the sub-job: %v", name, diags)
	}
	if !value.Equal(j.Data, s.Definition) {
		t.Errorf("%s: the sub-job does not read back as written", name)
	}
	for _, d := range job.Errors(diags) {
		if !slices.ContainsFunc(subJobForm, func(f struct{ path, msg *regexp.Regexp }) bool {
			return f.path.MatchString(d.Path) && f.msg.MatchString(d.Msg)
		}) {
			t.Errorf("%s: job checker: %s", name, d)
		}
	}
}

// TestCorpusSplits splits every MultiNode submission in LAVA's sample
// jobs and checks each sub-job: its role, sub_id and group_size, that it
// has exactly its role's actions with the role rewritten, its scheduling
// keys, and that the job checker reads it (lax) as a valid job.
func TestCorpusSplits(t *testing.T) {
	corpus := lavacorpus.Require(t, "scheduler-jobs")
	files, _ := filepath.Glob(filepath.Join(corpus, "scheduler-jobs", "*.yaml"))
	more, _ := filepath.Glob(filepath.Join(corpus, "jobs", "*multinode*.yaml"))
	files = append(files, more...)
	// LAVA's server refuses these at submission (its submission schema
	// allows only roles and timeout in lava-multinode).
	wantErr := map[string]string{
		"jobs/docker-test-multinode.yaml": `protocols.lava-multinode.target_group: "target_group" is written by the split`,
	}
	var split []string
	for _, f := range files {
		rel, _ := filepath.Rel(corpus, f)
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		j, diags := job.Parse(rel, data, job.Options{Lax: true})
		if j == nil {
			t.Errorf("%s: %v", rel, diags)
			continue
		}
		if !IsSubmission(j.Data) {
			continue
		}
		t.Run(rel, func(t *testing.T) {
			subs, err := Split(j.Data, Options{})
			if want, ok := wantErr[rel]; ok {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error %v, want one containing %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			split = append(split, rel)
			checkCorpusSubJobs(t, rel, j.Data, subs)
		})
	}
	// The scheduler's sample submissions must all be found and split.
	for _, want := range []string{"bbb-bbb-group", "bbb-qemu-multinode", "kvm-multinode", "mustang-ssh-multinode", "qemu-ssh-guest", "secrets-multinode"} {
		if !slices.Contains(split, "scheduler-jobs/"+want+".yaml") {
			t.Errorf("scheduler-jobs/%s.yaml was not split", want)
		}
	}
}

func checkCorpusSubJobs(t *testing.T, rel string, def *value.Map, subs []SubJob) {
	roles := def.Map("protocols").Map("lava-multinode").Map("roles")
	size := 0
	roles.Range(func(_ string, v any) bool {
		size += v.(*value.Map).Value("count").(int)
		return true
	})
	if len(subs) != size {
		t.Fatalf("%d sub-jobs, want the sum of the counts, %d", len(subs), size)
	}
	perRole := map[string]int{}
	tg := ""
	for i, s := range subs {
		name := fmt.Sprintf("%s[%d]", rel, i)
		mn := s.Definition.Map("protocols").Map("lava-multinode")
		if s.SubID != i || mn.Value("sub_id") != i || mn.Value("role") != s.Role || mn.Value("group_size") != size {
			t.Errorf("%s: SubJob{%s %d}, protocol role %v sub_id %v group_size %v; want sub_id %d, group_size %d",
				name, s.Role, s.SubID, mn.Value("role"), mn.Value("sub_id"), mn.Value("group_size"), i, size)
		}
		if i == 0 {
			tg = mn.String("target_group")
		} else if mn.String("target_group") != tg {
			t.Errorf("%s: target_group %q, sub-job 0 has %q", name, mn.String("target_group"), tg)
		}
		perRole[s.Role]++
		spec := roles.Map(s.Role)
		for _, k := range schedulingKeys {
			if !value.Equal(spec.Value(k), s.Definition.Value(k)) {
				t.Errorf("%s: %s = %v, the role has %v", name, k, s.Definition.Value(k), spec.Value(k))
			}
		}
		var want []string
		for _, a := range def.List("actions") {
			m := a.(*value.Map)
			kind := m.Keys()[0]
			if slices.Contains(m.Map(kind).List("role"), any(s.Role)) {
				want = append(want, kind)
			}
		}
		var got []string
		for _, a := range s.Definition.List("actions") {
			m := a.(*value.Map)
			kind := m.Keys()[0]
			got = append(got, kind)
			if r := m.Map(kind).Value("role"); r != s.Role {
				t.Errorf("%s: an action has role %v", name, value.GoString(r))
			}
		}
		if !slices.Equal(want, got) {
			t.Errorf("%s: actions %v, want %v", name, got, want)
		}
		if def.Has("secrets") && !value.Equal(def.Value("secrets"), s.Definition.Value("secrets")) {
			t.Errorf("%s: secrets not copied", name)
		}
		checkSubJobParses(t, name, s)
	}
	roles.Range(func(r string, v any) bool {
		if n := v.(*value.Map).Value("count").(int); perRole[r] != n {
			t.Errorf("role %s: %d sub-jobs, count %d", r, perRole[r], n)
		}
		return true
	})
	// Once scheduled, the sub-jobs still read as jobs.
	ids := make([]string, len(subs))
	for i := range ids {
		ids[i] = strconv.Itoa(9000 + i)
	}
	SetRoles(subs, ids)
	for i, s := range subs {
		checkSubJobParses(t, fmt.Sprintf("%s[%d] scheduled", rel, i), s)
	}
}

// FuzzSplit: any YAML map is either split or refused with problems whose
// paths locate in the document; never a panic.
func FuzzSplit(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(submission("{a: {device_type: qemu, count: 1, host_role: b, expect_role: b, request: lava-start}, b: {connection: ssh, count: 2}}", allRole)))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := value.ParseYAML(data)
		if err != nil || doc.Root == nil {
			return
		}
		def, ok := doc.Root.Value().(*value.Map)
		if !ok {
			return
		}
		_ = IsSubmission(def)
		subs, err := Split(def, Options{TargetGroup: "g"})
		if err != nil {
			perr, ok := err.(*Error)
			if !ok || len(perr.Problems) == 0 {
				t.Fatalf("error %v is not an *Error with problems", err)
			}
			for _, p := range perr.Problems {
				_ = Locate(doc.Root, p.Path)
			}
			return
		}
		ids := make([]string, len(subs))
		for i, s := range subs {
			if s.SubID != i {
				t.Fatalf("sub-job %d has sub_id %d", i, s.SubID)
			}
			if _, err := value.EncodeYAML(s.Definition); err != nil {
				t.Fatalf("encoding sub-job %d: %v", i, err)
			}
			ids[i] = strconv.Itoa(i + 1)
		}
		SetRoles(subs, ids)
	})
}
