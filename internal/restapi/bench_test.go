package restapi

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/basalt-lava/basalt/internal/store"
)

// BenchmarkJobList is one page of REST's job list over 100 000 jobs
// (a quarter private), as the clients ask for it: KernelCI's page of
// 256, lava-api's id__gt with ordering, a deep offset, a text search;
// each reply is checked to hold its page.
func BenchmarkJobList(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	const total, batch = 100_000, 1000
	def := jobDef(b, "bench", "public")
	for n := 0; n < total; n += batch {
		js := make([]store.NewJob, batch)
		for i := range js {
			js[i] = store.NewJob{Definition: def, Submitter: "alice", DeviceType: "qemu", Priority: 50,
				Description: fmt.Sprintf("bench %d", n+i)}
			if (n+i)%4 == 0 {
				js[i].Visibility = store.VisibilityPersonal
			}
		}
		_, err := e.st.Submit(ctx, js)
		must(b, err)
	}
	for _, c := range []struct {
		name, user, query string
		rows              int
	}{
		{"kernelci-256", "alice", "?format=json&limit=256", 256},
		{"anonymous-50", "", "", 50},
		{"id__gt-ordering", "bob", "?ordering=id&state=Submitted&limit=50&id__gt=50000", 50},
		{"deep-offset", "alice", "?limit=50&offset=90000", 50},
		{"description-icontains", "", "?description__icontains=bench%2099&limit=50", 50},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				r := e.do("GET", "/api/v0.2/jobs/"+c.query, c.user, nil)
				if r.status != 200 {
					b.Fatalf("%d %s", r.status, r.body)
				}
				if i == 0 {
					var page struct{ Results []json.RawMessage }
					if err := json.Unmarshal(r.body, &page); err != nil || len(page.Results) != c.rows {
						b.Fatalf("%s: %d rows (%v), want %d", c.query, len(page.Results), err, c.rows)
					}
				}
			}
		})
	}
}
