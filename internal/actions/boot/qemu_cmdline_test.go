package boot_test

import (
	"bytes"
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/actions/boot"
	"github.com/basalt-lava/basalt/internal/connection"
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/shlex"
	"github.com/basalt-lava/basalt/internal/value"
)

// The command line execute-qemu builds, run with echo standing in for
// QEMU (a real process that shows its arguments and exits).
func TestQemuCommandLine(t *testing.T) {
	t.Parallel()
	echo, err := exec.LookPath("echo")
	if err != nil {
		t.Skip("no echo")
	}
	tests := []struct {
		name    string
		device  string // boot method parameters
		arch    string
		guest   string // deploy.methods.image.parameters.guest
		images  string
		data    map[string]string // namespace data
		want    []string          // arguments after the binary
		class   pipeline.Class
		msg     string
		precmds []string
	}{
		{
			name:   "options, extra, image args in the job's order",
			device: `{command: echo, options: ['-nographic', '-net nic,model=virtio -net user', '-m 512'], extra: ['-smp 2']}`,
			images: `{kernel: {url: 'http://x/k', image_arg: '-kernel {kernel} -append "console=ttyS0 root=/dev/ram0"'}, ramdisk: {url: 'http://x/r', image_arg: '-initrd {ramdisk}'}}`,
			data:   map[string]string{"download-action/kernel/file": "/tmp/d/kernel/vm linuz", "download-action/ramdisk/file": "/tmp/d/ramdisk/r.cpio"},
			want: []string{"-nographic", "-net", "nic,model=virtio", "-net", "user", "-m", "512", "-smp", "2",
				"-kernel", "/tmp/d/kernel/vm linuz", "-append", "console=ttyS0 root=/dev/ram0", "-initrd", "/tmp/d/ramdisk/r.cpio"},
		},
		{
			// A file name from the job cannot add arguments or options.
			name:   "hostile file name",
			device: `{command: echo}`,
			images: `{disk: {url: 'http://x/d', image_arg: '-drive format=raw,file={disk}'}}`,
			data:   map[string]string{"download-action/disk/file": "/tmp/d/disk/a.img,if=none -device x;reboot"},
			want:   []string{"-drive", "format=raw,file=/tmp/d/disk/a.img,,if=none -device x;reboot"},
		},
		{
			name:   "overlay disk on x86",
			device: `{command: echo}`,
			data: map[string]string{"apply-overlay-guest/file": "/tmp/g/lava-guest.raw", "apply-overlay-guest/format": "raw",
				"apply-overlay-guest/uuid": "u-1", "lava-overlay/results-dir": "/lava-42"},
			want:    []string{"-drive", "format=raw,file=/tmp/g/lava-guest.raw,media=disk,if=ide,id=lavatest"},
			precmds: []string{"mkdir -p /lava-42", "mount /dev/disk/by-uuid/u-1 -t ext2 /lava-42", "ls -la /lava-42/bin/lava-test-runner"},
		},
		{
			name:   "overlay disk on arm64, device's drive id",
			device: `{command: echo}`, arch: "arm64", guest: `{driveid: ovl}`,
			data: map[string]string{"apply-overlay-guest/file": "/tmp/g/lava-guest.raw", "apply-overlay-guest/format": "raw",
				"apply-overlay-guest/uuid": "u-1", "lava-overlay/results-dir": "/lava-42"},
			want: []string{"-drive", "format=raw,file=/tmp/g/lava-guest.raw,media=disk,if=virtio,id=ovl"},
		},
		{
			name:   "image not downloaded is left out",
			device: `{command: echo}`,
			images: `{kernel: {url: 'http://x/k', image_arg: '-kernel {kernel}'}}`,
			want:   nil,
		},
		{
			name:   "missing binary",
			device: `{command: no-such-qemu-binary}`,
			class:  pipeline.ClassInfrastructure, msg: "cannot find command 'no-such-qemu-binary'",
		},
		{
			name:   "unterminated quote in an image_arg",
			device: `{command: echo}`,
			images: `{kernel: {url: 'http://x/k', image_arg: '-append "console=ttyS0'}}`,
			data:   map[string]string{"download-action/kernel/file": "/tmp/k"},
			class:  pipeline.ClassJob, msg: "image_arg of kernel",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			arch := tt.arch
			if arch == "" {
				arch = "amd64"
			}
			guest := tt.guest
			if guest == "" {
				guest = "{}"
			}
			images := tt.images
			if images == "" {
				images = "{}"
			}
			dev := decode(t, `
available_architectures: [amd64, arm64]
actions:
  deploy: {methods: {image: {parameters: {guest: `+guest+`}}}}
  boot: {methods: {qemu: {parameters: `+tt.device+`}}}
constants: {kernel-start-message: 'Linux version [0-9]'}
`)
			params := decode(t, `
timeouts: {job: {minutes: 1}}
context: {arch: `+arch+`}
actions:
- deploy: {to: tmpfs, images: `+images+`}
- boot: {method: qemu, prompts: ['# ']}
`)
			j, err := pipeline.BuildJob("42", params, dev)
			if err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			j.Runtime.Log = joblog.New(&log, joblog.Options{})
			for k, v := range tt.data {
				j.Runtime.SetData("common", pipeline.DataKey(k), v)
			}
			// The download actions record each image's image_arg.
			for _, item := range params.List("actions") {
				if dp := item.(*value.Map).Map("deploy"); dp != nil {
					dp.Map("images").Range(func(label string, v any) bool {
						j.Runtime.SetData("common", pipeline.DataDownload(label, pipeline.DownloadImageArg), v.(*value.Map).String("image_arg"))
						return true
					})
				}
			}
			var call pipeline.Action
			j.Pipeline.Walk(func(a pipeline.Action) {
				if a.ActionBase().Name == "execute-qemu" {
					call = a
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			conn, err := call.Run(ctx, nil)
			defer call.Cleanup(ctx)
			if tt.class != "" {
				if pipeline.ClassOf(err) != tt.class || !strings.Contains(err.Error(), tt.msg) {
					t.Fatalf("error %v (%s), want %s containing %q", err, pipeline.ClassOf(err), tt.class, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s, ok := conn.(*connection.Session)
			if !ok || j.Runtime.Data("common", boot.DataConnection) != s {
				t.Fatalf("connection %T not recorded as the namespace's", conn)
			}
			if strings.Join(s.Prompts, "|") != "# " {
				t.Errorf("prompts %q", s.Prompts)
			}
			j.Runtime.Log.Flush()
			var line string
			for l := range strings.Lines(log.String()) {
				if i := strings.Index(l, `"Boot command: `); i >= 0 {
					line = strings.TrimSuffix(strings.TrimSpace(l[i+len(`"Boot command: `):]), `"}`)
				}
			}
			argv, err := shlex.Split(strings.ReplaceAll(line, `\\`, `\`))
			if err != nil || len(argv) == 0 || argv[0] != echo {
				t.Fatalf("boot command %q: %v", line, err)
			}
			if !slices.Equal(argv[1:], tt.want) {
				t.Errorf("arguments\n got %q\nwant %q", argv[1:], tt.want)
			}
			pre, _ := j.Runtime.Data("common", boot.DataPreCommands).([]string)
			if tt.precmds != nil && !slices.Equal(pre, tt.precmds) {
				t.Errorf("pre-commands %q, want %q", pre, tt.precmds)
			}
		})
	}
}
