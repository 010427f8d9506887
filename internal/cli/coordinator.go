package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/basalt-lava/basalt/internal/coordinator"
)

const coordinatorSynopsis = "basalt coordinator [--listen ADDR] [--config FILE] [--log FILE|-] [--loglevel DEBUG|INFO|WARN|ERROR] [--group-ttl DURATION] [--max-groups N] [--max-group-size N] [--max-messages N] [--max-group-bytes SIZE] [--max-bytes SIZE] [--max-conns N]"

// runCoordinator serves LAVA's MultiNode coordinator protocol until
// SIGINT or SIGTERM.
func runCoordinator(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return coordinatorMain(ctx, args, stdout, stderr, nil)
}

// coordinatorMain runs the coordinator until ctx ends; ready, if not nil,
// gets the listening address (tests use it instead of parsing stdout).
func coordinatorMain(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(net.Addr)) int {
	fs := newFlagSet("coordinator", coordinatorSynopsis, stderr)
	listen := fs.String("listen", "", "address to listen on (default \":PORT\" with the port from the config file, else 3079)")
	configPath := fs.String("config", "", "LAVA coordinator config (JSON; default "+coordinator.DefaultConfigPath+" when it exists)")
	logPath := fs.String("log", "-", "log file, appended to; \"-\" is standard error")
	level := fs.String("loglevel", "INFO", "DEBUG, INFO, WARN or ERROR")
	groupTTL := fs.Duration("group-ttl", coordinator.DefaultGroupTTL, "forget a group after this long without any request from it, e.g. 72h (0: keep until cleared, as LAVA does; config \"group_ttl\", seconds)")
	limits := coordinatorLimitFlags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagStatus(err)
	}
	if len(pos) != 0 {
		fmt.Fprintf(stderr, "basalt coordinator: unexpected argument %q\n", pos[0])
		fs.Usage()
		return exitUsage
	}
	lvl, err := parseLogLevel(*level)
	if err != nil {
		fmt.Fprintf(stderr, "basalt coordinator: %v\n", err)
		return exitUsage
	}
	if *groupTTL < 0 {
		fmt.Fprintf(stderr, "basalt coordinator: --group-ttl %s is negative\n", *groupTTL)
		return exitUsage
	}

	cfg, cfgName, err := coordinatorConfig(*configPath)
	if err != nil {
		fmt.Fprintf(stderr, "basalt coordinator: %v\n", err)
		return exitFailed
	}
	for _, name := range []string{"max-groups", "max-group-size", "max-messages", "max-conns"} {
		if v := fs.Lookup(name).Value.String(); strings.HasPrefix(v, "-") {
			fmt.Fprintf(stderr, "basalt coordinator: --%s %s is negative (0: no limit)\n", name, v)
			return exitUsage
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	opts := coordinator.Options{GroupTTL: cfg.GroupTTL, Limits: limits(cfg.Limits, set)}
	if set["group-ttl"] || opts.GroupTTL == 0 {
		opts.GroupTTL = *groupTTL
		if opts.GroupTTL == 0 {
			opts.GroupTTL = -1
		}
	}
	addr := *listen
	if addr == "" {
		addr = ":" + strconv.Itoa(cfg.Port)
	}

	log, closeLog, err := daemonLogger(*logPath, stderr, lvl)
	if err != nil {
		fmt.Fprintf(stderr, "basalt coordinator: %v\n", err)
		return exitFailed
	}
	defer closeLog()

	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "basalt coordinator: %v\n", err)
		return exitFailed
	}
	opts.Logger = log
	srv := coordinator.NewServer(opts)
	fmt.Fprintf(stdout, "basalt coordinator: listening on %s (config: %s)\n", l.Addr(), cfgName)
	log.Info("coordinator started", "listen", l.Addr().String(), "config", cfgName, "group_ttl", opts.GroupTTL.String(),
		"max_groups", opts.Limits.MaxGroups, "max_group_size", opts.Limits.MaxGroupSize, "max_messages", opts.Limits.MaxMessages,
		"max_group_bytes", opts.Limits.MaxGroupBytes, "max_bytes", opts.Limits.MaxBytes, "max_conns", opts.Limits.MaxConns)
	if ready != nil {
		ready(l.Addr())
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case <-ctx.Done():
		log.Info("stopping on signal")
		srv.Close()
		<-served
		return exitOK
	case err := <-served:
		srv.Close()
		fmt.Fprintf(stderr, "basalt coordinator: %v\n", err)
		return exitFailed
	}
}

// coordinatorConfig loads the named config, or LAVA's default file when
// none is named and it exists, or else the defaults. It also returns what
// was used, for the start-up line.
func coordinatorConfig(path string) (coordinator.Config, string, error) {
	if path != "" {
		cfg, err := coordinator.LoadConfig(path)
		return cfg, path, err
	}
	cfg, err := coordinator.LoadConfig(coordinator.DefaultConfigPath)
	if errors.Is(err, fs.ErrNotExist) {
		return coordinator.DefaultConfig(), "defaults", nil
	}
	return cfg, coordinator.DefaultConfigPath, err
}

func parseLogLevel(s string) (slog.Level, error) {
	switch strings.ToUpper(s) {
	case "DEBUG":
		return slog.LevelDebug, nil
	case "INFO":
		return slog.LevelInfo, nil
	case "WARN", "WARNING":
		return slog.LevelWarn, nil
	case "ERROR":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("--loglevel %q: want DEBUG, INFO, WARN or ERROR", s)
}

// coordinatorLimitFlags adds basalt coordinator's limits to fs. The
// function it returns gives, once fs is parsed, the limits: a flag given
// on the command line (set names it) wins over the config file's key,
// which wins over the default. On the command line 0 means no limit.
func coordinatorLimitFlags(fs *flag.FlagSet) func(file coordinator.Limits, set map[string]bool) coordinator.Limits {
	groups := fs.Int("max-groups", coordinator.DefaultMaxGroups, "most groups kept at once; a request creating one more gets a nack (0: no limit; config \"max_groups\")")
	size := fs.Int("max-group-size", coordinator.DefaultMaxGroupSize, "largest group_size, so most clients in a group (0: no limit; config \"max_group_size\")")
	messages := fs.Int("max-messages", coordinator.DefaultMaxMessages, "most messages (lava_send and lava_sync IDs, result bundle) one client keeps in its group (0: no limit; config \"max_messages\")")
	groupBytes := &sizeFlag{n: coordinator.DefaultMaxGroupBytes}
	fs.Var(groupBytes, "max-group-bytes", "most bytes of messages and client names one group keeps, e.g. 128M (0: no limit; config \"max_group_bytes\")")
	total := &sizeFlag{n: coordinator.DefaultMaxBytes}
	fs.Var(total, "max-bytes", "most bytes of messages and client names all groups keep, e.g. 512M (0: no limit; config \"max_bytes\")")
	conns := fs.Int("max-conns", coordinator.DefaultMaxConns, "most connections served at once; more wait their turn (0: no limit; config \"max_conns\")")
	return func(file coordinator.Limits, set map[string]bool) coordinator.Limits {
		pick := func(name string, flagValue, fileValue int64) int64 {
			switch {
			case set[name] && flagValue == 0:
				return -1
			case set[name]:
				return flagValue
			case fileValue != 0:
				return fileValue
			}
			return flagValue
		}
		return coordinator.Limits{
			MaxGroups:     int(pick("max-groups", int64(*groups), int64(file.MaxGroups))),
			MaxGroupSize:  int(pick("max-group-size", int64(*size), int64(file.MaxGroupSize))),
			MaxMessages:   int(pick("max-messages", int64(*messages), int64(file.MaxMessages))),
			MaxGroupBytes: pick("max-group-bytes", groupBytes.n, file.MaxGroupBytes),
			MaxBytes:      pick("max-bytes", total.n, file.MaxBytes),
			MaxConns:      int(pick("max-conns", int64(*conns), int64(file.MaxConns))),
		}
	}
}

// daemonLogger is the text logger of a daemon subcommand (coordinator,
// vland): to stderr for "-", else appended to the file at path; close
// closes that file.
func daemonLogger(path string, stderr io.Writer, lvl slog.Level) (log *slog.Logger, close func(), err error) {
	w, close := stderr, func() {}
	if path != "-" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("log file: %w", err)
		}
		w, close = f, func() { f.Close() }
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl})), close, nil
}
