package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/basalt-lava/basalt/internal/hostfiles"
	"github.com/basalt-lava/basalt/internal/limits"
	"github.com/basalt-lava/basalt/internal/process"
	"github.com/basalt-lava/basalt/internal/worker"
)

const workerSynopsis = "basalt worker --url URL --name NAME (--token T | --token-file F) [--work-dir DIR] [--kill-grace DURATION] [--poll-delay DURATION] [--shutdown-grace DURATION] [--allow-local-files DIR]... [--allow-git-ssh] [--allow-lxc [--lxc-image-server HOST[:PORT][/PATH]] [--lxc-image-ca FILE] [--lxc-image-cache DIR]] [download limits]"

// runWorker is `basalt worker`: a lab's worker, until SIGINT or SIGTERM.
func runWorker(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("worker", workerSynopsis, stderr)
	var cfg worker.Config
	fs.StringVar(&cfg.URL, "url", "", "the server, http://HOST:PORT")
	fs.StringVar(&cfg.Name, "name", "", "the worker's name, as `basalt manage workers add` registered it")
	fs.StringVar(&cfg.Token, "token", "", "the worker's token (visible to other users of the host in the process list: prefer --token-file)")
	tokenFile := fs.String("token-file", "", "file holding the worker's token")
	fs.StringVar(&cfg.WorkDir, "work-dir", "basalt-worker", "folder for the running jobs' files (jobs/ID/: job.yaml, device.yaml, the log spool, downloads)")
	fs.DurationVar(&cfg.KillGrace, "kill-grace", process.DefaultGrace, "how long a child process (QEMU, a host command, git) gets between SIGTERM and SIGKILL when a job stops it")
	fs.DurationVar(&cfg.CoordinatorPollDelay, "poll-delay", 0, "pause between two polls of the MultiNode coordinator while it answers \"wait\" (default: LAVA's 1s)")
	fs.StringVar(&cfg.Vland, "vland", "", "the VLAN daemon HOST:PORT of jobs with the lava-vland protocol (default localhost:3080, as LAVA; see basalt vland)")
	dispatcherConfig := fs.String("dispatcher-config", "", "the dispatcher configuration of this worker's jobs, a YAML file: dispatcher_ip (what {SERVER_IP} becomes for its boards), tftp_root (default TFTP_DIRECTORY of /etc/default/tftpd-hpa, else /srv/tftp)")
	fs.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", 30*time.Second, "on SIGTERM, how long sending the stopped jobs' logs and ends may take before the worker exits anyway")
	var allowDirs listFlag
	fs.Var(&allowDirs, "allow-local-files", "let jobs read local files (file:// images, local git repositories) inside this folder (repeatable; default: none, since jobs come from anyone with a token)")
	fs.BoolVar(&cfg.AllowGitSSH, "allow-git-ssh", false, "let jobs' git repositories use ssh, which authenticates with this host's keys (default: refused)")
	fs.BoolVar(&cfg.AllowLXC, "allow-lxc", false, "let jobs use the lava-lxc protocol; its containers are privileged, so their tests run as this host's root (default: refused)")
	lxcImages := addLXCImageFlags(fs)
	dlLimits := downloadLimitFlags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagStatus(err)
	}
	if cfg.LXCImages, err = lxcImages.source(); err != nil {
		fmt.Fprintf(stderr, "basalt worker: %v\n", err)
		return exitUsage
	}
	if len(pos) != 0 {
		fmt.Fprintf(stderr, "basalt worker: unexpected argument %q\n", pos[0])
		fs.Usage()
		return exitUsage
	}
	if *dispatcherConfig != "" {
		if cfg.Dispatcher, err = loadDispatcherConfig(*dispatcherConfig); err != nil {
			fmt.Fprintf(stderr, "basalt worker: --dispatcher-config: %v\n", err)
			return exitUsage
		}
	}
	if cfg.Vland != "" {
		if _, _, err := net.SplitHostPort(cfg.Vland); err != nil {
			fmt.Fprintf(stderr, "basalt worker: --vland %q: expected HOST:PORT\n", cfg.Vland)
			return exitUsage
		}
	}
	if *tokenFile != "" {
		if cfg.Token != "" {
			fmt.Fprintln(stderr, "basalt worker: give --token or --token-file, not both")
			return exitUsage
		}
		b, err := limits.File{What: "token file", Max: 4096}.Read(*tokenFile)
		if err != nil {
			fmt.Fprintf(stderr, "basalt worker: %v\n", err)
			return exitFailed
		}
		cfg.Token = strings.TrimSpace(string(b))
	}
	if cfg.URL == "" || cfg.Name == "" || cfg.Token == "" {
		fmt.Fprintln(stderr, "basalt worker: --url, --name and a token (--token or --token-file) are required")
		fs.Usage()
		return exitUsage
	}
	dl := dlLimits()
	cfg.Download = &dl
	cfg.AllowLocalFiles = allowDirs
	if *tokenFile != "" && len(allowDirs) > 0 {
		if p, err := hostfiles.New(hostfiles.Options{Dirs: allowDirs}); err == nil && p.Contains(*tokenFile) {
			fmt.Fprintf(stderr, "basalt worker: --allow-local-files %s holds the --token-file %s: jobs could read it\n", p.Allowed(), *tokenFile)
			return exitUsage
		}
	}
	cfg.Version = versionText

	var mu sync.Mutex // one message at a time on stderr
	cfg.Logf = func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stderr, "basalt worker %s: %s\n", cfg.Name, fmt.Sprintf(format, args...))
	}
	cfg.OnConnected = func() { cfg.Logf("connected to %s", cfg.URL) }

	w, err := worker.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "basalt worker: %v\n", err)
		return exitUsage
	}

	// The first SIGINT or SIGTERM stops polling and cancels the jobs,
	// which clean up and are reported; a second one is noted and the
	// cleanup goes on, since leaving now would orphan QEMU.
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		n := 0
		for s := range sigs {
			n++
			if n == 1 {
				cfg.Logf("%s: stopping: canceling the running jobs", s)
				cancel(errors.New(s.String()))
			} else {
				cfg.Logf("%s again: still cleaning up", s)
			}
		}
	}()

	if err := w.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "basalt worker: %v\n", err)
		return exitFailed
	}
	cfg.Logf("stopped")
	return exitOK
}
