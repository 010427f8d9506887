package vland

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// lavaEnv is the environment of LAVA's client: BASALT_LAVA_PYTHONPATH
// (lava-dispatcher unpacked by make lava-peers) first on PYTHONPATH, and
// no __pycache__ written next to testdata.
func lavaEnv() []string {
	env := append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	extra := os.Getenv("BASALT_LAVA_PYTHONPATH")
	if extra == "" {
		return env
	}
	if pp := os.Getenv("PYTHONPATH"); pp != "" {
		extra += string(os.PathListSeparator) + pp
	}
	return append(env, "PYTHONPATH="+extra)
}

// lavaPython returns Debian's python3 when it can import lava-dispatcher's
// VLANd client; it skips otherwise, or fails under BASALT_E2E=1.
func lavaPython(t *testing.T) string {
	t.Helper()
	py := os.Getenv("BASALT_LAVA_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	check := exec.Command(py, "-c", "import lava_dispatcher.protocols.vland")
	check.Env = lavaEnv()
	out, err := check.CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("%s cannot import lava_dispatcher.protocols.vland (Debian's lava-dispatcher): %v\n%s", py, err, out)
		if os.Getenv("BASALT_E2E") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return py
}

// LAVA's own VLANd client (lava-dispatcher 2023.01) against basalt's
// daemon, call by call as a job's first sub-job makes them: the replies
// are what LAVA expects ([vlan_id, tag], ids), and after each call the
// switch (the bridges) is as it should be.
func TestLAVAClientAgainstDaemon(t *testing.T) {
	py := lavaPython(t)
	c, _, prefix, ports := testDaemon(t)
	_, portText, _ := strings.Cut(c.Addr, ":")
	cmd := exec.Command(py, "testdata/lava_vland_client.py", portText, "sw1", "2")
	cmd.Env = lavaEnv()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("LAVA's client: %v\n%s", err, stderr.String())
		}
	}()
	lines := bufio.NewScanner(stdout)
	next := func(want string) any {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("LAVA's client stopped before %s:\n%s", want, stderr.String())
		}
		var s struct {
			Step  string
			Value any
		}
		if err := json.Unmarshal(lines.Bytes(), &s); err != nil || s.Step != want {
			t.Fatalf("LAVA's client said %q, want step %s", lines.Text(), want)
		}
		return s.Value
	}
	goOn := func() { fmt.Fprintln(stdin) }

	if diff := cmp.Diff(next("create_vlan"), []any{2.0, 100.0}); diff != "" {
		t.Errorf("create_vlan (-got +want):\n%s", diff)
	}
	if _, err := os.Stat("/sys/class/net/" + prefix + "100"); err != nil {
		t.Errorf("no bridge for the VLAN LAVA created: %v", err)
	}
	goOn()
	if diff := cmp.Diff(next("lookup"), []any{1.0, 2.0}); diff != "" {
		t.Errorf("switch and port ids (-got +want):\n%s", diff)
	}
	goOn()
	next("set_port_onto_vlan")
	if m := master(ports[1]); m != prefix+"100" {
		t.Errorf("port 2 on %q after LAVA's set_current_vlan, want %s100", m, prefix)
	}
	goOn()
	next("restore_port")
	if m := master(ports[1]); m != prefix+"1" {
		t.Errorf("port 2 on %q after LAVA's restore_base_vlan, want %s1", m, prefix)
	}
	goOn()
	next("delete_vlan")
	if _, err := os.Stat("/sys/class/net/" + prefix + "100"); err == nil {
		t.Errorf("the bridge of the VLAN LAVA deleted is still there")
	}
	goOn()
}
