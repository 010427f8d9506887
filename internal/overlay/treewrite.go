package overlay

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

// WriteInTree writes data as the file name (relative, cleaned by RelPath)
// inside dir, the folder of a fetched test repository (git clone,
// unpacked archive, inline definition), and returns the target of the
// symlink it replaced, if any. repo names the repository in errors.
//
// The tree is the job's: any name in it may be a symlink (out of the
// job's folder, or onto another of the repository's files) or a hard
// link. So the write goes through an os.Root of dir, which refuses to
// follow a link out of it, and whatever is at name (a file, a symlink,
// a hard link) is removed first and a new file created in its place:
// the content written never lands anywhere but at name, and the file a
// link pointed at keeps its content. (LAVA opens the name for writing
// and so writes through the link.) A folder at name, or a parent that
// leaves the tree or is not a folder, is the job's error.
func WriteInTree(dir, repo, name string, data []byte, perm fs.FileMode) (string, error) {
	clean, err := RelPath(name)
	if err != nil {
		return "", pipeline.JobError("repository %s: cannot write %s: %v", repo, name, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", pipeline.InfrastructureError("opening the test folder %s: %w", dir, err)
	}
	defer root.Close()
	fail := func(err error) error {
		if escapes(err) {
			return pipeline.JobError("repository %s: cannot write %s: a symlink of the repository leads out of it (%v)", repo, clean, err)
		}
		if treeFault(err) {
			return pipeline.JobError("repository %s: cannot write %s: %v", repo, clean, unwrapPath(err))
		}
		return pipeline.InfrastructureError("repository %s: writing %s in %s: %w", repo, clean, dir, err)
	}
	if parent := filepath.Dir(clean); parent != "." {
		if err := root.MkdirAll(parent, 0o755); err != nil {
			return "", fail(err)
		}
	}
	link := ""
	st, err := root.Lstat(clean)
	switch {
	case err == nil && st.IsDir():
		return "", pipeline.JobError("repository %s: cannot write %s: the repository has a folder there", repo, clean)
	case err == nil:
		if st.Mode()&fs.ModeSymlink != 0 {
			if link, err = root.Readlink(clean); err != nil {
				return "", fail(err)
			}
		}
		if err := root.Remove(clean); err != nil {
			return "", fail(err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return "", fail(err)
	}
	// O_EXCL: nothing is followed, not even a link made since the Remove.
	f, err := root.OpenFile(clean, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return "", fail(err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", pipeline.InfrastructureError("repository %s: writing %s in %s: %w", repo, clean, dir, err)
	}
	return link, nil
}

// treeFault says a failed write is caused by what the repository holds
// (a link out of the tree, a file where a folder is needed, a loop),
// not by the dispatcher.
func treeFault(err error) bool {
	return errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR) ||
		errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENAMETOOLONG) ||
		errors.Is(err, fs.ErrExist)
}

// escapes says os.Root refused to follow a symlink out of the tree.
func escapes(err error) bool { return strings.Contains(err.Error(), "escapes from parent") }

// unwrapPath drops the dispatcher's path from a PathError: the message
// names the repository and the path inside it already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
