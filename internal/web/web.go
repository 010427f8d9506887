// Package web serves the lab's pages: server-rendered HTML at LAVA's URLs
// (/scheduler/job/N, /scheduler/device/NAME, /scheduler/alljobs,
// /results/N, /api/tokens/, /accounts/login/ …), with the templates, style
// sheets and scripts embedded in the binary (no build step).
//
// Layout of the package: web.go (this file: the site, rendering, routing
// helpers, errors), auth.go (login, logout, the tokens page), home.go (the
// home page); every other area lives in its own files and registers its
// routes and template functions from an init function (addRoutes,
// addFuncs), so areas never edit each other's files.
//
// Pages: each templates/NAME.html (other than layout.html and the partials
// named _*.html) is one page. It defines "content" (and optionally
// "head" for <link>/<meta> and "scripts" for <script> tags) and is rendered
// inside layout.html by (*site).page. Every static/*.css file is linked by
// the layout, so an area adds its styles in its own static/AREA.css.
//
// Routes are Go ServeMux patterns; (*site).get registers a LAVA path with
// and without its trailing slash (never a redirect between the two, which
// scripts following LAVA's URLs would have to chase).
package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/basalt-lava/basalt/internal/events"
	"github.com/basalt-lava/basalt/internal/lab"
	"github.com/basalt-lava/basalt/internal/logstore"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/webauth"
)

//go:embed all:templates static
var files embed.FS // "all:" embeds the partials, templates/_*.html, too

// Config is what the pages are built from.
type Config struct {
	Store store.Store
	Logs  *logstore.Logs
	Lab   *lab.Lab
	Auth  *webauth.Auth
	// Version is shown in the footer (LAVA-style, as system.version).
	Version string
	// DataDir is the server's data folder (job files live under it).
	DataDir string
	// Logger receives errors the pages hit; nil discards them.
	Logger *slog.Logger
	// Events, when set, tells the live job pages of state changes as they
	// are stored (without it they read the store at intervals).
	Events *events.Hub
}

// site is the web application.
type site struct {
	c      Config
	mux    *http.ServeMux
	pages  map[string]*template.Template
	styles []string // static/*.css, each with its version query
	assets map[string]string
	log    *slog.Logger
}

var (
	registryMu sync.Mutex
	routeSets  []func(*site)
	extraFuncs = template.FuncMap{}
)

// addRoutes registers an area's routes; call it from an init function.
func addRoutes(f func(*site)) {
	registryMu.Lock()
	defer registryMu.Unlock()
	routeSets = append(routeSets, f)
}

// addFuncs adds template functions; call it from an init function. A name
// given twice is a programming error.
func addFuncs(fm template.FuncMap) {
	registryMu.Lock()
	defer registryMu.Unlock()
	for k, v := range fm {
		if _, dup := extraFuncs[k]; dup {
			panic("web: template function " + k + " defined twice")
		}
		extraFuncs[k] = v
	}
}

// New builds the pages' handler.
func New(c Config) (http.Handler, error) {
	if c.Store == nil || c.Auth == nil {
		return nil, errors.New("web: a store and an authenticator are needed")
	}
	s := &site{c: c, mux: http.NewServeMux(), assets: map[string]string{}, log: c.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if err := s.loadAssets(); err != nil {
		return nil, err
	}
	if err := s.loadTemplates(); err != nil {
		return nil, err
	}
	s.mux.Handle("GET /static/", http.HandlerFunc(s.static))
	registryMu.Lock()
	sets := append([]func(*site){}, routeSets...)
	registryMu.Unlock()
	for _, f := range sets {
		f(s)
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, notFound("page "+r.URL.Path))
	})
	return s, nil
}

// ServeHTTP adds the headers every page carries and dispatches.
func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	s.mux.ServeHTTP(w, r)
}

// get registers GET (and HEAD) of a LAVA path with and without its
// trailing slash; path has no trailing slash ("/" is the root).
func (s *site) get(p string, h http.HandlerFunc) { s.route("GET", p, h) }

// post registers POST of a path with and without its trailing slash; h
// runs only when the CSRF check passes.
func (s *site) post(p string, h http.HandlerFunc) {
	s.route("POST", p, func(w http.ResponseWriter, r *http.Request) {
		if !s.c.Auth.CheckCSRF(r) {
			s.fail(w, r, &httpError{Code: http.StatusForbidden, Msg: "the form's CSRF token is missing or out of date: reload the page and try again"})
			return
		}
		h(w, r)
	})
}

func (s *site) route(method, p string, h http.HandlerFunc) {
	if p == "/" {
		s.mux.HandleFunc(method+" /{$}", h)
		return
	}
	p = strings.TrimSuffix(p, "/")
	s.mux.HandleFunc(method+" "+p, h)
	s.mux.HandleFunc(method+" "+p+"/{$}", h)
}

// httpError is an error with the HTTP status to answer it with; Msg is
// shown to the user.
type httpError struct {
	Code int
	Msg  string
}

func (e *httpError) Error() string { return e.Msg }

func notFound(what string) error {
	return &httpError{Code: http.StatusNotFound, Msg: what + " not found"}
}

// fail answers err as an error page: an *httpError with its code, a
// store.ErrNotFound as 404, anything else as 500 (logged, not shown).
func (s *site) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := http.StatusInternalServerError, "internal error (the server's log has the details)"
	var he *httpError
	switch {
	case errors.As(err, &he):
		code, msg = he.Code, he.Msg
	case errors.Is(err, store.ErrNotFound):
		code, msg = http.StatusNotFound, "not found"
	case errors.Is(err, context.Canceled):
		return
	default:
		s.log.Error("page", "path", r.URL.Path, "err", err)
	}
	s.render(w, r, code, "error.html", http.StatusText(code), struct {
		Code int
		Msg  string
	}{code, msg})
}

// user is who r comes from; a bad token header is anonymous here (pages
// are for browsers, which send cookies).
func (s *site) user(r *http.Request) (store.User, bool) {
	u, ok, err := s.c.Auth.User(r)
	if err != nil {
		return store.User{}, false
	}
	return u, ok
}

// viewer is the store.Viewer of r (anonymous when not logged in).
func (s *site) viewer(r *http.Request) *store.Viewer {
	u, _ := s.user(r)
	return store.ViewerOf(u)
}

// requireLogin returns r's user, or sends the browser to the login page
// (coming back to r's URL) and returns false.
func (s *site) requireLogin(w http.ResponseWriter, r *http.Request) (store.User, bool) {
	u, ok := s.user(r)
	if !ok {
		http.Redirect(w, r, "/accounts/login/?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	}
	return u, ok
}

// canSee reports whether r's user may see job, by LAVA's visibility rules.
func (s *site) canSee(r *http.Request, j store.Job) (bool, error) {
	u, _ := s.user(r)
	if j.Visibility == store.VisibilityPublic || j.Visibility == "" || u.Superuser || (u.Name != "" && u.Name == j.Submitter) {
		return true, nil
	}
	if u.Name == "" {
		return false, nil
	}
	groups, err := s.c.Store.UserGroups(r.Context(), u.Name)
	if err != nil {
		return false, err
	}
	return store.Visible(j, u, groups), nil
}

// findJob is the job an URL names ("123" or MultiNode "123.1"), or a 404
// error when it does not exist or r's user may not see it (a private
// job's existence is not told).
func (s *site) findJob(r *http.Request, id string) (store.Job, error) {
	j, err := s.c.Lab.FindJob(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Job{}, notFound("job " + id)
	}
	if err != nil {
		return store.Job{}, err
	}
	ok, err := s.canSee(r, j)
	if err != nil {
		return store.Job{}, err
	}
	if !ok {
		return store.Job{}, notFound("job " + id)
	}
	return j, nil
}

// pageData is what layout.html gets: the page's own data is .Data.
type pageData struct {
	Title    string
	User     store.User
	LoggedIn bool
	CSRF     string
	Version  string
	Path     string
	Styles   []string
	Data     any
}

// page renders templates/name around data with a 200.
func (s *site) page(w http.ResponseWriter, r *http.Request, name, title string, data any) {
	s.render(w, r, http.StatusOK, name, title, data)
}

func (s *site) render(w http.ResponseWriter, r *http.Request, code int, name, title string, data any) {
	t, ok := s.pages[name]
	if !ok {
		s.log.Error("page template missing", "name", name)
		http.Error(w, "page template "+name+" missing", http.StatusInternalServerError)
		return
	}
	u, in := s.user(r)
	pd := pageData{Title: title, User: u, LoggedIn: in, CSRF: s.c.Auth.CSRF(r), Version: s.c.Version,
		Path: r.URL.Path, Styles: s.styles, Data: data}
	// Render into a buffer: a template error then becomes a clean 500, not
	// half a page.
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout.html", pd); err != nil {
		s.log.Error("rendering page", "name", name, "err", err)
		http.Error(w, "rendering the page failed (the server's log has the details)", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(b.Bytes())
}

// loadTemplates parses every page over the layout and partials.
func (s *site) loadTemplates() error {
	base := template.New("layout.html").Funcs(s.funcs())
	if _, err := base.ParseFS(files, "templates/layout.html"); err != nil {
		return fmt.Errorf("web: layout: %w", err)
	}
	partials, _ := fs.Glob(files, "templates/_*.html")
	if len(partials) > 0 {
		if _, err := base.ParseFS(files, partials...); err != nil {
			return fmt.Errorf("web: partials: %w", err)
		}
	}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return err
	}
	s.pages = map[string]*template.Template{}
	for _, n := range names {
		short := path.Base(n)
		if short == "layout.html" || strings.HasPrefix(short, "_") {
			continue
		}
		t, err := base.Clone()
		if err != nil {
			return err
		}
		if _, err := t.ParseFS(files, n); err != nil {
			return fmt.Errorf("web: %s: %w", n, err)
		}
		s.pages[short] = t
	}
	return nil
}

// loadAssets fingerprints static files so pages can link them with a
// version query and browsers can cache them for good.
func (s *site) loadAssets() error {
	return fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		rel := strings.TrimPrefix(p, "static/")
		u := "/static/" + rel + "?v=" + hex.EncodeToString(sum[:6])
		s.assets[rel] = u
		if strings.HasSuffix(rel, ".css") && !strings.Contains(rel, "/") {
			s.styles = append(s.styles, u)
		}
		return nil
	})
}

// static serves the embedded assets; a versioned URL is cached for a year.
func (s *site) static(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("v") != "" {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	http.ServeFileFS(w, r, files, path.Join("static", strings.TrimPrefix(path.Clean(r.URL.Path), "/static/")))
}

// funcs are the template functions every page may use.
func (s *site) funcs() template.FuncMap {
	fm := template.FuncMap{
		// asset is the versioned URL of static/NAME.
		"asset": func(name string) string {
			if u, ok := s.assets[name]; ok {
				return u
			}
			return "/static/" + name
		},
		"datetime":   formatTime,
		"ago":        ago,
		"duration":   formatDuration,
		"jobURL":     jobURL,
		"displayID":  func(j store.Job) string { return fmt.Sprint(lab.DisplayID(j)) },
		"jobStatus":  jobStatus,
		"jobClass":   func(j store.Job) string { return "st-" + strings.ToLower(jobStatus(j)) },
		"stateClass": func(v any) string { return "st-" + strings.ToLower(fmt.Sprint(v)) },
		"navClass": func(current, prefix string) string {
			if current == prefix || (prefix != "/" && strings.HasPrefix(current, prefix)) {
				return "active"
			}
			return ""
		},
		"query": func(pairs ...string) template.URL {
			v := url.Values{}
			for i := 0; i+1 < len(pairs); i += 2 {
				if pairs[i+1] != "" {
					v.Set(pairs[i], pairs[i+1])
				}
			}
			if len(v) == 0 {
				return ""
			}
			return template.URL("?" + v.Encode())
		},
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	for k, v := range extraFuncs {
		if _, dup := fm[k]; dup {
			panic("web: template function " + k + " defined twice")
		}
		fm[k] = v
	}
	return fm
}

// jobURL is the job page's path ("/scheduler/job/12" or ".../12.1").
func jobURL(j store.Job) string { return fmt.Sprintf("/scheduler/job/%v", lab.DisplayID(j)) }

// jobStatus is the one word LAVA's tables show for a job: its health once
// finished, else its state.
func jobStatus(j store.Job) string {
	if j.State == store.JobFinished {
		return string(j.Health)
	}
	return string(j.State)
}

// formatTime is a time as LAVA's pages print it (UTC), "" for zero.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// ago is a short "3 min ago" from now, "never" for zero.
func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return formatDuration(time.Since(t)) + " ago"
}

// formatDuration is a duration rounded for people: "42 s", "3 min 5 s",
// "2 h 4 min", "3 days 2 h".
func formatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d days %d h", int(d.Hours())/24, int(d.Hours())%24)
}
