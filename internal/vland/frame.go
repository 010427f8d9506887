package vland

import (
	"fmt"
	"io"
	"strconv"
)

// headerLen is the length of a message's header: its size as eight
// hexadecimal digits (LAVA's "%08X").
const headerLen = 8

// MaxMessage is the largest message either side accepts. lava-dispatcher
// refuses to send more than 0xFFFE bytes; replies listing a big lab's
// ports are larger, hence the margin.
const MaxMessage = 1 << 20

// writeFrame sends one message: its length as eight upper-case
// hexadecimal digits, then the message.
func writeFrame(w io.Writer, msg []byte) error {
	if len(msg) > MaxMessage {
		return fmt.Errorf("message of %d bytes is over the limit of %d", len(msg), MaxMessage)
	}
	if _, err := fmt.Fprintf(w, "%08X", len(msg)); err != nil {
		return err
	}
	_, err := w.Write(msg)
	return err
}

// readFrame reads one message, refusing a header that is not eight
// hexadecimal digits or announces more than limit bytes. An empty
// stream (the peer closed without a word) is io.EOF.
func readFrame(r io.Reader, limit int) ([]byte, error) {
	var h [headerLen]byte
	n, err := io.ReadFull(r, h[:])
	if n == 0 && err != nil {
		return nil, io.EOF
	}
	if err != nil {
		return nil, fmt.Errorf("short header %q: %w", h[:n], err)
	}
	size, err := strconv.ParseUint(string(h[:]), 16, 32)
	if err != nil {
		return nil, fmt.Errorf("header %q is not eight hexadecimal digits", h[:])
	}
	if size > uint64(limit) {
		return nil, fmt.Errorf("message of %d bytes is over the limit of %d", size, limit)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("message announced as %d bytes: %w", size, err)
	}
	return buf, nil
}
