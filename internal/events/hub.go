// Package events is LAVA's event stream in process: the lab's job, device
// and worker changes as events (lava_scheduler_app/signals.py: a job's
// state or health changed, a device's, a worker's), a Hub fanning them out
// to subscribers (the /ws/ WebSocket of lavacli 2.x `events listen/wait`,
// the web pages' live job state), and that WebSocket in LAVA's format
// (lava-publisher). LAVA publishes these only with EVENT_NOTIFICATION set;
// Basalt always does (a subscriber costs nothing when there is none).
//
// ZMQ (LAVA's EVENT_SOCKET, tcp://*:5500), which lavacli 1.2 `events
// wait` and SQUAD listen on, is not served.
package events

import (
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/basalt-lava/basalt/internal/store"
)

// Kind is what an event is about: LAVA's topic suffix.
type Kind string

// The kinds of events.
const (
	TestJob Kind = "testjob"
	Device  Kind = "device"
	Worker  Kind = "worker"
)

// DefaultTopic is LAVA's EVENT_TOPIC default; an event's topic is the
// prefix, a dot and its kind ("org.lavasoftware.testjob").
const DefaultTopic = "org.lavasoftware"

// Event is one change, as stored. Only the field of its Kind is set.
type Event struct {
	Kind     Kind
	UUID     string    // a UUID (set by Publish when empty)
	Time     time.Time // UTC (set by Publish when zero)
	Username string    // the job's submitter; "lavaserver" for devices and workers

	// Job is the job after the change (TestJob); its Definition and
	// MultinodeDefinition are not kept. JobWorker is the worker of the
	// job's device ("" when none).
	Job       *store.Job
	JobWorker string
	// Device is the device after the change (Device), its Dictionary not
	// kept; DeviceJob is the display id of its current job ("" none).
	Device    *store.Device
	DeviceJob string
	// Worker is the worker after the change (Worker).
	Worker *store.Worker

	// Missed, on an event a subscriber receives, counts the events it
	// lost before this one because its buffer was full.
	Missed int
}

// JobEvent is the event of a job's change; worker is its device's worker.
func JobEvent(j store.Job, worker string) Event {
	j.Definition, j.MultinodeDefinition = "", ""
	return Event{Kind: TestJob, Username: j.Submitter, Job: &j, JobWorker: worker}
}

// DeviceEvent is the event of a device's change; job is the display id of
// the job on it ("" for none).
func DeviceEvent(d store.Device, job string) Event {
	d.Dictionary = ""
	return Event{Kind: Device, Username: "lavaserver", Device: &d, DeviceJob: job}
}

// WorkerEvent is the event of a worker's change.
func WorkerEvent(w store.Worker) Event {
	return Event{Kind: Worker, Username: "lavaserver", Worker: &w}
}

// Hub fans events out to subscribers. Publish never blocks: a subscriber
// whose buffer is full loses the event (and is told how many it lost on
// the next one it gets). The zero Hub is not usable; a nil *Hub ignores
// Publish.
type Hub struct {
	mu   sync.Mutex
	subs map[*sub]struct{}
}

type sub struct {
	ch     chan Event
	missed int
}

// NewHub returns a hub with no subscribers.
func NewHub() *Hub { return &Hub{subs: map[*sub]struct{}{}} }

// Publish sends e to every subscriber that has room for it.
func (h *Hub) Publish(e Event) {
	if h == nil {
		return
	}
	if e.UUID == "" {
		e.UUID = newUUID()
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		e.Missed = s.missed
		select {
		case s.ch <- e:
			s.missed = 0
		default:
			s.missed++
		}
	}
}

// Subscribe returns a channel of the events published from now on,
// buffering up to buffer of them (at least 1), and the function that ends
// the subscription and closes the channel (safe to call more than once).
func (h *Hub) Subscribe(buffer int) (<-chan Event, func()) {
	if buffer < 1 {
		buffer = 1
	}
	s := &sub{ch: make(chan Event, buffer)}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs, s)
			close(s.ch)
			h.mu.Unlock()
		})
	}
}

// Subscribers is the number of current subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// newUUID returns a random (version 4) UUID; LAVA's uuid1 embeds the host
// and time, which no client reads.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
