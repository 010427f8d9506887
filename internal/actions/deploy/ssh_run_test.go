package deploy_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

// A deploy with authorize: ssh (the host role of a secondary connection)
// puts the public half of the device's key in the overlay, as root's
// authorized_keys and in the results folder; the private key never goes
// into the overlay.
func TestSshAuthorizeOverlay(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "lab_key")
	const pub = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBasaltTestKeyOnlyForThisTest basalt-test\n"
	if err := os.WriteFile(key, []byte("PRIVATE KEY, NEVER COPIED\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key+".pub", []byte(pub), 0o644); err != nil {
		t.Fatal(err)
	}
	device := strings.Replace(overlayDevice, "  deploy:\n    methods:\n", "  deploy:\n    methods:\n      ssh: {identity_file: "+key+", host: '', port: 22, user: root}\n", 1)
	job := `
device_type: qemu
job_name: authorize
timeouts: {job: {minutes: 5}}
context: {arch: amd64}
actions:
- deploy:
    to: tmpfs
    os: oe
    authorize: ssh
    images:
      rootfs: {url: 'http://127.0.0.1:1/rootfs.img', image_arg: '-drive format=raw,file={rootfs}'}
- boot:
    method: qemu
    media: tmpfs
    prompts: ['# ']
- test:
    definitions:
    - repository:
        metadata: {format: Lava-Test Test Definition 1.0, name: t}
        run: {steps: [lava-test-case t --shell true]}
      from: inline
      name: t
      path: inline/t.yaml
`
	j := buildJob(t, job, device)
	f := &overlayFixture{job: j}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := f.action(t, "lava-overlay").Run(ctx, nil); err != nil {
		t.Fatalf("lava-overlay: %v", err)
	}
	tarball, _ := f.data(pipeline.DataCompressedOverlay).(string)
	if tarball == "" {
		t.Fatal("no compressed overlay")
	}
	files := tarFiles(t, tarball)
	if got := files["root/.ssh/authorized_keys"]; got != pub {
		t.Errorf("root/.ssh/authorized_keys = %q, want the device key's public half", got)
	}
	if got := files["lava-42/lab_key.pub"]; got != pub {
		t.Errorf("lava-42/lab_key.pub = %q, want the public key", got)
	}
	for name, body := range files {
		if strings.Contains(body, "PRIVATE KEY") {
			t.Errorf("the private key went into the overlay as %s", name)
		}
	}
}

// tarFiles reads a .tar.gz into name → content, names without "./".
func tarFiles(t *testing.T, path string) map[string]string {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[strings.TrimPrefix(h.Name, "./")] = string(b)
	}
}
