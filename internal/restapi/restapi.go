// Package restapi serves LAVA's REST API v0.2 (lava_rest_app) as
// KernelCI, SQUAD's REST mode and Collabora's lava-api (Rust) call it
// (shared/reference/lava-clients.md §4): jobs, their logs, results and
// exports, devices, device types, workers, aliases, tags and system
// information, over the lab's store, job logs and Lab.
//
// Contract (what those clients depend on):
//
//   - Paths /api/v0.2/... and the same under /api/v0.3/ (LAVA's v0.3
//     router is empty; newer tools default to it), each with and without
//     its trailing slash, answered directly: never a redirect, which a
//     client turns from POST into GET or does not follow.
//   - Authentication is "Authorization: Token <secret>" or the web
//     session cookie (webauth). Basic is ignored (anonymous). Failures are
//     HTTP 403, never 401, with DRF's {"detail": ...} texts: "Invalid
//     token.", "Authentication credentials were not provided.", "You do
//     not have permission to perform this action.". Permissions are
//     LAVA's: read-only for anonymous callers (IsAuthenticatedOrReadOnly),
//     aliases and tags for authenticated ones only, changes to devices,
//     device types and workers for superusers (Basalt keeps no per-group
//     permissions). Job validation is open to everyone.
//   - Lists are LimitOffsetPagination pages {count, next, previous,
//     results}, 50 by default and no maximum; next and previous are
//     absolute URLs that keep the other query parameters. Jobs are
//     filtered and counted in the database (store.JobFilter), private
//     jobs hidden as lavarpc hides them (store.Viewer).
//   - JSON throughout (?format=json accepted and ignored); datetimes ISO
//     8601 with "Z"; measurements decimal strings; states and healths
//     their display names; tags, groups and users, which Basalt keys by
//     name, are given stable numeric ids (NameID).
package restapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/lab"
	"github.com/basalt-lava/basalt/internal/lavarpc"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/webauth"
)

// Config is what New needs.
type Config struct {
	Store store.Store
	// Logs are the job logs (internal/logstore's *Logs).
	Logs Logs
	// Lab submits, cancels and renders (internal/lab's *Lab).
	Lab Lab
	// Auth says who a request is (token or session).
	Auth *webauth.Auth
	// Version is system/version's answer (lavarpc.DefaultVersion when
	// empty).
	Version string
}

// Logs is what the API reads of the job logs.
type Logs interface {
	lavarpc.Logs
	// Len is the number of lines of job's log.
	Len(job int64) (int64, error)
}

// Lab is what the API calls of the lab: lavarpc's, plus the rendering of
// a dictionary that is not a device's (devices/validate).
type Lab interface {
	lavarpc.Lab
	RenderDictionary(ctx context.Context, dictionary string) (string, error)
}

var _ Lab = (*lab.Lab)(nil)

// Prefixes are the URL path prefixes the handler answers.
var Prefixes = []string{"/api/v0.2/", "/api/v0.3/"}

// IsPath reports whether path is one the handler answers (a prefix, or
// a prefix without its slash).
func IsPath(path string) bool {
	for _, p := range Prefixes {
		if strings.HasPrefix(path, p) || path == strings.TrimSuffix(p, "/") {
			return true
		}
	}
	return false
}

type api struct {
	store   store.Store
	logs    Logs
	lab     Lab
	auth    *webauth.Auth
	version string
}

// New returns the REST handler; mount it for Prefixes.
func New(cfg Config) http.Handler {
	a := &api{store: cfg.Store, logs: cfg.Logs, lab: cfg.Lab, auth: cfg.Auth, version: cfg.Version}
	if a.version == "" {
		a.version = lavarpc.DefaultVersion
	}
	return a
}

// maxBody bounds a request body (a job definition is limited far below).
const maxBody = 16 << 20

// defaultLimit is LAVA's REST page size.
const defaultLimit = 50

// maxPage bounds limit and offset (LAVA sets no maximum: this one is
// beyond any lab's row count).
const maxPage = 1 << 40

// req is one request as the handlers see it.
type req struct {
	w    http.ResponseWriter
	r    *http.Request
	user store.User
	auth bool // user is authenticated
	// data is the parsed body (JSON object or form fields); nil for none.
	data map[string]any
	// base is the API root of the request ("/api/v0.2/").
	base string
}

// apiError is an answer other than success: HTTP status and JSON body.
type apiError struct {
	status int
	body   any
}

func (e *apiError) Error() string { return fmt.Sprintf("HTTP %d: %v", e.status, e.body) }

func detail(status int, msg string) *apiError {
	return &apiError{status, map[string]any{"detail": msg}}
}

func message(status int, msg string) *apiError {
	return &apiError{status, map[string]any{"message": msg}}
}

// fieldError is DRF's validation error: {"field": ["msg"]}.
func fieldError(field, msg string) *apiError {
	return &apiError{http.StatusBadRequest, map[string]any{field: []string{msg}}}
}

var (
	errNotFound     = detail(http.StatusNotFound, "Not found.")
	errNoCredential = detail(http.StatusForbidden, "Authentication credentials were not provided.")
	errNoPermission = detail(http.StatusForbidden, "You do not have permission to perform this action.")
	errInsufficient = detail(http.StatusForbidden, "Insufficient permissions. Please contact system administrator.")
)

func methodNotAllowed(m string) *apiError {
	return detail(http.StatusMethodNotAllowed, fmt.Sprintf("Method \"%s\" not allowed.", m))
}

// ServeHTTP authenticates, parses the body and routes.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rq := &req{w: w, r: r}
	var rest string
	for _, p := range Prefixes {
		if strings.HasPrefix(r.URL.Path, p) || r.URL.Path == strings.TrimSuffix(p, "/") {
			rq.base = p
			rest = strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(p, "/")), "/")
		}
	}
	if rq.base == "" {
		a.fail(rq, errNotFound)
		return
	}
	// Django's QueryDict reads a parameter given twice as its last value
	// (a requests session's params repeat "limit" on a "next" URL that
	// has one): keep only the last of each, so every reader agrees.
	if q := r.URL.Query(); len(q) > 0 {
		for k, v := range q {
			q[k] = v[len(v)-1:]
		}
		r.URL.RawQuery = q.Encode()
	}
	if err := a.serve(rq, rest); err != nil {
		a.fail(rq, err)
	}
}

func (a *api) serve(rq *req, rest string) error {
	r := rq.r
	if a.auth != nil {
		u, ok, err := a.auth.User(r)
		switch {
		case errors.Is(err, webauth.ErrInvalidToken):
			return detail(http.StatusForbidden, "Invalid token.")
		case err != nil:
			return err
		}
		rq.user, rq.auth = u, ok
		// DRF's SessionAuthentication enforces CSRF on unsafe methods.
		if ok && !safe(r.Method) && !webauth.ByToken(r) && !a.auth.CheckCSRF(r) {
			return detail(http.StatusForbidden, "CSRF Failed: CSRF token missing or incorrect.")
		}
	}
	if !safe(r.Method) {
		data, err := parseBody(r)
		if err != nil {
			return err
		}
		rq.data = data
	}
	seg := strings.Split(strings.Trim(rest, "/"), "/")
	if len(seg) == 1 && seg[0] == "" {
		seg = nil
	}
	for _, s := range seg {
		if s == "" {
			return errNotFound // "a//b"
		}
	}
	return a.route(rq, seg)
}

// safe reports whether m is one of HTTP's read-only methods.
func safe(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// parseBody reads a JSON object, a form (urlencoded or multipart), or
// plain text (kept as "_text") into a map, as DRF's parsers do.
func parseBody(r *http.Request) (map[string]any, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body := http.MaxBytesReader(nil, r.Body, maxBody)
	switch ct {
	case "application/json":
		b, err := io.ReadAll(body)
		if err != nil {
			return nil, detail(http.StatusRequestEntityTooLarge, "Request body too large: "+err.Error())
		}
		if len(strings.TrimSpace(string(b))) == 0 {
			return map[string]any{}, nil
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, detail(http.StatusBadRequest, "JSON parse error - "+err.Error())
		}
		m, ok := v.(map[string]any)
		if !ok {
			return map[string]any{"_json": v}, nil
		}
		return m, nil
	case "application/x-www-form-urlencoded", "multipart/form-data":
		r.Body = body
		var err error
		if ct == "multipart/form-data" {
			err = r.ParseMultipartForm(maxBody)
		} else {
			err = r.ParseForm()
		}
		if err != nil {
			return nil, detail(http.StatusBadRequest, "Form parse error - "+err.Error())
		}
		m := map[string]any{}
		for k, vs := range r.PostForm {
			if len(vs) > 0 {
				m[k] = vs[len(vs)-1]
			}
		}
		return m, nil
	case "", "text/plain":
		b, err := io.ReadAll(body)
		if err != nil {
			return nil, detail(http.StatusRequestEntityTooLarge, "Request body too large: "+err.Error())
		}
		return map[string]any{"_text": string(b)}, nil
	}
	return nil, detail(http.StatusUnsupportedMediaType, fmt.Sprintf("Unsupported media type \"%s\" in request.", ct))
}

// str returns the body field k as a string ("" and false when absent or
// not a string).
func (rq *req) str(k string) (string, bool) {
	v, ok := rq.data[k]
	if !ok || v == nil {
		return "", false
	}
	s, ok := v.(string)
	return s, ok
}

// needAuth is IsAuthenticatedOrReadOnly's check for an unsafe method.
func (rq *req) needAuth() error {
	if !rq.auth {
		return errNoCredential
	}
	return nil
}

// authedRead is the check of a read-only view that, unlike
// IsAuthenticatedOrReadOnly, wants credentials even to read (aliases,
// tags): GET or HEAD only, and authenticated.
func (rq *req) authedRead() error {
	if err := rq.methods(http.MethodGet); err != nil {
		return err
	}
	return rq.needAuth()
}

// needSuperuser is DjangoModelPermissions' check of a change, which in
// Basalt only superusers hold.
func (rq *req) needSuperuser() error {
	if !rq.auth {
		return errNoCredential
	}
	if !rq.user.Superuser {
		return errNoPermission
	}
	return nil
}

func (a *api) fail(rq *req, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		if errors.Is(err, context.Canceled) {
			return
		}
		ae = detail(http.StatusInternalServerError, "Server error: "+err.Error())
	}
	writeJSON(rq.w, ae.status, ae.body)
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"detail": "Server error: encoding the reply failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Vary", "Accept, Cookie")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// ok answers 200 with v.
func (rq *req) ok(v any) error {
	writeJSON(rq.w, http.StatusOK, v)
	return nil
}

// attachment answers a file download.
func (rq *req) attachment(contentType, filename string, body []byte) error {
	h := rq.w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Disposition", "attachment; filename="+filename)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	rq.w.WriteHeader(http.StatusOK)
	if rq.r.Method != http.MethodHead {
		_, _ = rq.w.Write(body)
	}
	return nil
}

// absURL is the absolute URL of path (and query) on the host the
// request came to, as Django's build_absolute_uri makes it.
func (rq *req) absURL(path string, q url.Values) string {
	scheme := "http"
	if rq.r.TLS != nil {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: rq.r.Host, Path: path}
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// pageArgs reads limit and offset as LimitOffsetPagination does: a limit
// that is not a positive integer is the default, an offset that is not a
// non-negative integer 0.
func (rq *req) pageArgs() (limit, offset int) {
	q := rq.r.URL.Query()
	limit = defaultLimit
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 {
		limit = n
	}
	if n, err := strconv.Atoi(q.Get("offset")); err == nil && n > 0 {
		offset = n
	}
	// Bounded so that offset+limit never overflows.
	return min(limit, maxPage), min(offset, maxPage)
}

// page answers one page of a list: count items in all, results those
// from offset.
func (rq *req) page(count, limit, offset int, results []any) error {
	if results == nil {
		results = []any{}
	}
	q := rq.r.URL.Query()
	var next, prev any
	if offset+limit < count {
		nq := cloneValues(q)
		nq.Set("limit", strconv.Itoa(limit))
		nq.Set("offset", strconv.Itoa(offset+limit))
		next = rq.absURL(rq.r.URL.Path, nq)
	}
	if offset > 0 {
		pq := cloneValues(q)
		pq.Set("limit", strconv.Itoa(limit))
		if offset-limit <= 0 {
			pq.Del("offset")
		} else {
			pq.Set("offset", strconv.Itoa(offset-limit))
		}
		prev = rq.absURL(rq.r.URL.Path, pq)
	}
	return rq.ok(map[string]any{"count": count, "next": next, "previous": prev, "results": results})
}

// pageOf answers the page of all (a list built in memory).
func pageOf[T any](rq *req, all []T) error {
	limit, offset := rq.pageArgs()
	var out []any
	for i := offset; i < len(all) && i < offset+limit; i++ {
		out = append(out, all[i])
	}
	return rq.page(len(all), limit, offset, out)
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// NameID is the numeric id the API gives something Basalt keys by name
// (a tag, a group, a user): stable across requests and restarts, the
// same in every list (a tag's id in a job is the id /tags/ lists), a
// 31-bit FNV-1a hash of kind and name, never 0.
func NameID(kind, name string) int64 {
	h := fnv.New32a()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(name))
	id := int64(h.Sum32() & 0x7fffffff)
	if id == 0 {
		id = 1
	}
	return id
}

// isoTime is a datetime as DRF writes it: ISO 8601 in UTC with "Z"
// (microseconds when not zero), or nil when zero.
func isoTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	if us := t.Nanosecond() / 1000; us != 0 {
		return t.Format("2006-01-02T15:04:05") + fmt.Sprintf(".%06dZ", us)
	}
	return t.Format("2006-01-02T15:04:05Z")
}

// orNull is s, or JSON null when empty.
func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// route dispatches on the path's segments.
func (a *api) route(rq *req, seg []string) error {
	if len(seg) == 0 {
		if rq.r.Method != http.MethodGet && rq.r.Method != http.MethodHead {
			return methodNotAllowed(rq.r.Method)
		}
		root := map[string]any{}
		for _, k := range []string{"aliases", "devices", "devicetypes", "jobs", "system", "tags", "workers"} {
			root[k] = rq.absURL(rq.base+k+"/", nil)
		}
		return rq.ok(root)
	}
	switch seg[0] {
	case "token":
		if len(seg) != 1 {
			return errNotFound
		}
		return a.token(rq)
	case "jobs":
		return a.jobs(rq, seg[1:])
	case "devices":
		return a.devices(rq, seg[1:])
	case "devicetypes":
		return a.deviceTypes(rq, seg[1:])
	case "workers":
		return a.workers(rq, seg[1:])
	case "aliases":
		return a.aliases(rq, seg[1:])
	case "tags":
		return a.tags(rq, seg[1:])
	case "system":
		return a.system(rq, seg[1:])
	}
	return errNotFound
}

// methods checks the request's method is one of ms (HEAD counts as GET).
func (rq *req) methods(ms ...string) error {
	m := rq.r.Method
	if m == http.MethodHead {
		m = http.MethodGet
	}
	for _, x := range ms {
		if x == m {
			return nil
		}
	}
	return methodNotAllowed(rq.r.Method)
}

// token is LavaObtainAuthToken: username and password → a token. Basalt
// keeps only tokens' hashes, so it cannot give back an existing token as
// LAVA does: each call makes a new one.
func (a *api) token(rq *req) error {
	if err := rq.methods(http.MethodPost); err != nil {
		return err
	}
	name, _ := rq.str("username")
	pw, _ := rq.str("password")
	errs := map[string]any{}
	if name == "" {
		errs["username"] = []string{"This field is required."}
	}
	if pw == "" {
		errs["password"] = []string{"This field is required."}
	}
	if len(errs) > 0 {
		return &apiError{http.StatusBadRequest, errs}
	}
	u, err := a.store.CheckPassword(rq.r.Context(), name, pw)
	if errors.Is(err, store.ErrAuth) || errors.Is(err, store.ErrNotFound) {
		return &apiError{http.StatusBadRequest, map[string]any{"non_field_errors": []string{"Unable to log in with provided credentials."}}}
	} else if err != nil {
		return err
	}
	secret, err := a.store.CreateToken(rq.r.Context(), u.Name, "", "Created by REST API call")
	if err != nil {
		return err
	}
	return rq.ok(map[string]any{"token": secret})
}

// system is SystemViewSet.
func (a *api) system(rq *req, seg []string) error {
	if err := rq.methods(http.MethodGet); err != nil {
		return err
	}
	if len(seg) == 0 {
		return rq.ok(map[string]any{})
	}
	if len(seg) != 1 {
		return errNotFound
	}
	switch seg[0] {
	case "version":
		return rq.ok(map[string]any{"version": a.version})
	case "whoami":
		return rq.ok(map[string]any{"user": rq.user.Name})
	case "master_config":
		// Basalt's events are its /ws/ WebSocket, not ZMQ; the settings
		// are LAVA's defaults (EVENT_NOTIFICATION off, 5 MB log limit).
		return rq.ok(map[string]any{
			"EVENT_TOPIC":        "org.linaro.validation",
			"EVENT_SOCKET":       "tcp://*:5500",
			"EVENT_NOTIFICATION": false,
			"LOG_SIZE_LIMIT":     5,
		})
	}
	return errNotFound
}
