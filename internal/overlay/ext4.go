package overlay

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/process"
)

// Ext4Result says what AppendExt4 did.
type Ext4Result struct {
	// Entries is how many folders, files and symlinks were written.
	Entries int
	// Bytes is the size of the files written.
	Bytes int64
	// Skipped counts the device nodes and fifos left out (debugfs cannot
	// make them; LAVA leaves them out too).
	Skipped int
	// GrownFrom and GrownTo are the image's sizes in bytes when it had
	// to grow for the overlays to fit; both 0 otherwise.
	GrownFrom, GrownTo int64
}

// AppendExt4 writes the additions into the ext2/3/4 file system image,
// in order, as LAVA's append-overlays does with its e2fsprogs backend:
// folders are made where missing, files and symlinks replace what is
// there, modes and owners come from the archives. The image's own
// symlinks are followed in the folders above what is written (a
// merged-/usr root's /lib -> usr/lib), within the image. It needs no
// root, no mount and no VM: debugfs edits the image file, and resize2fs
// grows it first when the additions would not fit (LAVA stops with "No
// space left" instead). scratch is a folder AppendExt4 may fill.
func AppendExt4(ctx context.Context, image string, adds []Addition, scratch string) (*Ext4Result, error) {
	return appendExt4(ctx, image, -1, adds, scratch)
}

// AppendExt4Partition is AppendExt4 on the file system in one partition
// of a disk image (GPT or MBR), counted from 0 as LAVA's partition
// parameter counts them. debugfs works on the partition where it lies
// (LAVA copies it out with dd and back). A partition cannot grow: when
// the overlays do not fit, it is the job's error, as in LAVA.
func AppendExt4Partition(ctx context.Context, image string, partition int, adds []Addition, scratch string) (*Ext4Result, error) {
	if partition < 0 {
		return nil, pipeline.JobError("invalid partition number %d", partition)
	}
	return appendExt4(ctx, image, partition, adds, scratch)
}

func appendExt4(ctx context.Context, image string, partition int, adds []Addition, scratch string) (*Ext4Result, error) {
	device, offset, size := image, int64(0), int64(0)
	if partition >= 0 {
		var err error
		if offset, size, err = partitionSpan(image, partition); err != nil {
			return nil, err
		}
		// e2fsprogs reads options after a "?" in the file name.
		if strings.ContainsRune(image, '?') {
			return nil, pipeline.InfrastructureError("cannot open a partition of %q: the name holds a '?'", image)
		}
		device = fmt.Sprintf("%s?offset=%d", image, offset)
	}
	sb, err := readExt4Super(image, offset)
	if err != nil {
		return nil, err
	}
	if partition >= 0 && sb.blocks*sb.blockSize > size {
		return nil, pipeline.JobError("the file system in partition %d of %s is larger (%d bytes) than the partition (%d bytes)", partition, filepath.Base(image), sb.blocks*sb.blockSize, size)
	}
	staged, err := stage(adds, scratch)
	if err != nil {
		return nil, err
	}
	res := &Ext4Result{Entries: len(staged.entries), Bytes: staged.bytes, Skipped: staged.skipped}
	w := &ext4Writer{ctx: ctx, image: device, scratch: scratch, known: map[string]imageNode{"/": {kind: 'd'}}}
	if err := w.learn(staged.entries); err != nil {
		return nil, err
	}
	cmds, err := w.commands(staged.entries)
	if err != nil {
		return nil, err
	}
	if err := growFor(ctx, image, partition, sb, staged, w.made, res); err != nil {
		return nil, err
	}
	if len(cmds) == 0 {
		return res, nil
	}
	out, err := runDebugfs(ctx, device, scratch, true, cmds)
	if err != nil {
		return nil, err
	}
	if msg := debugfsErrors(out.stderr); msg != "" {
		if strings.Contains(msg, "Could not allocate") || strings.Contains(msg, "No free space") {
			return nil, pipeline.JobError("no space left in the image %s while writing the overlays: %s", filepath.Base(image), msg)
		}
		return nil, pipeline.InfrastructureError("debugfs failed on %s: %s", filepath.Base(image), msg)
	}
	return res, nil
}

// ext4Super is what AppendExt4 reads from a superblock.
type ext4Super struct {
	blockSize      int64
	blocks         int64
	freeBlocks     int64
	freeInodes     int64
	inodesPerGroup int64
	blocksPerGroup int64
}

// readExt4Super reads the primary superblock (1024 bytes into the file
// system, which starts offset bytes into the file).
func readExt4Super(image string, offset int64) (*ext4Super, error) {
	f, err := os.Open(image)
	if err != nil {
		return nil, pipeline.InfrastructureError("opening the image: %w", err)
	}
	defer f.Close()
	var b [1024]byte
	if _, err := f.ReadAt(b[:], offset+1024); err != nil {
		return nil, pipeline.JobError("%s is not an ext2/3/4 image (too small: %v)", filepath.Base(image), err)
	}
	le := binary.LittleEndian
	if le.Uint16(b[0x38:]) != 0xef53 {
		return nil, pipeline.JobError("%s is not an ext2/3/4 image (no ext superblock magic): check the image's format and compression", filepath.Base(image))
	}
	logBlock := le.Uint32(b[0x18:])
	if logBlock > 6 {
		return nil, pipeline.JobError("%s: invalid ext block size 2^%d KiB", filepath.Base(image), logBlock)
	}
	sb := &ext4Super{
		blockSize:      1024 << logBlock,
		blocks:         int64(le.Uint32(b[0x04:])),
		freeBlocks:     int64(le.Uint32(b[0x0c:])),
		freeInodes:     int64(le.Uint32(b[0x10:])),
		blocksPerGroup: int64(le.Uint32(b[0x20:])),
		inodesPerGroup: int64(le.Uint32(b[0x28:])),
	}
	const incompat64bit = 0x80
	if le.Uint32(b[0x60:])&incompat64bit != 0 {
		sb.blocks |= int64(le.Uint32(b[0x150:])) << 32
		sb.freeBlocks |= int64(le.Uint32(b[0x158:])) << 32
	}
	return sb, nil
}

// growFor grows the image with resize2fs when the additions need more
// blocks or inodes than it has free, with room to spare for folders'
// and extents' blocks.
func growFor(ctx context.Context, image string, partition int, sb *ext4Super, s *stagedOverlays, made int, res *Ext4Result) error {
	var blocks, inodes int64
	for _, e := range s.entries {
		inodes++
		switch e.kind {
		case 'f':
			n := (e.size + sb.blockSize - 1) / sb.blockSize
			// An extent block per 340 data blocks, roughly.
			blocks += n + n/340 + 1
		case 'd':
			blocks++
		case 'l':
			if len(e.link) >= 60 {
				blocks++
			}
		}
	}
	inodes += int64(made)
	blocks += int64(made) + blocks/50 + 64
	inodes += 16
	if blocks <= sb.freeBlocks && inodes <= sb.freeInodes {
		return nil
	}
	if partition >= 0 {
		return pipeline.JobError("not enough free space in partition %d of %s for the overlays: about %d blocks and %d inodes needed, %d and %d free; make the file system larger",
			partition, filepath.Base(image), blocks, inodes, sb.freeBlocks, sb.freeInodes)
	}
	addBlocks := max(blocks-sb.freeBlocks, 0)
	if short := inodes - sb.freeInodes; short > 0 && sb.inodesPerGroup > 0 {
		// Inodes come with block groups.
		groups := (short + sb.inodesPerGroup - 1) / sb.inodesPerGroup
		addBlocks = max(addBlocks, groups*sb.blocksPerGroup)
	}
	st, err := os.Stat(image)
	if err != nil {
		return pipeline.InfrastructureError("image: %w", err)
	}
	from := st.Size()
	to := (sb.blocks + addBlocks + addBlocks/10) * sb.blockSize
	to = max(to, from)
	// resize2fs fills the file: make it the new size first (sparse).
	if err := os.Truncate(image, to); err != nil {
		return pipeline.InfrastructureError("growing %s: %w", filepath.Base(image), err)
	}
	out, err := runE2fs(ctx, "resize2fs", "", "-f", image)
	if err != nil {
		return pipeline.InfrastructureError("resize2fs %s: %v: %s", filepath.Base(image), err, strings.TrimSpace(out.stderr+out.stdout))
	}
	res.GrownFrom, res.GrownTo = from, to
	return nil
}

// imageNode is what the image holds at a path.
type imageNode struct {
	kind byte   // 0 absent, 'd', 'f', 'l', 'o' (anything else)
	link string // a symlink's target
}

// ext4Writer turns entries into debugfs commands. known is what is
// known of the image: learnt with debugfs stat, then kept up to date
// as the commands create things.
type ext4Writer struct {
	ctx     context.Context
	image   string
	scratch string
	known   map[string]imageNode
	cmds    []string
	made    int // folders made for parents that no entry names
}

// errUnknown asks for a path to be looked up in the image first.
type errUnknown struct{ path string }

func (e errUnknown) Error() string { return "unknown " + e.path }

// maxLinkHops bounds the symlinks followed for one path (Linux's 40).
const maxLinkHops = 40

// walk returns the real path of the folder p in the image, following its
// symlinks. When create is set, missing folders are made (commands
// appended); otherwise a missing one makes the rest known to be absent
// too. A path not yet looked up is returned as errUnknown.
func (w *ext4Writer) walk(p string, create bool, hops *int) (string, error) {
	cur := "/"
	parts := strings.Split(strings.Trim(p, "/"), "/")
	for i, c := range parts {
		if c == "" {
			continue
		}
		cand := path.Join(cur, c)
		n, ok := w.known[cand]
		if !ok {
			return "", errUnknown{cand}
		}
		switch n.kind {
		case 'd':
			cur = cand
		case 0:
			if create {
				w.cmds = append(w.cmds, "mkdir "+q(cand))
				w.known[cand] = imageNode{kind: 'd'}
				w.made++
				cur = cand
				continue
			}
			full := cand
			for _, rest := range parts[i+1:] {
				full = path.Join(full, rest)
				w.known[full] = imageNode{}
			}
			return full, nil
		case 'l':
			if *hops++; *hops > maxLinkHops {
				return "", pipeline.JobError("too many levels of symbolic links in the image at %s", cand)
			}
			target := n.link
			if !strings.HasPrefix(target, "/") {
				target = path.Join(cur, target)
			}
			real, err := w.walk(path.Clean(target), create, hops)
			if err != nil {
				return "", err
			}
			cur = real
			if w.known[cur].kind == 0 && !create {
				full := cur
				for _, rest := range parts[i+1:] {
					full = path.Join(full, rest)
					w.known[full] = imageNode{}
				}
				return full, nil
			}
		default:
			return "", pipeline.JobError("%s in the image is not a folder: cannot write below it", cand)
		}
	}
	return cur, nil
}

// target is where an entry lands: its folder's real path plus its name;
// a folder entry follows a symlink at its own name too.
func (w *ext4Writer) target(e entry, create bool) (string, error) {
	hops := 0
	if e.kind == 'd' {
		return w.walk(e.path, create, &hops)
	}
	dir, err := w.walk(path.Dir(e.path), create, &hops)
	if err != nil {
		return "", err
	}
	t := path.Join(dir, path.Base(e.path))
	if _, ok := w.known[t]; !ok && w.known[dir].kind == 0 && dir != "/" {
		w.known[t] = imageNode{}
	}
	return t, nil
}

// learn looks up, in as few debugfs runs as the image's symlinks allow,
// every path the entries' commands depend on.
func (w *ext4Writer) learn(entries []entry) error {
	for round := 0; ; round++ {
		var unknown []string
		seen := map[string]bool{}
		for _, e := range entries {
			t, err := w.target(e, false)
			var u errUnknown
			switch {
			case errors.As(err, &u):
				if !seen[u.path] {
					seen[u.path] = true
					unknown = append(unknown, u.path)
				}
				continue
			case err != nil:
				return err
			}
			if _, ok := w.known[t]; !ok && !seen[t] {
				seen[t] = true
				unknown = append(unknown, t)
			}
		}
		if len(unknown) == 0 {
			return nil
		}
		if round > maxLinkHops+2 {
			return pipeline.Bug("looking up the image's paths did not settle after %d rounds", round)
		}
		if err := w.stat(unknown); err != nil {
			return err
		}
	}
}

// stat looks paths up with one read-only debugfs run.
func (w *ext4Writer) stat(paths []string) error {
	cmds := make([]string, len(paths))
	for i, p := range paths {
		cmds[i] = "stat " + q(p)
	}
	out, err := runDebugfs(w.ctx, w.image, w.scratch, false, cmds)
	if err != nil {
		return err
	}
	// Each command is echoed as "debugfs: stat ..." on stdout, followed
	// by its answer there; "not found" goes to stderr, leaving nothing.
	chunks := strings.Split("\n"+out.stdout, "\ndebugfs: ")
	if len(chunks) != len(paths)+1 {
		return pipeline.InfrastructureError("debugfs answered %d of %d lookups on %s: %s", len(chunks)-1, len(paths), filepath.Base(w.image), strings.TrimSpace(out.stderr))
	}
	for i, p := range paths {
		w.known[p] = parseStat(chunks[i+1])
		if n := w.known[p]; n.kind == 'l' && n.link == "" {
			// A slow symlink (target of 60 bytes or more): stat does
			// not show its target, cat does.
			o, err := runDebugfs(w.ctx, w.image, w.scratch, false, []string{"cat " + q(p)})
			if err != nil {
				return err
			}
			n.link = strings.TrimPrefix(o.stdout, "debugfs: cat "+q(p)+"\n")
			w.known[p] = n
		}
	}
	return nil
}

// parseStat reads the type (and a fast symlink's target) from debugfs'
// stat output.
func parseStat(s string) imageNode {
	_, rest, ok := strings.Cut(s, "Type: ")
	if !ok {
		return imageNode{}
	}
	var n imageNode
	switch {
	case strings.HasPrefix(rest, "directory"):
		n.kind = 'd'
	case strings.HasPrefix(rest, "regular"):
		n.kind = 'f'
	case strings.HasPrefix(rest, "symlink"):
		n.kind = 'l'
		if _, l, ok := strings.Cut(rest, "Fast link dest: \""); ok {
			if i := strings.LastIndex(l, "\"\n"); i >= 0 {
				n.link = l[:i]
			} else {
				n.link = strings.TrimSuffix(strings.TrimRight(l, "\n"), "\"")
			}
		}
	default:
		n.kind = 'o'
	}
	return n
}

// commands are the debugfs commands that write the entries.
func (w *ext4Writer) commands(entries []entry) ([]string, error) {
	w.cmds = w.cmds[:0]
	for _, e := range entries {
		t, err := w.target(e, true)
		if err != nil {
			return nil, err
		}
		cur := w.known[t]
		switch e.kind {
		case 'd':
			w.cmds = append(w.cmds, fmt.Sprintf("sif %s mode 0%o", q(t), 0o40000|e.perm))
		case 'f', 'l':
			switch cur.kind {
			case 'd':
				return nil, pipeline.JobError("overlay member %q: %s is a folder in the image", e.from, t)
			case 0:
			default:
				w.cmds = append(w.cmds, "rm "+q(t))
			}
			if e.kind == 'f' {
				w.cmds = append(w.cmds, "write "+q(e.host)+" "+q(t), fmt.Sprintf("sif %s mode 0%o", q(t), 0o100000|e.perm))
				w.known[t] = imageNode{kind: 'f'}
			} else {
				w.cmds = append(w.cmds, "symlink "+q(t)+" "+q(e.link))
				w.known[t] = imageNode{kind: 'l', link: e.link}
			}
		}
		w.cmds = append(w.cmds, fmt.Sprintf("sif %s uid %d", q(t), e.uid), fmt.Sprintf("sif %s gid %d", q(t), e.gid))
	}
	return w.cmds, nil
}

// q quotes a path for debugfs' command parser; checkImageName has
// refused the characters it cannot quote.
func q(p string) string { return `"` + p + `"` }

// debugfsErrors returns debugfs' complaints: every stderr line but its
// version banner.
func debugfsErrors(stderr string) string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "debugfs ") && strings.Contains(l, "(") && !strings.Contains(l, ":") {
			continue
		}
		if len(out) == 5 {
			out = append(out, "…")
			break
		}
		out = append(out, l)
	}
	return strings.Join(out, "; ")
}

type toolOutput struct{ stdout, stderr string }

// runDebugfs runs debugfs on image with the commands in a file (-f),
// writable when write is set.
func runDebugfs(ctx context.Context, image, scratch string, write bool, cmds []string) (toolOutput, error) {
	f, err := os.CreateTemp(scratch, "debugfs-*.cmd")
	if err != nil {
		return toolOutput{}, pipeline.InfrastructureError("writing debugfs commands: %w", err)
	}
	_, err = io.WriteString(f, strings.Join(cmds, "\n")+"\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	defer os.Remove(f.Name())
	if err != nil {
		return toolOutput{}, pipeline.InfrastructureError("writing debugfs commands: %w", err)
	}
	args := []string{"-f", f.Name(), image}
	if write {
		args = append([]string{"-w"}, args...)
	}
	out, err := runE2fs(ctx, "debugfs", "", args...)
	if err != nil {
		return out, pipeline.InfrastructureError("debugfs on %s: %v: %s", filepath.Base(image), err, strings.TrimSpace(out.stderr))
	}
	return out, nil
}

// runE2fs runs an e2fsprogs tool (found on PATH or in /sbin, which a
// user's PATH may lack) through internal/process: its own process group,
// stopped when ctx ends, always reaped. Every child this file starts goes
// through here.
func runE2fs(ctx context.Context, tool, stdin string, args ...string) (toolOutput, error) {
	bin, err := e2fsTool(tool)
	if err != nil {
		return toolOutput{}, err
	}
	var stdout, stderr bytes.Buffer
	err = process.Run(ctx, process.Spec{
		Argv: append([]string{bin}, args...),
		// No pager, whatever the environment says.
		Env:    append(os.Environ(), "DEBUGFS_PAGER=__none__", "PAGER=__none__"),
		Stdin:  strings.NewReader(stdin),
		Stdout: &stdout,
		Stderr: &stderr,
	})
	if ctxErr := ctx.Err(); ctxErr != nil {
		err = ctxErr
	}
	return toolOutput{stdout.String(), stderr.String()}, err
}

// HasE2fsTool reports whether the e2fsprogs program is installed, on
// PATH or in /sbin.
func HasE2fsTool(name string) bool {
	_, err := e2fsTool(name)
	return err == nil
}

// e2fsTool finds an e2fsprogs program.
func e2fsTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", pipeline.InfrastructureError("%s not found: install e2fsprogs", name)
}
