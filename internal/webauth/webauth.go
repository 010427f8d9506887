// Package webauth says who an HTTP request to the lab's web pages or REST
// API comes from: a REST token (LAVA's "Authorization: Token <secret>") or
// a session cookie set at login. It also makes and checks the CSRF token
// that the forms of a logged-in page carry.
//
// The session cookie is "<user>|<expiry unix>|<MAC>" where MAC is an
// HMAC-SHA256 of the first two fields under a key kept in the server's data
// folder, so sessions survive a restart and need no database table; a
// user deleted from the store loses their sessions at once (each request
// reads the user back).
package webauth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/store"
)

// CookieName is the session cookie's name.
const CookieName = "basalt_session"

// SessionLifetime is how long a login lasts.
const SessionLifetime = 14 * 24 * time.Hour

// KeyFile is the name of the session key's file in the data folder.
const KeyFile = "session.key"

// keySize is the session key's length in bytes.
const keySize = 32

// ErrInvalidToken is returned by User for an Authorization: Token header
// that names no token; REST answers it with 403 {"detail": "Invalid token."}.
var ErrInvalidToken = errors.New("invalid token")

// Auth resolves requests to users.
type Auth struct {
	store store.Store
	key   []byte
	now   func() time.Time
}

// New returns an Auth over st signing sessions with key (LoadKey).
func New(st store.Store, key []byte) *Auth {
	return &Auth{store: st, key: key, now: time.Now}
}

// LoadKey returns the session key kept in dataDir, making it (mode 0600)
// on first use.
func LoadKey(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, KeyFile)
	key, err := os.ReadFile(path)
	if err == nil {
		if len(key) != keySize {
			return nil, fmt.Errorf("session key %s: %d bytes, want %d (remove it to make a new one; logins are lost)", path, len(key), keySize)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("session key: %w", err)
	}
	key = make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("session key: %w", err)
	}
	// O_EXCL: two servers starting on one folder agree on the first key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadKey(dataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("session key: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return nil, fmt.Errorf("session key %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("session key %s: %w", path, err)
	}
	return key, nil
}

// User returns who r comes from. A request with an "Authorization: Token"
// header is that token's user, or ErrInvalidToken; otherwise the session
// cookie's user, if the cookie is valid and unexpired. ok is false for an
// anonymous request (err nil). Other Authorization schemes (Basic) are
// ignored, as LAVA's REST API ignores them.
func (a *Auth) User(r *http.Request) (u store.User, ok bool, err error) {
	if secret, isToken := tokenHeader(r); isToken {
		u, err := a.store.TokenUser(r.Context(), secret)
		if errors.Is(err, store.ErrAuth) {
			return store.User{}, false, ErrInvalidToken
		}
		if err != nil {
			return store.User{}, false, err
		}
		return u, true, nil
	}
	name, ok := a.session(r)
	if !ok {
		return store.User{}, false, nil
	}
	return a.user(r.Context(), name)
}

func (a *Auth) user(ctx context.Context, name string) (store.User, bool, error) {
	u, err := a.store.User(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, false, nil
	}
	if err != nil {
		return store.User{}, false, err
	}
	return u, true, nil
}

// tokenHeader returns the secret of an "Authorization: Token <secret>"
// header (the keyword in any case).
func tokenHeader(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	kw, secret, found := strings.Cut(strings.TrimSpace(h), " ")
	if !found || !strings.EqualFold(kw, "token") {
		return "", false
	}
	return strings.TrimSpace(secret), true
}

// ByToken reports whether r authenticates with a token header (and so
// needs no CSRF token).
func ByToken(r *http.Request) bool {
	_, ok := tokenHeader(r)
	return ok
}

// Login sets the session cookie for u on w.
func (a *Auth) Login(w http.ResponseWriter, r *http.Request, u store.User) {
	exp := a.now().Add(SessionLifetime)
	payload := base64.RawURLEncoding.EncodeToString([]byte(u.Name)) + "|" + strconv.FormatInt(exp.Unix(), 10)
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: payload + "|" + a.mac("session", payload),
		Path: "/", Expires: exp, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
}

// Logout clears the session cookie.
func (a *Auth) Logout(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// session returns the user name of r's valid session cookie.
func (a *Auth) session(r *http.Request) (string, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return "", false
	}
	i := strings.LastIndexByte(c.Value, '|')
	if i < 0 {
		return "", false
	}
	payload, mac := c.Value[:i], c.Value[i+1:]
	if !hmac.Equal([]byte(mac), []byte(a.mac("session", payload))) {
		return "", false
	}
	enc, expS, ok := strings.Cut(payload, "|")
	if !ok {
		return "", false
	}
	exp, err := strconv.ParseInt(expS, 10, 64)
	if err != nil || a.now().Unix() >= exp {
		return "", false
	}
	name, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(name) == 0 {
		return "", false
	}
	return string(name), true
}

// CSRF returns the token a form on a page for r's session carries (as the
// "csrf" form field or the X-CSRF-Token header); "" without a session.
func (a *Auth) CSRF(r *http.Request) string {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return ""
	}
	return a.mac("csrf", c.Value)
}

// CheckCSRF reports whether an unsafe request may go ahead: token-
// authenticated requests need no CSRF token (a browser never sends that
// header on its own), session requests must carry CSRF(r), and requests
// with neither are anonymous and left to the caller's permission check.
func (a *Auth) CheckCSRF(r *http.Request) bool {
	if ByToken(r) {
		return true
	}
	want := a.CSRF(r)
	if want == "" {
		return true
	}
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return hmac.Equal([]byte(got), []byte(want))
}

// mac is the HMAC of purpose and value under the key, in base64url.
func (a *Auth) mac(purpose, value string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
