package coordinator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// HeaderLen is the length of a frame header: 8 hexadecimal digits giving
// the body length in bytes.
const HeaderLen = 8

// DefaultMaxBody caps a frame body unless configured otherwise. LAVA's
// client refuses to send more than 0xFFFE bytes, so real traffic is far
// below it; the cap is there so that a stray or hostile peer announcing a
// 4 GiB body cannot make us allocate it.
const DefaultMaxBody = 1 << 20

// maxHeaderValue is the largest length 8 hex digits can express.
const maxHeaderValue = 0xFFFFFFFF

// ErrFrameTooLarge is wrapped by errors for a body over the size cap.
var ErrFrameTooLarge = errors.New("frame body too large")

// FrameError describes a malformed frame. Reason is a sentence meant for
// the peer (it becomes the "error" of a nack).
type FrameError struct {
	Reason    string
	Truncated bool  // the peer closed before the whole frame arrived
	Err       error // underlying cause, may be nil
}

func (e *FrameError) Error() string {
	if e.Err != nil {
		return e.Reason + ": " + e.Err.Error()
	}
	return e.Reason
}

func (e *FrameError) Unwrap() error { return e.Err }

// WriteFrame writes header and body in a single Write. One write matters
// for LAVA's Python client: it reads the header with one recv(8) and the
// body in blocksize chunks counted by chunk, not by bytes received, so a
// reply dribbled out in pieces could reach it short.
func WriteFrame(w io.Writer, body []byte) error {
	if len(body) > maxHeaderValue {
		return fmt.Errorf("frame body of %d bytes does not fit an 8-digit header", len(body))
	}
	buf := make([]byte, 0, HeaderLen+len(body))
	buf = fmt.Appendf(buf, "%08X", len(body))
	buf = append(buf, body...)
	_, err := w.Write(buf)
	return err
}

// ReadFrame reads one frame and returns its body. maxBody <= 0 means
// DefaultMaxBody. Errors are *FrameError; io.EOF is returned as is when
// the peer closed before sending a single byte.
func ReadFrame(r io.Reader, maxBody int) ([]byte, error) {
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	var hdr [HeaderLen]byte
	n, err := io.ReadFull(r, hdr[:])
	switch {
	case err == io.EOF:
		return nil, io.EOF
	case err == io.ErrUnexpectedEOF:
		return nil, &FrameError{Reason: fmt.Sprintf("truncated header: %d of %d bytes %q", n, HeaderLen, hdr[:n]), Truncated: true}
	case err != nil:
		return nil, &FrameError{Reason: "reading header", Err: err}
	}
	size, ok := parseHeader(hdr[:])
	if !ok {
		return nil, &FrameError{Reason: fmt.Sprintf("header %q is not 8 hexadecimal digits", hdr[:])}
	}
	if size > uint64(maxBody) {
		return nil, &FrameError{
			Reason: fmt.Sprintf("body of %d bytes exceeds the limit of %d bytes", size, maxBody),
			Err:    ErrFrameTooLarge,
		}
	}
	body := make([]byte, size)
	n, err = io.ReadFull(r, body)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return nil, &FrameError{Reason: fmt.Sprintf("truncated body: got %d of %d bytes", n, size), Truncated: true}
	}
	if err != nil {
		return nil, &FrameError{Reason: fmt.Sprintf("reading body (%d of %d bytes)", n, size), Err: err}
	}
	return body, nil
}

// parseHeader accepts exactly 8 hex digits of either case. (Python's
// int(x, 16), which LAVA uses, also takes signs, spaces and "0x"; nobody
// sends those.)
func parseHeader(h []byte) (uint64, bool) {
	for _, c := range h {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(string(h), 16, 64)
	return v, err == nil
}

// Marshal encodes v as JSON with every non-ASCII character escaped as
// \uXXXX, as Python's json.dumps does by default. LAVA's peers decode each
// recv() chunk as UTF-8 on its own, so a multi-byte character split across
// two chunks would make them fail; ASCII-only bodies cannot be split badly.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return asciiJSON(b), nil
}

// asciiJSON rewrites the non-ASCII runes of valid JSON text as \u escapes.
// Outside strings JSON is pure ASCII, so every such rune is inside a string
// where the escape means the same character.
func asciiJSON(b []byte) []byte {
	i := 0
	for i < len(b) && b[i] < utf8.RuneSelf {
		i++
	}
	if i == len(b) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	out = append(out, b[:i]...)
	for i < len(b) {
		if b[i] < utf8.RuneSelf {
			out = append(out, b[i])
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		i += size
		if r >= 0x10000 {
			r -= 0x10000
			out = fmt.Appendf(out, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
		} else {
			out = fmt.Appendf(out, `\u%04x`, r)
		}
	}
	return out
}
