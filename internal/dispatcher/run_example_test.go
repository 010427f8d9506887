package dispatcher_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/basalt-lava/basalt/internal/dispatcher"
	"github.com/basalt-lava/basalt/internal/joblog"
)

// uploadSink is the shape of a worker's sink: records go into a bounded
// queue that another goroutine drains (uploads); when the queue is full
// a record is counted as lost rather than waited for.
type uploadSink struct {
	queue    chan []byte
	done     chan struct{}
	lost     atomic.Int64
	uploaded int
	files    []string
	end      string
}

func newUploadSink() *uploadSink {
	s := &uploadSink{queue: make(chan []byte, 1024), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for range s.queue {
			s.uploaded++ // a real worker sends the line to its server
		}
	}()
	return s
}

func (s *uploadSink) Log(rec joblog.Record) {
	select {
	case s.queue <- append([]byte(nil), rec.Line...):
	default:
		s.lost.Add(1)
	}
}

func (s *uploadSink) File(name string, data []byte) error {
	s.files = append(s.files, name)
	return nil
}

func (s *uploadSink) Results(o dispatcher.Outcome) error {
	last := o.Cases[len(o.Cases)-1]
	s.end = fmt.Sprintf("%s, the last %s/%s", o.Result, last.Suite, last.Name)
	return nil
}

func (s *uploadSink) Close() error {
	close(s.queue)
	<-s.done
	if n := s.lost.Load(); n > 0 {
		return fmt.Errorf("%d log records lost", n)
	}
	return nil
}

// A front end other than the CLI: the job and the rendered device arrive
// as text, the log is streamed through a sink of its own.
func ExampleRun() {
	device, err := os.ReadFile("testdata/run/device.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	job := []byte(`device_type: qemu
job_name: from-a-server
timeouts: {job: {minutes: 5}}
visibility: public
actions:
- command: {name: pass}
`)
	sink := newUploadSink()
	out := dispatcher.Run(context.Background(), dispatcher.RunConfig{
		Job:     dispatcher.Source{Text: job, Name: "job 1234"},
		Device:  dispatcher.Source{Text: device, Name: "qemu01"},
		Options: dispatcher.Options{JobID: "1234"},
		Intro:   "worker: job 1234 on qemu01",
	}, sink)
	fmt.Println("job:", out.Result, out.JobName)
	fmt.Println("files:", sink.files)
	fmt.Println("results:", sink.end)
	fmt.Println("log streamed:", sink.uploaded > 0, "sink error:", out.SinkErr)
	// Output:
	// job: pass from-a-server
	// files: [description.yaml]
	// results: pass, the last lava/job
	// log streamed: true sink error: <nil>
}
