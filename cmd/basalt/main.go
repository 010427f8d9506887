// Command basalt runs LAVA test jobs: it validates job definitions,
// renders device dictionaries and builds the pipeline LAVA would build.
// The work lives in internal/; this file only hands over the arguments.
package main

import (
	"os"

	"github.com/basalt-lava/basalt/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
