package events

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/store/sqlite"
)

// BenchmarkFeedSchedule measures what publishing adds to a scheduling
// pass of 100 jobs on 100 devices (SQLite): the store alone, the feed
// with no subscriber (no read), and with one (each job and device read
// back). It checks that the subscribed pass published every event.
func BenchmarkFeedSchedule(b *testing.B) {
	for _, mode := range []string{"store", "feed-idle", "feed-subscribed"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			raw, err := sqlite.Open(ctx, b.TempDir()+"/basalt.db")
			if err != nil {
				b.Fatal(err)
			}
			defer raw.Close()
			h := NewHub()
			var st store.Store = raw
			if mode != "store" {
				st = Feed(raw, h)
			}
			var ch <-chan Event
			if mode == "feed-subscribed" {
				var cancel func()
				ch, cancel = h.Subscribe(1 << 20)
				defer cancel()
			}
			if _, err := raw.CreateUser(ctx, "alice", "", false); err != nil {
				b.Fatal(err)
			}
			if err := raw.PutDeviceType(ctx, store.DeviceType{Name: "qemu"}); err != nil {
				b.Fatal(err)
			}
			if _, err := raw.CreateWorker(ctx, "w1", ""); err != nil {
				b.Fatal(err)
			}
			const n = 100
			for i := range n {
				if err := raw.CreateDevice(ctx, store.Device{Name: fmt.Sprintf("d%03d", i), DeviceType: "qemu", Worker: "w1"}); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				var nj []store.NewJob
				for range n {
					nj = append(nj, store.NewJob{Definition: "x", Submitter: "alice", DeviceType: "qemu"})
				}
				ids, err := raw.Submit(ctx, nj)
				if err != nil {
					b.Fatal(err)
				}
				as := make([]store.Assignment, n)
				for i, id := range ids {
					as[i] = store.Assignment{Job: id, Device: fmt.Sprintf("d%03d", i)}
				}
				b.StartTimer()
				if err := st.Schedule(ctx, as); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if ch != nil && len(ch) != 2*n {
					b.Fatalf("%d events for %d assignments, want %d", len(ch), n, 2*n)
				}
				for len(ch) > 0 {
					<-ch
				}
				for _, id := range ids {
					if _, err := raw.CancelJob(ctx, id, nowUTC()); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
			}
		})
	}
}

func nowUTC() time.Time { return time.Now().UTC() }
