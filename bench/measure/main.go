// Command measure runs a dispatcher (basalt run or lava-run) and reports,
// as JSON, its wall time and what the dispatcher process itself used:
// peak resident memory and CPU time, apart from the CPU of the children
// it reaped (QEMU above all), so the two dispatchers are compared on
// their own work and not on the emulator's.
//
//	measure OUT.json -- COMMAND [ARGS...]
//
// The process's own CPU is read from /proc/PID/stat while it is a zombie:
// after it exited, before it is reaped, which is the only moment the
// kernel still keeps it apart from its children's.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// Result is what measure writes.
type Result struct {
	Cmd          []string `json:"cmd"`
	ExitCode     int      `json:"rc"`
	WallSeconds  float64  `json:"wall_s"`
	PeakRSSKiB   int      `json:"dispatcher_peak_rss_kb"`
	CPUSeconds   float64  `json:"dispatcher_cpu_s"`
	ChildSeconds float64  `json:"children_cpu_s"`
}

func main() {
	if len(os.Args) < 4 || os.Args[2] != "--" {
		fmt.Fprintln(os.Stderr, "usage: measure OUT.json -- COMMAND [ARGS...]")
		os.Exit(2)
	}
	res, err := measure(os.Args[3:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(1)
	}
	b, _ := json.MarshalIndent(res, "", " ")
	if err := os.WriteFile(os.Args[1], append(b, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, string(b))
	os.Exit(res.ExitCode)
}

const (
	pPID    = 1
	wExited = 4
	wNoWait = 0x01000000
)

func measure(argv []string) (*Result, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() {
		// Wait for the exit without reaping (WNOWAIT), so /proc/PID/stat
		// still describes the process alone.
		var info [128]byte
		for {
			_, _, e := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
				uintptr(unsafe.Pointer(&info[0])), wExited|wNoWait, 0, 0)
			if e != syscall.EINTR {
				break
			}
		}
		close(exited)
	}()
	peak := 0
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		if hwm := readHWM(pid); hwm > peak {
			peak = hwm
		}
		select {
		case <-exited:
			break loop
		case <-tick.C:
		}
	}
	wall := time.Since(start)
	own, children, err := readCPU(pid)
	if err != nil {
		return nil, err
	}
	werr := cmd.Wait()
	rc := 0
	if ee, ok := werr.(*exec.ExitError); ok {
		rc = ee.ExitCode()
	} else if werr != nil {
		return nil, werr
	}
	return &Result{Cmd: argv, ExitCode: rc, WallSeconds: round(wall.Seconds()), PeakRSSKiB: peak,
		CPUSeconds: round(own), ChildSeconds: round(children)}, nil
}

func round(f float64) float64 { return float64(int(f*1000+0.5)) / 1000 }

// readHWM returns VmHWM (peak RSS) in KiB, 0 when unreadable.
func readHWM(pid int) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.Fields(rest)[0])
			return n
		}
	}
	return 0
}

// readCPU returns utime+stime and cutime+cstime of pid, in seconds.
func readCPU(pid int) (own, children float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 15 {
		return 0, 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	const clk = 100 // USER_HZ on Linux
	n := func(i int) float64 { v, _ := strconv.ParseFloat(fields[i], 64); return v / clk }
	return n(11) + n(12), n(13) + n(14), nil
}
