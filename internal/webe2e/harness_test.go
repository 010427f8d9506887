package webe2e

import (
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/labtest"
)

// The harness itself, on pages whose layout is known: what it measures
// must be able to fail.

const page = `<!doctype html><html><head><meta charset="utf-8">%s<title>t</title></head>
<body style="margin:0;font-family:sans-serif"><main><h1>Job 42</h1><h2 %s>Results</h2>%s</main></body></html>`

const viewportMeta = `<meta name="viewport" content="width=device-width, initial-scale=1">`

func TestLayoutMeasures(t *testing.T) {
	mux := http.NewServeMux()
	serve := func(path, body string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, body)
		})
	}
	serve("/good", fmt.Sprintf(page, viewportMeta, "", `<p style="max-width:100%">short text</p>`))
	serve("/wide", fmt.Sprintf(page, viewportMeta, "", `<table style="width:600px"><tr><td>wide</td></tr></table>`))
	serve("/noviewport", fmt.Sprintf(page, "", "", "<p>text</p>"))
	serve("/hidden", fmt.Sprintf(page, viewportMeta, `style="position:relative;left:400px"`, "<p>text</p>"))
	serve("/broken", fmt.Sprintf(page, viewportMeta+`<link rel="stylesheet" href="/missing.css">`, "", `<script>null.x = 1;</script>`))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	b := newBrowser(t)
	b.open(srv.URL + "/good")
	l := b.measure(phoneWidth)
	if l.InnerWidth != phoneWidth || l.ScrollWidth > phoneWidth || len(l.Wide) > 0 || len(l.Hidden) > 0 ||
		strings.Join(l.Headings, "|") != "Job 42|Results" {
		t.Errorf("good page at %d px: %+v", phoneWidth, l)
	}
	b.shoot("good")
	for w, name := range map[int]string{phoneWidth: "good-375.png", desktopWidth: "good-1440.png"} {
		f, err := os.Open(b.shots + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width != w {
			t.Errorf("%s: %d px wide (%v), want %d", name, cfg.Width, err, w)
		}
	}

	b.open(srv.URL + "/broken")
	ps := strings.Join(b.takeProblems(), "\n")
	if !strings.Contains(ps, "/missing.css") || !strings.Contains(ps, "JavaScript exception") {
		t.Errorf("a missing stylesheet and a script's exception, seen as:\n%s", ps)
	}

	b.open(srv.URL + "/wide")
	if l := b.measure(phoneWidth); l.ScrollWidth <= phoneWidth || len(l.Wide) == 0 || !strings.HasPrefix(l.Wide[0], "table") {
		t.Errorf("a 600 px table at %d px not seen as a horizontal scroll: %+v", phoneWidth, l)
	}
	if l := b.measure(desktopWidth); l.ScrollWidth > l.InnerWidth {
		t.Errorf("the 600 px table overflows at %d px: %+v", desktopWidth, l)
	}

	b.open(srv.URL + "/noviewport")
	if l := b.measure(phoneWidth); l.InnerWidth == phoneWidth || l.Viewport != "" {
		t.Errorf("a page without a meta viewport laid out at the phone's %d px: %+v", phoneWidth, l)
	}

	b.open(srv.URL + "/hidden")
	if l := b.measure(phoneWidth); len(l.Hidden) != 1 || l.Hidden[0] != "Results" {
		t.Errorf("a heading pushed off the right edge not seen hidden: %+v", l)
	}
}

// TestBrowserReapedWhenTestKilled kills (SIGKILL) a test binary that
// started a browser, as `go test -timeout` or a CI runner would, and
// checks that no process of that browser is left.
func TestBrowserReapedWhenTestKilled(t *testing.T) {
	chromium(t)
	if os.Getenv("BASALT_WEBE2E_KILLME") == "1" {
		t.Skip("the child's own run of this test")
	}
	// The child's own group (ChildTest), so that the SIGKILL below cannot
	// be the reason its browser goes: only the reaper and the kernel's
	// Pdeathsig may end it.
	dataDir, kill := labtest.ChildTest(t, "TestKilledChild", "BROWSER ", "BASALT_WEBE2E_KILLME=1", "TMPDIR="+t.TempDir())
	mention := "--user-data-dir=" + dataDir
	if len(labtest.ProcessesMentioning(mention)) == 0 {
		t.Fatalf("no process of the child's browser (%s) is running", mention)
	}
	kill()
	labtest.WaitFor(t, 20*time.Second, "the killed test's browser gone", func() bool {
		return len(labtest.ProcessesMentioning(mention)) == 0
	})
}

// TestKilledChild is the child of TestBrowserReapedWhenTestKilled: it
// starts a browser, says so, and waits to be killed.
func TestKilledChild(t *testing.T) {
	if os.Getenv("BASALT_WEBE2E_KILLME") != "1" {
		t.Skip("run by TestBrowserReapedWhenTestKilled")
	}
	b := newBrowser(t)
	b.open("data:text/html,<h1>waiting</h1>")
	fmt.Printf("BROWSER %s\n", b.dataDir)
	select {}
}
