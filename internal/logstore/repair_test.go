package logstore

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRepair damages a job's files the ways a crash can (the process
// killed between writing the log and its index, the host losing the last
// pages of either) and checks that the next store cuts the log back to
// what the index vouches for and goes on appending from there.
func TestRepair(t *testing.T) {
	t.Parallel()
	end := func(n int) uint64 { return uint64(len(text(recs(0, n)))) }
	tests := []struct {
		name   string
		damage func(t *testing.T, log, idx string)
		held   int // lines left
	}{
		{name: "intact", damage: func(*testing.T, string, string) {}, held: 5},
		{name: "torn index entry", held: 5, damage: func(t *testing.T, log, idx string) {
			appendFile(t, idx, []byte{1, 2, 3})
		}},
		{name: "log bytes past the index (a torn line)", held: 5, damage: func(t *testing.T, log, idx string) {
			appendFile(t, log, []byte(`- {"dt": "2026`))
		}},
		{name: "whole lines past the index", held: 5, damage: func(t *testing.T, log, idx string) {
			appendFile(t, log, []byte(text(recs(5, 7))))
		}},
		{name: "index past the log's end", held: 3, damage: func(t *testing.T, log, idx string) {
			if err := os.Truncate(log, int64(end(4))-5); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "zeroed index entries", held: 4, damage: func(t *testing.T, log, idx string) {
			f, err := os.OpenFile(idx, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(make([]byte, 8), 8*4); err != nil {
				t.Fatal(err)
			}
			appendFile(t, idx, make([]byte, 16))
		}},
		{name: "index entry inside a line", held: 4, damage: func(t *testing.T, log, idx string) {
			b := binary.LittleEndian.AppendUint64(nil, end(4)+10)
			f, err := os.OpenFile(idx, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(b, 8*4); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "index missing: rebuilt", held: 5, damage: func(t *testing.T, log, idx string) {
			if err := os.Remove(idx); err != nil {
				t.Fatal(err)
			}
			appendFile(t, log, []byte(`- {"dt": "unterminated`))
		}},
		{name: "index empty", held: 0, damage: func(t *testing.T, log, idx string) {
			if err := os.Truncate(idx, 0); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			l := open(t, dir, Options{})
			if _, err := l.Append(9, 0, recs(0, 5)); err != nil {
				t.Fatal(err)
			}
			l.Close()
			log := l.Path(9)
			tt.damage(t, log, filepath.Join(filepath.Dir(log), IndexFile))

			l2 := open(t, dir, Options{})
			if n, err := l2.Len(9); err != nil || n != int64(tt.held) {
				t.Fatalf("Len after repair = %d, %v; want %d", n, err, tt.held)
			}
			data, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			if want := text(recs(0, tt.held)); string(data) != want {
				t.Errorf("logs.yaml after repair (-got +want):\n%s", cmp.Diff(string(data), want))
			}
			checkFiles(t, l2, 9)
			// The worker resends from what the server holds.
			held, err := l2.Append(9, int64(tt.held), recs(tt.held, 8))
			if err != nil || held != 8 {
				t.Fatalf("Append after repair: %d, %v", held, err)
			}
			if got := read(t, l2, 9, 0, -1); got != text(recs(0, 8)) {
				t.Errorf("log after repair and resend (-got +want):\n%s", cmp.Diff(got, text(recs(0, 8))))
			}
			checkFiles(t, l2, 9)
		})
	}
}

func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}
