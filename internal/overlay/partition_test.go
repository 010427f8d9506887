package overlay

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

const (
	partStart = 2048 + 8192 // LBA of the second partition
	partSize  = 12 << 20
)

// diskImage makes a 24 MB disk image with two partitions, the second
// (index 1) holding an ext4 file system of fsMB megabytes, its table
// MBR (written here) or GPT (by sfdisk).
func diskImage(t *testing.T, gpt bool, fsMB int) string {
	t.Helper()
	needE2fsprogs(t)
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 24<<20); err != nil {
		t.Fatal(err)
	}
	if gpt {
		sfdisk, err := e2fsTool("sfdisk")
		if err != nil {
			t.Skip("sfdisk is not installed")
		}
		cmd := exec.Command(sfdisk, "-q", img)
		cmd.Stdin = strings.NewReader(fmt.Sprintf("label: gpt\nstart=2048, size=8192\nstart=%d, size=%d\n", partStart, partSize/512))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sfdisk: %v: %s", err, out)
		}
	} else {
		mbr := make([]byte, 512)
		le := binary.LittleEndian
		for i, p := range [][2]uint32{{2048, 8192}, {partStart, partSize / 512}} {
			e := mbr[446+16*i:]
			e[4] = 0x83
			le.PutUint32(e[8:], p[0])
			le.PutUint32(e[12:], p[1])
		}
		mbr[510], mbr[511] = 0x55, 0xaa
		f, err := os.OpenFile(img, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt(mbr, 0)
		f.Close()
	}
	mkfs, err := e2fsTool("mkfs.ext4")
	if err != nil {
		t.Skip(err)
	}
	if out, err := exec.Command(mkfs, "-q", "-F", "-E", fmt.Sprintf("offset=%d", partStart*512), img, fmt.Sprintf("%dM", fsMB)).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	return img
}

func TestAppendExt4Partition(t *testing.T) {
	for _, gpt := range []bool{false, true} {
		t.Run(fmt.Sprintf("gpt=%v", gpt), func(t *testing.T) {
			img := diskImage(t, gpt, 12)
			before, _ := os.ReadFile(img)
			f := tarFile(t, "o.tar", false, reg("etc/hello", "from the overlay\n", 0o644, 0))
			if _, err := AppendExt4Partition(context.Background(), img, 1, []Addition{{Name: "rootfs.o", File: f, Tar: true, Path: "/"}}, t.TempDir()); err != nil {
				t.Fatal(err)
			}
			part := fmt.Sprintf("%s?offset=%d", img, partStart*512)
			if got := cat(t, part, "/etc/hello"); got != "from the overlay\n" {
				t.Errorf("/etc/hello in partition 1 = %q", got)
			}
			after, _ := os.ReadFile(img)
			if len(after) != len(before) {
				t.Fatalf("the disk image changed size: %d, was %d", len(after), len(before))
			}
			if !bytes.Equal(before[:partStart*512], after[:partStart*512]) || !bytes.Equal(before[partStart*512+partSize:], after[partStart*512+partSize:]) {
				t.Errorf("bytes outside partition 1 changed")
			}
		})
	}
}

func TestAppendExt4PartitionErrors(t *testing.T) {
	img := diskImage(t, false, 4)
	big := make([]byte, 6<<20)
	rand.Read(big)
	tests := []struct {
		name, image string
		partition   int
		file        string
		want        string
	}{
		{"no such partition", img, 2, "", "invalid partition number 2"},
		{"no partition table", rootImage(t, 4), 0, "", "no partition table"},
		{"no file system there", img, 0, "", "not an ext2/3/4 image"},
		{"does not fit", img, 1, tarFile(t, "big.tar", false, reg("big", string(big), 0o644, 0)), "not enough free space in partition 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var adds []Addition
			if tt.file != "" {
				adds = []Addition{{Name: "rootfs.o", File: tt.file, Tar: true, Path: "/"}}
			}
			_, err := AppendExt4Partition(context.Background(), tt.image, tt.partition, adds, t.TempDir())
			if pipeline.ClassOf(err) != pipeline.ClassJob || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("AppendExt4Partition = %v, want a job error with %q", err, tt.want)
			}
		})
	}
}
