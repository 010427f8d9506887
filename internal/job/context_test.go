package job

import (
	"strings"
	"testing"
)

// TestContextValuesAreOneLine: a context string holding a line break or
// another control character is refused, in strict and default modes,
// at the value's position and naming the variable; a tab, and any
// printable text (YAML indicators included), is allowed.
func TestContextValuesAreOneLine(t *testing.T) {
	head := "device_type: qemu\njob_name: c\ntimeouts: {job: {minutes: 1}}\nvisibility: public\nactions: []\ncontext:\n"
	tests := []struct {
		name, context string
		want          string // "" for no error
	}{
		{"newline", `  guestfs_driveid: "a\ncommands: {users: {x: {do: id}}}"`, `7:20: context.guestfs_driveid: context variable "guestfs_driveid" holds a line break U+000A at byte 1`},
		{"literal block", "  extra_kernel_args: |\n    a\n    commands: x", `7:22: context.extra_kernel_args: context variable "extra_kernel_args" holds a line break U+000A at byte 1`},
		{"carriage return", `  boot_console: "ttyS0\rx"`, `7:17: context.boot_console: context variable "boot_console" holds a line break U+000D at byte 5`},
		{"next line", `  boot_root: "a\u0085b"`, `context variable "boot_root" holds a line break U+0085`},
		{"line separator", `  boot_root: "a\u2028b"`, `context variable "boot_root" holds a line break U+2028`},
		{"escape", `  kernel_start_message: "a\x1b[2Jb"`, `context variable "kernel_start_message" holds a control character U+001B`},
		{"nul", `  machine: "a\x00b"`, `context variable "machine" holds a control character U+0000`},
		{"list item", "  extra_options:\n  - -smp 2\n  - \"x\\ny: z\"", `9:5: context.extra_options[1]: context variable "extra_options" holds a line break`},
		{"tab", `  extra_kernel_args: "a\tb"`, ""},
		{"indicators", `  extra_kernel_args: "console=ttyS0,115200 {a: b} [c] 'd' \"e\" # f &g *h !i |j >k"`, ""},
		{"folded to one line", "  extra_kernel_args: >\n    a\n    b", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, strict := range []bool{false, true} {
				_, diags := Parse("c.yaml", []byte(head+tt.context+"\n"), Options{Strict: strict})
				var got []string
				for _, d := range Errors(diags) {
					got = append(got, d.String())
				}
				if tt.want == "" {
					if len(got) > 0 {
						t.Errorf("strict=%v: errors %q, want none", strict, got)
					}
					continue
				}
				if len(got) != 1 || !strings.Contains(got[0], tt.want) {
					t.Errorf("strict=%v: errors %q, want one containing %q", strict, got, tt.want)
				}
			}
		})
	}
}
