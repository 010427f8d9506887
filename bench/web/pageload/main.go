// Command pageload opens a web page in headless Chromium (Debian's
// chromium, driven over the DevTools protocol with chromedp) and reports
// what a user waits for, one JSON line per run:
//
//   - first paint and first contentful paint (the Paint Timing API),
//     the first byte of the document, DOMContentLoaded and load (the
//     Navigation Timing API), in milliseconds from the navigation's start;
//   - marker_ms: when a text (-marker, e.g. the log's last line) first
//     appeared in the page, seen by a MutationObserver installed before
//     the page's own scripts run; null if it never did within -wait;
//   - lifecycle_ms: the page's lifecycle events as the browser reports
//     them (firstPaint, firstContentfulPaint, DOMContentLoaded, load...),
//     from the document's request, which a page whose script keeps the
//     main thread busy still has when it cannot answer for its timings;
//   - the bytes the browser received over the network for the page and
//     everything it loaded (headers included; a stream still open, such as
//     the live log's, counts the bytes received so far), and the requests;
//   - the document's HTTP status, its DOM's element count and the page's
//     JavaScript heap.
//
// Each run starts a new browser (no cache, no warm renderer) at -width x
// -height.
//
//	pageload -url URL [-runs 5] [-marker TEXT] [-wait 60s]
//
// With -tail DIR it instead opens the page once, waits for the marker,
// then asks bench/web/weblog (through its control folder DIR) to append
// its live lines, and reports how many of them (text BASALT-TAIL-NNNNNN)
// appeared in the page and how long after the server acknowledged each
// one (DIR/tail.jsonl), with the median, p90 and maximum. Both clocks are
// the machine's wall clock.
//
// It measures; it asserts nothing about times.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

func main() {
	url := flag.String("url", "", "the page to open")
	runs := flag.Int("runs", 5, "runs, each in a new browser")
	marker := flag.String("marker", "", "text whose first appearance in the page is timed")
	wait := flag.Duration("wait", 60*time.Second, "how long to wait for the load and the marker")
	width := flag.Int("width", 1440, "window width")
	height := flag.Int("height", 900, "window height")
	chrome := flag.String("chrome", "/usr/bin/chromium", "the browser")
	tail := flag.String("tail", "", "weblog's control folder: measure the live tail instead")
	tailGrace := flag.Duration("tail-grace", 10*time.Second, "after weblog's last live line, how long to wait for the page to show it")
	flag.Parse()
	if *url == "" || *runs < 1 {
		fmt.Fprintln(os.Stderr, "usage: pageload -url URL [-runs N] [-marker TEXT] [-wait D] [-tail DIR]")
		os.Exit(2)
	}
	b := browserConfig{chrome: *chrome, width: *width, height: *height}
	if *tail != "" {
		r, err := tailRun(b, *url, *marker, *wait, *tail, *tailGrace)
		if err != nil {
			fmt.Fprintln(os.Stderr, "pageload:", err)
			if r != nil {
				emit(r)
			}
			os.Exit(1)
		}
		emit(r)
		return
	}
	failed := 0
	for i := 1; i <= *runs; i++ {
		r, err := loadRun(b, *url, *marker, *wait)
		if r == nil {
			r = map[string]any{}
		}
		r["run"] = i
		if err != nil {
			r["error"] = err.Error()
			failed++
		}
		emit(r)
	}
	if failed == *runs {
		os.Exit(1)
	}
}

type browserConfig struct {
	chrome        string
	width, height int
}

// start opens a new headless browser and a tab.
func (b browserConfig) start(timeout time.Duration) (context.Context, func(), error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(b.chrome),
		chromedp.NoSandbox, // root in a container
		chromedp.DisableGPU,
		chromedp.WindowSize(b.width, b.height),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	tctx, cancelT := context.WithTimeout(ctx, timeout)
	stop := func() { cancelT(); cancelC(); cancelA() }
	// Start the browser now, so its start is not in the page's figures.
	if err := chromedp.Do(ctx); err != nil {
		stop()
		return nil, nil, fmt.Errorf("starting %s: %w", b.chrome, err)
	}
	return tctx, stop, nil
}

// observer runs before the page's scripts: it records when the marker
// first appears and when each live-tail marker does.
const observer = `(() => {
  const mark = %s;
  const seen = {};
  window.__bench = {seen: seen, markerAt: null};
  const re = /BASALT-TAIL-(\d{6})/g;
  const scan = (text) => {
    if (!text) return;
    if (mark && window.__bench.markerAt === null && text.includes(mark)) window.__bench.markerAt = performance.now();
    if (text.indexOf('BASALT-TAIL-') < 0) return;
    re.lastIndex = 0;
    let m;
    while ((m = re.exec(text)) !== null) {
      if (!(m[1] in seen)) seen[m[1]] = performance.timeOrigin + performance.now();
    }
  };
  new MutationObserver((ms) => {
    for (const m of ms) {
      if (m.type === 'characterData') scan(m.target.data);
      for (const n of m.addedNodes) scan(n.textContent);
    }
  }).observe(document, {childList: true, subtree: true, characterData: true});
})();`

// netCount adds up the bytes the browser received.
type netCount struct {
	mu       sync.Mutex
	received map[network.RequestID]float64 // dataReceived so far
	finished map[network.RequestID]float64 // total, once loadingFinished
	status   int64
	docID    network.RequestID
	failed   []string
	// The document request's start and the page's lifecycle events
	// (Page.lifecycleEvent, seconds on the browser's monotonic clock):
	// they arrive as they happen, so they are there even when the page's
	// main thread stays too busy to answer an evaluation.
	navStart  float64
	lifecycle map[string]float64
}

func newNetCount() *netCount {
	return &netCount{received: map[network.RequestID]float64{}, finished: map[network.RequestID]float64{}, lifecycle: map[string]float64{}}
}

func (n *netCount) listen(ctx context.Context) error {
	return chromedp.Listen(ctx, func(ev any) {
		n.mu.Lock()
		defer n.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			if e.Type == network.ResourceTypeDocument && n.navStart == 0 {
				n.navStart = float64(e.Timestamp)
			}
		case *page.EventLifecycleEvent:
			// Those before the document's request are about:blank's.
			if _, ok := n.lifecycle[e.Name]; !ok && n.navStart != 0 && float64(e.Timestamp) >= n.navStart {
				n.lifecycle[e.Name] = float64(e.Timestamp)
			}
		case *network.EventResponseReceived:
			if e.Type == network.ResourceTypeDocument && n.docID == "" {
				n.docID = e.RequestID
				n.status = e.Response.Status
			}
			n.received[e.RequestID] += e.Response.EncodedDataLength // headers
		case *network.EventDataReceived:
			n.received[e.RequestID] += float64(e.EncodedDataLength)
		case *network.EventLoadingFinished:
			n.finished[e.RequestID] = e.EncodedDataLength
		case *network.EventLoadingFailed:
			if !e.Canceled {
				n.failed = append(n.failed, e.ErrorText)
			}
		}
	})
}

// lifecycleMS returns the lifecycle events seen, in milliseconds from the
// document's request: firstPaint, firstContentfulPaint, DOMContentLoaded,
// load, ...
func (n *netCount) lifecycleMS() map[string]float64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := map[string]float64{}
	if n.navStart == 0 {
		return out
	}
	for name, t := range n.lifecycle {
		if t >= n.navStart {
			out[name] = math.Round((t-n.navStart)*10000) / 10
		}
	}
	return out
}

func (n *netCount) totals() (bytes float64, requests int, status int64, failed []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ids := map[network.RequestID]bool{}
	for id := range n.received {
		ids[id] = true
	}
	for id := range n.finished {
		ids[id] = true
	}
	for id := range ids {
		if f, ok := n.finished[id]; ok {
			bytes += f
		} else {
			bytes += n.received[id]
		}
	}
	return bytes, len(ids), n.status, append([]string(nil), n.failed...)
}

// open navigates a new browser's tab to url with the observer installed
// and waits for the load event, then for the marker (up to the deadline).
func open(b browserConfig, url, marker string, wait time.Duration) (context.Context, func(), *netCount, error) {
	// Room for the navigation (which waits for the server's answer) and
	// for the figures after the wait.
	ctx, stop, err := b.start(wait + 3*time.Minute)
	if err != nil {
		return nil, nil, nil, err
	}
	nc := newNetCount()
	m, _ := json.Marshal(marker)
	err = nc.listen(ctx)
	if err == nil {
		_, err = chromedp.Call(ctx, network.Enable, network.EnableParams{})
	}
	if err == nil {
		_, err = chromedp.Call(ctx, page.Enable, page.EnableParams{})
	}
	if err == nil {
		_, err = chromedp.Call(ctx, page.SetLifecycleEventsEnabled, page.SetLifecycleEventsEnabledParams{Enabled: true})
	}
	if err == nil {
		_, err = chromedp.Call(ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true})
	}
	if err == nil {
		_, err = chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: fmt.Sprintf(observer, m)})
	}
	if err == nil {
		// Page.navigate returns once the document's response has come
		// (not at its load event), so a page that never finishes loading
		// still gets its figures below.
		var res page.NavigateResult
		res, err = chromedp.Call(ctx, page.Navigate, page.NavigateParams{URL: url})
		if err == nil && res.ErrorText != "" {
			err = errors.New(res.ErrorText)
		}
	}
	if err != nil {
		stop()
		return nil, nil, nc, fmt.Errorf("opening %s: %w", url, err)
	}
	// The load event, the marker, and the first contentful paint (recorded
	// a frame after it happens, which can be after the load event), until
	// the deadline. Each look waits for the page's main thread, bounded.
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		lctx, cancel := context.WithDeadline(ctx, deadline)
		ready, err := chromedp.Run(lctx, chromedp.Evaluate[bool](fmt.Sprintf(
			`document.readyState === 'complete' && (%s === "" || (window.__bench && window.__bench.markerAt !== null)) && performance.getEntriesByName('first-contentful-paint').length > 0`, m)))
		cancel()
		if err != nil && ctx.Err() != nil {
			stop()
			return nil, nil, nc, err
		}
		if ready {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return ctx, stop, nc, nil
}

// figures are what the page's timing APIs say.
const figures = `(() => {
  const nav = performance.getEntriesByType('navigation')[0] || {};
  const paint = {};
  for (const e of performance.getEntriesByType('paint')) paint[e.name] = e.startTime;
  let heap = null;
  if (performance.memory) heap = performance.memory.usedJSHeapSize;
  return {
    first_paint_ms: paint['first-paint'] ?? null,
    first_contentful_paint_ms: paint['first-contentful-paint'] ?? null,
    ttfb_ms: nav.responseStart ?? null,
    response_end_ms: nav.responseEnd ?? null,
    dom_content_loaded_ms: nav.domContentLoadedEventEnd || null,
    load_ms: nav.loadEventEnd || null,
    ready_state: document.readyState,
    document_transfer_bytes: nav.transferSize ?? null,
    document_body_bytes: nav.decodedBodySize ?? null,
    marker_ms: window.__bench ? window.__bench.markerAt : null,
    elements: document.getElementsByTagName('*').length,
    js_heap_bytes: heap,
  };
})()`

func loadRun(b browserConfig, url, marker string, wait time.Duration) (map[string]any, error) {
	t0 := time.Now()
	ctx, stop, nc, err := open(b, url, marker, wait)
	if err != nil {
		if nc == nil {
			return nil, err
		}
		bytes, requests, status, _ := nc.totals()
		return map[string]any{"wall_s": time.Since(t0).Seconds(), "load_avg": loadAvg(), "lifecycle_ms": nc.lifecycleMS(),
			"bytes_received": bytes, "requests": requests, "status": status}, err
	}
	defer stop()
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	r, err := chromedp.Run(fctx, chromedp.Evaluate[map[string]any](figures))
	cancel()
	bytes, requests, status, failed := nc.totals()
	if err != nil {
		return map[string]any{"wall_s": time.Since(t0).Seconds(), "load_avg": loadAvg(), "lifecycle_ms": nc.lifecycleMS(),
			"bytes_received": bytes, "requests": requests, "status": status}, fmt.Errorf("the page did not answer an evaluation within 30 s: %w", err)
	}
	r["lifecycle_ms"] = nc.lifecycleMS()
	r["bytes_received"] = bytes
	r["requests"] = requests
	r["status"] = status
	r["wall_s"] = time.Since(t0).Seconds()
	r["load_avg"] = loadAvg()
	if len(failed) > 0 {
		r["failed_requests"] = failed
	}
	switch {
	case status != 200:
		return r, fmt.Errorf("the document's status is %d", status)
	case r["ready_state"] != "complete":
		return r, fmt.Errorf("the page had not finished loading after %s (readyState %v)", wait, r["ready_state"])
	case marker != "" && r["marker_ms"] == nil:
		return r, fmt.Errorf("%q never appeared in the page within %s", marker, wait)
	}
	return r, nil
}

// tailRun opens the page, then has weblog append its live lines and
// counts those the page shows.
func tailRun(b browserConfig, url, marker string, wait time.Duration, control string, grace time.Duration) (map[string]any, error) {
	ctx, stop, nc, err := open(b, url, marker, wait)
	if err != nil {
		return nil, err
	}
	defer stop()
	if err := os.WriteFile(filepath.Join(control, "tail"), nil, 0o644); err != nil {
		return nil, err
	}
	t0 := time.Now()
	for !exists(filepath.Join(control, "tail.done")) {
		if time.Since(t0) > 30*time.Minute {
			return nil, errors.New("weblog never wrote tail.done")
		}
		time.Sleep(100 * time.Millisecond)
	}
	sent, err := readSent(filepath.Join(control, "tail.jsonl"))
	if err != nil {
		return nil, err
	}
	// Until every line is shown, or the grace after the last one.
	var seen map[string]float64
	deadline := time.Now().Add(grace)
	for {
		seen, err = chromedp.Run(ctx, chromedp.Evaluate[map[string]float64](`window.__bench.seen`))
		if err != nil {
			return nil, err
		}
		if len(seen) >= len(sent) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var delays []float64
	for i, acked := range sent {
		if at, ok := seen[fmt.Sprintf("%06d", i)]; ok {
			delays = append(delays, at-acked)
		}
	}
	sort.Float64s(delays)
	bytes, requests, status, failed := nc.totals()
	r := map[string]any{
		"lines_sent": len(sent), "lines_shown": len(delays),
		"delay_ms_median": quantile(delays, 0.5), "delay_ms_p90": quantile(delays, 0.9),
		"delay_ms_min": quantile(delays, 0), "delay_ms_max": quantile(delays, 1),
		"bytes_received": bytes, "requests": requests, "status": status, "load_avg": loadAvg(),
	}
	if len(failed) > 0 {
		r["failed_requests"] = failed
	}
	if len(delays) < len(sent) {
		return r, fmt.Errorf("the page showed %d of the %d live lines", len(delays), len(sent))
	}
	return r, nil
}

// readSent reads weblog's tail.jsonl: marker index -> acknowledged, ms.
func readSent(path string) (map[int]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[int]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l struct {
			I       int     `json:"i"`
			AckedMS float64 `json:"acked_ms"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out[l.I] = l.AckedMS
	}
	return out, sc.Err()
}

func quantile(sorted []float64, q float64) any {
	if len(sorted) == 0 {
		return nil
	}
	i := int(math.Round(q * float64(len(sorted)-1)))
	return math.Round(sorted[i]*10) / 10
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	var a, c, d float64
	fmt.Sscan(string(b), &a, &c, &d)
	return strconv.FormatFloat(a, 'f', 2, 64) + " " + strconv.FormatFloat(c, 'f', 2, 64) + " " + strconv.FormatFloat(d, 'f', 2, 64)
}

func emit(v map[string]any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}
