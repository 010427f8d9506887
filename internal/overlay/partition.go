package overlay

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

// sectorSize is the sector size partition tables of disk image files
// count in (sfdisk's for a regular file).
const sectorSize = 512

// partitionSpan returns where the index-th partition of a disk image
// lies, in bytes: the partitions counted as `sfdisk -J` lists them (LAVA
// picks a partition so), from 0: a GPT's used entries in order, or an
// MBR's used primary entries. Logical partitions inside an extended one
// are not followed.
func partitionSpan(image string, index int) (offset, size int64, err error) {
	f, err := os.Open(image)
	if err != nil {
		return 0, 0, pipeline.InfrastructureError("opening the image: %w", err)
	}
	defer f.Close()
	name := filepath.Base(image)
	mbr := make([]byte, sectorSize)
	if _, err := f.ReadAt(mbr, 0); err != nil || mbr[510] != 0x55 || mbr[511] != 0xaa {
		return 0, 0, pipeline.JobError("%s has no partition table (no MBR signature) to find partition %d in", name, index)
	}
	le := binary.LittleEndian
	type span struct{ start, sectors uint64 }
	var parts []span
	gpt, extended := false, false
	for i := 0; i < 4; i++ {
		e := mbr[446+16*i : 446+16*(i+1)]
		switch e[4] {
		case 0:
			continue
		case 0xee:
			gpt = true
		case 0x05, 0x0f, 0x85:
			extended = true
		}
		parts = append(parts, span{uint64(le.Uint32(e[8:])), uint64(le.Uint32(e[12:]))})
	}
	if gpt {
		parts = parts[:0]
		hdr := make([]byte, 92)
		if _, err := f.ReadAt(hdr, sectorSize); err != nil || !bytes.Equal(hdr[:8], []byte("EFI PART")) {
			return 0, 0, pipeline.JobError("%s: protective MBR without a GPT header", name)
		}
		entriesLBA, count, entrySize := le.Uint64(hdr[72:]), le.Uint32(hdr[80:]), le.Uint32(hdr[84:])
		if entrySize < 128 || count > 1024 || entriesLBA > 1<<32 {
			return 0, 0, pipeline.JobError("%s: invalid GPT header (%d entries of %d bytes at LBA %d)", name, count, entrySize, entriesLBA)
		}
		table := make([]byte, int(count)*int(entrySize))
		if _, err := f.ReadAt(table, int64(entriesLBA)*sectorSize); err != nil {
			return 0, 0, pipeline.JobError("%s: reading the GPT entries: %v", name, err)
		}
		for i := 0; i < int(count); i++ {
			e := table[i*int(entrySize):]
			if bytes.Equal(e[:16], make([]byte, 16)) {
				continue
			}
			first, last := le.Uint64(e[32:]), le.Uint64(e[40:])
			if last < first {
				return 0, 0, pipeline.JobError("%s: GPT entry %d ends before it starts", name, i)
			}
			parts = append(parts, span{first, last - first + 1})
		}
	}
	if index < 0 || index >= len(parts) {
		more := ""
		if extended {
			more = " (logical partitions are not counted)"
		}
		return 0, 0, pipeline.JobError("invalid partition number %d: %s has %d partitions%s", index, name, len(parts), more)
	}
	p := parts[index]
	st, err := f.Stat()
	if err != nil {
		return 0, 0, pipeline.InfrastructureError("image: %w", err)
	}
	offset, size = int64(p.start)*sectorSize, int64(p.sectors)*sectorSize
	if p.start > 1<<40 || p.sectors > 1<<40 || offset+size > st.Size() {
		return 0, 0, pipeline.JobError("partition %d of %s (%d bytes at %d) lies beyond the image's %d bytes", index, name, size, offset, st.Size())
	}
	return offset, size, nil
}
