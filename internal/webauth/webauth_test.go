package webauth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/store/sqlite"
)

func newAuth(t *testing.T) (*Auth, string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.CreateUser(ctx, "alice", "pw", false); err != nil {
		t.Fatal(err)
	}
	tok, err := st.CreateToken(ctx, "alice", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	key, err := LoadKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return New(st, key), tok
}

// login returns the session cookie Login sets for alice.
func login(t *testing.T, a *Auth) *http.Cookie {
	t.Helper()
	rec := httptest.NewRecorder()
	a.Login(rec, httptest.NewRequest("POST", "/accounts/login/", nil), store.User{Name: "alice"})
	cs := rec.Result().Cookies()
	if len(cs) != 1 || cs[0].Name != CookieName || !cs[0].HttpOnly {
		t.Fatalf("Login set cookies %+v, want one HttpOnly %s", cs, CookieName)
	}
	return cs[0]
}

func TestUser(t *testing.T) {
	a, tok := newAuth(t)
	good := login(t, a)
	tampered := *good
	tampered.Value = strings.Replace(good.Value, good.Value[:4], "Ym9i", 1) // "bob"
	cases := []struct {
		name    string
		header  string
		cookie  *http.Cookie
		want    string // user name, "" anonymous
		wantErr error
	}{
		{name: "anonymous"},
		{name: "token", header: "Token " + tok, want: "alice"},
		{name: "token keyword any case", header: "token " + tok, want: "alice"},
		{name: "bad token", header: "Token nope", wantErr: ErrInvalidToken},
		{name: "token wins over cookie", header: "Token nope", cookie: good, wantErr: ErrInvalidToken},
		{name: "basic ignored", header: "Basic YWxpY2U6" + tok},
		{name: "session", cookie: good, want: "alice"},
		{name: "tampered session", cookie: &tampered},
		{name: "garbage session", cookie: &http.Cookie{Name: CookieName, Value: "a|b"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if c.header != "" {
				r.Header.Set("Authorization", c.header)
			}
			if c.cookie != nil {
				r.AddCookie(c.cookie)
			}
			u, ok, err := a.User(r)
			if !errors.Is(err, c.wantErr) || u.Name != c.want || ok != (c.want != "") {
				t.Errorf("User() = %q, %v, %v; want %q, %v", u.Name, ok, err, c.want, c.wantErr)
			}
		})
	}
}

func TestSessionExpires(t *testing.T) {
	a, _ := newAuth(t)
	c := login(t, a)
	a.now = func() time.Time { return time.Now().Add(SessionLifetime + time.Minute) }
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(c)
	if u, ok, err := a.User(r); ok || err != nil {
		t.Errorf("User() with an expired session = %q, %v, %v; want anonymous", u.Name, ok, err)
	}
}

func TestCheckCSRF(t *testing.T) {
	a, tok := newAuth(t)
	c := login(t, a)
	page := httptest.NewRequest("GET", "/", nil)
	page.AddCookie(c)
	csrf := a.CSRF(page)
	if csrf == "" {
		t.Fatal("CSRF() is empty for a session")
	}
	post := func(form string, header, auth string) *http.Request {
		r := httptest.NewRequest("POST", "/x", strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if header != "" {
			r.Header.Set("X-CSRF-Token", header)
		}
		if auth != "" {
			r.Header.Set("Authorization", auth)
		} else {
			r.AddCookie(c)
		}
		return r
	}
	cases := []struct {
		name string
		r    *http.Request
		want bool
	}{
		{"form field", post("csrf="+url.QueryEscape(csrf), "", ""), true},
		{"header", post("", csrf, ""), true},
		{"missing", post("", "", ""), false},
		{"wrong", post("csrf=abc", "", ""), false},
		{"token request needs none", post("", "", "Token "+tok), true},
	}
	for _, c := range cases {
		if got := a.CheckCSRF(c.r); got != c.want {
			t.Errorf("%s: CheckCSRF = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestLoadKeyKeepsAndChecks(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadKey(dir)
	if err != nil || string(k1) != string(k2) {
		t.Fatalf("second LoadKey = %x, %v; want the first key", k2, err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, %v; want 0600", fi.Mode(), err)
	}
	if err := os.WriteFile(filepath.Join(dir, KeyFile), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(dir); err == nil || !strings.Contains(err.Error(), "5 bytes") {
		t.Errorf("LoadKey of a short key = %v, want an error naming its size", err)
	}
}
