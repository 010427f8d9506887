package webe2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/basalt-lava/basalt/internal/labtest"
)

// What a LAVA user does in the pages, one step per function; each
// leaves a full-page screenshot of what it looked at, at both widths.

// text is the visible text of the first element matching sel ("" when
// there is none).
func (b *browser) text(sel string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf(`(document.querySelector(%q) || {innerText: ""}).innerText`, sel))
}

// path is the page's location path and query.
func (b *browser) path() string {
	b.t.Helper()
	return eval[string](b, `location.pathname + location.search`)
}

// click clicks the first element matching sel.
func (b *browser) click(sel string) {
	b.t.Helper()
	b.do("clicking "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// setValue sets a form field's value.
func (b *browser) setValue(sel, v string) {
	b.t.Helper()
	b.do("filling "+sel, chromedp.SetValue(chromedp.CSS(sel), v))
}

// page opens a page of the lab, checks it says each of want (its visible
// text) and shoots it.
func (b *browser) page(l *labtest.Lab, name, path string, want ...string) string {
	b.t.Helper()
	return b.pageStatus(l, name, path, 0, want...)
}

// pageStatus is page for a page answered with an HTTP error status (a
// refusal that says why): that status of the page itself is expected.
func (b *browser) pageStatus(l *labtest.Lab, name, path string, status int, want ...string) string {
	b.t.Helper()
	b.open(l.URL() + path)
	if status != 0 {
		for _, p := range b.takeProblems() {
			if !strings.Contains(p, fmt.Sprintf(" %d ", status)) || !strings.Contains(p, l.URL()+path) {
				b.t.Errorf("%s: %s", name, p)
			}
		}
	}
	body := b.text("body")
	for _, w := range want {
		if !strings.Contains(body, w) {
			b.t.Errorf("%s (%s) does not say %q:\n%s", name, path, w, clipText(body))
		}
	}
	b.shoot(name)
	return body
}

func clipText(s string) string {
	if len(s) > 1500 {
		return s[:1500] + "…"
	}
	return s
}

// loginHere logs in as admin on the login page the browser shows (a
// wrong password first), and checks it lands on next logged in.
func loginHere(t *testing.T, b *browser, next string) {
	t.Helper()
	b.shoot("login")
	b.setValue(`#login-form input[name=username]`, "admin")
	b.setValue(`#login-form input[name=password]`, "not the password")
	b.click(`#login-form button[type=submit]`)
	b.waitJS(30*time.Second, "the login page again, saying the password is wrong", `!!document.querySelector('#login-error') && !!document.querySelector('#login-form')`)
	// The refusal's status is the server's choice (Django answers 200 with
	// the form again): a 4xx of the login page itself is no problem.
	for _, p := range b.takeProblems() {
		if !strings.Contains(p, " 40") || !strings.Contains(p, "/accounts/login/") {
			t.Errorf("login refused: %s", p)
		}
	}
	b.shoot("login-failed")
	b.setValue(`#login-form input[name=username]`, "admin")
	b.setValue(`#login-form input[name=password]`, adminPassword)
	b.click(`#login-form button[type=submit]`)
	b.waitJS(30*time.Second, "landing on "+next+" after logging in", fmt.Sprintf(`location.pathname === %q`, next))
	if nav := b.text("header"); !strings.Contains(nav, "admin") || !strings.Contains(nav, "Log out") {
		t.Errorf("after logging in the header says %q, not the user and Log out", nav)
	}
}

var jobPath = regexp.MustCompile(`^/scheduler/job/(\d+)`)

// submitJob submits a definition through the submit form and returns the
// job's id, read from the job page it lands on.
func submitJob(t *testing.T, b *browser, definition string) string {
	t.Helper()
	b.shoot("jobsubmit")
	b.setValue("#definition", definition)
	b.click("#validate-job")
	b.waitJS(60*time.Second, "the definition validated", `!!document.querySelector('#submit-valid, #submit-problems')`)
	if p := b.text("#submit-problems"); p != "" {
		t.Fatalf("the submit form finds the job invalid: %s", p)
	}
	b.shoot("jobsubmit-valid")
	b.click("#submit-job")
	b.waitJS(60*time.Second, "the job page after submitting", `/^\/scheduler\/job\/\d+/.test(location.pathname)`)
	m := jobPath.FindStringSubmatch(b.path())
	if m == nil {
		t.Fatalf("submitting landed on %s", b.path())
	}
	return m[1]
}

// logObservation is what the job page shows at one moment.
type logObservation struct {
	Lines int    `json:"lines"`
	State string `json:"state"`
}

const observeJS = `({lines: document.querySelectorAll('#log-lines .log-line').length,
  state: (document.querySelector('#job-state') || {textContent: ''}).textContent.trim()})`

// watchJob stays on the job page (no reload) while the job runs: its log
// grows there (twice) while it is Running, its state turns to Complete,
// and the header then says when it ended and how its tests went.
func watchJob(t *testing.T, b *browser, id string) {
	t.Helper()
	if !jobPath.MatchString(b.path()) {
		t.Fatalf("not on a job page: %s", b.path())
	}
	// A reload would drop this.
	eval[bool](b, `window.basaltNoReload = true`)
	b.waitJS(10*time.Minute, "job "+id+"'s page showing Running", `/Running/.test(document.querySelector('#job-state').textContent)`)
	first := eval[logObservation](b, observeJS)
	later := waitValue(b, 5*time.Minute, fmt.Sprintf("job %s's log growing on its page from %d lines", id, first.Lines), observeJS,
		func(o logObservation) bool { return o.Lines > first.Lines })
	// And again: the page follows the log as it is written, not once.
	again := waitValue(b, 5*time.Minute, fmt.Sprintf("job %s's log growing on its page from %d lines", id, later.Lines), observeJS,
		func(o logObservation) bool { return o.Lines > later.Lines })
	for _, o := range []logObservation{first, later, again} {
		if !strings.Contains(o.State, "Running") {
			t.Errorf("job %s's log grew %d → %d → %d lines, but not while Running (%q, %q, %q)", id, first.Lines, later.Lines, again.Lines, first.State, later.State, again.State)
			break
		}
	}
	t.Logf("job %s's page while it runs: %d log lines, then %d, then %d", id, first.Lines, later.Lines, again.Lines)
	b.shoot("job-running")
	b.waitJS(10*time.Minute, "job "+id+"'s page showing Complete", `/Complete/.test(document.querySelector('#job-state').textContent)`)
	// The rest of the header follows: when it ended, its tests' counts.
	header := `(() => { const e = document.querySelector('#job-ended'), c = document.querySelector('#job-tests');
		return !!e && !!c && /\d{4}-\d\d-\d\d/.test(e.textContent) && /2 passed/.test(c.textContent) && /1 failed/.test(c.textContent); })()`
	if _, err := waitValueErr[bool](b, 30*time.Second, header, func(ok bool) bool { return ok }); err != nil {
		t.Errorf("job %s's page, finished: the header says Ended %q, Tests %q; want the end time and 2 passed, 1 failed", id, b.text("#job-ended"), b.text("#job-tests"))
	}
	if !eval[bool](b, `window.basaltNoReload === true`) {
		t.Errorf("job %s's page was reloaded: the state did not change in place", id)
	}
	end := eval[logObservation](b, observeJS)
	if end.Lines <= again.Lines {
		t.Errorf("job %s's page: %d log lines when it finished, %d while running", id, end.Lines, again.Lines)
	}
	// textContent: the test's section may be folded once it ended.
	if log := eval[string](b, `document.querySelector('#log-lines').textContent`); !strings.Contains(log, "tick-10") {
		t.Errorf("job %s's page: the live log misses the test's last output (tick-10)", id)
	}
	b.shoot("job-finished")
}

// jobTabs reads the finished job's Results, Description and Timing
// tabs, as a user does, without reloading the page.
func jobTabs(t *testing.T, b *browser, id string) {
	t.Helper()
	b.click(`#job-tabs [data-tab=results]`)
	const shown = `[...document.querySelectorAll('#tab-results tr')].some(tr => tr.offsetParent !== null && tr.innerText.includes('always-pass'))`
	if _, err := waitValueErr[bool](b, 30*time.Second, shown, func(ok bool) bool { return ok }); err != nil {
		// What a user who watched the job finish sees (the state must
		// change in place, the rest may need a reload): go on after a
		// reload, to check the results.
		b.shoot("job-results-stale")
		t.Errorf("job %s finished while its page was open: its results tab does not show its results without a reload", id)
		b.do("reloading", chromedp.Reload())
		b.click(`#job-tabs [data-tab=results]`)
		b.waitJS(30*time.Second, "job "+id+"'s results tab showing always-pass after a reload", shown)
	}
	rows := eval[[]string](b, `[...document.querySelectorAll('#tab-results tr')].map(tr => tr.innerText.replace(/\s+/g, ' ').trim())`)
	for name, want := range map[string]string{"always-pass": "pass", "always-fail": "fail", "skipped": "skip", "measured": "42.5"} {
		found := false
		for _, r := range rows {
			if strings.Contains(r, name) && strings.Contains(r, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("job %s's results tab has no row with %s and %s: %q", id, name, want, rows)
		}
	}
	b.shoot("job-results")
	b.click(`#job-tabs [data-tab=description]`)
	b.waitJS(30*time.Second, "job "+id+"'s description tab", `!!document.querySelector('#tab-description') && document.querySelector('#tab-description').offsetParent !== null`)
	type row struct{ Name, Timeout string }
	desc := eval[[]row](b, `[...document.querySelectorAll('#tab-description tbody tr')].map(tr => ({
		Name: (tr.querySelector('.desc-name') || tr.cells[1] || {innerText: ''}).innerText.trim(),
		Timeout: (tr.querySelector('.desc-timeout') || tr.cells[2] || {innerText: ''}).innerText.trim()}))`)
	names := ""
	for _, r := range desc {
		names += r.Name + " "
		if r.Timeout == "" {
			t.Errorf("job %s's description: action %q has no timeout", id, r.Name)
		}
	}
	// The job's own timeouts, as it sets them: the boot block 180 s, the
	// test block 120 s; the device type's power-off 10 s.
	timeouts := map[string]string{}
	for _, r := range desc {
		name := strings.Fields(r.Name + " ?")[0] // the name, not its attempts or URL
		if _, seen := timeouts[name]; !seen {
			timeouts[name] = r.Timeout
		}
	}
	for name, want := range map[string]string{"deployimages": "00:02:00", "boot-image-retry": "00:03:00", "lava-test-retry": "00:02:00", "power-off": "00:00:10"} {
		if got := timeouts[name]; !strings.HasPrefix(got, want) {
			t.Errorf("job %s's description: action %s's timeout %q, want %s (%d rows: %s)", id, name, got, want, len(desc), names)
		}
	}
	b.shoot("job-description")
	// The timing tab: the actions on a timeline, a bar each.
	b.click(`#job-tabs [data-tab=timing]`)
	bars := waitValue(b, 30*time.Second, "job "+id+"'s timeline", `document.querySelectorAll('#tab-timing svg .tl-bar').length`,
		func(n int) bool { return n > 0 })
	if bars < 4 {
		t.Errorf("job %s's timeline: %d bars, want one per action (deploy, boot, test, finalize at least)", id, bars)
	}
	b.shoot("job-timing")
}

// remoteToken adds the remote artifact token KernelCI's callback names
// (kernelciNotify) on the tokens page, as a lab's KernelCI user does:
// its name is listed, its value never shown.
func remoteToken(t *testing.T, b *browser, l *labtest.Lab) {
	t.Helper()
	b.open(l.URL() + "/api/tokens/")
	b.setValue(`#remote-token-form input[name=name]`, "kernelci-callback")
	b.setValue(`#remote-token-form input[name=token]`, "kernelci-callback-secret")
	b.click(`#remote-token-form button[type=submit]`)
	b.waitJS(30*time.Second, "the remote token listed", `(document.querySelector('#remote-tokens') || {innerText: ''}).innerText.includes('kernelci-callback')`)
	if html := eval[string](b, `document.documentElement.outerHTML`); strings.Contains(html, "kernelci-callback-secret") {
		t.Error("the tokens page shows the remote token's value")
	}
	b.shoot("tokens-remote")
}

// newToken makes an API token on the tokens page, as a user does before
// configuring lavacli or a CI system, and checks the secret it shows
// once authenticates XML-RPC calls as that user.
func newToken(t *testing.T, b *browser, l *labtest.Lab) {
	t.Helper()
	b.open(l.URL() + "/api/tokens/")
	b.setValue(`#token-form input[name=description]`, "webe2e laptop")
	b.click(`#token-form button[type=submit]`)
	b.waitJS(30*time.Second, "the new token's secret shown", `!!document.querySelector('#new-token')`)
	secret := strings.TrimSpace(b.text("#new-token"))
	if body := b.text("#tokens"); !strings.Contains(body, "webe2e laptop") {
		t.Errorf("the tokens table does not list the new token: %s", body)
	}
	b.shoot("tokens-new")
	saved := l.Tokens["admin"]
	l.Tokens["admin"] = secret
	defer func() { l.Tokens["admin"] = saved }()
	if who := rpc(t, l, "admin", "system.whoami"); who != "admin" {
		t.Errorf("system.whoami with the token the page made: %v, want admin", who)
	}
}
