// Package lavarpc answers the XML-RPC methods LAVA's clients call (lavacli
// 1.2 and 2.x, KernelCI, SQUAD) over the lab's store, its job logs and its
// Lab: system.*, scheduler.jobs.*, scheduler.devices.*,
// scheduler.device_types.*, scheduler.workers.*, results.* and the legacy
// scheduler.* names (shared/reference/lava-clients.md §1, §2 and §7).
//
// Contract (what clients depend on, kept byte-for-byte where they read it):
//
//   - POST at /RPC2, /RPC2/, //RPC2 and / (lavacli 1.2 with a "/" URI),
//     never a redirect; a GET there answers a short help text.
//   - Authentication is HTTP Basic user:token checked with
//     store.Authenticate: a header that is not Basic user:token is HTTP 400,
//     a pair that matches no token HTTP 401 (lavacli prints "Unable to
//     connect: 401 ..."), no header an anonymous call. Methods that need a
//     user answer Fault 401; admin changes need a superuser (Fault 403).
//   - Arguments are positional with LAVA's optional trailing ones; a wrong
//     count is Fault -32603 as LAVA's TypeError. Job ids are <int>, <string>
//     or "N.M" for a MultiNode sub-job; replies use the display id (an int,
//     or the "N.M" string of a sub-job).
//   - Private jobs are hidden by store.Visible, with LAVA's codes (403 for
//     a job that exists but is not visible, 401 on results.*).
//   - What administrators change is stored and shown: a worker's
//     description, health and job limit, a device's description, physical
//     owner and group and health (with the reason, in the device log), a
//     device type's description, display and health-check schedule, and
//     aliases. Permissions (LAVA's per-group ones) are not kept: the lists
//     are empty and only superusers administer.
//   - A worker's token is kept hashed: scheduler.workers.add returns it
//     (LAVA returns None) and workers.show cannot (its "token" says so).
package lavarpc

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/lab"
	"github.com/basalt-lava/basalt/internal/logstore"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/xmlrpc"
)

// DefaultVersion is what system.version answers when Config.Version is
// empty: a LAVA-style YYYY.MM, so that lavacli's version gates (parsed with
// ^(20\d{2})\.(\d{1,2})) pick the newest calls, which Basalt implements.
const DefaultVersion = "2026.07"

// Logs is what lavarpc reads of the job logs (internal/logstore's *Logs).
type Logs interface {
	// Read writes lines [start, end) of job's log to w, each followed by
	// "\n" (end < 0: to the end) and returns how many it wrote.
	Read(job, start, end int64, w io.Writer) (int64, error)
	// Exists reports whether job has a log at all.
	Exists(job int64) bool
}

var _ Logs = (*logstore.Logs)(nil)

// Lab is what lavarpc calls of the lab (internal/lab's *Lab): the
// operations with rules beyond one store call. Job ids are shown with
// lab.DisplayID.
type Lab interface {
	// Submit checks and stores a job definition (a MultiNode group gives
	// several jobs).
	Submit(ctx context.Context, submitter store.User, definition string) ([]store.Job, error)
	// Cancel cancels job (its whole group for a MultiNode sub-job); an
	// already finished or canceling job is not an error.
	Cancel(ctx context.Context, user store.User, job store.Job) error
	// Resubmit submits job's definition again for user.
	Resubmit(ctx context.Context, user store.User, job store.Job) ([]store.Job, error)
	// FindJob finds a job by "123" or MultiNode "123.1"; an unknown id
	// wraps store.ErrNotFound.
	FindJob(ctx context.Context, id string) (store.Job, error)
	// Template returns a device type's Jinja2 template text.
	Template(ctx context.Context, deviceType string) (string, error)
	// RenderDevice renders a device's dictionary with a job context (YAML
	// text, "" for none) into the device configuration YAML.
	RenderDevice(ctx context.Context, device string, jobContext string) (string, error)
	// Validate checks a definition against the schema (strict: no
	// unknown keys) and returns every problem, none when valid.
	Validate(ctx context.Context, definition string, strict bool) []lab.Problem
	// Kick asks for a scheduler pass now (after a device goes back to
	// service, for example).
	Kick()
	// JobFile is the path of a file the server keeps of a job
	// (lab.DeviceFile, the files the job published), beside its log.
	JobFile(job int64, name string) string
}

var _ Lab = (*lab.Lab)(nil)

// Config is what New needs.
type Config struct {
	Store store.Store
	Logs  Logs
	Lab   Lab
	// Version is system.version's answer (DefaultVersion when empty).
	Version string
	// Now is the clock (time.Now when nil), for jobs.list's "since".
	Now func() time.Time
}

// api holds the registered methods' state.
type api struct {
	store   store.Store
	logs    Logs
	lab     Lab
	version string
	now     func() time.Time
	rpc     *xmlrpc.Server
	maxLog  int // maxLogReply; smaller in tests
}

// New returns the XML-RPC handler. Mount it for the paths it answers
// (see Paths) without a router that cleans paths: Go's http.ServeMux
// answers "//RPC2" with a redirect, which turns SQUAD's POST into a GET.
func New(cfg Config) http.Handler {
	a := &api{store: cfg.Store, logs: cfg.Logs, lab: cfg.Lab, version: cfg.Version, now: cfg.Now, maxLog: maxLogReply}
	if a.version == "" {
		a.version = DefaultVersion
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.rpc = xmlrpc.NewServer()
	a.register()
	return a
}

// Paths are the URL paths the handler answers: LAVA's /RPC2 and /RPC2/,
// //RPC2 (SQUAD joins its base URL with "/RPC2"), and / (lavacli 1.2 posts
// there when the URI's path is "/").
var Paths = []string{"/RPC2", "/RPC2/", "//RPC2", "//RPC2/", "/"}

// IsPath reports whether path is one of Paths.
func IsPath(path string) bool {
	for _, p := range Paths {
		if path == p {
			return true
		}
	}
	return false
}

type ctxKey int

const userKey ctxKey = 0

// ServeHTTP authenticates the caller and hands the call to the XML-RPC
// server.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !IsPath(r.URL.Path) {
		http.NotFound(w, r)
		return
	}
	if h := r.Header.Get("Authorization"); h != "" && r.Method == http.MethodPost {
		user, status, msg := a.authenticate(r.Context(), h)
		if status != 0 {
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Basic realm="XML-RPC Authentication token"`)
			}
			http.Error(w, msg, status)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), userKey, user))
	}
	a.rpc.ServeHTTP(w, r)
}

// authenticate checks an Authorization header as LAVA does
// (linaro_django_xmlrpc/views.py): anything but "Basic base64(user:token)"
// is 400, a pair that matches no token 401. status is 0 on success.
func (a *api) authenticate(ctx context.Context, header string) (store.User, int, string) {
	scheme, data, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok {
		return store.User{}, http.StatusBadRequest, "Invalid HTTP_AUTHORIZATION header"
	}
	if !strings.EqualFold(scheme, "basic") {
		return store.User{}, http.StatusBadRequest, "Unsupported HTTP_AUTHORIZATION header, only Basic scheme is supported"
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(data))
	if err != nil {
		return store.User{}, http.StatusBadRequest, "Corrupted HTTP_AUTHORIZATION header, bad base64 encoding"
	}
	name, token, ok := strings.Cut(string(raw), ":")
	if !ok {
		return store.User{}, http.StatusBadRequest, "Corrupted HTTP_AUTHORIZATION header, no user:pass"
	}
	user, err := a.store.Authenticate(ctx, name, token)
	switch {
	case errors.Is(err, store.ErrAuth) || errors.Is(err, store.ErrNotFound):
		return store.User{}, http.StatusUnauthorized, "Invalid token"
	case err != nil:
		return store.User{}, http.StatusInternalServerError, "authentication failed: " + err.Error()
	}
	return user, 0, ""
}

// caller returns the authenticated user of the call, and false for an
// anonymous one.
func caller(ctx context.Context) (store.User, bool) {
	u, ok := ctx.Value(userKey).(store.User)
	return u, ok && u.Name != ""
}

// callerName is the user as LAVA names it in messages ("AnonymousUser"
// for Django's anonymous user).
func callerName(ctx context.Context) string {
	if u, ok := caller(ctx); ok {
		return u.Name
	}
	return "AnonymousUser"
}

// errAuthRequired is LAVA's answer to an anonymous call of a method that
// needs a user.
var errAuthRequired = xmlrpc.Faultf(xmlrpc.CodeAuthRequired, "Authentication with user and token required for this API.")

// needUser returns the caller or Fault 401.
func needUser(ctx context.Context) (store.User, error) {
	u, ok := caller(ctx)
	if !ok {
		return store.User{}, errAuthRequired
	}
	return u, nil
}

// needPerm is LAVA's @check_perm: a user (Fault 401), then the permission,
// which in Basalt only superusers hold (Fault 403).
func needPerm(ctx context.Context, perm string) (store.User, error) {
	u, err := needUser(ctx)
	if err != nil {
		return u, err
	}
	if !u.Superuser {
		return u, xmlrpc.Faultf(xmlrpc.CodeForbidden, "User '%s' is missing permission %s.", u.Name, perm)
	}
	return u, nil
}

// isSuperuser reports whether the caller is an authenticated superuser.
func isSuperuser(ctx context.Context) bool {
	u, ok := caller(ctx)
	return ok && u.Superuser
}
