package lab

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/workerapi"
)

// TestJobFiles: the device configuration sent at start is kept beside the
// log; a running job's published files are kept, replacing one of the
// same name; the server's own names are refused, as is a job's total over
// MaxJobFileBytes (naming it); a finished job takes no more files.
func TestJobFiles(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		f := newFixture(t, open(t), 1)
		r := f.start(t, nil)
		p := r.peer(t, "w1", f.token)
		_, err := r.lab.Submit(ctx, f.alice, readFile(t, "job.yaml"))
		must(t, err)
		resp := pollFor(t, p, nil, hasStart)
		sj := resp.Start[0]
		id := int64(sj.Job)
		dev, err := os.ReadFile(r.lab.JobFile(id, DeviceFile))
		if err != nil || string(dev) != sj.Device {
			t.Errorf("kept device.yaml = %v %q, want what the worker was sent", err, dev)
		}
		must(t, p.File(ctx, sj.Job, "description.yaml", []byte("old\n")))
		must(t, p.File(ctx, sj.Job, "description.yaml", []byte("pipeline: []\n")))
		if b, err := os.ReadFile(r.lab.JobFile(id, "description.yaml")); err != nil || string(b) != "pipeline: []\n" {
			t.Errorf("kept description.yaml = %v %q", err, b)
		}
		for _, name := range []string{"logs.yaml", "logs.idx", "device.yaml"} {
			var se *workerapi.StatusError
			if err := p.File(ctx, sj.Job, name, []byte("x")); !errors.As(err, &se) || se.Code != 400 {
				t.Errorf("File(%s) = %v, want refused (400)", name, err)
			}
		}
		if b, _ := os.ReadFile(r.lab.JobFile(id, DeviceFile)); string(b) != sj.Device {
			t.Error("device.yaml replaced by a worker")
		}
		chunk := make([]byte, workerapi.MaxFileBytes)
		var i int
		for i = 0; i < 10; i++ {
			err = p.File(ctx, sj.Job, "part"+string(rune('a'+i)), chunk)
			if err != nil {
				break
			}
		}
		if i != workerapi.MaxJobFileBytes/workerapi.MaxFileBytes-1 || !errors.As(err, new(*workerapi.StatusError)) || !strings.Contains(err.Error(), "MaxJobFileBytes") {
			t.Errorf("after %d files of %d bytes: %v, want refused (413) naming MaxJobFileBytes", i, len(chunk), err)
		}
		must(t, p.Finish(ctx, workerapi.FinishRequest{Job: sj.Job, Health: workerapi.Complete}))
		if err := p.File(ctx, sj.Job, "late", nil); !errors.Is(err, workerapi.ErrUnknownJob) {
			t.Errorf("File after the finish = %v, want ErrUnknownJob", err)
		}
	})
}
