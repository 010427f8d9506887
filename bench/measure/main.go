// Command measure runs a dispatcher (basalt run or lava-run) and reports,
// as JSON, its wall time and what it cost, split three ways so that a
// comparison says what it counts:
//
//   - the dispatcher: the process started, alone (its own CPU and peak
//     resident memory);
//
//   - its helpers: every other process it started, directly or not
//     (lava-run's libguestfs appliance, a QEMU of its own that writes the
//     overlay disk; mkfs.ext2, decompressors, git...), with the
//     dispatcher they make "the dispatcher's side";
//
//   - the guest's QEMU: the emulator running the job's device, reported
//     apart, since both dispatchers run the same one.
//
//     measure [-guest RE] [-not-guest RE] OUT.json -- COMMAND [ARGS...]
//
// How each figure is taken:
//
//   - measure makes itself the child subreaper of the tree, so every
//     descendant is reaped either by its parent or, orphaned, by measure;
//     the CPU of the whole tree (tree_cpu_s) is then measure's
//     RUSAGE_CHILDREN once all are reaped: exact, however short-lived a
//     process was. After the dispatcher exits, descendants still running
//     get -linger to end, then are killed (counted in "killed").
//   - the dispatcher's own CPU and peak memory (VmHWM) are read from
//     /proc/PID while it is a zombie: after it exited, before it is
//     reaped, the only moment the kernel keeps its own figures apart from
//     its children's. Exact.
//   - the guest's QEMU is the process whose argv[0] matches -guest and
//     whose command line does not match -not-guest (libguestfs' appliance
//     is a QEMU too); once found (within -interval of its start), its CPU
//     is read from /proc every -guest-interval, so it may miss up to
//     that much of its last moments (which then counts as helpers'; a
//     read that catches it as a zombie is exact): helpers_cpu_s is
//     tree_cpu_s minus the dispatcher's and the guest's.
//   - the side's peak memory (side_peak_pss_kb) is the largest sum, over
//     samples taken every -pss-every intervals, of the proportional set
//     size (Pss, /proc/PID/smaps_rollup) of every process of the tree but
//     the guest's QEMU: a page shared by n processes counts 1/n in each,
//     so the sum is what the side holds in memory, a forked Python not
//     counted twice. side_peak_rss_kb is the same sum of resident sizes,
//     every interval: an upper bound, shared pages counted in every
//     process. A process shorter than an interval may be missed.
//
// The machine's load average is recorded at the start and at the end:
// on a shared machine the figures mean little without it.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// Result is what measure writes.
type Result struct {
	Cmd         []string `json:"cmd"`
	ExitCode    int      `json:"rc"`
	WallSeconds float64  `json:"wall_s"`
	LoadStart   string   `json:"loadavg_start"`
	LoadEnd     string   `json:"loadavg_end"`

	// The dispatcher process alone.
	CPUSeconds float64 `json:"dispatcher_cpu_s"`
	PeakRSSKiB int     `json:"dispatcher_peak_rss_kb"`

	// Everything the dispatcher started, guest included.
	TreeCPUSeconds float64 `json:"tree_cpu_s"`
	// The dispatcher's side: the dispatcher and its helpers, the guest
	// excluded.
	HelpersCPUSeconds float64 `json:"helpers_cpu_s"`
	SideCPUSeconds    float64 `json:"side_cpu_s"`
	SidePeakPSSKiB    int     `json:"side_peak_pss_kb"`
	SidePeakRSSKiB    int     `json:"side_peak_rss_kb"`
	// The guest's QEMU.
	GuestCount      int     `json:"guest_qemu_count"`
	GuestCPUSeconds float64 `json:"guest_qemu_cpu_s"`
	GuestPeakRSSKiB int     `json:"guest_qemu_peak_rss_kb"`

	// Processes seen, by program and role (sampled figures).
	Processes []Proc `json:"processes"`
	// Descendants still running -linger after the dispatcher exited.
	Killed     int `json:"killed"`
	IntervalMS int `json:"sample_interval_ms"`
}

// Proc sums the processes of one program in one role, as sampled.
type Proc struct {
	Program    string  `json:"program"`
	Role       string  `json:"role"` // dispatcher, helper, guest
	Count      int     `json:"count"`
	CPUSeconds float64 `json:"cpu_s"`
	PeakRSSKiB int     `json:"peak_rss_kb"` // the largest one's
}

func main() {
	guest := flag.String("guest", `(^|/)qemu-system-[^/]*$`, "regexp on argv[0] naming the guest's QEMU")
	notGuest := flag.String("not-guest", `guestfs| --?(version|help)( |$)`,
		"regexp on the whole command line of a -guest match that makes it a helper (libguestfs' appliance, a version probe)")
	interval := flag.Duration("interval", 20*time.Millisecond, "sampling interval of the process tree")
	guestInterval := flag.Duration("guest-interval", 2*time.Millisecond, "sampling interval of the guest's QEMU's CPU")
	pssEvery := flag.Int("pss-every", 5, "read every process's Pss every this many intervals (it costs a walk of its page tables)")
	linger := flag.Duration("linger", 60*time.Second, "how long descendants may outlive the dispatcher before they are killed")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: measure [flags] OUT.json -- COMMAND [ARGS...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	args := flag.Args()
	if len(args) < 3 || args[1] != "--" {
		flag.Usage()
		os.Exit(2)
	}
	m := &measurer{guest: regexp.MustCompile(*guest), notGuest: regexp.MustCompile(*notGuest),
		interval: *interval, guestInterval: min(*guestInterval, *interval), pssEvery: max(1, *pssEvery), linger: *linger, procs: map[procKey]*procState{}}
	res, err := m.run(args[2:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(1)
	}
	b, _ := json.MarshalIndent(res, "", " ")
	if err := os.WriteFile(args[0], append(b, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(1)
	}
	os.Exit(res.ExitCode)
}

const (
	pPID                  = 1
	wExited               = 4
	wNoWait               = 0x01000000
	prSetChildSubreaper   = 36
	clockTicks            = 100 // USER_HZ on Linux
	fieldPPID, fieldUtime = 1, 11
	fieldStart, fieldRSS  = 19, 21
)

type procKey struct {
	pid   int
	start string // starttime: a reused pid is another process
}

type procState struct {
	comm, role, program string
	cpu                 float64
	rss                 int // KiB, largest sampled
}

type measurer struct {
	guest, notGuest  *regexp.Regexp
	interval, linger time.Duration
	guestInterval    time.Duration
	guests           map[procKey]*procState
	ticks            int
	root             int
	procs            map[procKey]*procState
	pssEvery         int
	samples          int
	sidePeak         int
	sidePeakPSS      int
	guestHWM         int
	pageKiB          int
}

func (m *measurer) run(argv []string) (*Result, error) {
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); e != 0 {
		return nil, fmt.Errorf("PR_SET_CHILD_SUBREAPER: %v", e)
	}
	m.pageKiB = os.Getpagesize() / 1024
	res := &Result{Cmd: argv, LoadStart: loadavg(), IntervalMS: int(m.interval / time.Millisecond)}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	m.root = cmd.Process.Pid
	exited := make(chan struct{})
	go func() {
		// Wait for the exit without reaping (WNOWAIT), so /proc/PID/stat
		// still describes the process alone.
		var info [128]byte
		for {
			_, _, e := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(m.root),
				uintptr(unsafe.Pointer(&info[0])), wExited|wNoWait, 0, 0)
			if e != syscall.EINTR {
				break
			}
		}
		close(exited)
	}()
	m.guests = map[procKey]*procState{}
	tick := time.NewTicker(m.guestInterval)
	defer tick.Stop()
	hwm := 0
loop:
	for {
		if m.tick() {
			if v := statusKiB(m.root, "VmHWM:", "status"); v > hwm {
				hwm = v
			}
		}
		select {
		case <-exited:
			break loop
		case <-tick.C:
		}
	}
	res.WallSeconds = round(time.Since(start).Seconds())
	own, err := ownCPU(m.root)
	if err != nil {
		return nil, err
	}
	res.CPUSeconds, res.PeakRSSKiB = round(own), hwm
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(m.root, &ws, 0, nil); err != nil {
		return nil, fmt.Errorf("reaping the dispatcher: %w", err)
	}
	res.ExitCode = ws.ExitStatus()
	if ws.Signaled() {
		res.ExitCode = 128 + int(ws.Signal())
	}
	res.Killed = m.reapRest(tick.C)
	res.LoadEnd = loadavg()

	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return nil, err
	}
	tree := tv(ru.Utime) + tv(ru.Stime)
	res.TreeCPUSeconds = round(tree)
	byProg := map[[2]string]*Proc{}
	for _, p := range m.procs {
		if p.role == "guest" {
			res.GuestCount++
			res.GuestCPUSeconds += p.cpu
		}
		k := [2]string{p.program, p.role}
		a := byProg[k]
		if a == nil {
			a = &Proc{Program: p.program, Role: p.role}
			byProg[k] = a
		}
		a.Count++
		a.CPUSeconds += p.cpu
		if p.rss > a.PeakRSSKiB {
			a.PeakRSSKiB = p.rss
		}
	}
	for _, a := range byProg {
		a.CPUSeconds = round(a.CPUSeconds)
		res.Processes = append(res.Processes, *a)
	}
	sort.Slice(res.Processes, func(i, j int) bool { return res.Processes[i].CPUSeconds > res.Processes[j].CPUSeconds })
	res.GuestCPUSeconds = round(res.GuestCPUSeconds)
	res.GuestPeakRSSKiB = m.guestHWM
	res.HelpersCPUSeconds = round(max(0, tree-own-res.GuestCPUSeconds))
	res.SideCPUSeconds = round(own + res.HelpersCPUSeconds)
	res.SidePeakRSSKiB = max(m.sidePeak, hwm)
	res.SidePeakPSSKiB = m.sidePeakPSS
	return res, nil
}

// reapRest reaps every descendant left once the dispatcher is gone
// (orphans come to measure, the subreaper), sampling them meanwhile;
// those still running after m.linger are killed. It returns how many
// were killed.
func (m *measurer) reapRest(tick <-chan time.Time) int {
	deadline := time.Now().Add(m.linger)
	killed := 0
	for {
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if errors.Is(err, syscall.ECHILD) {
				return killed
			}
			if err == syscall.EINTR {
				continue
			}
			if pid <= 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			for _, pid := range descendants() {
				if syscall.Kill(pid, syscall.SIGKILL) == nil {
					killed++
				}
			}
			deadline = time.Now().Add(time.Hour)
		}
		m.tick()
		<-tick
	}
}

// tick samples the guests' CPU, and every -interval the whole tree
// (then it returns true).
func (m *measurer) tick() bool {
	m.ticks++
	if n := int(m.interval / m.guestInterval); n > 1 && m.ticks%n != 1 {
		for k, p := range m.guests {
			f := procStat(k.pid)
			if f == nil || f[fieldStart] != k.start {
				delete(m.guests, k) // reaped: its last reading stands
				continue
			}
			p.cpu = cpuOf(f)
		}
		return false
	}
	m.sample()
	return true
}

// procStat returns the fields of /proc/PID/stat after the command name
// (f[0] is the state), nil when unreadable.
func procStat(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 > len(b) {
		return nil
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) <= fieldRSS {
		return nil
	}
	return f
}

// cpuOf returns utime+stime of stat fields, in seconds. A zombie (exited,
// not yet reaped) still shows its final CPU: the exact figure, when a
// reading catches it.
func cpuOf(f []string) float64 {
	ut, _ := strconv.ParseFloat(f[fieldUtime], 64)
	st, _ := strconv.ParseFloat(f[fieldUtime+1], 64)
	return (ut + st) / clockTicks
}

// sample reads every process of the tree once.
func (m *measurer) sample() {
	side, pss := 0, 0
	withPSS := m.samples%m.pssEvery == 0
	m.samples++
	for _, pid := range descendants() {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		j := bytes.IndexByte(b, '(')
		if i < 0 || j < 0 || i+2 > len(b) {
			continue
		}
		comm := string(b[j+1 : i])
		f := strings.Fields(string(b[i+2:]))
		if len(f) <= fieldRSS {
			continue
		}
		key := procKey{pid, f[fieldStart]}
		p := m.procs[key]
		if p == nil || p.comm != comm { // new, or it exec'd since
			if p == nil {
				p = &procState{}
				m.procs[key] = p
			}
			var known bool
			p.program, p.role, known = m.classify(pid, comm)
			if known {
				p.comm = comm
			} else {
				p.comm = "" // classified again at the next sample
			}
		}
		p.cpu = cpuOf(f)
		rss, _ := strconv.Atoi(f[fieldRSS])
		rss *= m.pageKiB
		p.rss = max(p.rss, rss)
		if p.role == "guest" {
			m.guests[key] = p
			m.guestHWM = max(m.guestHWM, statusKiB(pid, "VmHWM:", "status"))
		} else {
			side += rss
			if withPSS {
				pss += statusKiB(pid, "Pss:", "smaps_rollup")
			}
		}
	}
	m.sidePeak = max(m.sidePeak, side)
	m.sidePeakPSS = max(m.sidePeakPSS, pss)
}

// classify names a process's program and role from its command line;
// known is false when the command line could not be read: in the middle
// of an exec the new program's name is set before its arguments are, and
// a guest read then would pass for a helper until the next sample.
func (m *measurer) classify(pid int, comm string) (program, role string, known bool) {
	if pid == m.root {
		return comm, "dispatcher", true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return comm, "helper", false
	}
	argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	program = filepath.Base(argv[0])
	if m.guest.MatchString(argv[0]) && !m.notGuest.MatchString(strings.Join(argv, " ")) {
		return program, "guest", true
	}
	if m.guest.MatchString(argv[0]) {
		program += " (not the guest)"
	}
	return program, "helper", true
}

// descendants lists every process under measure: its children (the
// dispatcher and the orphans it adopted) and theirs, recursively. Each
// thread has its own children list.
func descendants() []int {
	var out []int
	queue := []int{os.Getpid()}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
		for _, t := range tasks {
			b, err := os.ReadFile(t)
			if err != nil {
				continue
			}
			for _, s := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(s); err == nil {
					out = append(out, c)
					queue = append(queue, c)
				}
			}
		}
	}
	return out
}

// statusKiB returns a figure in KiB of /proc/PID/FILE (status,
// smaps_rollup), 0 when unreadable.
func statusKiB(pid int, field, file string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				n, _ := strconv.Atoi(f[0])
				return n
			}
		}
	}
	return 0
}

// ownCPU returns utime+stime of pid alone, in seconds: called while pid
// is a zombie, before its children's times are folded into its parent's.
func ownCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) <= fieldUtime+1 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseFloat(f[fieldUtime], 64)
	st, _ := strconv.ParseFloat(f[fieldUtime+1], 64)
	return (ut + st) / clockTicks, nil
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

func round(f float64) float64 { return float64(int(f*1000+0.5)) / 1000 }
