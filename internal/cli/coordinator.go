package cli

import (
	"context"
	"errors"
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

const coordinatorSynopsis = "basalt coordinator [--listen ADDR] [--config FILE] [--log FILE|-] [--loglevel DEBUG|INFO|WARN|ERROR] [--group-ttl DURATION]"

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
	groupTTL := fs.Duration("group-ttl", 0, "forget a group after this long without any request from it, e.g. 72h (0: keep until cleared, as LAVA does)")
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
	addr := *listen
	if addr == "" {
		addr = ":" + strconv.Itoa(cfg.Port)
	}

	logw := stderr
	if *logPath != "-" {
		f, err := os.OpenFile(*logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			fmt.Fprintf(stderr, "basalt coordinator: log file: %v\n", err)
			return exitFailed
		}
		defer f.Close()
		logw = f
	}
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: lvl}))

	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "basalt coordinator: %v\n", err)
		return exitFailed
	}
	srv := coordinator.NewServer(coordinator.Options{GroupTTL: *groupTTL, Logger: log})
	fmt.Fprintf(stdout, "basalt coordinator: listening on %s (config: %s)\n", l.Addr(), cfgName)
	log.Info("coordinator started", "listen", l.Addr().String(), "config", cfgName, "group_ttl", groupTTL.String())
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
