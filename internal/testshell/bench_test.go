package testshell_test

import (
	"context"
	"io"
	"regexp"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/connection"
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/testshell"
	"github.com/basalt-lava/basalt/internal/value"
)

// consoleBytes is the throughput job's console output (the anchor's
// job-throughput.yaml): 50 MB of one short line, repeated.
const consoleBytes = 50_000_000

// BenchmarkFollow50MB follows a real process printing 50 MB of log lines
// and then the runner's EXIT, as lava-test-shell follows the throughput
// job's console: every line is logged in LAVA's format (to io.Discard)
// and searched for signals.
//
//	go test ./internal/testshell -run '^$' -bench Follow50MB -benchtime 3x
func BenchmarkFollow50MB(b *testing.B) {
	for _, bc := range []struct {
		name string
		// pattern is a parse pattern active while the lines pass; ""
		// for none (the throughput job has none).
		pattern string
		log     *joblog.Logger
	}{
		{name: "signals", log: joblog.New(io.Discard, joblog.Options{})},
		{name: "signals+pattern", pattern: `^(?P<test_case_id>\S+): (?P<result>pass|fail)$`,
			log: joblog.New(io.Discard, joblog.Options{})},
		{name: "signals/nolog", log: joblog.Discard()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(consoleBytes)
			b.ReportAllocs()
			for b.Loop() {
				followOnce(b, bc.pattern, bc.log)
			}
		})
	}
}

func followOnce(b *testing.B, pattern string, log *joblog.Logger) {
	script := `printf '<LAVA_SIGNAL_STARTRUN 0_throughput 1_1>\n'; ` +
		`yes 'some line of log text 1234567890' | head -c 50000000; ` +
		`printf '\n<LAVA_SIGNAL_ENDRUN 0_throughput 1_1>\n<LAVA_TEST_RUNNER EXIT>\n'`
	s, err := connection.Start([]string{"/bin/sh", "-c", script}, connection.Options{Log: log})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var def *testshell.Definition
	if pattern != "" {
		def = &testshell.Definition{Name: "0_throughput", Revision: "unspecified",
			Pattern: regexp.MustCompile("(?m)" + pattern), Fixup: testshell.DefaultFixup}
	}
	results := 0
	p := testshell.New(testshell.Config{
		Namespace:  "common",
		Definition: func(string) (*testshell.Definition, error) { return def, nil },
		Result:     func(*value.Map) { results++ },
		Log:        log,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := p.Follow(ctx, s); err != nil {
		b.Fatal(err)
	}
	p.Finish()
	if results != 1 {
		b.Fatalf("%d results, want the ENDRUN one", results)
	}
}
