// Command basalt runs LAVA test jobs: it validates job definitions,
// renders device dictionaries and builds the pipeline LAVA would build.
// The work lives in internal/; this file only hands over the arguments.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/basalt-lava/basalt/internal/cli"
)

func main() {
	// BASALT_CPUPROFILE=FILE writes a CPU profile of the whole command,
	// for `go tool pprof`: how the speed figures are investigated.
	if path := os.Getenv("BASALT_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "basalt:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "basalt:", err)
			os.Exit(1)
		}
		code := cli.Main(os.Args[1:], os.Stdout, os.Stderr)
		pprof.StopCPUProfile()
		f.Close()
		os.Exit(code)
	}
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
