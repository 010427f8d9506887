package boot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/hostfiles"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/shlex"
)

// TestCheckQemuArgs: under a host-access policy, QEMU's command line may
// name the job's downloads and the system's /usr/share, and use the
// options LAVA's and TuxRun's qemu devices and jobs use; an option that
// reads or writes other host files or runs a host command is refused
// with a Job error naming it.
func TestCheckQemuArgs(t *testing.T) {
	scratch := t.TempDir()
	dl := filepath.Join(scratch, "downloads", "rootfs")
	if err := os.MkdirAll(dl, 0o755); err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(dl, "rootfs.ext4")
	if err := os.WriteFile(rootfs, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dl, "passwd")); err != nil {
		t.Fatal(err)
	}
	policy, err := hostfiles.New(hostfiles.Options{Host: "worker", Flag: "the worker's --allow-local-files"})
	if err != nil {
		t.Fatal(err)
	}
	allowed := []string{
		// The shipped qemu template's options, amd64 and arm64.
		"-cpu host -enable-kvm -nographic -net nic,model=virtio,macaddr=52:54:00:12:34:58 -net user -m 512 -monitor none",
		"-cpu cortex-a57 -machine virt -nographic -net nic,model=virtio,macaddr=52:54:00:12:34:58 -net user -m 1024 -monitor none",
		"-smp 2 -global virtio-blk-device.scsi=off -no-reboot",
		"-net tap -net none",
		// image_args, substituted.
		"-drive format=raw,file=" + rootfs,
		"-drive file=" + rootfs + ",format=raw,id=hd0,if=virtio",
		"-drive file=" + rootfs + ",format=raw,id=hd0,if=virtio -chardev stdio,signal=off,id=char0 -serial chardev:char0",
		"-drive file=" + rootfs + ",if=ide,format=raw -serial null -serial stdio",
		"-drive if=none,file=" + rootfs + ",id=hd0,format=raw -device virtio-blk-device,drive=hd0",
		`-kernel ` + rootfs + ` -append "console=ttyS0,115200 root=/dev/vda rw file=/etc/shadow"`,
		"-initrd " + rootfs + " -dtb " + rootfs + " -bios /usr/share/qemu/OVMF.fd",
		"-object rng-random,filename=/dev/urandom,id=rng0 -device virtio-rng-pci,rng=rng0",
		"-netdev user,id=n0,hostfwd=tcp::5555-:22,script=no -device virtio-net-pci,netdev=n0",
	}
	for _, line := range allowed {
		args, err := shlex.Split(line)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkQemuArgs(args, policy, scratch); err != nil {
			t.Errorf("%s: %v", line, err)
		}
	}
	refused := []struct{ line, why string }{
		{"-drive format=raw,file=/etc/shadow", "/etc/shadow is outside the job's folder"},
		{"-drive format=raw,file=" + filepath.Join(dl, "passwd"), "outside the job's folder"},
		{"-drive format=raw,file=" + dl + "/../../../../etc/shadow", "outside the job's folder"},
		{"-drive file=" + rootfs, "must say format=raw"},
		{"-drive format=qcow2,file=" + rootfs, "must say format=raw"},
		{"-drive format=raw,file=" + rootfs + ",backing.file.filename=/etc/shadow", "backing image"},
		{"-drive driver=file,filename=" + rootfs, "driver=file"},
		{"-kernel /etc/shadow", "outside the job's folder"},
		{"-virtfs local,path=/,mount_tag=host,security_model=none", "not in the list allowed"},
		{"-fsdev local,id=f,path=/", "not in the list allowed"},
		{"-netdev user,id=n,guestfwd=tcp:10.0.2.100:1234-cmd:touch /tmp/pwned", "run a host command"},
		{"-net user,smb=/", "smb="},
		{"-net tap,script=/tmp/x.sh", "script="},
		{"-netdev bridge,id=b,helper=/tmp/h", "helper="},
		{"-chardev file,id=c,path=/tmp/out", "file chardev backend"},
		{"-chardev socket,id=c,path=/run/x.sock,server=on", "socket chardev backend"},
		{"-serial file:/home/worker/.bashrc", "only stdio"},
		{"-monitor unix:/tmp/m,server", "only stdio"},
		{"-incoming exec:sh", "not in the list allowed"},
		{"-plugin /tmp/evil.so", "not in the list allowed"},
		{"-semihosting", "not in the list allowed"},
		{"-fw_cfg name=opt/x,file=/etc/shadow", "not in the list allowed"},
		{"-device loader,file=/etc/shadow,addr=0x1000", "outside the job's folder"},
		{"-device e1000,romfile=/etc/shadow", "outside the job's folder"},
		{"-global e1000.romfile=/etc/shadow", "outside the job's folder"},
		{"-object memory-backend-file,id=m,mem-path=/etc/shadow,size=1M", "outside the job's folder"},
		{"-readconfig /etc/x.cfg", "not in the list allowed"},
		{"-D /tmp/qemu.log", "not in the list allowed"},
		{"-hda /etc/shadow", "not in the list allowed"},
		{"/etc/shadow", "not an option"},
		{"-m", "no value"},
		{"-drive=file=/etc/shadow", "two arguments"},
	}
	for _, tt := range refused {
		args, err := shlex.Split(tt.line)
		if err != nil {
			t.Fatal(err)
		}
		err = checkQemuArgs(args, policy, scratch)
		if err == nil {
			t.Errorf("%s: allowed", tt.line)
			continue
		}
		if c := pipeline.ClassOf(err); c != pipeline.ClassJob || !strings.Contains(err.Error(), tt.why) || !strings.Contains(err.Error(), "this worker allows only") {
			t.Errorf("%s: %v (%s), want a Job error saying %q", tt.line, err, c, tt.why)
		}
	}
}
