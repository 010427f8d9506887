package labe2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/labtest"
	"github.com/basalt-lava/basalt/internal/value"
)

var subJobLine = regexp.MustCompile(`(?m)^(\d+\.\d+)\s*$`)

// multinode submits examples/multinode/job.yaml (a server and a client
// role) with lavacli: the lab runs the roles at once on a device of each
// worker, both complete, and each meets the other (lava-send/-wait/-sync
// pass only when both run together).
func multinode(t *testing.T, l *lab, c lavacli) {
	b, err := os.ReadFile(filepath.Join(labtest.Root, "examples", "multinode", "job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	definition := strings.ReplaceAll(string(b), "http://127.0.0.1:8000", labtest.FixturesURL())
	// A LAVA server refuses expect_role without host_role (schema.py),
	// and so does Basalt's submission check; `basalt run` does not ask
	// for it, and the example lacks it.
	if !strings.Contains(definition, "host_role") {
		definition = strings.Replace(definition, "        expect_role: server\n", "        expect_role: server\n        host_role: server\n", 1)
	}
	r := ok(t, l.lavacli(t, c, "admin", "jobs", "submit", labtest.File(t, "multinode.yaml", definition)))
	ids := subJobLine.FindAllStringSubmatch(r.stdout, -1)
	if len(ids) != 2 {
		t.Fatalf("jobs submit of a MultiNode group of 2: want two sub-job ids (N.0, N.1): %s", r)
	}
	type sub struct {
		id, device, start, end string
		results                string
	}
	var subs []sub
	for _, m := range ids {
		id := m[1]
		ok(t, l.lavacli(t, c, "admin", "jobs", "wait", id, "--polling", "1"))
		f := wantFields(t, l.lavacli(t, c, "admin", "jobs", "show", id), map[string]string{"id": id, "state": "Finished", "Health": "Complete", "device-type": "qemu"})
		res := ok(t, l.lavacli(t, c, "admin", "results", id)).stdout
		subs = append(subs, sub{id: id, device: f["device"], start: f["start time"], end: f["end time"], results: res})
	}
	workers := map[string]string{}
	for _, s := range subs {
		w := fields(ok(t, l.lavacli(t, c, "admin", "devices", "show", s.device)).stdout)["worker"]
		workers[s.id] = w
	}
	if len(subs) == 2 && (subs[0].device == subs[1].device || workers[subs[0].id] == workers[subs[1].id]) {
		t.Errorf("the roles did not run on devices of both workers: %s on %s (%s), %s on %s (%s)",
			subs[0].id, subs[0].device, workers[subs[0].id], subs[1].id, subs[1].device, workers[subs[1].id])
	}
	// At once: each started before the other ended (lavacli prints
	// XML-RPC dateTimes, YYYYMMDDTHH:MM:SS, which sort as text).
	if len(subs) == 2 && !(subs[0].start <= subs[1].end && subs[1].start <= subs[0].end) {
		t.Errorf("the roles did not overlap: %s ran %s–%s, %s ran %s–%s", subs[0].id, subs[0].start, subs[0].end, subs[1].id, subs[1].start, subs[1].end)
	}
	all := ""
	for _, s := range subs {
		all += s.results
	}
	for _, want := range []string{"* 0_mn-server.multinode-send-lava_start [pass]", "* 0_mn-server.multinode-sync-clients-ready [pass]",
		"* 0_mn-client.multinode-wait-ipv4 [pass]", "* 0_mn-client.server-address [pass]", "* 0_mn-client.multinode-sync-clients-ready [pass]"} {
		if !strings.Contains(all, want) {
			t.Errorf("the group's results lack %q:\n%s", want, all)
		}
	}
}

// jobIDs is the ids `jobs list --yaml` (or `jobs queue --yaml`) shows
// user, sorted.
func (l *lab) jobIDs(t *testing.T, c lavacli, user string, what ...string) []string {
	t.Helper()
	r := ok(t, l.lavacli(t, c, user, append(what, "--yaml")...))
	v, err := value.DecodeYAML([]byte(r.stdout))
	if err != nil {
		t.Fatalf("%s --yaml does not parse: %v\n%s", strings.Join(what, " "), err, r.stdout)
	}
	list, _ := v.([]any)
	var ids []string
	for _, e := range list {
		if m, ok := e.(*value.Map); ok {
			ids = append(ids, fmt.Sprint(m.Value("id")))
		}
	}
	sort.Strings(ids)
	return ids
}

// badSubmissions: each is refused with a fault that says what is wrong,
// and nothing is stored or queued.
func badSubmissions(t *testing.T, l *lab, c lavacli) {
	good := labtest.JobSpec{Name: "bad"}.YAML(t)
	cases := []struct {
		name, definition string
		want             []string // in lavacli's output, any case
	}{
		{"invalid YAML", "device_type: qemu\nactions: [\n  - deploy: {to: tmpfs\n", []string{"Unable to submit", "Fault 400"}},
		{"unknown device type", strings.Replace(good, "device_type: qemu", "device_type: no-such-type", 1), []string{"Unable to submit", "Fault 404", "not found"}},
		{"pipeline cannot be built", strings.Replace(good, "    method: qemu\n", "    method: u-boot\n    commands: ramdisk\n", 1), []string{"Unable to submit", "Fault 400", "boot"}},
		// 10 MB: a comment after a valid job, over any job size limit.
		{"10 MB definition", good + "# " + strings.Repeat("x", 10<<20) + "\n", []string{"Unable to submit", "limit"}},
	}
	before := l.jobIDs(t, c, "admin", "jobs", "list")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := l.lavacli(t, c, "admin", "jobs", "submit", labtest.File(t, "bad.yaml", tc.definition))
			out := strings.ToLower(r.stdout + r.stderr)
			for _, w := range tc.want {
				if !strings.Contains(out, strings.ToLower(w)) {
					t.Errorf("the refusal lacks %q: %s", w, clip(r.String(), 20))
				}
			}
			if jobIDLine.MatchString(r.stdout) {
				t.Errorf("a job id was printed: %s", r)
			}
			if c.name == "lavacli-2.9" && r.code == 0 {
				t.Errorf("lavacli 2.9 exits 1 on a refused submission, got 0")
			}
		})
	}
	if after := l.jobIDs(t, c, "admin", "jobs", "list"); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Errorf("jobs list changed after refused submissions: %v, was %v", after, before)
	}
	if q := l.jobIDs(t, c, "admin", "jobs", "queue"); len(q) != 0 {
		t.Errorf("jobs queue after refused submissions: %v, want empty", q)
	}
}

// access: a bad token or an unknown user is refused before any call
// (HTTP 401, what LAVA answers), a plain user cannot change a device's
// dictionary, and a personal job is hidden from other users.
func access(t *testing.T, l *lab, c lavacli) {
	t.Run("bad token", func(t *testing.T) {
		for _, uri := range []string{
			fmt.Sprintf("http://admin:not-the-token@%s/RPC2", l.Addr),
			fmt.Sprintf("http://nobody:%s@%s/RPC2", l.Tokens["admin"], l.Addr),
		} {
			r := l.lavacliURI(t, c, uri, "devices", "list")
			if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "Unable to connect: 401") {
				t.Errorf("want exit 1 and \"Unable to connect: 401 ...\": %s", r)
			}
		}
	})
	t.Run("anonymous", func(t *testing.T) {
		// No user:token at all: what needs a user is refused with LAVA's
		// Fault 401 (submit, results) or 403 (a dictionary), nothing is
		// stored.
		anon := fmt.Sprintf("http://%s/RPC2", l.Addr)
		before := l.jobIDs(t, c, "admin", "jobs", "list")
		r := l.lavacliURI(t, c, anon, "jobs", "submit", labtest.File(t, "anon.yaml", labtest.JobSpec{Name: "anonymous"}.YAML(t)))
		if !strings.Contains(r.stdout+r.stderr, "Fault 401") || jobIDLine.MatchString(r.stdout) {
			t.Errorf("an anonymous submission: want Fault 401 and no job id: %s", r)
		}
		if after := l.jobIDs(t, c, "admin", "jobs", "list"); strings.Join(after, " ") != strings.Join(before, " ") {
			t.Errorf("jobs list changed after an anonymous submission: %v, was %v", after, before)
		}
		r = l.lavacliURI(t, c, anon, "devices", "dict", "set", "qemu01", labtest.File(t, "anon.jinja2", "{% extends 'qemu.jinja2' %}\n"))
		if r.code == 0 || !regexp.MustCompile(`Fault (401|403)`).MatchString(r.stdout+r.stderr) {
			t.Errorf("an anonymous dictionary set: want exit 1 and Fault 401/403: %s", r)
		}
		if len(before) > 0 {
			r = l.lavacliURI(t, c, anon, "results", before[len(before)-1])
			if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "Fault 401") {
				t.Errorf("anonymous results: want exit 1 and Fault 401 (LAVA's results API needs a user): %s", r)
			}
		}
	})
	t.Run("not a superuser", func(t *testing.T) {
		before := ok(t, l.lavacli(t, c, "admin", "devices", "dict", "get", "qemu01")).stdout
		r := l.lavacli(t, c, "bob", "devices", "dict", "set", "qemu01", labtest.File(t, "evil.jinja2", "{% extends 'qemu.jinja2' %}\n{% set memory = 1 %}\n"))
		if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "403") {
			t.Errorf("a plain user setting a dictionary: want exit 1 and Fault 403: %s", r)
		}
		if after := ok(t, l.lavacli(t, c, "admin", "devices", "dict", "get", "qemu01")).stdout; after != before {
			t.Errorf("the refused set changed the dictionary:\n%s", after)
		}
		r = l.lavacli(t, c, "bob", "device-types", "template", "set", "qemu", labtest.File(t, "evil.jinja2", "{# nothing #}\n"))
		if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "403") {
			t.Errorf("a plain user setting a template: want exit 1 and Fault 403: %s", r)
		}
	})
	t.Run("private job", func(t *testing.T) {
		// For the held device, in Maintenance: it stays queued.
		def := labtest.JobSpec{Name: "private", Visibility: "personal", DeviceType: "qemu-held"}.YAML(t)
		id := submitted(t, ok(t, l.lavacli(t, c, "bob", "jobs", "submit", labtest.File(t, "private.yaml", def))))
		defer func() { ok(t, l.lavacli(t, c, "bob", "jobs", "cancel", id)) }()
		wantFields(t, ok(t, l.lavacli(t, c, "bob", "jobs", "show", id)), map[string]string{"id": id, "submitter": "bob", "visibility": "Personal", "state": "Submitted"})
		ok(t, l.lavacli(t, c, "admin", "jobs", "show", id)) // a superuser sees every job
		for _, args := range [][]string{{"jobs", "show", id}, {"jobs", "definition", id}, {"jobs", "logs", id, "--no-follow"}, {"results", id}, {"jobs", "cancel", id}} {
			r := l.lavacli(t, c, "carol", args...)
			out := r.stdout + r.stderr
			if strings.Contains(out, "basalt-e2e-private") || strings.Contains(out, "device_type: qemu-held") {
				t.Errorf("carol reads bob's personal job: %s", r)
			}
			if args[1] != "cancel" && (r.code == 0 || !regexp.MustCompile(`Fault (401|403|404)`).MatchString(out)) {
				t.Errorf("carol on bob's personal job: want exit 1 and a Fault 401/403/404: %s", r)
			}
			if args[1] == "cancel" && !regexp.MustCompile(`Fault (403|404)`).MatchString(out) {
				t.Errorf("carol canceling bob's personal job: want a Fault 403/404: %s", r)
			}
		}
		for _, what := range [][]string{{"jobs", "list"}, {"jobs", "queue"}} {
			for _, got := range l.jobIDs(t, c, "carol", what...) {
				if got == id {
					t.Errorf("carol's %s shows bob's personal job %s", strings.Join(what, " "), id)
				}
			}
		}
		found := false
		for _, got := range l.jobIDs(t, c, "bob", "jobs", "queue") {
			found = found || got == id
		}
		if !found {
			t.Errorf("bob's jobs queue lacks his own job %s", id)
		}
		wantFields(t, ok(t, l.lavacli(t, c, "bob", "jobs", "show", id)), map[string]string{"state": "Submitted"})
	})
}
