package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `basalt validate` reports a NUL byte or a byte that is not UTF-8 where
// it is, in a job and in a device file, not at 1:1.
func TestValidateBadBytePositions(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "device_type: qemu\njob_name: x\ntimeouts: {job: {minutes: 5}}\nvisibility: public\nactions:\n- command: {name: pass}\n")
	for _, tc := range []struct {
		name, job, device, want string
	}{
		{"NUL in a job", write("nul.yaml", "device_type: qemu\njob_name: x\n\nactions:\n- deploy: {to: \"x\x00y\"}\n"), "../dispatcher/testdata/run/device.yaml",
			"nul.yaml:5:18: invalid YAML: character U+0000 is not allowed in YAML"},
		{"not UTF-8 in a job", write("utf.yaml", "device_type: qemu\njob_name: ab\xffc\n"), "../dispatcher/testdata/run/device.yaml",
			"utf.yaml:2:13: invalid YAML: byte 0xFF is not UTF-8"},
		{"not UTF-8 in a device", good, write("dev.yaml", "device_type: qemu\nactions: {}\nconstants: {x: \"a\xc3\"}\n"),
			"dev.yaml:3:18: byte 0xC3 is not UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main([]string{"validate", tc.job, "--device", tc.device}, &stdout, &stderr)
			if all := stdout.String() + stderr.String(); code == exitOK || !strings.Contains(all, tc.want) {
				t.Errorf("exit %d, output:\n%s\nwant %q", code, all, tc.want)
			}
		})
	}
}
