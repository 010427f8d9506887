// Command logload is a load generator for a Basalt server's log path: a
// worker that speaks the real worker protocol (internal/workerapi.Peer,
// the client `basalt worker` uses) but runs nothing. It polls until the
// server has given it -jobs jobs, then streams synthetic LAVA log records
// (target lines of -line-bytes) into each, -batch lines per request, until
// each job's log holds -bytes, polling meanwhile to keep its lease; with
// -finish it then finishes every job Complete. It prints one JSON line
// per -report of progress and one at the end.
//
//	logload -url URL -worker NAME -token-file F -jobs 10 -bytes 100M [-finish]
//
// It measures nothing of the server itself; bench/server/memory.sh samples
// the server's memory while logload fills it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/basalt-lava/basalt/bench/internal/benchcli"
	"github.com/basalt-lava/basalt/internal/workerapi"
)

func main() {
	url := flag.String("url", "", "the server's URL")
	worker := flag.String("worker", "", "the worker's name")
	tokenFile := flag.String("token-file", "", "file holding the worker's token")
	jobs := flag.Int("jobs", 10, "jobs to wait for and fill")
	size := flag.String("bytes", "100M", "log bytes per job (K, M, G suffixes: powers of 1024)")
	lineBytes := flag.Int("line-bytes", 200, "bytes of one record")
	batch := flag.Int("batch", 1000, "lines per Log request")
	finish := flag.Bool("finish", false, "finish each job Complete once filled")
	report := flag.Duration("report", time.Second, "progress report interval")
	limit := flag.Duration("limit", 30*time.Minute, "give up after this long")
	flag.Parse()
	perJob, err := benchcli.ParseSize(*size)
	if err != nil || *url == "" || *worker == "" || *tokenFile == "" || *jobs < 1 || *lineBytes < 80 || *batch < 1 {
		fmt.Fprintln(os.Stderr, "usage: logload -url URL -worker NAME -token-file F [-jobs N] [-bytes SIZE] [-line-bytes N] [-batch N] [-finish]")
		os.Exit(2)
	}
	peer, err := benchcli.Peer(*url, *worker, *tokenFile, "logload")
	if err != nil {
		fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *limit)
	defer cancel()
	start := time.Now()

	// Every job given, with its acknowledged line count, for the polls.
	var mu sync.Mutex
	acked := map[workerapi.JobID]int64{}
	running := func() []workerapi.RunningJob {
		mu.Lock()
		defer mu.Unlock()
		var r []workerapi.RunningJob
		for j, n := range acked {
			r = append(r, workerapi.RunningJob{Job: j, LogAcked: n})
		}
		return r
	}
	got := make(chan workerapi.JobID, *jobs)
	var given int
	for given < *jobs {
		resp, err := peer.Poll(ctx, running(), 10*time.Second)
		if err != nil {
			fail(fmt.Errorf("poll: %w", err))
		}
		for _, s := range resp.Start {
			mu.Lock()
			acked[s.Job] = s.LogAcked
			mu.Unlock()
			if given < *jobs {
				got <- s.Job
				given++
			}
		}
	}
	close(got)
	// Keep the lease while the logs stream.
	pollCtx, stopPolls := context.WithCancel(ctx)
	defer stopPolls()
	go func() {
		for pollCtx.Err() == nil {
			if _, err := peer.Poll(pollCtx, running(), 5*time.Second); err != nil && pollCtx.Err() == nil {
				fmt.Fprintln(os.Stderr, "poll:", err)
				time.Sleep(time.Second)
			}
		}
	}()

	var sent atomic.Int64
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(*report)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				benchcli.Emit(map[string]any{"t_s": time.Since(start).Seconds(), "bytes": sent.Load()})
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, *jobs)
	for job := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fill(ctx, peer, job, perJob, *lineBytes, *batch, &sent, func(n int64) {
				mu.Lock()
				acked[job] = n
				mu.Unlock()
			}, *finish); err != nil {
				errs <- fmt.Errorf("job %d: %w", job, err)
			}
		}()
	}
	wg.Wait()
	close(done)
	close(errs)
	failed := 0
	for err := range errs {
		fmt.Fprintln(os.Stderr, err)
		failed++
	}
	benchcli.Emit(map[string]any{"t_s": time.Since(start).Seconds(), "bytes": sent.Load(), "jobs": *jobs, "failed": failed, "done": true,
		"mb_per_s": float64(sent.Load()) / (1 << 20) / time.Since(start).Seconds()})
	if failed > 0 {
		os.Exit(1)
	}
}

// fill streams records into job until perJob bytes were acknowledged.
func fill(ctx context.Context, peer *workerapi.Peer, job workerapi.JobID, perJob int64, lineBytes, batch int, sent *atomic.Int64, onAck func(int64), finish bool) error {
	var index, bytes int64
	pad := strings.Repeat("x", lineBytes-80)
	lines := make([]string, 0, batch)
	for bytes < perJob {
		lines = lines[:0]
		var b int64
		for i := 0; i < batch && bytes+b < perJob; i++ {
			n := index + int64(i)
			now := time.Now().UTC()
			s := fmt.Sprintf(`- {"dt": "%s", "lvl": "target", "msg": "[%12d] %s"}`, now.Format("2006-01-02T15:04:05.000000+00:00"), n, pad)
			lines = append(lines, s)
			b += int64(len(s) + 1)
		}
		got, err := peer.Log(ctx, job, index, lines)
		var gap *workerapi.GapError
		if errors.As(err, &gap) {
			index = gap.Expected
			continue
		}
		if err != nil {
			return err
		}
		if got != index+int64(len(lines)) {
			return fmt.Errorf("sent lines %d..%d, the server holds %d", index, index+int64(len(lines)), got)
		}
		index = got
		bytes += b
		sent.Add(b)
		onAck(index)
	}
	if finish {
		return peer.Finish(ctx, workerapi.FinishRequest{Job: job, Health: workerapi.Complete, LogLines: index})
	}
	return nil
}

func fail(err error) { benchcli.Fail("logload", err) }
