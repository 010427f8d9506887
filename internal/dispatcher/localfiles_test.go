package dispatcher

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/hostfiles"
	"github.com/basalt-lava/basalt/internal/job"
)

// localFilesJob is a qemu job whose deploy block gets images and whose
// test block gets definitions.
func localFilesJob(images, definitions string) string {
	return `device_type: qemu
job_name: host files
timeouts: {job: {minutes: 10}}
visibility: public
context: {arch: amd64}
actions:
- deploy:
    to: tmpfs
    timeout: {minutes: 5}
    images:
` + images + `
- boot:
    method: qemu
    media: tmpfs
    timeout: {minutes: 2}
    prompts: ['root@']
- test:
    timeout: {minutes: 2}
    definitions:
` + definitions + "\n"
}

const safeRootfs = `      rootfs: {image_arg: '-drive format=raw,file={rootfs}', url: 'https://example.org/rootfs.ext4'}`

const safeDefinition = `    - {from: inline, name: smoke, path: inline/smoke.yaml, repository: {metadata: {format: Lava-Test Test Definition 1.0, name: smoke}, run: {steps: [echo hi]}}}`

// TestValidateLocalFiles: each kind of job source that reaches a host
// file is refused at validation under a policy, with the key, the value,
// the limit and the flag, and passes without one (basalt run's default).
func TestValidateLocalFiles(t *testing.T) {
	dev, err := os.ReadFile(filepath.Join("testdata", "devices", "tuxrun-qemu.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	host := t.TempDir()
	repo := filepath.Join(host, "repo")
	if err := os.Mkdir(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	gz := filepath.Join(host, "rootfs.ext4.gz")
	if err := os.WriteFile(gz, []byte("not really gzip"), 0o644); err != nil {
		t.Fatal(err)
	}
	none, err := hostfiles.New(hostfiles.Options{Host: "worker", Flag: "the worker's --allow-local-files"})
	if err != nil {
		t.Fatal(err)
	}
	const refusal = "local files are not allowed on this worker (allowed: none; the worker's --allow-local-files)"
	tests := []struct {
		name        string
		images      string
		definitions string
		want        string // what the refusal says besides refusal
	}{
		{"image url", `      rootfs: {image_arg: '-drive format=raw,file={rootfs}', url: 'file:///etc/shadow'}`, safeDefinition,
			"images.rootfs.url: file:///etc/shadow: " + refusal},
		{"compressed image", `      rootfs: {image_arg: '-drive format=raw,file={rootfs}', url: 'file://` + gz + `', compression: gz}`, safeDefinition,
			"images.rootfs.url: file://" + gz + ": " + refusal},
		{"kernel", safeRootfs + "\n" + `      kernel: {image_arg: '-kernel {kernel}', url: 'file:///etc/passwd'}`, safeDefinition,
			"images.kernel.url: file:///etc/passwd: " + refusal},
		{"overlay", `      rootfs:
        image_arg: '-drive format=raw,file={rootfs}'
        url: 'https://example.org/rootfs.ext4'
        format: ext4
        overlays:
          modules: {url: 'file:///etc/passwd', format: tar, path: /}`, safeDefinition,
			"images.rootfs.overlays.modules.url: file:///etc/passwd: " + refusal},
		{"git repository path", safeRootfs, `    - {from: git, name: t, path: t.yaml, repository: '` + repo + `'}`,
			`git repository URL "` + repo + `" refused: ` + refusal},
		{"git file url", safeRootfs, `    - {from: git, name: t, path: t.yaml, repository: 'file://` + repo + `'}`,
			`git repository URL "file://` + repo + `" refused: ` + refusal},
		{"git ssh", safeRootfs, `    - {from: git, name: t, path: t.yaml, repository: 'git@example.org:r.git'}`,
			`git repository URL "git@example.org:r.git" refused: git over ssh is not allowed on this worker`},
		{"url definition", safeRootfs, `    - {from: url, name: t, path: t.yaml, repository: 'file:///etc/passwd'}`,
			"repository: file:///etc/passwd: " + refusal},
		{"inline definition", safeRootfs, safeDefinition, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := []byte(localFilesJob(tt.images, tt.definitions))
			for _, policy := range []*hostfiles.Policy{nil, none} {
				p, err := PrepareBytes(text, dev, Options{Job: job.Options{Lax: true, SubJob: true}, LocalFiles: policy})
				if err != nil {
					t.Fatal(err)
				}
				var found, other []string
				for _, d := range job.Errors(p.Diagnostics) {
					if strings.Contains(d.Msg, "not allowed on this") || strings.Contains(d.Msg, "outside the folders") {
						found = append(found, d.String())
					} else if !strings.Contains(d.Msg, "does not exist or is not readable") {
						other = append(other, d.String())
					}
				}
				if len(other) > 0 {
					t.Errorf("policy %v: other errors: %q", policy.Allowed(), other)
				}
				switch {
				case policy == nil || tt.want == "":
					if len(found) > 0 {
						t.Errorf("policy %s: refused: %q", policy.Allowed(), found)
					}
				case len(found) != 1 || !strings.Contains(found[0], tt.want):
					t.Errorf("policy %s: refusals %q, want one saying %q", policy.Allowed(), found, tt.want)
				default:
					t.Logf("%s", found[0])
				}
			}
		})
	}
}
