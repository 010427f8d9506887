package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/basalt-lava/basalt/internal/vland"
)

const vlandSynopsis = "basalt vland --config FILE [--listen ADDR] [--log FILE|-] [--loglevel DEBUG|INFO|WARN|ERROR]"

// runVland serves VLANd's protocol until SIGINT or SIGTERM, then takes
// every VLAN it made down.
func runVland(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return vlandMain(ctx, args, stdout, stderr, nil)
}

// vlandMain runs the daemon until ctx ends; ready, if not nil, gets the
// listening address.
func vlandMain(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(net.Addr)) int {
	fs := newFlagSet("vland", vlandSynopsis, stderr)
	configPath := fs.String("config", "", "the switches, their ports and drivers (YAML; see docs/vland.md)")
	listen := fs.String("listen", "", "address to listen on (default: the config's listen, else 127.0.0.1:3080; the API is unauthenticated and changes the lab's network)")
	logPath := fs.String("log", "-", "log file, appended to; \"-\" is standard error")
	level := fs.String("loglevel", "INFO", "DEBUG, INFO, WARN or ERROR")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagStatus(err)
	}
	if len(pos) != 0 || *configPath == "" {
		fs.Usage()
		return exitUsage
	}
	lvl, err := parseLogLevel(*level)
	if err != nil {
		fmt.Fprintf(stderr, "basalt vland: %v\n", err)
		return exitUsage
	}
	cfg, err := vland.LoadConfig(*configPath)
	if err != nil {
		fmt.Fprintf(stderr, "basalt vland: %v\n", err)
		return exitFailed
	}
	addr := *listen
	if addr == "" {
		addr = cfg.Listen
	}
	if addr == "" {
		addr = fmt.Sprintf("127.0.0.1:%d", vland.DefaultPort)
	}
	logw := stderr
	if *logPath != "-" {
		f, err := os.OpenFile(*logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			fmt.Fprintf(stderr, "basalt vland: log file: %v\n", err)
			return exitFailed
		}
		defer f.Close()
		logw = f
	}
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: lvl}))

	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "basalt vland: %v\n", err)
		return exitFailed
	}
	srv := vland.NewServer(cfg, &vland.Bridge{Prefix: cfg.BridgePrefix}, log)
	// The daemon's own tear-down gets time of its own, after a signal.
	teardown := func() error {
		tctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return srv.Close(tctx)
	}
	if err := srv.Start(ctx); err != nil {
		l.Close()
		fmt.Fprintf(stderr, "basalt vland: %v\n", err)
		if terr := teardown(); terr != nil {
			fmt.Fprintf(stderr, "basalt vland: tear-down: %v\n", terr)
		}
		return exitFailed
	}
	ports := 0
	for _, s := range cfg.Switches {
		ports += len(s.Ports)
	}
	fmt.Fprintf(stdout, "basalt vland: listening on %s (config %s: %d switches, %d ports, bridges %s<tag>)\n", l.Addr(), *configPath, len(cfg.Switches), ports, cfg.BridgePrefix)
	if ready != nil {
		ready(l.Addr())
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	status := exitOK
	select {
	case <-ctx.Done():
		log.Info("stopping on signal")
	case err := <-served:
		fmt.Fprintf(stderr, "basalt vland: %v\n", err)
		status = exitFailed
	}
	if err := teardown(); err != nil {
		fmt.Fprintf(stderr, "basalt vland: tear-down: %v\n", err)
		status = exitFailed
	}
	log.Info("stopped: every VLAN taken down")
	return status
}
