package overlay

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The helpers print their lines back exactly, one a line, whatever the
// job and the dictionary put in them: quotes, $(...), backquotes and
// globs stay text.
func TestVlandScriptsPrintTheirLines(t *testing.T) {
	dir := t.TempDir()
	self := []string{"eth0,00:11:22:33:44:55,/sys/devices/pci0000:00/net/", "eth1,aa:bb,/sys/a,b,c"}
	names := []string{"vlan_one,eth1", "it's $(reboot) `id` *,eth0"}
	written, err := WriteVlandScripts(dir, "/bin/sh", self, names, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(written, []string{"lava-vland-self", "lava-vland-names", "lava-vland-tags"}); diff != "" {
		t.Errorf("written (-got +want):\n%s", diff)
	}
	for _, c := range []struct {
		script string
		want   []string
	}{{"lava-vland-self", self}, {"lava-vland-names", names}, {"lava-vland-tags", nil}} {
		out, err := exec.Command(filepath.Join(dir, c.script)).Output()
		if err != nil {
			t.Fatalf("%s: %v", c.script, err)
		}
		want := ""
		if len(c.want) > 0 {
			want = strings.Join(c.want, "\n") + "\n"
		}
		if string(out) != want {
			t.Errorf("%s printed %q, want %q", c.script, out, want)
		}
	}
}

func TestVlandScriptsRefuseLineBreaks(t *testing.T) {
	_, err := WriteVlandScripts(t.TempDir(), "/bin/sh", []string{"a\nb"}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "line break") {
		t.Errorf("WriteVlandScripts = %v, want a refusal of the line break", err)
	}
	_, err = WriteVlandScripts(t.TempDir(), "sh", nil, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "absolute path") {
		t.Errorf("WriteVlandScripts with a relative shell = %v", err)
	}
}
