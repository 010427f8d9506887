package limits

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// File is the limit on one kind of file: what it is, for messages, its
// largest size, and the flag that changes that ("" for a fixed limit).
type File struct {
	What string
	Max  int64
	Flag string
}

// Error is input that went past a limit. Its message names the limit and
// how to change it.
type Error struct {
	// Path is the file, when the input is one.
	Path string
	// What names the input: "job definition", "YAML document".
	What string
	// Limit is the limit, in words: "1M bytes", "1048576 nodes".
	Limit string
	// Flag changes the limit; "" for a fixed one.
	Flag string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("the %s is over the limit of %s", e.What, e.Limit)
	if e.Flag != "" {
		s += fmt.Sprintf(" (--%s changes it)", e.Flag)
	} else {
		s += " (a fixed limit)"
	}
	if e.Path != "" {
		s = e.Path + ": " + s
	}
	return s
}

// NotRegularError is a path that names something other than a regular
// file: a folder, a named pipe, a device, a socket. Such a file is not
// opened (a device's open can have effects, a pipe's blocks) or, when it
// became one between the check and the open, not read.
type NotRegularError struct {
	Path string
	What string
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s: the %s is %s, not a regular file", e.Path, e.What, describeMode(e.Mode))
}

func describeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "not a plain file (" + m.Type().String() + ")"
}

// Read reads the file at path: a regular file (following symbolic
// links) of at most f.Max bytes. Anything else is refused without being
// opened, or read, so a named pipe never blocks and /dev/zero is never
// read: a *NotRegularError, or an *Error for a file over the limit
// (also one that grows past it while being read).
func (f File) Read(path string) ([]byte, error) {
	return f.read(path, os.Stat, func() (*os.File, error) {
		return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	})
}

// ReadIn is Read for name inside root: symbolic links are followed only
// within it (os.Root's rule).
func (f File) ReadIn(root *os.Root, name string) ([]byte, error) {
	return f.read(name, root.Stat, func() (*os.File, error) {
		return root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	})
}

func (f File) read(path string, stat func(string) (fs.FileInfo, error), open func() (*os.File, error)) ([]byte, error) {
	before, err := stat(path)
	if err != nil {
		return nil, err
	}
	if err := f.check(path, before); err != nil {
		return nil, err
	}
	// O_NONBLOCK: should path have become a pipe since the stat, the
	// open returns at once and the check below refuses it.
	file, err := open()
	if err != nil {
		return nil, err
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return nil, err
	}
	if err := f.check(path, st); err != nil {
		return nil, err
	}
	if !os.SameFile(before, st) {
		return nil, fmt.Errorf("%s: the %s changed while it was opened", path, f.What)
	}
	data, err := io.ReadAll(io.LimitReader(file, f.Max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > f.Max {
		return nil, f.tooLarge(path)
	}
	return data, nil
}

func (f File) check(path string, st fs.FileInfo) error {
	if !st.Mode().IsRegular() {
		return &NotRegularError{Path: path, What: f.What, Mode: st.Mode()}
	}
	if st.Size() > f.Max {
		return f.tooLarge(path)
	}
	return nil
}

func (f File) tooLarge(path string) error {
	return &Error{Path: path, What: f.What, Limit: FormatSize(f.Max) + " bytes", Flag: f.Flag}
}

// IsNotRegular reports whether err is a *NotRegularError.
func IsNotRegular(err error) bool {
	var nr *NotRegularError
	return errors.As(err, &nr)
}

// OpenRegular opens the regular file at path for reading, refusing any
// other kind of file (what names it in the error) without blocking on
// it, as Read does, and returns it with its information. It is for files
// read as a stream, whose size another limit bounds.
func OpenRegular(path, what string) (*os.File, fs.FileInfo, error) {
	f := File{What: what, Max: 1<<63 - 1}
	before, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if err := f.check(path, before); err != nil {
		return nil, nil, err
	}
	file, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	st, err := file.Stat()
	if err == nil {
		err = f.check(path, st)
	}
	if err == nil && !os.SameFile(before, st) {
		err = fmt.Errorf("%s: the %s changed while it was opened", path, what)
	}
	if err != nil {
		file.Close()
		return nil, nil, err
	}
	return file, st, nil
}
