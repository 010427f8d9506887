package deploy_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

const tftpDevice = `
commands: {connect: telnet localhost 7000}
constants:
  posix: {lava_test_sh_cmd: /bin/sh, lava_test_results_dir: /lava-%s, lava_test_shell_file: ~/.bashrc}
  u-boot: {interrupt-prompt: 'Hit any key', interrupt-character: ' '}
parameters:
  booti: {kernel: '0x40400000', ramdisk: '0x44100000', dtb: '0x44000000'}
actions:
  deploy:
    parameters: {add_header: u-boot, mkimage_arch: arm64}
    methods: {tftp: null}
  boot:
    connections: {serial: null}
    methods:
      u-boot: {parameters: {bootloader_prompt: '=>'}, ramdisk: {commands: ['{BOOTX}']}}
`

const tftpJob = `
device_type: board
job_name: tftp
timeouts: {job: {minutes: 5}}
actions:
- deploy:
    to: tftp
    kernel: {url: 'file://DIR/Image', type: image}
    dtb: {url: 'file://DIR/board.dtb'}
    ramdisk: {url: 'file://DIR/rootfs.cpio.gz', compression: gz}
    modules: {url: 'file://DIR/modules.tar.gz', compression: gz}
    os: oe
- boot: {method: u-boot, commands: ramdisk, prompts: ['# ']}
- test:
    definitions:
    - repository:
        metadata: {format: Lava-Test Test Definition 1.0, name: t}
        run: {steps: [echo hi]}
      from: inline
      name: t
      path: inline/t.yaml
`

// emptyCpio is a newc archive holding only its trailer.
func emptyCpio() []byte {
	name := "TRAILER!!!\x00"
	var b bytes.Buffer
	b.WriteString("070701")
	for i := 0; i < 13; i++ {
		v := 0
		switch i {
		case 4: // nlink
			v = 1
		case 11: // namesize
			v = len(name)
		}
		fmt.Fprintf(&b, "%08X", v)
	}
	b.WriteString(name)
	for b.Len()%512 != 0 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

// The tftp deploy puts the kernel, DTB and ramdisk in the job's folder of
// the TFTP root, the ramdisk with the overlay appended and a u-boot
// header, records the paths bootloader-overlay substitutes, and removes
// the folder at the end.
func TestTftpDeployRuns(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("mkimage"); err != nil {
		t.Skip("mkimage not installed (u-boot-tools; make fixtures-arm64)")
	}
	dir := t.TempDir()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(emptyCpio())
	zw.Close()
	var mods bytes.Buffer
	mw := gzip.NewWriter(&mods)
	tw := tar.NewWriter(mw)
	tw.WriteHeader(&tar.Header{Name: "lib/modules/6.1.0-test/kernel/fake.ko", Mode: 0o644, Size: 4, Typeflag: tar.TypeReg})
	tw.Write([]byte("fake"))
	tw.Close()
	mw.Close()
	for name, data := range map[string][]byte{"Image": []byte("kernel"), "board.dtb": []byte("dtb"), "rootfs.cpio.gz": gz.Bytes(), "modules.tar.gz": mods.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root := t.TempDir()
	j := buildJob(t, strings.ReplaceAll(tftpJob, "DIR", dir), tftpDevice)
	j.Params.Set("dispatcher", decode(t, "{tftp_root: "+root+"}"))
	deploy := j.Pipeline.Actions[0]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := deploy.Run(ctx, nil); err != nil {
		t.Fatal(err)
	}
	data := func(k pipeline.DataKey) string { return j.Runtime.DataString("common", k) }
	suffix := data(pipeline.DataTFTPSuffix)
	if !strings.HasPrefix(suffix, "basalt-42-") {
		t.Fatalf("TFTP folder %q, want basalt-42-…", suffix)
	}
	for label, want := range map[string]string{"kernel": "kernel/Image", "dtb": "dtb/board.dtb", "ramdisk": "ramdisk/ramdisk.cpio.uboot"} {
		rel := data(pipeline.DataTFTPFile(label))
		if rel != filepath.Join(suffix, want) {
			t.Errorf("%s served as %q, want %s/%s", label, rel, suffix, want)
		}
		if _, err := os.Stat(filepath.Join(root, rel)); err != nil {
			t.Errorf("%s not in the TFTP root: %v", label, err)
		}
	}
	rd, err := os.ReadFile(filepath.Join(root, suffix, "ramdisk", "ramdisk.cpio.uboot"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rd) < 64 || binary.BigEndian.Uint32(rd) != 0x27051956 {
		t.Fatalf("the ramdisk has no u-boot header")
	}
	// The overlay is a second gzip member: the kernel unpacks both.
	zr, err := gzip.NewReader(bytes.NewReader(rd[64:]))
	if err != nil {
		t.Fatal(err)
	}
	cpio, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(cpio, []byte("lava-42/bin/lava-test-runner")) {
		t.Error("the overlay is not in the ramdisk")
	}
	if !bytes.Contains(cpio, []byte("lib/modules/6.1.0-test/kernel/fake.ko")) {
		t.Error("the modules are not in the ramdisk")
	}
	if got := data(pipeline.DataBootCommand); got != "booti" {
		t.Errorf("boot command %q, want booti", got)
	}
	if err := deploy.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(root); len(entries) > 0 {
		t.Errorf("the TFTP root is not empty after cleanup: %v", entries)
	}
}

// A TFTP root that is not there is the infrastructure's fault, named.
func TestTftpRootMissing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, name := range []string{"Image", "board.dtb", "rootfs.cpio.gz", "modules.tar.gz"} {
		os.WriteFile(filepath.Join(dir, name), nil, 0o644)
	}
	j := buildJob(t, strings.ReplaceAll(tftpJob, "DIR", dir), tftpDevice)
	j.Params.Set("dispatcher", decode(t, "{tftp_root: /nonexistent/tftp}"))
	_, err := j.Pipeline.Actions[0].Run(context.Background(), nil)
	if pipeline.ClassOf(err) != pipeline.ClassInfrastructure || !strings.Contains(err.Error(), "/nonexistent/tftp") {
		t.Fatalf("err = %v, want an InfrastructureError naming the root", err)
	}
}
