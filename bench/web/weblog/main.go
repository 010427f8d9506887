// Command weblog is the synthetic worker of bench/web: it speaks the real
// worker protocol (internal/workerapi.Peer, the client `basalt worker`
// uses) but runs nothing. It takes one job from the server, streams a
// LAVA-shaped log of -bytes into it (records.go: a QEMU boot and a stress
// test's cases, mixed levels, action start/end records, results, target
// lines), then keeps the job running and, on request, appends live lines
// one batch at a time so that a browser can be watched following them.
//
//	weblog -url URL -worker NAME -token-file F -bytes 200M -control DIR
//	weblog -write FILE -bytes 200M      (the same log, to a file, no server)
//
// The control folder DIR is how the harness (bench/web/joblog.sh) steps
// it: weblog writes DIR/filled (JSON: job, lines, bytes) once the log is
// whole; when DIR/tail appears it appends -tail lines, one every
// -tail-every, writing one JSON line per line acknowledged by the server
// to DIR/tail.jsonl (marker index, times sent and acknowledged, in
// milliseconds since the epoch) and DIR/tail.done at the end; when
// DIR/finish appears it finishes the job Complete and exits. Between
// those it polls, which keeps the job's lease.
//
// Why synthetic: a real QEMU job under TCG writes ~100 KB of log in a
// minute; 200 MB would take days. The server's path is the one users run:
// the worker protocol, the log store, the pages.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/basalt-lava/basalt/bench/internal/benchcli"
	"github.com/basalt-lava/basalt/internal/workerapi"
)

func main() {
	url := flag.String("url", "", "the server's URL")
	worker := flag.String("worker", "", "the worker's name")
	tokenFile := flag.String("token-file", "", "file holding the worker's token")
	size := flag.String("bytes", "200M", "log bytes to fill (K, M, G suffixes: powers of 1024)")
	batch := flag.Int("batch", 2000, "lines per Log request while filling")
	seed := flag.Uint64("seed", 12, "the log's seed (the same seed gives the same bytes)")
	control := flag.String("control", "", "the control folder (see the command's doc)")
	tail := flag.Int("tail", 100, "live lines appended on request")
	tailEvery := flag.Duration("tail-every", 200*time.Millisecond, "interval between live lines")
	write := flag.String("write", "", "write the log to this file and exit (no server)")
	limit := flag.Duration("limit", 60*time.Minute, "give up after this long")
	flag.Parse()
	bytes, err := benchcli.ParseSize(*size)
	if err != nil {
		fail(err)
	}
	if *write != "" {
		lines, n, err := writeFile(*write, newGen(*seed), bytes)
		if err != nil {
			fail(err)
		}
		benchcli.Emit(map[string]any{"file": *write, "lines": lines, "bytes": n})
		return
	}
	if *url == "" || *worker == "" || *tokenFile == "" || *control == "" || *batch < 1 || *tail < 0 {
		fmt.Fprintln(os.Stderr, "usage: weblog -url URL -worker NAME -token-file F -control DIR [-bytes SIZE] [-tail N] [-tail-every D] | weblog -write FILE [-bytes SIZE]")
		os.Exit(2)
	}
	peer, err := benchcli.Peer(*url, *worker, *tokenFile, "weblog")
	if err != nil {
		fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *limit)
	defer cancel()
	if err := run(ctx, peer, *control, newGen(*seed), bytes, *batch, *tail, *tailEvery); err != nil {
		fail(err)
	}
}

func run(ctx context.Context, peer *workerapi.Peer, control string, g *gen, bytes int64, batch, tail int, tailEvery time.Duration) error {
	// One job.
	var job workerapi.JobID
	for job == 0 {
		resp, err := peer.Poll(ctx, nil, 10*time.Second)
		if err != nil {
			return fmt.Errorf("poll: %w", err)
		}
		if len(resp.Start) > 0 {
			job = resp.Start[0].Job
		}
	}
	var mu sync.Mutex
	var acked int64
	setAcked := func(n int64) { mu.Lock(); acked = n; mu.Unlock() }
	// Keep the lease while the log streams and the job is held.
	pollCtx, stopPolls := context.WithCancel(ctx)
	defer stopPolls()
	go func() {
		for pollCtx.Err() == nil {
			mu.Lock()
			r := []workerapi.RunningJob{{Job: job, LogAcked: acked}}
			mu.Unlock()
			if _, err := peer.Poll(pollCtx, r, 5*time.Second); err != nil && pollCtx.Err() == nil {
				fmt.Fprintln(os.Stderr, "poll:", err)
				time.Sleep(time.Second)
			}
		}
	}()

	start := time.Now()
	var index, sent int64
	lines := make([]string, 0, batch)
	last := time.Now()
	for done := false; !done; {
		lines = lines[:0]
		for len(lines) < batch {
			r := g.next()
			if sent+int64(len(r)+1) >= bytes {
				r = lastFillRecord(index+int64(len(lines))+1, g.t)
				done = true
			}
			lines = append(lines, r)
			sent += int64(len(r) + 1)
			if done {
				break
			}
		}
		n, err := logLines(ctx, peer, job, index, lines)
		if err != nil {
			return err
		}
		index = n
		setAcked(index)
		if time.Since(last) > time.Second {
			last = time.Now()
			benchcli.Emit(map[string]any{"t_s": time.Since(start).Seconds(), "job": job, "lines": index, "bytes": sent})
		}
	}
	filled := map[string]any{"t_s": time.Since(start).Seconds(), "job": job, "lines": index, "bytes": sent,
		"mb_per_s": float64(sent) / (1 << 20) / time.Since(start).Seconds()}
	benchcli.Emit(filled)
	if err := writeJSON(filepath.Join(control, "filled"), filled); err != nil {
		return err
	}

	if err := waitFile(ctx, filepath.Join(control, "tail"), filepath.Join(control, "finish")); err != nil {
		return err
	}
	if exists(filepath.Join(control, "tail")) {
		f, err := os.Create(filepath.Join(control, "tail.jsonl"))
		if err != nil {
			return err
		}
		tick := time.NewTicker(tailEvery)
		for i := 1; i <= tail; i++ {
			<-tick.C
			t0 := time.Now()
			n, err := logLines(ctx, peer, job, index, []string{tailRecord(i, t0)})
			if err != nil {
				tick.Stop()
				f.Close()
				return err
			}
			t1 := time.Now()
			index = n
			setAcked(index)
			fmt.Fprintf(f, "{\"i\": %d, \"line\": %d, \"sent_ms\": %.3f, \"acked_ms\": %.3f}\n", i, index-1, ms(t0), ms(t1))
		}
		tick.Stop()
		if err := f.Close(); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(control, "tail.done"), nil, 0o644); err != nil {
			return err
		}
		if err := waitFile(ctx, filepath.Join(control, "finish")); err != nil {
			return err
		}
	}
	stopPolls()
	if err := peer.Finish(ctx, workerapi.FinishRequest{Job: job, Health: workerapi.Complete, LogLines: index}); err != nil {
		return fmt.Errorf("finish: %w", err)
	}
	benchcli.Emit(map[string]any{"t_s": time.Since(start).Seconds(), "job": job, "lines": index, "finished": true})
	return nil
}

// logLines sends lines from index and checks the server holds them all.
func logLines(ctx context.Context, peer *workerapi.Peer, job workerapi.JobID, index int64, lines []string) (int64, error) {
	got, err := peer.Log(ctx, job, index, lines)
	var gap *workerapi.GapError
	if errors.As(err, &gap) {
		return 0, fmt.Errorf("job %d: the server holds %d lines, this worker sent from %d", job, gap.Expected, index)
	}
	if err != nil {
		return 0, fmt.Errorf("job %d: log: %w", job, err)
	}
	if got != index+int64(len(lines)) {
		return 0, fmt.Errorf("job %d: sent lines %d..%d, the server holds %d", job, index, index+int64(len(lines)), got)
	}
	return got, nil
}

// writeFile writes the fill a server would get to path.
func writeFile(path string, g *gen, bytes int64) (lines, n int64, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for done := false; !done; {
		r := g.next()
		if n+int64(len(r)+1) >= bytes {
			r = lastFillRecord(lines+1, g.t)
			done = true
		}
		w.WriteString(r)
		w.WriteByte('\n')
		n += int64(len(r) + 1)
		lines++
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, 0, err
	}
	return lines, n, f.Close()
}

// waitFile returns once one of the paths exists.
func waitFile(ctx context.Context, paths ...string) error {
	for {
		for _, p := range paths {
			if exists(p) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", strings.Join(paths, " or "), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func ms(t time.Time) float64 { return float64(t.UnixNano()) / 1e6 }

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func fail(err error) { benchcli.Fail("weblog", err) }
