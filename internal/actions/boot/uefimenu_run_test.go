package boot_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/actions/boot"
	"github.com/basalt-lava/basalt/internal/connection"
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
)

// menuDevice is a grub-efi board whose firmware draws an ARM-style
// numbered boot menu (mustang-grub-efi.jinja2's shape), the kind LAVA's
// `items` select from.
const menuDevice = `
commands: {connect: telnet localhost 7000}
actions:
  boot:
    connections: {serial: null}
    methods:
      grub-efi:
        menu_options: pxe-grub
        parameters: {bootloader_prompt: 'grub>'}
      uefi-menu:
        menu_options: pxe-grub
        parameters:
          interrupt_prompt: 'The default boot selection will start in'
          interrupt_string: ' '
          item_markup: ['[', ']']
          item_class: '0-9'
          separator: ' '
          bootloader_prompt: 'Start:'
        pxe-grub:
        - select:
            items: ['%s']
            fallback: 'Shell'
            wait: 'GNU GRUB'
`

// fakeBDS is the firmware: a countdown until a key, the numbered menu
// and its Start: prompt; the number typed starts that entry.
const fakeBDS = `
printf 'The default boot selection will start in   3 seconds\r\n'
dd bs=1 count=1 >/dev/null 2>&1
printf '[1] Shell\r\n[2] Boot Manager\r\n[3] LAVA PXE Grub\r\nStart: '
read -r n
n=$(printf '%s' "$n" | tr -d '\r ')
case $n in
3) printf '3\r\nGNU GRUB  version 2.06\r\n' ;;
1) printf '1\r\nUEFI Interactive Shell\r\n' ;;
*) printf '%s\r\nbad choice\r\n' "$n" ;;
esac
sleep 30
`

func runMenu(t *testing.T, item string) (string, error) {
	t.Helper()
	j := &pipeline.Job{ID: "78", Params: decode(t, `{}`), Device: decode(t, strings.Replace(menuDevice, "%s", item, 1)),
		TestInfo: map[string][]pipeline.TestInfo{}, Timeout: pipeline.Timeout{Seconds: 60}}
	var log bytes.Buffer
	j.Runtime.Log = joblog.New(&log, joblog.Options{})
	script := filepath.Join(t.TempDir(), "bds.sh")
	if err := os.WriteFile(script, []byte(fakeBDS), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := connection.Dial([]string{"sh", script}, connection.Options{Log: j.Runtime.Log, StripEscapes: true}, connection.Reconnect{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	intr := boot.NewUEFIMenuInterrupt("uefi-menu")
	attach(j, intr, `{method: grub-efi, commands: ramdisk}`, t)
	if _, err := intr.Run(ctx, s); err != nil {
		return log.String(), err
	}
	sel := boot.NewGrubMenuSelector()
	attach(j, sel, `{method: grub-efi, commands: ramdisk}`, t)
	sel.ActionBase().ConnectionTimeout.Seconds = 5
	_, err = sel.Run(ctx, s)
	j.Runtime.Log.Flush()
	return log.String(), err
}

// The selector types the number of the entry whose label is the item
// (the menu_options sequence, not the block's commands), falls back to
// the fallback label, and fails with LAVA's JobError when neither is
// on the screen.
func TestGrubMenuSelectorRun(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		item, want string
		class      pipeline.Class
	}{
		{"LAVA PXE Grub", "GNU GRUB", ""},
		{"Local ERP Grub", "", pipeline.ClassJob},
	} {
		log, err := runMenu(t, c.item)
		if c.class == "" {
			if err != nil || !strings.Contains(log, c.want) {
				t.Errorf("%s: err %v, log:\n%s", c.item, err, log)
			}
			continue
		}
		// The fallback (Shell, [1]) is typed, but the step's wait for
		// GRUB then times out: a JobError as in LAVA.
		if pipeline.ClassOf(err) != c.class || !strings.Contains(log, "Selecting option 1") {
			t.Errorf("%s: err %v (%s), want %s after the fallback; log:\n%s", c.item, err, pipeline.ClassOf(err), c.class, log)
		}
	}
}
