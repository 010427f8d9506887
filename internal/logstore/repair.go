package logstore

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// load opens the job's files (creating them when create is set), repairs
// them and sets lines and size. A job without logs.yaml, when create is
// not set, loads as no log (j.log nil).
func (j *jobLog) load(dir string, create bool) error {
	_ = j.close()
	logPath, idxPath := filepath.Join(dir, LogFile), filepath.Join(dir, IndexFile)
	flag := os.O_RDWR
	if create {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		flag |= os.O_CREATE
	}
	log, err := os.OpenFile(logPath, flag, 0o644)
	if errors.Is(err, fs.ErrNotExist) && !create {
		j.loaded, j.lines, j.size = true, 0, 0
		return nil
	}
	if err != nil {
		return err
	}
	idx, err := os.OpenFile(idxPath, os.O_RDWR, 0o644)
	rebuild := false
	if errors.Is(err, fs.ErrNotExist) {
		idx, err = os.OpenFile(idxPath, os.O_RDWR|os.O_CREATE, 0o644)
		rebuild = true
	}
	if err != nil {
		log.Close()
		return err
	}
	j.log, j.idx = log, idx
	if rebuild {
		err = j.rebuild()
	} else {
		err = j.repair()
	}
	if err != nil {
		_ = j.close()
		return &corruptError{err}
	}
	j.loaded = true
	return nil
}

// repair makes the index and the log agree, trusting the index (see
// Repair in the package comment).
func (j *jobLog) repair() error {
	ist, err := j.idx.Stat()
	if err != nil {
		return err
	}
	lst, err := j.log.Stat()
	if err != nil {
		return err
	}
	isize, lsize := ist.Size(), lst.Size()
	n := isize / 8
	var end int64
	for n > 0 {
		e, err := j.end(n - 1)
		if err != nil {
			return err
		}
		prev, err := j.end(n - 2)
		if err != nil {
			return err
		}
		if e > prev && e <= lsize {
			var b [1]byte
			if _, err := j.log.ReadAt(b[:], e-1); err != nil {
				return err
			}
			if b[0] == '\n' {
				end = e
				break
			}
		}
		n--
	}
	if 8*n != isize {
		if err := j.idx.Truncate(8 * n); err != nil {
			return fmt.Errorf("cutting %s to %d lines: %w", IndexFile, n, err)
		}
	}
	if lsize > end {
		if err := j.log.Truncate(end); err != nil {
			return fmt.Errorf("cutting %s to %d bytes: %w", LogFile, end, err)
		}
	}
	j.lines, j.size = n, end
	return nil
}

// rebuild writes the index of an existing log, reading it in blocks, and
// cuts an unterminated last line.
func (j *jobLog) rebuild() error {
	if err := j.idx.Truncate(0); err != nil {
		return err
	}
	w := bufio.NewWriterSize(io.NewOffsetWriter(j.idx, 0), 64<<10)
	buf := make([]byte, 64<<10)
	var off, n, end int64
	var entry [8]byte
	for {
		c, err := j.log.ReadAt(buf, off)
		for i := 0; i < c; i++ {
			if buf[i] == '\n' {
				end = off + int64(i) + 1
				binary.LittleEndian.PutUint64(entry[:], uint64(end))
				if _, werr := w.Write(entry[:]); werr != nil {
					return werr
				}
				n++
			}
		}
		off += int64(c)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if off > end {
		if err := j.log.Truncate(end); err != nil {
			return err
		}
	}
	j.lines, j.size = n, end
	return nil
}
