package coordinator

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestWriteFrame(t *testing.T) {
	tests := []struct {
		body string
		want string
	}{
		{`{}`, `00000002{}`},
		{``, `00000000`},
		{`{"response": "ack"}`, `00000013{"response": "ack"}`},
		{strings.Repeat("x", 0xABC), "00000ABC" + strings.Repeat("x", 0xABC)},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		if err := WriteFrame(&buf, []byte(tt.body)); err != nil {
			t.Fatal(err)
		}
		if got := buf.String(); got != tt.want {
			t.Errorf("WriteFrame(%.20q) = %.30q, want %.30q", tt.body, got, tt.want)
		}
	}
}

func TestReadFrame(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		max       int
		want      string
		wantErr   string // substring; "" means success
		truncated bool
		tooLarge  bool
	}{
		{name: "ok", in: `00000002{}`, want: `{}`},
		{name: "lowercase hex", in: `0000000a0123456789`, want: `0123456789`},
		{name: "trailing bytes ignored", in: `00000002{}garbage`, want: `{}`},
		{name: "empty body", in: `00000000`, want: ``},
		{name: "eof", in: ``, wantErr: "EOF"},
		{name: "short header", in: `0000`, wantErr: `truncated header: 4 of 8 bytes "0000"`, truncated: true},
		{name: "not hex", in: `0000002X{}`, wantErr: `header "0000002X" is not 8 hexadecimal digits`},
		{name: "0x prefix", in: `0x000002{}`, wantErr: `is not 8 hexadecimal digits`},
		{name: "sign", in: `+0000002{}`, wantErr: `is not 8 hexadecimal digits`},
		{name: "space", in: ` 0000002{}`, wantErr: `is not 8 hexadecimal digits`},
		{name: "json instead of header", in: `{"request": "lava_send"}`, wantErr: `header "{\"reques" is not 8 hexadecimal digits`},
		{name: "truncated body", in: `00000010{"a":`, wantErr: "truncated body: got 5 of 16 bytes", truncated: true},
		{name: "over the default cap", in: `FFFFFFFF`, wantErr: "body of 4294967295 bytes exceeds the limit of 1048576 bytes", tooLarge: true},
		{name: "over a set cap", in: `00000011{"a": "bcdefghijk"}`, max: 16, wantErr: "body of 17 bytes exceeds the limit of 16 bytes", tooLarge: true},
		{name: "at a set cap", in: `00000010{"a":"bcdefghij"}`, max: 16, want: `{"a":"bcdefghij"}`[:16]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadFrame(strings.NewReader(tt.in), tt.max)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if string(got) != tt.want {
					t.Fatalf("body %q, want %q", got, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			var fe *FrameError
			if errors.As(err, &fe) && fe.Truncated != tt.truncated {
				t.Errorf("Truncated = %v, want %v", fe.Truncated, tt.truncated)
			}
			if errors.Is(err, ErrFrameTooLarge) != tt.tooLarge {
				t.Errorf("errors.Is(ErrFrameTooLarge) = %v, want %v", !tt.tooLarge, tt.tooLarge)
			}
		})
	}
}

// TestReadFrameSlowReader feeds a frame a byte at a time, as TCP may.
func TestReadFrameSlowReader(t *testing.T) {
	got, err := ReadFrame(&oneByteReader{s: `00000011{"response": "ok"}`}, 0)
	if err != nil || string(got) != `{"response": "ok"}`[:17] {
		t.Fatalf("ReadFrame = %q, %v", got, err)
	}
}

type oneByteReader struct{ s string }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	p[0] = r.s[0]
	r.s = r.s[1:]
	return 1, nil
}

func TestMarshalASCII(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{map[string]any{"response": "ack"}, `{"response":"ack"}`},
		{map[string]any{"k": "café"}, `{"k":"caf\u00e9"}`},
		{map[string]any{"k": "<a&b>"}, `{"k":"<a&b>"}`},
		{map[string]any{"k": "日本"}, `{"k":"\u65e5\u672c"}`},
		{map[string]any{"k": "🙂"}, `{"k":"\ud83d\ude42"}`},
		{map[string]any{"ü": 1}, `{"\u00fc":1}`},
	}
	for _, tt := range tests {
		b, err := Marshal(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.want {
			t.Errorf("Marshal(%v) = %s, want %s", tt.in, b, tt.want)
		}
		var back any
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s does not decode: %v", b, err)
		}
		if !jsonEqual(back, tt.in) {
			t.Errorf("%s decodes to %v, want %v", b, back, tt.in)
		}
	}
}

func jsonEqual(a, b any) bool {
	ab, _ := json.Marshal(a)
	bb, _ := json.Marshal(b)
	return bytes.Equal(ab, bb)
}
