package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/basalt-lava/basalt/internal/vland"
)

const (
	vlandSynopsis        = "basalt vland --config FILE [--listen ADDR] [--log FILE|-] [--loglevel DEBUG|INFO|WARN|ERROR]\n       basalt vland release --vland HOST:PORT [--port ID]... [--vlan ID]..."
	vlandReleaseSynopsis = "basalt vland release --vland HOST:PORT [--port ID]... [--vlan ID]..."
)

// runVland serves VLANd's protocol until SIGINT or SIGTERM, then takes
// every VLAN it made down; `basalt vland release` gives ports and VLANs
// back.
func runVland(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "release" {
		return vlandRelease(args[1:], stdout, stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return vlandMain(ctx, args, stdout, stderr, nil)
}

// vlandRelease puts ports back on their base VLAN, then deletes VLANs,
// as a job's tear-down does: what the janitor runs for a dispatcher that
// was killed before it could (internal/protocol), and a tool for admins.
// A VLAN another port is still on is left (VLANd refuses): its last user
// deletes it. The status is not 0 when VLANd could not be reached or
// refused something else.
func vlandRelease(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("vland release", vlandReleaseSynopsis, stderr)
	addr := fs.String("vland", "", "the VLAN daemon, HOST:PORT")
	var ports, vlans listFlag
	fs.Var(&ports, "port", "a port id to put back on its base VLAN (repeatable)")
	fs.Var(&vlans, "vlan", "a VLAN id to delete once the ports are back (repeatable)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagStatus(err)
	}
	if len(pos) != 0 || *addr == "" {
		fs.Usage()
		return exitUsage
	}
	if _, _, err := net.SplitHostPort(*addr); err != nil {
		fmt.Fprintf(stderr, "basalt vland release: --vland %q: expected HOST:PORT\n", *addr)
		return exitUsage
	}
	parse := func(what string, list []string) ([]int, bool) {
		var out []int
		for _, s := range list {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				fmt.Fprintf(stderr, "basalt vland release: --%s %q: expected an id (a positive number)\n", what, s)
				return nil, false
			}
			out = append(out, n)
		}
		return out, true
	}
	portIDs, ok1 := parse("port", ports)
	vlanIDs, ok2 := parse("vlan", vlans)
	if !ok1 || !ok2 {
		return exitUsage
	}
	host, _ := os.Hostname()
	c := &vland.Client{Addr: *addr, ClientName: host}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	status := exitOK
	for _, id := range portIDs {
		if err := c.RestoreBaseVLAN(ctx, id); err != nil {
			fmt.Fprintf(stderr, "basalt vland release: port %d: %v\n", id, err)
			status = exitFailed
			continue
		}
		fmt.Fprintf(stdout, "port %d back on its base VLAN\n", id)
	}
	for _, id := range vlanIDs {
		err := c.DeleteVLAN(ctx, id)
		switch {
		case err == nil:
			fmt.Fprintf(stdout, "VLAN %d deleted\n", id)
		case vland.InUse(err):
			fmt.Fprintf(stdout, "VLAN %d left to its other users: %v\n", id, err)
		default:
			fmt.Fprintf(stderr, "basalt vland release: VLAN %d: %v\n", id, err)
			status = exitFailed
		}
	}
	return status
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
	log, closeLog, err := daemonLogger(*logPath, stderr, lvl)
	if err != nil {
		fmt.Fprintf(stderr, "basalt vland: %v\n", err)
		return exitFailed
	}
	defer closeLog()

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
