package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/basalt-lava/basalt/internal/coordinator"
	"github.com/basalt-lava/basalt/internal/events"
	"github.com/basalt-lava/basalt/internal/lab"
	"github.com/basalt-lava/basalt/internal/lavarpc"
	"github.com/basalt-lava/basalt/internal/logstore"
	"github.com/basalt-lava/basalt/internal/notify"
	"github.com/basalt-lava/basalt/internal/restapi"
	"github.com/basalt-lava/basalt/internal/web"
	"github.com/basalt-lava/basalt/internal/webauth"
	"github.com/basalt-lava/basalt/internal/workerapi"
)

// defaultDataDir is where basalt server keeps its data, and so where
// basalt server and basalt manage look for the database by default.
const defaultDataDir = "./basalt-data"

const serverSynopsis = "basalt server [--db DSN] [--listen ADDR] [--data-dir DIR] [--device-types DIR]... [--lease DUR] [--coordinator ADDR|off] [--coordinator-public ADDR] [--notify-workers N] [--notify-timeout DUR] [--notify-allowed-host PATTERN]... [--smtp-server HOST:PORT [--smtp-from ADDR] [--smtp-user U --smtp-password-file F] [--smtp-tls auto|starttls|tls] [--smtp-timeout DUR]] [--public-url URL] [--allow-local-files DIR]... [--loglevel LEVEL]"

// shutdownGrace bounds how long a stopping server waits for the requests
// in flight (held polls are answered at once).
const shutdownGrace = 10 * time.Second

// runServer runs a lab server until SIGINT or SIGTERM.
func runServer(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serverMain(ctx, args, stdout, stderr, nil)
}

// serverMain runs the server until ctx ends; ready, if not nil, gets the
// address it listens on once it accepts connections.
func serverMain(ctx context.Context, args []string, _, stderr io.Writer, ready func(net.Addr)) int {
	fs := newFlagSet("server", serverSynopsis, stderr)
	dataDir := fs.String("data-dir", defaultDataDir, "folder of the server's data: the jobs' logs, and the database by default")
	db := fs.String("db", "", "database: a SQLite file path or a postgres:// URL (default DATA-DIR/basalt.db)")
	listen := fs.String("listen", "127.0.0.1:8000", "address to serve the web pages, XML-RPC (/RPC2) and the worker API on")
	var dtDirs listFlag
	fs.Var(&dtDirs, "device-types", "folder of device-type templates (repeatable; searched after templates set over the API, before the shipped ones)")
	var allowDirs listFlag
	fs.Var(&allowDirs, "allow-local-files", "accept submitted jobs naming local files (file:// images, local git repositories) inside this folder (repeatable; default: none; each worker checks its own --allow-local-files again)")
	lease := fs.Duration("lease", lab.DefaultLease, "a worker that has not polled for this long goes offline and its jobs end Incomplete (infrastructure error)")
	coordAddr := fs.String("coordinator", "127.0.0.1:3079", "listen address of the in-process MultiNode coordinator, or \"off\"")
	coordPublic := fs.String("coordinator-public", "", "the coordinator's address as workers reach it (default: the --coordinator address)")
	notifyWorkers := fs.Int("notify-workers", 2, "goroutines sending the jobs' notify callbacks")
	var notifyHosts listFlag
	fs.Var(&notifyHosts, "notify-allowed-host", "a hostname pattern (shell-style, e.g. *.kernelci.org) notify callbacks may reach (repeatable; default: any host, as LAVA's CALLBACK_ALLOWED_HOSTS unset)")
	notifyTimeout := fs.Duration("notify-timeout", 5*time.Second, "timeout of one notify callback request (LAVA's CALLBACK_TIMEOUT)")
	smtpServer := fs.String("smtp-server", "", "SMTP server HOST:PORT the jobs' notify e-mails go through (default: none, no e-mail is sent)")
	smtpFrom := fs.String("smtp-from", "", "sender address of the notify e-mails (default basalt@HOSTNAME; LAVA's SERVER_EMAIL)")
	smtpUser := fs.String("smtp-user", "", "SMTP AUTH PLAIN user (sent only over TLS, or to a loopback server)")
	smtpPasswordFile := fs.String("smtp-password-file", "", "file holding the SMTP password (its first line)")
	smtpTLS := fs.String("smtp-tls", notify.TLSAuto, "auto: STARTTLS when the server offers it; starttls: required; tls: TLS from the start (port 465)")
	smtpTimeout := fs.Duration("smtp-timeout", 30*time.Second, "timeout of one SMTP session")
	publicURL := fs.String("public-url", "", "the server's address as users reach it, for the links in e-mails (default http://LISTEN-ADDRESS, the host's name for 0.0.0.0)")
	level := fs.String("loglevel", "INFO", "DEBUG, INFO, WARN or ERROR")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagStatus(err)
	}
	if len(pos) != 0 {
		fmt.Fprintf(stderr, "basalt server: unexpected argument %q\n", pos[0])
		fs.Usage()
		return exitUsage
	}
	lvl, err := parseLogLevel(*level)
	if err != nil {
		fmt.Fprintf(stderr, "basalt server: %v\n", err)
		return exitUsage
	}
	if *lease <= 0 {
		fmt.Fprintf(stderr, "basalt server: --lease %s: must be positive\n", *lease)
		return exitUsage
	}
	if *notifyWorkers <= 0 || *notifyTimeout <= 0 {
		fmt.Fprintf(stderr, "basalt server: --notify-workers %d, --notify-timeout %s: must be positive\n", *notifyWorkers, *notifyTimeout)
		return exitUsage
	}
	mail, err := smtpConfig(*smtpServer, *smtpFrom, *smtpUser, *smtpPasswordFile, *smtpTLS)
	if err != nil {
		fmt.Fprintf(stderr, "basalt server: %v\n", err)
		return exitUsage
	}
	if *smtpTimeout <= 0 {
		fmt.Fprintf(stderr, "basalt server: --smtp-timeout %s: must be positive\n", *smtpTimeout)
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	fail := func(err error) int {
		fmt.Fprintf(stderr, "basalt server: %v\n", err)
		return exitFailed
	}

	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		return fail(err)
	}
	if *db == "" {
		*db = filepath.Join(*dataDir, "basalt.db")
	}
	st, err := openStore(ctx, *db)
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	// LAVA's events: every change stored through st is published to the
	// hub (the /ws/ WebSocket and the pages' live state subscribe).
	hub := events.NewHub()
	st = events.Feed(st, hub)
	logs, err := logstore.Open(*dataDir, logstore.Options{})
	if err != nil {
		return fail(err)
	}
	defer logs.Close()

	// The coordinator first: the lab tells workers where it is.
	public := ""
	var coord *coordinator.Server
	coordDone := make(chan error, 1)
	if *coordAddr != "off" {
		cl, err := net.Listen("tcp", *coordAddr)
		if err != nil {
			return fail(fmt.Errorf("coordinator: %w", err))
		}
		coord = coordinator.NewServer(coordinator.Options{Logger: log.With("part", "coordinator")})
		go func() { coordDone <- coord.Serve(cl) }()
		defer func() {
			coord.Close()
			<-coordDone
		}()
		public = cl.Addr().String()
		log.Info("MultiNode coordinator listening", "addr", public)
	}
	if *coordPublic != "" {
		public = *coordPublic
	}

	// Notify callbacks: queued on the job's change, sent by a few
	// goroutines, never inside a worker's request or a scheduler pass.
	nlog := log.With("part", "notify")
	if mail != nil {
		mail.Sent = st
		log.Info("notify e-mails through SMTP", "server", mail.Server, "from", mail.From, "tls", mail.TLS)
	}
	notifier := notify.New(notify.Config{Workers: *notifyWorkers, Timeout: *notifyTimeout, AllowedHosts: notifyHosts,
		Mail: mail, MailTimeout: *smtpTimeout,
		Logf: func(format string, args ...any) { nlog.Warn(fmt.Sprintf(format, args...)) }})
	notifier.Start()
	defer notifier.Stop()
	// The links of e-mails need the address users reach the server at.
	urlPrefix := strings.TrimRight(*publicURL, "/")
	if urlPrefix == "" {
		urlPrefix = defaultPublicURL(*listen)
	}
	l, err := lab.New(lab.Config{Store: st, Logs: logs, DataDir: *dataDir, DeviceTypeDirs: dtDirs,
		Lease: *lease, CoordinatorAddr: public, Logger: log.With("part", "lab"), AllowLocalFiles: allowDirs,
		OnJobChange: notifier.Hook(notify.Source{Store: st, Logs: logs, SuiteYAML: lavarpc.SuiteYAML, URLPrefix: urlPrefix})})
	if err != nil {
		return fail(err)
	}
	key, err := webauth.LoadKey(*dataDir)
	if err != nil {
		return fail(err)
	}
	auth := webauth.New(st, key)
	pages, err := web.New(web.Config{Store: st, Logs: logs, Lab: l, Auth: auth, Version: lavarpc.DefaultVersion,
		DataDir: *dataDir, Logger: log.With("part", "web"), Events: hub})
	if err != nil {
		return fail(err)
	}
	wslog := log.With("part", "events")
	ws := events.NewWS(events.WSConfig{Hub: hub, Store: st, Logf: func(format string, args ...any) { wslog.Info(fmt.Sprintf(format, args...)) }})
	defer ws.Close()
	handler := serverHandler(serverRoutes{
		events:  ws,
		workers: workerapi.NewHandler(l.WorkerServer()),
		xmlrpc:  apiHandler(apiConfig{Store: st, Logs: logs, Lab: l}),
		rest:    restapi.New(restapi.Config{Store: st, Logs: logs, Lab: l, Auth: auth}),
		web:     pages,
	})

	hl, err := net.Listen("tcp", *listen)
	if err != nil {
		return fail(err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second,
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) }}
	srv.RegisterOnShutdown(func() { web.CloseStreams(pages) }) // live job logs would hold Shutdown
	served := make(chan error, 1)
	go func() { served <- srv.Serve(hl) }()
	labCtx, stopLab := context.WithCancel(ctx)
	labDone := make(chan error, 1)
	go func() { labDone <- l.Run(labCtx) }()
	fmt.Fprintf(stderr, "basalt server: listening on http://%s\n", hl.Addr())
	if ready != nil {
		ready(hl.Addr())
	}

	code, labStopped := exitOK, false
	select {
	case <-ctx.Done():
		log.Info("stopping on signal")
	case err := <-served:
		log.Error("HTTP server stopped", "err", err)
		code = exitFailed
	case err := <-labDone:
		log.Error("scheduler stopped", "err", err)
		code, labStopped = exitFailed, true
	}
	// Stop the lab first: held polls are answered, then the HTTP server
	// waits for the requests in flight, then the deferred closes run.
	stopLab()
	ws.Close() // WebSockets are hijacked: Shutdown does not wait for them
	shut, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("shutdown", "err", err)
	}
	if !labStopped {
		select {
		case <-labDone:
		case <-shut.Done():
		}
	}
	return code
}

// serverRoutes are the handlers one listener serves.
type serverRoutes struct {
	events  http.Handler // LAVA's event WebSocket (/ws/)
	workers http.Handler // the worker protocol (/api/worker/)
	xmlrpc  http.Handler // LAVA's XML-RPC API (/RPC2 and POST /)
	rest    http.Handler // LAVA's REST API (/api/v0.2/, /api/v0.3/)
	web     http.Handler // the pages (everything else)
}

// serverHandler routes a request by its path. It is not an http.ServeMux
// on purpose: a mux answers "//RPC2", which lavacli 1.2 posts to, with a
// redirect that an XML-RPC client does not follow; and "/" is XML-RPC for
// a POST (lavacli 1.2 with a bare URL) but the home page for a GET.
func serverHandler(h serverRoutes) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case strings.HasPrefix(p, workerapi.PathPrefix):
			h.workers.ServeHTTP(w, r)
		case strings.HasPrefix(p, events.PathPrefix) && h.events != nil:
			h.events.ServeHTTP(w, r)
		case p == "/" && r.Method == http.MethodPost, p != "/" && lavarpc.IsPath(p):
			h.xmlrpc.ServeHTTP(w, r)
		case restapi.IsPath(p):
			h.rest.ServeHTTP(w, r)
		default:
			h.web.ServeHTTP(w, r)
		}
	})
}

// smtpConfig checks the --smtp-* flags: nil without --smtp-server (no
// e-mail is sent).
func smtpConfig(server, from, user, passwordFile, mode string) (*notify.MailConfig, error) {
	if server == "" {
		if from != "" || user != "" || passwordFile != "" {
			return nil, errors.New("--smtp-from, --smtp-user and --smtp-password-file go with --smtp-server")
		}
		return nil, nil
	}
	if from == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "localhost"
		}
		from = "basalt@" + host
	}
	// EHLO with the host's name, as Python's smtplib (getfqdn) does.
	hello, _ := os.Hostname()
	m := &notify.MailConfig{Server: server, From: from, User: user, TLS: mode, Hello: hello}
	if passwordFile != "" {
		b, err := os.ReadFile(passwordFile)
		if err != nil {
			return nil, fmt.Errorf("--smtp-password-file: %w", err)
		}
		m.Password, _, _ = strings.Cut(string(b), "\n")
		m.Password = strings.TrimSuffix(m.Password, "\r")
	}
	if user != "" && passwordFile == "" {
		return nil, errors.New("--smtp-user needs --smtp-password-file")
	}
	if err := m.Check(); err != nil {
		return nil, err
	}
	return m, nil
}

// defaultPublicURL is http://LISTEN-ADDRESS, the host's name standing for
// an unspecified address (0.0.0.0, [::] or none), which no link can use.
func defaultPublicURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}
