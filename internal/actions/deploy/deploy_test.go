package deploy_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/actions/deploy"
	_ "github.com/basalt-lava/basalt/internal/actions/power"
	_ "github.com/basalt-lava/basalt/internal/actions/test"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// qemuDevice is the part of a rendered qemu device configuration the
// deploy actions read.
const qemuDevice = `
actions:
  deploy:
    methods:
      image:
        parameters:
          guest: {size: 512}
  boot:
    methods:
      qemu:
        parameters: {command: qemu-system-x86_64}
constants:
  posix: {lava_test_results_dir: /lava-%s, lava_test_shell_file: ~/.bashrc}
timeouts:
  actions: {power-off: {seconds: 10}}
`

func decode(t *testing.T, s string) *value.Map {
	t.Helper()
	v, err := value.DecodeYAML([]byte(s))
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, s)
	}
	return v.(*value.Map)
}

func build(t *testing.T, job, device string) *pipeline.Job {
	t.Helper()
	j, err := pipeline.Build(decode(t, job), decode(t, device))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return j
}

// names lists "level name" for every action under the action at level.
func names(j *pipeline.Job, level string) []string {
	var out []string
	j.Pipeline.Walk(func(a pipeline.Action) {
		b := a.ActionBase()
		if strings.HasPrefix(b.Level, level+".") {
			out = append(out, b.Level+" "+b.Name)
		}
	})
	return out
}

func TestDefinitionChildrenPerRepoKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		def  string
		want []string
	}{
		{"git", `{from: git, name: smoke, path: a.yaml, repository: "https://example.com/t.git"}`, []string{
			"1.1.2.1 git-repo-action", "1.1.2.2 test-overlay", "1.1.2.3 test-install-overlay", "1.1.2.4 test-runscript-overlay"}},
		{"inline", `{from: inline, name: smoke, path: inline/a.yaml, repository: {metadata: {name: x}}}`, []string{
			"1.1.2.1 inline-repo-action", "1.1.2.2 test-overlay", "1.1.2.3 test-install-overlay", "1.1.2.4 test-runscript-overlay"}},
		{"url", `{from: url, name: smoke, path: a.yaml, repository: "https://example.com/t.yaml"}`, []string{
			"1.1.2.1 url-repo-action", "1.1.2.1.1 download-retry", "1.1.2.1.1.1 http-download",
			"1.1.2.2 test-overlay", "1.1.2.3 test-install-overlay", "1.1.2.4 test-runscript-overlay"}},
		{"tar", `{from: tar, name: smoke, path: a.yaml, repository: "dGVzdA=="}`, []string{
			"1.1.2.1 tar-repo-action", "1.1.2.2 test-overlay", "1.1.2.3 test-install-overlay", "1.1.2.4 test-runscript-overlay"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			job := `
actions:
- deploy: {to: tmpfs, os: debian, images: {disk: {url: "http://example.com/d.img", image_arg: "-drive file={disk}"}}}
- test: {definitions: [` + tt.def + `]}
`
			j := build(t, job, qemuDevice)
			if got := names(j, "1.1.2"); !slices.Equal(got, tt.want) {
				t.Errorf("test-definition children:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestDefinitionIndexSpansBlocks checks LAVA's naming: the index counts
// every definition of the namespace, the stage counts test blocks.
func TestDefinitionIndexSpansBlocks(t *testing.T) {
	t.Parallel()
	job := `
actions:
- deploy: {to: tmpfs, images: {disk: {url: "http://example.com/d.img", image_arg: "-drive file={disk}"}}}
- test: {definitions: [{from: inline, name: a, path: a.yaml, repository: {}}]}
- test: {definitions: [{from: inline, name: b, path: b.yaml, repository: {}}]}
`
	j := build(t, job, qemuDevice)
	var got []string
	j.Pipeline.Walk(func(a pipeline.Action) {
		if r, ok := a.(*deploy.RepoAction); ok {
			got = append(got, r.TestName+"@"+string(rune('0'+r.Stage)))
		}
	})
	if want := []string{"0_a@0", "1_b@1"}; !slices.Equal(got, want) {
		t.Errorf("repo actions = %q, want %q", got, want)
	}
}

func TestOverlayChildren(t *testing.T) {
	t.Parallel()
	sshDevice := strings.Replace(qemuDevice, "      image:\n", "      ssh: {identity_file: /x}\n      image:\n", 1)
	dockerDevice := `
actions:
  deploy: {methods: {docker: {options: {remote: null}}}}
  boot: {methods: {docker: {}}}
`
	tests := []struct {
		name, device, deploy string
		want                 []string
	}{
		{"plain", qemuDevice, `{to: tmpfs, images: {d: {url: "http://e/d", image_arg: "{d}"}}}`,
			[]string{"lava-multinode-overlay", "test-definition", "compress-overlay"}},
		{"ssh-capable device authorizes", sshDevice, `{to: tmpfs, images: {d: {url: "http://e/d", image_arg: "{d}"}}}`,
			[]string{"ssh-authorize", "lava-multinode-overlay", "test-definition", "compress-overlay"}},
		{"docker deploy is mounted, not compressed", dockerDevice, `{to: docker, image: debian}`,
			[]string{"lava-multinode-overlay", "test-definition"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			job := "actions:\n- deploy: " + tt.deploy + "\n- test: {definitions: [{from: inline, name: a, path: a.yaml, repository: {}}]}\n"
			j := build(t, job, tt.device)
			var got []string
			j.Pipeline.Walk(func(a pipeline.Action) {
				b := a.ActionBase()
				if p := b.Parent(); p != nil && p.Name == "lava-overlay" {
					got = append(got, b.Name)
				}
			})
			if !slices.Equal(got, tt.want) {
				t.Errorf("lava-overlay children = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestNoOverlayWithoutTestShell checks that a deploy whose namespace has
// no test needing the overlay only downloads.
func TestNoOverlayWithoutTestShell(t *testing.T) {
	t.Parallel()
	j := build(t, `actions:
- deploy: {to: tmpfs, images: {d: {url: "http://e/d", image_arg: "{d}"}}}
`, qemuDevice)
	if got, want := names(j, "1"), []string{"1.1 download-retry", "1.1.1 http-download"}; !slices.Equal(got, want) {
		t.Errorf("deployimages children = %q, want %q", got, want)
	}
}

func TestValidationErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, deploy, test string
		want               string // substring of one error; "" means valid
	}{
		{"valid", `{to: tmpfs, images: {d: {url: "http://e/d.gz", compression: gz}}}`, "", ""},
		{"unknown compression", `{to: tmpfs, images: {d: {url: "http://e/d.lz", compression: lz4}}}`, "", "unknown 'compression' format 'lz4'"},
		{"unknown archive", `{to: tmpfs, images: {d: {url: "http://e/d", archive: zip}}}`, "", "unknown 'archive' format 'zip'"},
		{"empty images", `{to: tmpfs, images: {}}`, "", "at least one image"},
		{"image without url", `{to: tmpfs, images: {d: {image_arg: "{d}"}}}`, "", "images.d: 'url' is missing"},
		{"image_arg not a string", `{to: tmpfs, images: {d: {url: "http://e/d", image_arg: [1]}}}`, "", "image_arg must be a string"},
		{"unsupported scheme", `{to: tmpfs, images: {d: {url: "gopher://e/d"}}}`, "", "unsupported url protocol scheme: gopher"},
		{"directory url", `{to: tmpfs, images: {d: {url: "http://e/dir/"}}}`, "", "cannot download a directory"},
		{"missing local file", `{to: tmpfs, images: {d: {url: "file:///nonexistent/basalt/d.img"}}}`, "", "does not exist or is not readable"},
		{"reserved test name", `{to: tmpfs, images: {d: {url: "http://e/d"}}}`,
			`{definitions: [{from: inline, name: lava, path: a.yaml, repository: {}}]}`, "'lava' is reserved"},
		{"bad test name", `{to: tmpfs, images: {d: {url: "http://e/d"}}}`,
			`{definitions: [{from: inline, name: "a b", path: a.yaml, repository: {}}]}`, "invalid characters"},
		{"inline not a map", `{to: tmpfs, images: {d: {url: "http://e/d"}}}`,
			`{definitions: [{from: inline, name: a, path: a.yaml, repository: "x"}]}`, "invalid inline definition"},
		{"git without path", `{to: tmpfs, images: {d: {url: "http://e/d"}}}`,
			`{definitions: [{from: git, name: a, repository: "https://e/r.git"}]}`, "path to YAML file not specified"},
		{"duplicate names", `{to: tmpfs, images: {d: {url: "http://e/d"}}}`,
			`{definitions: [{from: inline, name: a, path: a.yaml, repository: {}}, {from: inline, name: a, path: b.yaml, repository: {}}]}`,
			"names need to be unique"},
		{"bad skip_install", `{to: tmpfs, images: {d: {url: "http://e/d"}}}`,
			`{definitions: [{from: inline, name: a, path: a.yaml, repository: {}, skip_install: [everything]}]}`,
			"unrecognised skip_install"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			job := "actions:\n- deploy: " + tt.deploy + "\n"
			if tt.test != "" {
				job += "- test: " + tt.test + "\n"
			}
			j := build(t, job, qemuDevice)
			errs := j.Validate()
			if tt.want == "" {
				if len(errs) > 0 {
					t.Errorf("Validate() = %q, want no errors", errs)
				}
				return
			}
			if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, tt.want) }) {
				t.Errorf("Validate() = %q, want an error containing %q", errs, tt.want)
			}
		})
	}
}

func TestDockerImageName(t *testing.T) {
	t.Parallel()
	for name, ok := range map[string]bool{
		"debian": true, "debian:bookworm": true, "registry.example.com/lava/img:1.0": true,
		"Debian": false, "debian;rm -rf /": false, "-x": false, "a b": false,
	} {
		if got := deploy.DockerImageName.MatchString(name); got != ok {
			t.Errorf("DockerImageName.MatchString(%q) = %v, want %v", name, got, ok)
		}
	}
}

func TestDownloadFileName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key, image, want string
	}{
		{"rootfs", `{url: "http://e/a/rootfs.ext4.gz", compression: gz}`, "rootfs.ext4"},
		{"rootfs", `{url: "http://e/a/rootfs.ext4.zip", compression: zip}`, "rootfs.ext4.zip"},
		{"ramdisk", `{url: "http://e/a/initrd.gz", compression: gz}`, "initrd.gz"},
		{"kernel", `{url: "http://e/a/Image"}`, "Image"},
	}
	for _, tt := range tests {
		d := deploy.NewDownloader(tt.key, decode(t, tt.image))
		(&pipeline.Pipeline{}).Add(d, value.NewMap())
		h, ok := d.Pipeline.Actions[0].(*deploy.DownloadHandler)
		if !ok {
			t.Fatalf("%s: child is %T", tt.key, d.Pipeline.Actions[0])
		}
		if got := h.FileName(); got != tt.want {
			t.Errorf("FileName(%s %s) = %q, want %q", tt.key, tt.image, got, tt.want)
		}
	}
}
