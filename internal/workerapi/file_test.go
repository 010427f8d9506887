package workerapi

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/basalt-lava/basalt/internal/limits"
)

// fileMem is a memServer that keeps files too.
type fileMem struct {
	*memServer
	fmu   sync.Mutex
	files map[string][]byte
}

func (f *fileMem) File(_ context.Context, worker string, req FileRequest) (FileResponse, error) {
	f.mu.Lock()
	owner := f.owner[req.Job]
	f.mu.Unlock()
	if owner != worker {
		return FileResponse{}, ErrUnknownJob
	}
	f.fmu.Lock()
	defer f.fmu.Unlock()
	f.files[req.Name] = req.Data
	return FileResponse{}, nil
}

func TestCheckFileName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"description.yaml", true},
		{"results 1.csv", true},
		{"", false},
		{".", false},
		{"..", false},
		{".hidden", false},
		{"a/b", false},
		{"../x", false},
		{`a\b`, false},
		{"a\x00b", false},
		{"a\nb", false},
		{strings.Repeat("x", MaxFileName), true},
		{strings.Repeat("x", MaxFileName+1), false},
	} {
		if err := CheckFileName(tc.name); (err == nil) != tc.ok {
			t.Errorf("CheckFileName(%q) = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

// TestFile: a file reaches a server that keeps files, by name; a bad name
// or an oversized file is refused naming why (locally and by the handler);
// another worker's job is unknown; a server without files answers
// ErrNoFiles.
func TestFile(t *testing.T) {
	ctx := context.Background()
	m := &fileMem{memServer: newMemServer(), files: map[string][]byte{}}
	m.enqueue("w1", StartJob{Job: 7})
	srv := serve(t, m, "")
	p := newPeer(t, srv.URL, nil)
	if err := p.File(ctx, 7, "description.yaml", []byte("job: 7\n")); err != nil {
		t.Fatal(err)
	}
	if got := string(m.files["description.yaml"]); got != "job: 7\n" {
		t.Errorf("kept %q", got)
	}
	if err := p.File(ctx, 7, "d/x", nil); err == nil || !strings.Contains(err.Error(), "not a plain file name") {
		t.Errorf("File(d/x) = %v", err)
	}
	var lim *limits.Error
	if err := p.File(ctx, 7, "big", make([]byte, MaxFileBytes+1)); !errors.As(err, &lim) || !strings.Contains(err.Error(), "MaxFileBytes") {
		t.Errorf("File(big) = %v, want a limit naming MaxFileBytes", err)
	}
	// The handler checks too, whatever the peer sends.
	code, er := post(t, srv.URL+FilePath, map[string]string{WorkerHeader: "w1", "Authorization": "Bearer secret-1"},
		[]byte(`{"worker":"w1","job":7,"name":"a/b","data":""}`))
	if code != 400 || !strings.Contains(er.Error, "plain file name") {
		t.Errorf("POST a/b = %d %q, want 400", code, er.Error)
	}
	if err := newPeer(t, srv.URL, func(c *PeerConfig) { c.Worker, c.Token = "w2", "secret-2" }).File(ctx, 7, "x", nil); !errors.Is(err, ErrUnknownJob) {
		t.Errorf("File by another worker = %v, want ErrUnknownJob", err)
	}
	// A server of an earlier v1 (no File): ErrNoFiles.
	old := serve(t, newMemServer(), "")
	if err := newPeer(t, old.URL, nil).File(ctx, 7, "description.yaml", nil); !errors.Is(err, ErrNoFiles) {
		t.Errorf("File to a server without files = %v, want ErrNoFiles", err)
	}
}
