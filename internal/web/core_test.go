package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/store"
)

func TestLogin(t *testing.T) {
	ts := newTestSite(t)
	cases := []struct {
		name     string
		form     url.Values
		code     int
		location string
	}{
		{"good", url.Values{"username": {"alice"}, "password": {"alice-pw"}, "next": {"/scheduler/alljobs"}}, http.StatusSeeOther, "/scheduler/alljobs"},
		{"bad password", url.Values{"username": {"alice"}, "password": {"nope"}}, http.StatusForbidden, ""},
		{"unknown user", url.Values{"username": {"mallory"}, "password": {"x"}}, http.StatusForbidden, ""},
		{"next off site", url.Values{"username": {"alice"}, "password": {"alice-pw"}, "next": {"//evil.example/"}}, http.StatusSeeOther, "/"},
		{"next scheme", url.Values{"username": {"alice"}, "password": {"alice-pw"}, "next": {"https://evil.example/"}}, http.StatusSeeOther, "/"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := ts.post(t, "/accounts/login/", "", c.form)
			if rec.Code != c.code {
				t.Fatalf("status %d, want %d", rec.Code, c.code)
			}
			if c.location != "" {
				if got := rec.Header().Get("Location"); got != c.location {
					t.Errorf("Location %q, want %q", got, c.location)
				}
				if len(rec.Result().Cookies()) != 1 {
					t.Errorf("no session cookie set")
				}
			} else {
				wantBody(t, rec, c.code, `id="login-error"`)
			}
		})
	}
}

func TestLayoutShowsWhoIsLoggedIn(t *testing.T) {
	ts := newTestSite(t)
	wantBody(t, ts.get(t, "/", ""), http.StatusOK, `href="/accounts/login/?next=%2f"`, "Recent jobs")
	wantBody(t, ts.get(t, "/", "alice"), http.StatusOK, `id="logout-form"`, ">alice</a>")
	wantBody(t, ts.get(t, "/scheduler/", "admin"), http.StatusOK, "admin (admin)")
}

func TestLogoutNeedsCSRF(t *testing.T) {
	ts := newTestSite(t)
	rec := ts.post(t, "/accounts/logout/", "alice", url.Values{"csrf": {"forged"}})
	wantBody(t, rec, http.StatusForbidden, "CSRF")
	rec = ts.post(t, "/accounts/logout", "alice", url.Values{})
	if rec.Code != http.StatusSeeOther || !strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("logout: status %d, Set-Cookie %q; want a redirect clearing the cookie", rec.Code, rec.Header().Get("Set-Cookie"))
	}
}

func TestTokensPage(t *testing.T) {
	ts := newTestSite(t)
	rec := ts.get(t, "/api/tokens/", "")
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/accounts/login/?next=") {
		t.Fatalf("anonymous tokens page: %d %q, want a redirect to the login page", rec.Code, rec.Header().Get("Location"))
	}
	wantBody(t, ts.get(t, "/api/tokens", "alice"), http.StatusOK, `id="tokens"`, "tests")

	rec = ts.post(t, "/api/tokens/", "alice", url.Values{"action": {"create"}, "description": {"laptop <b>"}})
	wantBody(t, rec, http.StatusOK, `id="new-token"`, "laptop &lt;b&gt;")
	secret := regexp.MustCompile(`id="new-token">([^<]+)<`).FindStringSubmatch(rec.Body.String())
	if secret == nil {
		t.Fatal("no secret shown")
	}
	if u, err := ts.st.TokenUser(t.Context(), secret[1]); err != nil || u.Name != "alice" {
		t.Errorf("the shown secret authenticates %q, %v; want alice", u.Name, err)
	}
	// The secret is shown once: the list has descriptions only.
	if body := ts.get(t, "/api/tokens/", "alice").Body.String(); strings.Contains(body, secret[1]) {
		t.Errorf("the tokens page shows a secret again")
	}

	toks, _ := ts.st.Tokens(t.Context(), "alice")
	if rec := ts.post(t, "/api/tokens/", "admin", url.Values{"action": {"delete"}, "id": {itoa(toks[0].ID)}}); rec.Code != http.StatusSeeOther {
		t.Errorf("admin deleting: %d", rec.Code)
	}
	if after, _ := ts.st.Tokens(t.Context(), "alice"); len(after) != len(toks) {
		t.Errorf("another user deleted alice's token")
	}
	ts.post(t, "/api/tokens/", "alice", url.Values{"action": {"delete"}, "id": {itoa(toks[0].ID)}})
	if after, _ := ts.st.Tokens(t.Context(), "alice"); len(after) != len(toks)-1 {
		t.Errorf("alice's delete left %d tokens, want %d", len(after), len(toks)-1)
	}
}

func TestHomeHidesPrivateJobs(t *testing.T) {
	ts := newTestSite(t)
	ts.submit(t, store.NewJob{Description: "public-job"})
	ts.submit(t, store.NewJob{Description: "secret-job", Visibility: store.VisibilityPersonal})
	wantBody(t, ts.get(t, "/", ""), http.StatusOK, "public-job")
	if strings.Contains(ts.get(t, "/", "").Body.String(), "secret-job") {
		t.Errorf("anonymous home page lists a personal job")
	}
	wantBody(t, ts.get(t, "/", "alice"), http.StatusOK, "public-job", "secret-job", "2</span> queued")
}

func TestNotFoundAndStatic(t *testing.T) {
	ts := newTestSite(t)
	wantBody(t, ts.get(t, "/no/such/page", ""), http.StatusNotFound, `id="error-msg"`)
	rec := ts.get(t, "/static/basalt.css?v=1", "")
	wantBody(t, rec, http.StatusOK, ".badge")
	if !strings.Contains(rec.Header().Get("Cache-Control"), "immutable") {
		t.Errorf("versioned asset Cache-Control %q", rec.Header().Get("Cache-Control"))
	}
	if rec := ts.get(t, "/static/../web.go", ""); rec.Code == http.StatusOK {
		t.Errorf("/static/../web.go served")
	}
	// The layout links the versioned style sheet.
	wantBody(t, ts.get(t, "/", ""), http.StatusOK, `href="/static/basalt.css?v=`)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
