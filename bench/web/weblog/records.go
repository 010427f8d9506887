package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// gen produces the records of a synthetic LAVA job log shaped like a real
// QEMU boot and test log (the anchor's example job's output.yaml is the
// model): the validate action, a deploy with nested actions and its
// results, a boot with the kernel's messages, auto-login input and
// feedback, then a test action whose test cases each print target lines,
// LAVA's signals, debug notes of the signals received, now and then a
// warning or an error, and a results record. The log never closes the
// test action, so lines appended later (the live tail) belong to a job
// still running.
//
// It is deterministic for a seed: the same seed gives the same bytes, so
// the log streamed into Basalt and the output.yaml given to LAVA are the
// same. Record times advance from a fixed base by a few milliseconds a
// record, not from the clock.
type gen struct {
	rng   *rand.Rand
	t     time.Time
	n     int64    // records made
	queue []string // records made but not yet returned
	phase int      // 0 header, 1 boot, 2 test cases
	tcase int      // test cases begun
	top   int      // the last top-level action begun (1 deploy, then boot and test pairs)
}

// casesPerTest is how many test cases one test action runs before the
// job reboots and starts the next (about 16 MB of log): a long log of
// several boot and test actions, as a job with many test blocks has.
const casesPerTest = 1000

func newGen(seed uint64) *gen {
	return &gen{
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		t:   time.Date(2026, 12, 7, 4, 41, 22, 579149000, time.UTC),
	}
}

// next returns the next record (without its "\n").
func (g *gen) next() string {
	for len(g.queue) == 0 {
		switch g.phase {
		case 0:
			g.header()
			g.phase = 1
		case 1:
			g.boot()
			g.phase = 2
		default:
			if g.tcase > 0 && g.tcase%casesPerTest == 0 {
				g.endTest()
				g.boot()
			}
			g.testCase()
		}
	}
	r := g.queue[0]
	g.queue = g.queue[1:]
	g.n++
	return r
}

// rec queues one record; msg is a Go string quoted here as YAML's
// double-quoted scalar (only \\, \" and control characters need it).
func (g *gen) rec(lvl, msg string) {
	g.t = g.t.Add(time.Duration(200+g.rng.IntN(4000)) * time.Microsecond)
	g.queue = append(g.queue, fmt.Sprintf(`- {"dt": "%s", "lvl": "%s", "msg": %s}`, g.t.Format("2006-01-02T15:04:05.000000"), lvl, quote(msg)))
}

// recMap queues a record whose msg is a flow mapping written by the caller
// (results).
func (g *gen) recMap(lvl, mapping string) {
	g.t = g.t.Add(time.Duration(200+g.rng.IntN(4000)) * time.Microsecond)
	g.queue = append(g.queue, fmt.Sprintf(`- {"dt": "%s", "lvl": "%s", "msg": %s}`, g.t.Format("2006-01-02T15:04:05.000000"), lvl, mapping))
}

// feedback queues a feedback record, which carries its namespace.
func (g *gen) feedback(msg string) {
	g.t = g.t.Add(time.Duration(200+g.rng.IntN(4000)) * time.Microsecond)
	g.queue = append(g.queue, fmt.Sprintf(`- {"dt": "%s", "lvl": "feedback", "msg": %s, "ns": "common"}`, g.t.Format("2006-01-02T15:04:05.000000"), quote(msg)))
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '"':
			b.WriteString(`\"`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c < 0x20:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func (g *gen) result(definition, cas, level, result string) {
	g.recMap("results", fmt.Sprintf(`{"case": "%s", "definition": "%s", "duration": "%.2f", "level": "%s", "namespace": "common", "result": "%s"}`,
		cas, definition, g.rng.Float64()*3, level, result))
}

func (g *gen) header() {
	g.rec("info", "lava-dispatcher, installed at version: 2023.01")
	g.rec("info", "start: 0 validate")
	g.rec("info", "Start time: "+g.t.Format("2006-01-02 15:04:05.000000+00:00")+" (UTC)")
	g.rec("debug", "Validating that http://127.0.0.1:24800/vmlinuz exists")
	g.rec("debug", "Validating that http://127.0.0.1:24800/rootfs.cpio.gz exists")
	g.rec("info", "qemu-system-x86, installed at version: 1:7.2+dfsg-7+deb12u18+b3, host architecture: amd64")
	g.rec("info", "validate duration: 0.07")
	g.recMap("results", `{"case": "validate", "definition": "lava", "result": "pass"}`)
	g.top = 1
	g.rec("info", "start: 1 deployimages (timeout 00:05:00) [common]")
	g.rec("debug", "start: 1.1 lava-overlay (timeout 00:05:00) [common]")
	g.rec("debug", "[common] Preparing overlay tarball in /var/lib/lava/dispatcher/tmp/1/lava-overlay-vtgdg5_r")
	for _, f := range []string{"lava-add-keys", "lava-add-sources", "lava-background-process-start", "lava-background-process-stop",
		"lava-common-functions", "lava-echo-ipv4", "lava-install-packages", "lava-os-build", "lava-test-case", "lava-test-runner"} {
		g.rec("debug", "Creating /var/lib/lava/dispatcher/tmp/1/lava-overlay-vtgdg5_r/lava-1/bin/"+f)
	}
	g.rec("debug", "end: 1.1 lava-overlay (duration 00:00:01) [common]")
	g.result("lava", "lava-overlay", "1.1", "pass")
	g.rec("debug", "start: 1.2 download-retry (timeout 00:05:00) [common]")
	for i := 0; i <= 100; i += 5 {
		g.rec("debug", fmt.Sprintf("progress %3d %% (%d MB)", i, i*38/100))
	}
	g.rec("info", "11 MB downloaded in 0.04 s (270.11 MB/s)")
	g.rec("debug", "end: 1.2 download-retry (duration 00:00:00) [common]")
	g.result("lava", "download-retry", "1.2", "pass")
	g.rec("info", "end: 1 deployimages (duration 00:00:23) [common]")
	g.result("lava", "deployimages", "1", "pass")
}

func (g *gen) boot() {
	g.top++
	b := g.top
	g.rec("info", fmt.Sprintf("start: %d boot-image-retry (timeout 00:02:00) [common]", b))
	g.rec("debug", fmt.Sprintf("start: %d.1 boot-qemu-image (timeout 00:02:00) [common]", b))
	g.rec("info", "Boot command: /usr/bin/qemu-system-x86_64 -cpu qemu64 -nographic -net nic,model=virtio,macaddr=52:54:00:12:34:59 -net user -m 512 -monitor none -kernel /var/lib/lava/dispatcher/tmp/1/vmlinuz -append \"console=ttyS0,115200 rw\" -initrd /var/lib/lava/dispatcher/tmp/1/rootfs.cpio.gz")
	g.rec("target", "\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16.2-debian-1.16.2-1)")
	for i := 0; i < 400; i++ {
		g.rec("target", fmt.Sprintf("[    %d.%06d] %s", i/100, g.rng.IntN(1000000), kernelLines[i%len(kernelLines)]))
	}
	g.rec("debug", fmt.Sprintf("end: %d.1 boot-qemu-image (duration 00:00:05) [common]", b))
	g.rec("debug", fmt.Sprintf("start: %d.2 auto-login-action (timeout 00:01:55) [common]", b))
	g.rec("target", "buildroot login: ")
	g.rec("input", "root\n")
	g.feedback("Setting prompt string to ['# ']")
	g.rec("target", "# ")
	g.rec("input", "export PS1=\"# \"\n")
	g.rec("debug", fmt.Sprintf("end: %d.2 auto-login-action (duration 00:00:11) [common]", b))
	g.result("lava", "auto-login-action", fmt.Sprintf("%d.2", b), "pass")
	g.rec("info", fmt.Sprintf("end: %d boot-image-retry (duration 00:00:16) [common]", b))
	g.result("lava", "boot-image-retry", strconv.Itoa(b), "pass")
	g.top++
	g.rec("info", fmt.Sprintf("start: %d lava-test-retry (timeout 00:30:00) [common]", g.top))
	g.rec("debug", fmt.Sprintf("start: %d.1 lava-test-shell (timeout 00:30:00) [common]", g.top))
	g.rec("input", "/lava-1/bin/lava-test-runner /lava-1/0\n")
	g.rec("target", "+ export TESTRUN_ID=0_stress")
}

// endTest closes the running test action.
func (g *gen) endTest() {
	g.rec("target", "+ set +x")
	g.rec("target", "<LAVA_TEST_RUNNER EXIT>")
	g.rec("info", "ok: lava_test_shell seems to have completed")
	g.rec("debug", fmt.Sprintf("end: %d.1 lava-test-shell (duration 00:25:13) [common]", g.top))
	g.result("lava", "lava-test-shell", fmt.Sprintf("%d.1", g.top), "pass")
	g.rec("info", fmt.Sprintf("end: %d lava-test-retry (duration 00:25:13) [common]", g.top))
	g.result("lava", "lava-test-retry", strconv.Itoa(g.top), "pass")
}

var kernelLines = []string{
	"Linux version 6.1.0-28-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1",
	"Command line: console=ttyS0,115200 rw",
	"BIOS-provided physical RAM map:",
	"x86/fpu: x87 FPU will use FXSAVE",
	"Memory: 474672K/523768K available (14336K kernel code, 2407K rwdata, 9364K rodata, 2852K init, 17476K bss, 48836K reserved, 0K cma-reserved)",
	"clocksource: tsc-early: mask: 0xffffffffffffffff max_cycles: 0x2b3e459bf4c, max_idle_ns: 440795289890 ns",
	"virtio_net virtio0 enp0s3: renamed from eth0",
	"Freeing unused kernel image (initmem) memory: 2852K",
	"Run /init as init process",
	"random: crng init done",
}

// testCase queues one test case of the stress definition.
func (g *gen) testCase() {
	g.tcase++
	name := fmt.Sprintf("stress-%d", g.tcase)
	g.rec("target", "<LAVA_SIGNAL_STARTTC "+name+">")
	g.rec("debug", "Received signal: <STARTTC> "+name)
	n := 40 + g.rng.IntN(80)
	for i := 0; i < n; i++ {
		switch r := g.rng.IntN(100); {
		case r < 2:
			g.rec("warning", fmt.Sprintf("%s: iteration %d took %d ms longer than expected", name, i, g.rng.IntN(900)))
		case r < 3:
			g.rec("error", fmt.Sprintf("%s: worker %d reported a transient I/O error (errno 5), retrying", name, g.rng.IntN(8)))
		case r < 5:
			g.feedback(fmt.Sprintf("[  %d.%06d] rcu: INFO: rcu_sched detected stalls on CPUs/tasks", 100+g.tcase, g.rng.IntN(1000000)))
		case r < 8:
			g.rec("debug", fmt.Sprintf("Timing: %s iteration %d elapsed %.3f s", name, i, g.rng.Float64()*2))
		default:
			g.rec("target", fmt.Sprintf("stress-ng: info:  [%d] %s: iteration %5d: %8d bogo ops in %.2f s, %10.2f bogo ops/s (real), cpu%d temp %d.%d C",
				200+g.tcase%800, name, i, g.rng.IntN(10000000), g.rng.Float64()*10, g.rng.Float64()*1e6, g.rng.IntN(2), 40+g.rng.IntN(30), g.rng.IntN(10)))
		}
	}
	result := "pass"
	if g.rng.IntN(50) == 0 {
		result = "fail"
	}
	g.rec("target", "<LAVA_SIGNAL_ENDTC "+name+">")
	g.rec("debug", "Received signal: <ENDTC> "+name)
	g.rec("target", fmt.Sprintf("<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=%s RESULT=%s>", name, result))
	g.rec("debug", fmt.Sprintf("Received signal: <TESTCASE> TEST_CASE_ID=%s RESULT=%s", name, result))
	g.recMap("results", fmt.Sprintf(`{"case": "%s", "definition": "0_stress", "result": "%s"}`, name, result))
}

// tailRecord is the i-th line appended after the fill, stamped with the
// clock (it is sent now), carrying the marker the browser looks for.
func tailRecord(i int, now time.Time) string {
	return fmt.Sprintf(`- {"dt": "%s", "lvl": "target", "msg": "%s iteration %d: live line appended by the synthetic worker"}`,
		now.UTC().Format("2006-01-02T15:04:05.000000"), tailMarker(i), i)
}

// tailMarker is the text the page's observer counts.
func tailMarker(i int) string { return fmt.Sprintf("BASALT-TAIL-%06d", i) }

// lastFillRecord closes the fill: its marker is what a page showing the
// end of the log must hold.
func lastFillRecord(lines int64, t time.Time) string {
	return fmt.Sprintf(`- {"dt": "%s", "lvl": "target", "msg": "BASALT-FILL-END after %d records"}`, t.Format("2006-01-02T15:04:05.000000"), lines)
}
