package webe2e

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/basalt-lava/basalt/internal/labtest"
	"github.com/basalt-lava/basalt/internal/proctest"
)

// The widths every page is looked at: a phone's and a desktop's.
const (
	phoneWidth   = 375
	desktopWidth = 1440
	windowHeight = 900
)

// chromium is the browser binary: $BASALT_CHROMIUM, else Debian's
// chromium (apt-get install chromium, or make deps).
func chromium(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("BASALT_CHROMIUM"); bin != "" {
		return bin
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if bin, err := exec.LookPath(name); err == nil {
			return bin
		}
	}
	labtest.Missing(t, "chromium is not installed (apt-get install chromium, or make deps)")
	return ""
}

// browser is a headless Chromium driven over the DevTools protocol (a
// pipe), with one tab. Its process group is killed when the test ends,
// and by labtest's reaper should the test binary die first.
type browser struct {
	t       *testing.T
	ctx     context.Context // the tab
	dataDir string          // --user-data-dir, on every process of this browser's command line
	pgid    int
	shots   string // where screenshots go, once one is taken

	mu       sync.Mutex
	problems []string // uncaught exceptions and failed responses since the last look
}

// newBrowser starts Chromium; it is ended when t ends, and the test fails
// if a process of it is left then.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	bin := chromium(t)
	b := &browser{t: t, dataDir: t.TempDir()}
	out, err := os.Create(filepath.Join(t.TempDir(), "chromium.out"))
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(b.dataDir),
		chromedp.WindowSize(desktopWidth, windowHeight),
		chromedp.Flag("lang", "en-GB"),
		chromedp.Flag("font-render-hinting", "none"),
		chromedp.CombinedOutput(out),
		// A group of its own, so that the renderers, the GPU and network
		// processes go with it; and killed by the kernel when the thread
		// that started it (chromedp locks it) goes.
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		}),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	b.ctx = ctx
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		if b.pgid > 0 {
			syscall.Kill(-b.pgid, syscall.SIGKILL)
			labtest.Unreap(b.pgid)
		}
		out.Close()
		// Every process of this browser is gone (the kill above is
		// asynchronous: give them a few seconds to go).
		if left := proctest.Linger("--user-data-dir="+b.dataDir, 10*time.Second); len(left) > 0 {
			t.Errorf("chromium processes left after the test: %v", left)
		}
	})
	// Start it now (chromedp starts the browser with the first action).
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		b, _ := os.ReadFile(out.Name())
		t.Fatalf("starting chromium (%s): %v\n%s", bin, err, labtest.LastLines(string(b), 30))
	}
	b.pgid = chromedp.FromContext(ctx).Browser.Process().Pid
	labtest.Reap(b.pgid)
	b.watch()
	return b
}

// watch records what goes wrong in the tab whatever the test looks at:
// uncaught JavaScript exceptions and HTTP errors (4xx, 5xx) of the page
// or of anything it loads (CSS, scripts, its live streams). checkProblems
// reports them.
func (b *browser) watch() {
	go func() {
		for ev, err := range chromedp.Events(b.ctx, cdpruntime.ExceptionThrown) {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg += " " + d.Exception.Description
			}
			b.problem(fmt.Sprintf("JavaScript exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
		}
	}()
	go func() {
		for ev, err := range chromedp.Events(b.ctx, network.ResponseReceived) {
			if err != nil {
				return
			}
			// A browser asks for /favicon.ico by itself; the pages name none.
			if r := ev.Response; r != nil && r.Status >= 400 && !strings.HasSuffix(r.URL, "/favicon.ico") {
				b.problem(fmt.Sprintf("HTTP %d %s for %s (%s)", r.Status, r.StatusText, r.URL, ev.Type))
			}
		}
	}()
	// What the console shows as errors: resources refused or failed
	// (a stylesheet answered with a 404 is refused before any response
	// event), violations of the content security policy.
	go func() {
		for ev, err := range chromedp.Events(b.ctx, cdplog.EntryAdded) {
			if err != nil {
				return
			}
			if e := ev.Entry; e != nil && e.Level == cdplog.EntryLevelError && !strings.HasSuffix(e.URL, "/favicon.ico") {
				b.problem(fmt.Sprintf("console error (%s): %s %s", e.Source, e.Text, e.URL))
			}
		}
	}()
}

// takeProblems returns the problems seen since the last call, after
// a round trip to the page (events sent before it are in).
func (b *browser) takeProblems() []string {
	b.t.Helper()
	eval[bool](b, "true")
	b.mu.Lock()
	defer b.mu.Unlock()
	ps := b.problems
	b.problems = nil
	return ps
}

func (b *browser) problem(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, s)
}

// checkProblems fails the test with what went wrong in the tab since the
// last call (on page), and forgets it.
func (b *browser) checkProblems(page string) {
	b.t.Helper()
	for _, p := range b.takeProblems() {
		b.t.Errorf("%s: %s", page, p)
	}
}

// screenshotDir is where a test's screenshots go: its artifact folder
// under `go test -artifacts`, else build/webe2e/TEST in the repository
// (kept after the test, for a person to look at; the test logs where).
func screenshotDir(t *testing.T) string {
	if f := flag.Lookup("test.artifacts"); f != nil && f.Value.String() == "true" {
		return t.ArtifactDir()
	}
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_")
	dir := filepath.Join(labtest.Root, "build", "webe2e", name)
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// do runs actions on the tab; an error fails the test.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page (promises awaited)
// and decodes its JSON value into T; an error fails the test.
func eval[T any](b *browser, js string) T {
	b.t.Helper()
	v, err := tryEval[T](b, js)
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", clipJS(js), err)
	}
	return v
}

// tryEval is eval returning its error (e.g. while the page navigates).
func tryEval[T any](b *browser, js string) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string]("(async () => JSON.stringify(await (async () => "+js+")()))()", chromedp.EvalAwaitPromise))
	var v T
	if err == nil {
		err = json.Unmarshal([]byte(s), &v)
	}
	return v, err
}

func clipJS(js string) string {
	js = strings.Join(strings.Fields(js), " ")
	if len(js) > 120 {
		return js[:120] + "…"
	}
	return js
}

// open navigates to url and waits until the page has loaded.
func (b *browser) open(url string) {
	b.t.Helper()
	b.do("opening "+url, chromedp.Navigate(url))
}

// waitJS polls a JavaScript expression (every 100 ms) until it is true,
// through navigations (an evaluation cut by one is tried again); after d
// it fails the test with what.
func (b *browser) waitJS(d time.Duration, what, js string) {
	b.t.Helper()
	waitValue[bool](b, d, what, js, func(ok bool) bool { return ok })
}

// waitValue polls a JavaScript expression until done accepts its value,
// and returns that value; after d it fails the test with what.
func waitValue[T any](b *browser, d time.Duration, what, js string, done func(T) bool) T {
	b.t.Helper()
	v, err := waitValueErr(b, d, js, done)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// waitValueErr is waitValue returning an error after d.
func waitValueErr[T any](b *browser, d time.Duration, js string, done func(T) bool) (T, error) {
	deadline := time.Now().Add(d)
	var last error
	for {
		v, err := tryEval[T](b, js)
		if err == nil && done(v) {
			return v, nil
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			return v, fmt.Errorf("not within %s (last value %v, last error %v)", d, v, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// layout is what the page's geometry says at one width.
type layout struct {
	Viewport    string   `json:"viewport"` // the meta viewport's content
	InnerWidth  int      `json:"innerWidth"`
	ScrollWidth int      `json:"scrollWidth"`
	Wide        []string `json:"wide"`     // elements reaching past the right edge
	Headings    []string `json:"headings"` // the main headings' text
	Hidden      []string `json:"hidden"`   // main headings not visible in full
}

// layoutJS measures the page at the width it is given (a phone's layout
// viewport grows to hold content wider than the screen, so innerWidth
// alone would hide an overflow): the document's width, the elements that
// reach past the width, and the main headings (h1, and the h2 of the
// main content) with whether each is visible within it.
const layoutJS = `((vw) => {
  const de = document.documentElement;
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '');
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > vw + 1 && wide.length < 10) {
      // Only the outermost offender: its children overflow because it does.
      if (!wide.some(w => w.el.contains(el))) wide.push({el, s: name(el) + ' right=' + Math.round(r.right)});
    }
  }
  // The h1, and the h2 the page renders (not those of a tab not shown).
  const heads = [...document.querySelectorAll('h1, main h2')].filter(h => h.tagName === 'H1' || h.checkVisibility());
  const visible = el => {
    const r = el.getBoundingClientRect();
    const cs = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && r.left >= 0 && r.right <= vw + 1 &&
      cs.visibility !== 'hidden' && cs.display !== 'none' && parseFloat(cs.opacity) > 0;
  };
  const meta = document.querySelector('meta[name=viewport]');
  return {
    viewport: meta ? meta.content : '',
    innerWidth: window.innerWidth,
    scrollWidth: de.scrollWidth,
    wide: wide.map(w => w.s),
    headings: heads.map(h => h.textContent.trim().replace(/\s+/g, ' ')),
    hidden: heads.filter(h => !visible(h)).map(h => h.textContent.trim().replace(/\s+/g, ' ')),
  };
})`

// measure sets the viewport to width (a phone, with its meta viewport
// honoured, below 800 px) and measures the page.
func (b *browser) measure(width int) layout {
	b.t.Helper()
	opts := []chromedp.EmulateViewportOption{}
	if width < 800 {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)
	}
	b.do(fmt.Sprintf("viewport %d px", width), chromedp.EmulateViewport(int64(width), windowHeight, opts...))
	// Two animation frames: the new width is laid out and painted.
	eval[bool](b, `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`)
	return eval[layout](b, fmt.Sprintf("%s(%d)", layoutJS, width))
}

// checkLayout fails the test when, at width, the page is wider than the
// viewport (a horizontal scroll of the whole document), was laid out for
// another width (no meta viewport: a phone would show it shrunk), or a
// main heading is missing or not visible.
func (b *browser) checkLayout(page string, width int, l layout) {
	b.t.Helper()
	if !strings.Contains(l.Viewport, "width=device-width") {
		b.t.Errorf("%s: no meta viewport with width=device-width (%q): a phone lays it out 980 px wide and shrinks it", page, l.Viewport)
	}
	if l.ScrollWidth > width || l.InnerWidth > width {
		b.t.Errorf("%s at %d px: the document scrolls horizontally (scrollWidth %d, innerWidth %d); too wide: %v", page, width, l.ScrollWidth, l.InnerWidth, l.Wide)
	}
	if len(l.Headings) == 0 {
		b.t.Errorf("%s at %d px: no main heading (h1)", page, width)
	}
	if len(l.Hidden) > 0 {
		b.t.Errorf("%s at %d px: headings not visible in full: %q", page, width, l.Hidden)
	}
}

// shoot checks the current page's layout at both widths and writes a
// full-page screenshot of each, NAME-375.png and NAME-1440.png; the
// viewport is the desktop's afterwards.
func (b *browser) shoot(name string) {
	b.t.Helper()
	b.checkProblems(name)
	for _, w := range []int{phoneWidth, desktopWidth} {
		l := b.measure(w)
		b.checkLayout(name, w, l)
		png := b.screenshot(name, w)
		b.t.Logf("screenshot %s (document %d px wide in a %d px viewport)", png, l.ScrollWidth, l.InnerWidth)
	}
}

// screenshot writes a full-page PNG of the page as it is now.
func (b *browser) screenshot(name string, width int) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot of %s at %d px: %v", name, width, err)
	}
	if b.shots == "" {
		b.shots = screenshotDir(b.t)
	}
	path := filepath.Join(b.shots, fmt.Sprintf("%s-%d.png", name, width))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return path
}
