package logstore

import (
	"context"
	"fmt"
	"sync"
)

// waiters are the channels Wait blocks on, one per job that someone
// waits for, closed (and forgotten) by the next Append that adds lines
// to the job's log or by Remove. Nothing is kept for a job nobody waits
// for.
type waiters struct {
	mu sync.Mutex
	m  map[int64]*waiter
}

type waiter struct {
	ch   chan struct{}
	refs int // Wait calls holding ch
}

// Wait returns nil as soon as job's log holds more than held lines
// (at once if it does already), or ctx's error when ctx ends first. It
// is event-driven: a waiting call costs a goroutine blocked on a channel
// and nothing else until an Append to that job, so a live log view can
// wait for lines without polling. Removing the log wakes it too; it then
// finds fewer lines than held and waits on.
func (l *Logs) Wait(ctx context.Context, job int64, held int64) error {
	if job <= 0 {
		return ErrBadJob
	}
	for {
		// Take the channel before reading the length: an Append after
		// the read closes the channel taken, so no wake-up is lost.
		w := l.waiting(job)
		n, err := l.Len(job)
		if err != nil || n > held {
			l.doneWaiting(job, w)
			return err
		}
		select {
		case <-w.ch:
			l.doneWaiting(job, w)
		case <-ctx.Done():
			l.doneWaiting(job, w)
			return ctx.Err()
		}
	}
}

func (l *Logs) waiting(job int64) *waiter {
	l.waits.mu.Lock()
	defer l.waits.mu.Unlock()
	if l.waits.m == nil {
		l.waits.m = map[int64]*waiter{}
	}
	w := l.waits.m[job]
	if w == nil {
		w = &waiter{ch: make(chan struct{})}
		l.waits.m[job] = w
	}
	w.refs++
	return w
}

func (l *Logs) doneWaiting(job int64, w *waiter) {
	l.waits.mu.Lock()
	defer l.waits.mu.Unlock()
	w.refs--
	if w.refs == 0 && l.waits.m[job] == w {
		delete(l.waits.m, job)
	}
}

// wake wakes every Wait on job.
func (l *Logs) wake(job int64) {
	l.waits.mu.Lock()
	defer l.waits.mu.Unlock()
	if w := l.waits.m[job]; w != nil {
		close(w.ch)
		delete(l.waits.m, job)
	}
}

// Bytes returns the size in bytes of lines [start,end) of job's log
// (end < 0 or past the end: to the end), from the index alone: a reader
// can bound what it reads before reading it.
func (l *Logs) Bytes(job, start, end int64) (int64, error) {
	j, err := l.acquireAt(job, start, false)
	if err != nil {
		return 0, err
	}
	defer l.release(j)
	defer j.mu.Unlock()
	if end < 0 || end > j.lines {
		end = j.lines
	}
	if start >= end {
		return 0, nil
	}
	from, err := j.end(start - 1)
	if err != nil {
		return 0, fmt.Errorf("job %d: %w", job, err)
	}
	to, err := j.end(end - 1)
	if err != nil {
		return 0, fmt.Errorf("job %d: %w", job, err)
	}
	return to - from, nil
}
