package vland

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	var b bytes.Buffer
	msg := []byte(`{"type": "db_query", "command": "db.all_vlans", "data": {}}`)
	if err := writeFrame(&b, msg); err != nil {
		t.Fatal(err)
	}
	if got := b.String()[:8]; got != "0000003B" {
		t.Errorf("header %q, want LAVA's %%08X of %d", got, len(msg))
	}
	got, err := readFrame(&b, MaxMessage)
	if err != nil || string(got) != string(msg) {
		t.Fatalf("readFrame = %q, %v", got, err)
	}
}

func TestFrameRefusals(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"empty", "", "EOF"},
		{"short header", "0000", "short header"},
		{"not hex", "0000zz10{}", "not eight hexadecimal digits"},
		{"negative", "-0000001{}", "not eight hexadecimal digits"},
		{"over the limit", "00200000", "over the limit of 1048576"},
		{"truncated", "00000010{}", "announced as 16 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := readFrame(strings.NewReader(c.in), MaxMessage)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("readFrame(%q) = %v, want an error with %q", c.in, err, c.want)
			}
			if c.name == "empty" && err != io.EOF {
				t.Errorf("an empty stream is io.EOF, got %v", err)
			}
		})
	}
}

// An ACK always has data (null for nothing found), an ERROR never: LAVA
// reads reply["data"] after a query and tests "data" in reply after
// create_vlan.
func TestReplyShape(t *testing.T) {
	for _, c := range []struct {
		r    reply
		want string
	}{
		{reply{Response: "ACK"}, `{"data":null,"response":"ACK"}`},
		{reply{Response: "ACK", Data: []int{2, 100}}, `{"data":[2,100],"response":"ACK"}`},
		{reply{Response: "ERROR", Error: "no free tag"}, `{"error":"no free tag","response":"ERROR"}`},
	} {
		b, err := json.Marshal(c.r)
		if err != nil || string(b) != c.want {
			t.Errorf("%+v = %s, %v; want %s", c.r, b, err, c.want)
		}
	}
}
