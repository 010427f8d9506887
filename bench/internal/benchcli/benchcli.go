// Package benchcli holds what the synthetic workers of the benchmarks
// (bench/server/logload, bench/web/weblog) share as commands: their
// -bytes size argument, their JSON-lines output, their fatal errors and
// the worker-protocol client they build from -url, -worker and
// -token-file.
package benchcli

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/basalt-lava/basalt/internal/workerapi"
)

// ParseSize reads a positive byte count with an optional K, M or G suffix
// (powers of 1024): "200M" is 200 MiB.
func ParseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q: want a positive number with K, M or G", s)
	}
	return n * mult, nil
}

// Emit prints v as one JSON line on standard output (what the benchmarks'
// scripts read).
func Emit(v map[string]any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

// Fail prints err after the command's name on standard error and exits 1.
func Fail(command string, err error) {
	fmt.Fprintln(os.Stderr, command+":", err)
	os.Exit(1)
}

// Peer is a worker-protocol client for the server at url as worker, with
// the worker's token read from tokenFile (surrounding white space
// trimmed); version is what it reports as its own.
func Peer(url, worker, tokenFile, version string) (*workerapi.Peer, error) {
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, err
	}
	return workerapi.NewPeer(workerapi.PeerConfig{URL: url, Worker: worker, Token: strings.TrimSpace(string(token)), Version: version})
}
