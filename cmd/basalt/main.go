// Command basalt runs LAVA test jobs: it validates job definitions,
// renders device dictionaries and builds the pipeline LAVA would build.
// The work lives in internal/; this file only hands over the arguments.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/basalt-lava/basalt/internal/cli"
	"github.com/basalt-lava/basalt/internal/janitor"
)

func main() {
	if os.Getenv(janitor.EnvVar) == "1" {
		// The janitor's helper (internal/janitor), started by basalt.
		if err := janitor.Serve(os.Stdin, os.Stderr, janitor.CommandTimeout); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	if exe, err := os.Executable(); err == nil {
		janitor.Enable(exe)
	}
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
