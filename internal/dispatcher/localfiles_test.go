package dispatcher

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/hostfiles"
	"github.com/basalt-lava/basalt/internal/job"
	"github.com/basalt-lava/basalt/internal/pipeline"
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
		{"qemu image_arg", `      rootfs: {image_arg: '-drive format=raw,file={rootfs} -drive format=raw,file=/etc/shadow', url: 'https://example.org/rootfs.ext4'}`, safeDefinition,
			`QEMU argument "-drive format=raw,file=/etc/shadow" refused: /etc/shadow is outside the job's folder and the folders allowed (none)`},
		{"qemu image_arg option", `      rootfs: {image_arg: '-drive format=raw,file={rootfs} -virtfs local,path=/,mount_tag=h,security_model=none', url: 'https://example.org/rootfs.ext4'}`, safeDefinition,
			`QEMU argument "-virtfs" refused: the option is not in the list allowed`},
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
					if strings.Contains(d.Msg, "not allowed on this") || strings.Contains(d.Msg, "outside the folders") || strings.Contains(d.Msg, "QEMU argument") {
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

// TestRunQemuArgsPolicy: through the shipped qemu template, a job whose
// context slips QEMU options into the device (memory) or whose image_arg
// names a host file gets a Job error under a worker's policy before QEMU
// starts (from validation; execute-qemu checks its command line again).
func TestRunQemuArgsPolicy(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 is not installed")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("not a disk")) }))
	defer srv.Close()
	dict := filepath.Join(t.TempDir(), "qemu-01.jinja2")
	if err := os.WriteFile(dict, []byte("{% extends 'qemu.jinja2' %}\n{% set no_kvm = True %}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	none, err := hostfiles.New(hostfiles.Options{Host: "worker", Flag: "the worker's --allow-local-files"})
	if err != nil {
		t.Fatal(err)
	}
	jobText := func(memory, imageArg string) []byte {
		return []byte(`device_type: qemu
job_name: qemu args
timeouts: {job: {minutes: 2}}
visibility: public
context: {arch: amd64, memory: '` + memory + `'}
actions:
- deploy:
    to: tmpfs
    timeout: {minutes: 1}
    images:
      rootfs: {image_arg: '` + imageArg + `', url: '` + srv.URL + `/rootfs.ext4'}
- boot: {method: qemu, media: tmpfs, timeout: {minutes: 1}, prompts: ['root@']}
`)
	}
	tests := []struct {
		name, memory, imageArg, want string
	}{
		{"context value", "512 -virtfs local,path=/,mount_tag=h,security_model=none", "-drive format=raw,file={rootfs}",
			`QEMU argument "-virtfs" refused: the option is not in the list allowed`},
		{"image_arg", "512", "-drive format=raw,file={rootfs} -drive format=raw,file=/etc/passwd",
			`QEMU argument "-drive format=raw,file=/etc/passwd" refused: /etc/passwd is outside the job's folder`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := Run(context.Background(), RunConfig{Job: Source{Text: jobText(tt.memory, tt.imageArg)}, Device: Source{Path: dict},
				Options: Options{Job: job.Options{Lax: true, SubJob: true}, LocalFiles: none}, TmpDir: t.TempDir()}, newMemSink(t))
			if out.Completed() || out.Class != pipeline.ClassJob || !strings.Contains(out.Message, tt.want) {
				t.Errorf("ended %s (%s) %q; want a Job error saying %q", out.Result, out.Class, out.Message, tt.want)
			}
		})
	}
}
