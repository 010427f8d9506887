package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/basalt-lava/basalt/internal/store"
)

// Element ids the browser tests rely on: #login-form (fields "username",
// "password"), #login-error, #logout-form, #token-form (field
// "description"), #new-token (the secret shown once), #tokens (the table),
// #remote-token-form (fields "name", "token"), #remote-tokens (the table
// of remote artifact tokens, remotetokens.go).

func init() { addRoutes((*site).coreRoutes) }

// coreRoutes are the pages of web.go's own files.
func (s *site) coreRoutes() {
	s.get("/accounts/login", s.loginPage)
	s.route("POST", "/accounts/login", s.loginPost) // no session yet, so no CSRF token
	s.get("/accounts/logout", s.logoutPage)
	s.post("/accounts/logout", s.logoutPost)
	s.get("/api/tokens", s.tokensPage)
	s.post("/api/tokens", s.tokensPost)
	s.get("/", s.home)
	s.get("/scheduler", s.home)
}

type loginData struct {
	Next  string
	Name  string
	Error string
}

// safeNext keeps a post-login destination on this site: a path, never
// "//host" or a scheme.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

func (s *site) loginPage(w http.ResponseWriter, r *http.Request) {
	s.page(w, r, "login.html", "Log in", loginData{Next: safeNext(r.URL.Query().Get("next"))})
}

func (s *site) loginPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	name, pw := strings.TrimSpace(r.PostFormValue("username")), r.PostFormValue("password")
	next := safeNext(r.PostFormValue("next"))
	u, err := s.c.Store.CheckPassword(r.Context(), name, pw)
	if errors.Is(err, store.ErrAuth) {
		s.render(w, r, http.StatusForbidden, "login.html", "Log in", loginData{Next: next, Name: name,
			Error: "Please enter a correct username and password."})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.c.Auth.Login(w, r, u)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *site) logoutPage(w http.ResponseWriter, r *http.Request) {
	s.page(w, r, "logout.html", "Log out", nil)
}

func (s *site) logoutPost(w http.ResponseWriter, r *http.Request) {
	s.c.Auth.Logout(w)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

type tokensData struct {
	Tokens []store.Token
	// NewSecret is a token just made: shown once, never stored in clear.
	NewSecret      string
	NewDescription string
	Error          string
	// RemoteTokens are the user's remote artifact tokens, names only.
	RemoteTokens []store.RemoteToken
	RemoteError  string
}

func (s *site) tokensPage(w http.ResponseWriter, r *http.Request) {
	u, ok := s.requireLogin(w, r)
	if !ok {
		return
	}
	s.showTokens(w, r, u, http.StatusOK, tokensData{})
}

func (s *site) showTokens(w http.ResponseWriter, r *http.Request, u store.User, code int, d tokensData) {
	ts, err := s.c.Store.Tokens(r.Context(), u.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Tokens = ts
	if d.RemoteTokens, err = s.c.Store.RemoteTokens(r.Context(), u.Name, false); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, code, "tokens.html", "API tokens", d)
}

// tokensPost creates a token (action "create", with a description) or
// deletes one (action "delete", with its id); remote-add and
// remote-delete are remoteTokensPost's.
func (s *site) tokensPost(w http.ResponseWriter, r *http.Request) {
	u, ok := s.requireLogin(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	switch r.PostFormValue("action") {
	case "create":
		desc := strings.TrimSpace(r.PostFormValue("description"))
		if len(desc) > 200 {
			s.showTokens(w, r, u, http.StatusBadRequest, tokensData{Error: "The description is limited to 200 characters."})
			return
		}
		secret, err := s.c.Store.CreateToken(r.Context(), u.Name, "", desc)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.showTokens(w, r, u, http.StatusOK, tokensData{NewSecret: secret, NewDescription: desc})
	case "delete":
		id, err := strconv.ParseInt(r.PostFormValue("id"), 10, 64)
		if err == nil {
			err = s.c.Store.DeleteToken(r.Context(), u.Name, id)
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.fail(w, r, err)
			return
		}
		http.Redirect(w, r, "/api/tokens/", http.StatusSeeOther)
	case "remote-add", "remote-delete":
		s.remoteTokensPost(w, r, u)
	default:
		s.fail(w, r, &httpError{Code: http.StatusBadRequest, Msg: "unknown action"})
	}
}
