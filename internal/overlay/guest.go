package overlay

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/process"
)

// GuestLabel is the label of the overlay disk, as LAVA names it.
const GuestLabel = "LAVA"

// DefaultGuestSizeMB is the overlay disk's size when the device does not
// say (LAVA's default).
const DefaultGuestSizeMB = 512

// Guest is an overlay disk built by BuildGuest.
type Guest struct {
	Path string
	UUID string
	// OwnersMapped says the files belong to root in the image although
	// their owner on the host was another user (see BuildGuest).
	OwnersMapped bool
	// Owner is the host uid the files kept when they could not be
	// mapped to root (OwnersMapped false, Owner not 0).
	Owner int
}

// BuildGuest writes a raw ext2 disk image of sizeMB megabytes (a sparse
// file) at output, labelled LAVA, whose root holds the contents of dir,
// and returns its new random UUID. mkfs.ext2 fills the filesystem itself
// (-d, e2fsprogs 1.43 or later): no root, no mount, no VM.
//
// mkfs.ext2 copies each file's owner into the image. When dir belongs to
// another user than root (a dispatcher not running as root), mkfs.ext2
// runs in a user namespace where that user is root, so the device sees
// root's files as LAVA's overlays are; if the kernel refuses the
// namespace the files keep their owner, which Guest reports.
func BuildGuest(ctx context.Context, dir, output string, sizeMB int) (*Guest, error) {
	if sizeMB <= 0 {
		return nil, pipeline.ConfigurationError("invalid guest filesystem size %d MB", sizeMB)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, pipeline.Bug("overlay directory %s: %v", dir, err)
	}
	uid, gid := owner(st)
	uuid, err := newUUID()
	if err != nil {
		return nil, pipeline.InfrastructureError("generating a filesystem UUID: %w", err)
	}
	// A sparse file: only what mkfs writes takes disk space.
	f, err := os.Create(output)
	if err != nil {
		return nil, pipeline.InfrastructureError("creating %s: %w", output, err)
	}
	err = f.Truncate(int64(sizeMB) << 20)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, pipeline.InfrastructureError("sizing %s: %w", output, err)
	}
	if uid != 0 {
		if os.Geteuid() == 0 {
			// Root builds for the tree's owner: inside the namespace the
			// image must be writable by that owner.
			if err := os.Chown(output, uid, gid); err != nil {
				return nil, pipeline.InfrastructureError("chown %s: %w", output, err)
			}
		} else {
			// An ordinary user may only map itself.
			uid, gid = os.Geteuid(), os.Getegid()
		}
	}
	args := []string{"-q", "-F", "-L", GuestLabel, "-U", uuid, "-E", "root_owner=0:0",
		"-d", dir, output, fmt.Sprintf("%dM", sizeMB)}
	g := &Guest{Path: output, UUID: uuid}
	if uid != 0 {
		out, err := runMkfs(ctx, args, &process.UserNS{UID: uid, GID: gid})
		if err == nil {
			g.OwnersMapped = true
			return g, nil
		}
		if !isStartError(err) {
			return nil, mkfsError(err, out, dir, sizeMB)
		}
		// No user namespaces here: build without, files keep their owner.
		g.Owner = uid
	}
	out, err := runMkfs(ctx, args, nil)
	if err != nil {
		return nil, mkfsError(err, out, dir, sizeMB)
	}
	return g, nil
}

func owner(fi os.FileInfo) (int, int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return os.Geteuid(), os.Getegid()
}

// startError marks a failure to start mkfs at all (the namespace refused).
type startError struct{ error }

func isStartError(err error) bool {
	var se startError
	return errors.As(err, &se)
}

// runMkfs runs mkfs.ext2 as a child process (internal/process), in the
// user namespace ns when set; stopped when ctx ends, always reaped.
func runMkfs(ctx context.Context, args []string, ns *process.UserNS) (string, error) {
	var out bytes.Buffer
	err := process.Run(ctx, process.Spec{Argv: append([]string{"mkfs.ext2"}, args...), Stdout: &out, Stderr: &out, UserNS: ns})
	var se *process.StartError
	if errors.As(err, &se) {
		if errors.Is(err, exec.ErrNotFound) {
			return "", err
		}
		return "", startError{err}
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return out.String(), ctxErr
	}
	return out.String(), err
}

func mkfsError(err error, out, dir string, sizeMB int) error {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return pipeline.InfrastructureError("running mkfs.ext2 (e2fsprogs 1.43 or later is needed): %w", err)
	}
	msg := strings.TrimSpace(out)
	if strings.Contains(msg, "Could not allocate block") || strings.Contains(msg, "No free space") ||
		strings.Contains(msg, "Could not allocate inode") {
		return pipeline.JobError("the overlay (%s) does not fit in the %d MB guest disk: make the test definitions smaller or the device's guest size larger (%s)", dir, sizeMB, msg)
	}
	return pipeline.InfrastructureError("mkfs.ext2 failed (%v): %s", ee, msg)
}

// newUUID returns a random (version 4) UUID.
func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}
