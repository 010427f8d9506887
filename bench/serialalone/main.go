// Command serialalone measures the serial console's own limit: it boots
// the fixture guest with a given QEMU command line, logs in, makes the
// guest print N bytes on the console and copies everything QEMU writes
// straight to a file, with no dispatcher in between. Both dispatchers'
// throughput is compared with this.
//
//	serialalone -bytes 50000000 -out console.txt -- qemu-system-x86_64 ARGS...
//
// It prints the guest's uptime when the output started and ended, and the
// seconds between, as one JSON line.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strconv"
	"syscall"
	"time"
)

func main() {
	n := flag.Int("bytes", 50000000, "bytes the guest prints")
	out := flag.String("out", "console.txt", "file receiving the console")
	login := flag.String("login", "root", "user name sent at the login prompt")
	timeout := flag.Duration("timeout", 15*time.Minute, "give up after this long")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: serialalone [flags] -- QEMU ARGS...")
		os.Exit(2)
	}
	if err := run(flag.Args(), *n, *out, *login, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "serialalone:", err)
		os.Exit(1)
	}
}

// watcher reports markers as the console passes them; it keeps only a
// small tail in memory.
type watcher struct {
	tail  []byte
	found chan string
	want  []*regexp.Regexp
}

// follow reads what QEMU appends to the file at path, every 50 ms.
func follow(path string, w *watcher) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		n, _ := f.Read(buf)
		if n > 0 {
			w.Write(buf[:n])
			continue
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (w *watcher) Write(p []byte) (int, error) {
	w.tail = append(w.tail, p...)
	for len(w.want) > 0 {
		m := w.want[0].FindSubmatch(w.tail)
		if m == nil {
			break
		}
		w.want = w.want[1:]
		i := bytes.Index(w.tail, m[0]) + len(m[0])
		w.tail = w.tail[i:]
		s := ""
		if len(m) > 1 {
			s = string(m[1])
		}
		w.found <- s
	}
	if len(w.tail) > 4096 {
		w.tail = append(w.tail[:0], w.tail[len(w.tail)-256:]...)
	}
	return len(p), nil
}

func run(argv []string, n int, out, login string, timeout time.Duration) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	w := &watcher{found: make(chan string, 8), want: []*regexp.Regexp{
		regexp.MustCompile(`login: `),
		regexp.MustCompile(`# `),
		regexp.MustCompile(`\nSERIAL-START ([0-9.]+)\r?\n`),
		regexp.MustCompile(`\nSERIAL-END ([0-9.]+)\r?\n`),
	}}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// QEMU writes straight into the file, as with a shell redirection:
	// a pipe read by this program would put a reader (and its wake-ups
	// for every byte) back between QEMU and the file. The file is polled
	// for the markers instead.
	cmd.Stdout, cmd.Stderr = f, f
	go follow(out, w)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	}()
	// A signal to this program must not leave QEMU running on its own.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sigs
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		os.Exit(1)
	}()
	deadline := time.After(timeout)
	exited := make(chan struct{})
	go func() {
		// Waiting on the process itself would race with the deferred
		// Wait; watching its /proc entry is enough to notice an early exit.
		for {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
			if err != nil || bytes.Contains(b, []byte(") Z ")) {
				close(exited)
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	next := func() (string, error) {
		select {
		case s := <-w.found:
			return s, nil
		case <-exited:
			return "", fmt.Errorf("QEMU exited early; its output is in %s", out)
		case <-deadline:
			return "", fmt.Errorf("timed out after %s", timeout)
		}
	}
	if _, err := next(); err != nil {
		return err
	}
	io.WriteString(stdin, login+"\n")
	if _, err := next(); err != nil {
		return err
	}
	fmt.Fprintf(stdin, "echo; echo SERIAL-START $(cut -d' ' -f1 /proc/uptime); yes 'some line of log text 1234567890' | head -c %d; echo; echo SERIAL-END $(cut -d' ' -f1 /proc/uptime)\n", n)
	s1, err := next()
	if err != nil {
		return err
	}
	s2, err := next()
	if err != nil {
		return err
	}
	a, _ := strconv.ParseFloat(s1, 64)
	b, _ := strconv.ParseFloat(s2, 64)
	res := map[string]any{"bytes": n, "guest_start": a, "guest_end": b, "guest_seconds": b - a,
		"wall_s": time.Since(start).Seconds()}
	j, _ := json.Marshal(res)
	fmt.Println(string(j))
	return nil
}
