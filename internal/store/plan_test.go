package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/store/sqlite"
)

// TestPlansUseIndexes reads SQLite's plans of the queries migration 0012
// indexes: a viewer's job count reads an index, not the jobs; an anonymous
// page walks the public jobs' index in id order (no sort); a state's or a
// device's jobs still use their own index; CaseHistory finds a job's
// results of a case by results_case.
func TestPlansUseIndexes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "basalt.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	plan := func(t *testing.T, query string, args ...any) string {
		t.Helper()
		rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		defer rows.Close()
		var lines []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
	anon, aargs := store.JobWhere(store.JobFilter{Viewer: &store.Viewer{}})
	running, rargs := store.JobWhere(store.JobFilter{Viewer: &store.Viewer{}, States: []store.JobState{store.JobRunning}})
	device, dargs := store.JobWhere(store.JobFilter{Viewer: &store.Viewer{}, Device: "qemu-01"})
	user, uargs := store.JobWhere(store.JobFilter{Viewer: &store.Viewer{Name: "bob"}})
	hist, hargs := store.CaseHistoryJobs(store.CaseHistoryQuery{Suite: "0_perf", Case: "speed", Viewer: &store.Viewer{Name: "bob"}, Limit: 50})
	for _, c := range []struct {
		name, query string
		args        []any
		want        []string // each in the plan
		not         []string // none in the plan
	}{
		{"anonymous count", "SELECT COUNT(*) FROM jobs" + anon, aargs, []string{"COVERING INDEX"}, nil},
		{"anonymous page", "SELECT id, definition FROM jobs" + anon + " ORDER BY id DESC LIMIT 25", aargs, []string{"INDEX jobs_public"}, []string{"TEMP B-TREE"}},
		{"signed-in count", "SELECT COUNT(*) FROM jobs" + user, uargs, []string{"COVERING INDEX jobs_viewer"}, nil},
		// The visibility indexes must not win over a selective one.
		{"anonymous running count", "SELECT COUNT(*) FROM jobs" + running, rargs, []string{"INDEX jobs_state"}, nil},
		{"anonymous device page", "SELECT id, definition FROM jobs" + device + " ORDER BY id DESC LIMIT 25", dargs, []string{"INDEX jobs_device"}, []string{"TEMP B-TREE"}},
		{"signed-in page", "SELECT id FROM jobs" + user + " ORDER BY id DESC LIMIT 25", uargs, nil, []string{"TEMP B-TREE"}},
		{"case history", hist, hargs, []string{"INDEX results_case"}, []string{"TEMP B-TREE"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := plan(t, c.query, c.args...)
			for _, w := range c.want {
				if !strings.Contains(p, w) {
					t.Errorf("plan lacks %q:\n%s", w, p)
				}
			}
			for _, n := range c.not {
				if strings.Contains(p, n) {
					t.Errorf("plan has %q:\n%s", n, p)
				}
			}
		})
	}
}
