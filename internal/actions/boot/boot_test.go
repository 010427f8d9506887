package boot_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/actions/boot"
	_ "github.com/basalt-lava/basalt/internal/actions/deploy"
	_ "github.com/basalt-lava/basalt/internal/actions/power"
	_ "github.com/basalt-lava/basalt/internal/actions/test"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

const qemuDevice = `
available_architectures: [amd64, arm64]
actions:
  deploy:
    methods:
      image: {parameters: {guest: {size: 512}}}
  boot:
    methods:
      qemu:
        parameters: {command: qemu-system-x86_64, options: [-nographic]}
constants:
  posix: {lava_test_results_dir: /lava-%s, lava_test_shell_file: ~/.bashrc}
`

func decode(t *testing.T, s string) *value.Map {
	t.Helper()
	v, err := value.DecodeYAML([]byte(s))
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, s)
	}
	return v.(*value.Map)
}

func hasError(errs []string, want string) bool {
	return slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, want) })
}

func TestValidateLogin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, params, want string // want "" means no error
	}{
		{"prompts only", `{prompts: ['root@debian:~#']}`, ""},
		{"full auto_login", `{prompts: ['#'], auto_login: {login_prompt: 'login:', username: root, password_prompt: 'Password:', password: x, login_commands: [su]}}`, ""},
		{"no prompts", `{auto_login: {login_prompt: 'login:', username: root}}`, "'prompts' is mandatory"},
		{"empty prompt item", `{prompts: ['#', '']}`, "can't be empty"},
		{"prompts not a list", `{prompts: {a: b}}`, "should be a list or a str"},
		{"auto_login not a map", `{prompts: ['#'], auto_login: [x]}`, "should be a dictionary"},
		{"no login_prompt", `{prompts: ['#'], auto_login: {username: root}}`, "'login_prompt' is mandatory"},
		{"empty login_prompt", `{prompts: ['#'], auto_login: {login_prompt: '', username: root}}`, "cannot be empty"},
		{"no username", `{prompts: ['#'], auto_login: {login_prompt: 'login:'}}`, "'username' is mandatory"},
		{"password_prompt without password", `{prompts: ['#'], auto_login: {login_prompt: 'l:', username: r, password_prompt: 'P:'}}`, "'password' is mandatory"},
		{"empty login_commands", `{prompts: ['#'], auto_login: {login_prompt: 'l:', username: r, login_commands: []}}`, "must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := boot.NewAutoLogin(true)
			boot.ValidateLogin(a.ActionBase(), decode(t, tt.params))
			errs := a.Errors()
			if tt.want == "" && len(errs) > 0 {
				t.Errorf("ValidateLogin(%s) = %q, want none", tt.params, errs)
			}
			if tt.want != "" && !hasError(errs, tt.want) {
				t.Errorf("ValidateLogin(%s) = %q, want one containing %q", tt.params, errs, tt.want)
			}
		})
	}
}

func TestQemuValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, context, images, boot, want string
	}{
		{"valid", "{arch: amd64}", `{disk: {url: "http://e/d", image_arg: "-drive file={disk}"}}`, `{method: qemu, prompts: ['#']}`, ""},
		{"no arch", "{}", `{disk: {url: "http://e/d", image_arg: "-drive file={disk}"}}`, `{method: qemu, prompts: ['#']}`, "arch parameter must be set"},
		{"unknown arch", "{arch: mips}", `{disk: {url: "http://e/d", image_arg: "-drive file={disk}"}}`, `{method: qemu, prompts: ['#']}`, "non existing architecture"},
		{"missing image_arg is only a warning, as in LAVA", "{arch: amd64}", `{disk: {url: "http://e/d"}}`, `{method: qemu, prompts: ['#']}`, ""},
		{"image_arg names another label", "{arch: amd64}", `{disk: {url: "http://e/d", image_arg: "-drive file={disk2}"}}`, `{method: qemu, prompts: ['#']}`, "names {disk2}"},
		{"shell test without prompts", "{arch: amd64}", `{disk: {url: "http://e/d", image_arg: "-drive file={disk}"}}`, `{method: qemu}`, "unable to identify boot prompts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			job := "context: " + tt.context + "\nactions:\n- deploy: {to: tmpfs, images: " + tt.images + "}\n- boot: " + tt.boot +
				"\n- test: {definitions: [{from: inline, name: a, path: a.yaml, repository: {}}]}\n"
			j, err := pipeline.Build(decode(t, job), decode(t, qemuDevice))
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			errs := j.Validate()
			if tt.want == "" && len(errs) > 0 {
				t.Errorf("Validate() = %q, want none", errs)
			}
			if tt.want != "" && !hasError(errs, tt.want) {
				t.Errorf("Validate() = %q, want one containing %q", errs, tt.want)
			}
		})
	}
}

// TestQemuImageArgsAsTheRunSeesThem checks that a later deploy of a label
// replaces an earlier one (LAVA's sample qemu-download-postprocess: a
// downloads deploy, then tmpfs with the image_arg), and that an image
// left without image_arg is a warning.
func TestQemuImageArgsAsTheRunSeesThem(t *testing.T) {
	t.Parallel()
	job := `context: {arch: amd64}
actions:
- deploy: {to: downloads, images: {rootfs: {url: "http://e/r.img"}, extra: {url: "http://e/x"}}}
- deploy: {to: tmpfs, images: {rootfs: {url: "downloads://r.img", image_arg: "-drive file={rootfs}"}}}
- boot: {method: qemu, media: tmpfs, prompts: ['#']}
`
	j, err := pipeline.Build(decode(t, job), decode(t, qemuDevice))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if errs := j.Validate(); len(errs) > 0 {
		t.Errorf("Validate() = %q, want none", errs)
	}
	if !slices.ContainsFunc(j.Warnings, func(w string) bool {
		return strings.HasSuffix(w, "missing image arg for extra: the image is not given to QEMU")
	}) {
		t.Errorf("warnings %q, want one for the extra image without image_arg", j.Warnings)
	}
	if slices.ContainsFunc(j.Warnings, func(w string) bool { return strings.Contains(w, "for rootfs") }) {
		t.Errorf("warnings %q: the tmpfs deploy gave rootfs an image_arg", j.Warnings)
	}
}

// TestQemuShellActions checks that the login and shell children follow
// the block and the tests: prompts bring auto-login, a shell test the rest.
func TestQemuShellActions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, boot, test string
		want             []string
	}{
		{"prompts and shell test", `{method: qemu, prompts: ['#']}`, `{definitions: [{from: inline, name: a, path: a.yaml, repository: {}}]}`,
			[]string{"boot-qemu-image", "auto-login-action", "expect-shell-connection", "export-device-env"}},
		{"transfer_overlay unpacks", `{method: qemu, prompts: ['#'], transfer_overlay: {download_command: wget, unpack_command: tar}}`,
			`{definitions: [{from: inline, name: a, path: a.yaml, repository: {}}]}`,
			[]string{"boot-qemu-image", "auto-login-action", "expect-shell-connection", "overlay-unpack", "export-device-env"}},
		{"no prompts", `{method: qemu}`, "", []string{"boot-qemu-image"}},
		{"monitor test has no shell", `{method: qemu, prompts: ['#']}`,
			`{monitors: [{name: m, start: s, end: e, pattern: p}]}`, []string{"boot-qemu-image", "auto-login-action"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			job := "context: {arch: amd64}\nactions:\n- boot: " + tt.boot + "\n"
			if tt.test != "" {
				job += "- test: " + tt.test + "\n"
			}
			j, err := pipeline.Build(decode(t, job), decode(t, qemuDevice))
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			var got []string
			for _, a := range j.Pipeline.Actions[0].ActionBase().Pipeline.Actions {
				got = append(got, a.ActionBase().Name)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("boot-image-retry children = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestBootStrategyReasons checks the reasons given by the strategies whose
// wording or checks changed between LAVA 2023.01 and current LAVA.
func TestBootStrategyReasons(t *testing.T) {
	t.Parallel()
	tests := []struct{ strategy, block, want string }{
		{"BootKExec", `{method: qemu}`, `"method" was not "kexec"`},
		{"BootIsoInstaller", `{method: qemu}`, `"method" was not "qemu-iso"`},
		{"BootIsoInstaller", `{method: qemu-iso}`, `"media" was not in parameters`},
		{"BootIsoInstaller", `{method: qemu-iso, media: usb}`, `"media" was not "img"`},
		{"BootIsoInstaller", `{method: qemu-iso, media: img}`, "accepted"},
		{"SecondaryShell", `{method: qemu}`, "new_connection not in method"},
		{"SecondaryShell", `{method: new_connection}`, "accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.strategy+" "+tt.block, func(t *testing.T) {
			t.Parallel()
			var s pipeline.Strategy
			for _, c := range pipeline.Strategies("boot") {
				if c.Name() == tt.strategy {
					s = c
				}
			}
			if s == nil {
				t.Fatalf("no boot strategy %s", tt.strategy)
			}
			if _, why := s.Accepts(decode(t, qemuDevice), decode(t, tt.block)); why != tt.want {
				t.Errorf("%s.Accepts(%s) reason %q, want %q", tt.strategy, tt.block, why, tt.want)
			}
		})
	}
}
