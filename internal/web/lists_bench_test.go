package web

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/basalt-lava/basalt/internal/store"
)

// BenchmarkJobListPages renders /scheduler/alljobs over 100 000 jobs (one
// in ten visible to group "lab" only) as anonymous and as bob, a member
// of lab: the page's cost is one count and one page of rows, whatever the
// table holds. Each page is checked to hold its 25 rows.
func BenchmarkJobListPages(b *testing.B) {
	s := newListSite(b)
	ctx := context.Background()
	if err := s.st.PutDeviceType(ctx, store.DeviceType{Name: "qemu", Display: true}); err != nil {
		b.Fatal(err)
	}
	for batch := 0; batch < 100; batch++ {
		news := make([]store.NewJob, 0, 1000)
		for i := 0; i < 1000; i++ {
			vis := store.VisibilityPublic
			if i%10 == 0 {
				vis = store.VisibilityGroup
			}
			news = append(news, store.NewJob{Submitter: "alice", DeviceType: "qemu", Description: fmt.Sprintf("job %d-%d", batch, i),
				Definition: "job_name: x\n", Visibility: vis, VisibleGroups: []string{"lab"}})
		}
		if _, err := s.st.Submit(ctx, news); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct{ name, user, path string }{
		{"anonymous first page", "", "/scheduler/alljobs"},
		{"anonymous page 3000", "", "/scheduler/alljobs?page=3000"},
		{"anonymous search", "", "/scheduler/alljobs?search=job+7"},
		{"group member first page", "bob", "/scheduler/alljobs"},
		{"superuser first page", "root", "/scheduler/alljobs"},
		{"queue", "", "/scheduler/queue"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				rec := s.get(b, c.user, c.path)
				if rec.Code != http.StatusOK || len(listRowIDs(rec.Body.String())) != 25 {
					b.Fatalf("GET %s as %q = %d with %d rows, want 200 with 25", c.path, c.user, rec.Code, len(listRowIDs(rec.Body.String())))
				}
			}
		})
	}
}
