package testshell

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/connection"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
	"github.com/google/go-cmp/cmp"
)

func TestSplitSendArgs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"hello", []string{"hello"}},
		{"hello key=value", []string{"hello", "key=value"}},
		{"ipv4 ipaddr=10.0.2.15 netmask=255.255.255.0", []string{"ipv4", "ipaddr=10.0.2.15", "netmask=255.255.255.0"}},
		{"id msg=two words k=v", []string{"id", "msg=two words", "k=v"}},
		{"  id   a=b  ", []string{"id", "a=b"}},
		{"id url=http://x/y?a=b", []string{"id", "url=http://x/y?a=b"}},
		{"network_info hostname=a hostname-full=a.lan default-gateway=10.0.2.2", []string{"network_info", "hostname=a", "hostname-full=a.lan", "default-gateway=10.0.2.2"}},
	} {
		if got := splitSendArgs(tc.in); !cmp.Equal(got, tc.want) {
			t.Errorf("splitSendArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// guestScript plays a test run that makes MultiNode calls the way the
// helper scripts do: print the call, then read the console until the
// reply, and report what it read as a test case.
//
// After the runner's EXIT line it goes on reading its console until the
// session closes it, as a device's console outlives the test runner: the
// dispatcher follows each reply with an empty line (LAVA's
// sendline("\n")), which may still be on its way when the script has
// read the reply and printed EXIT. A script that exited there would
// close the pipe under that write, and Follow would fail with "write:
// broken pipe" (or "file already closed" once Wait had reaped it).
const guestScript = `
echo "<LAVA_SIGNAL_STARTRUN 0_mn 1_1.1>"
echo "<LAVA_MULTI_NODE> <LAVA_SEND hello who=server>"
echo "<LAVA_MULTI_NODE> <LAVA_WAIT ipv4>"
while read line; do
  case "$line" in
    *"<LAVA_WAIT_COMPLETE"*) break ;;
  esac
done
got=$(echo "$line" | sed 's/.*<LAVA_WAIT_COMPLETE //; s/>.*//; s/.*://; s/=/-/')
echo "<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=got-$got RESULT=pass>"
echo "<LAVA_MULTI_NODE> <LAVA_SYNC done>"
while read line; do
  case "$line" in
    *"<LAVA_SYNC_COMPLETE"*) break ;;
  esac
done
echo "<LAVA_SIGNAL_ENDRUN 0_mn 1_1.1>"
echo "<LAVA_TEST_RUNNER EXIT>"
cat >/dev/null
`

type call struct {
	api  string
	args []string
}

func TestFollowMultiNode(t *testing.T) {
	t.Parallel()
	s, err := connection.Start([]string{"sh", "-c", guestScript}, connection.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var calls []call
	var got []string
	p := New(Config{
		Namespace: "common",
		Result:    func(m *value.Map) { got = append(got, m.String("case")+"="+m.String("result")) },
		MultiNode: func(_ context.Context, api string, args []string) (string, error) {
			calls = append(calls, call{api, args})
			switch api {
			case "WAIT":
				return "<LAVA_WAIT_COMPLETE 10:ipaddr=10.0.2.15>", nil
			case "SYNC":
				return "<LAVA_SYNC_COMPLETE>", nil
			}
			return "", nil
		},
		Send: s.SendLine,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Follow(ctx, s); err != nil {
		t.Fatal(err)
	}
	wantCalls := []call{{"SEND", []string{"hello", "who=server"}}, {"WAIT", []string{"ipv4"}}, {"SYNC", []string{"done"}}}
	if diff := cmp.Diff(wantCalls, calls, cmp.AllowUnexported(call{})); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	want := []string{"multinode-send-hello=pass", "multinode-wait-ipv4=pass", "got-ipaddr-10.0.2.15=pass", "multinode-sync-done=pass", "0_mn=pass"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
}

// A call that runs out of time is reported failed and ends the test
// shell with the protocol's error.
func TestFollowMultiNodeTimeout(t *testing.T) {
	t.Parallel()
	s, err := connection.Start([]string{"sh", "-c", guestScript}, connection.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []string
	timeout := &pipeline.Error{Class: pipeline.ClassMultinodeTimeout, Msg: "protocol lava-multinode timed out"}
	p := New(Config{
		Result: func(m *value.Map) { got = append(got, m.String("case")+"="+m.String("result")) },
		MultiNode: func(_ context.Context, api string, _ []string) (string, error) {
			if api == "WAIT" {
				return "", timeout
			}
			return "", nil
		},
		Send: s.SendLine,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = p.Follow(ctx, s)
	if !errors.Is(err, timeout) {
		t.Fatalf("Follow() = %v, want the protocol's timeout", err)
	}
	if strings.Join(got, " ") != "multinode-send-hello=pass multinode-wait-ipv4=fail" {
		t.Errorf("results = %v", got)
	}
}
