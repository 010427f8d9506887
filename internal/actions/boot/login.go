package boot

import (
	"strings"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// AutoLogin is LAVA's AutoLoginAction (auto-login-action): a retrying
// action that, when booting, waits for the kernel start message, then
// logs in through login-action.
type AutoLogin struct {
	pipeline.Base
	// Booting is false for a second UART or ssh, where no kernel boots.
	Booting bool
}

var _ pipeline.Action = (*AutoLogin)(nil)

// NewAutoLogin returns auto-login-action.
func NewAutoLogin(booting bool) *AutoLogin {
	a := &AutoLogin{Base: pipeline.NewBase("AutoLoginAction", "auto-login-action",
		"automatically login after boot using job parameters and checking for messages.",
		"Auto-login after boot with support for kernel messages."), Booting: booting}
	a.Retry = true
	return a
}

// Populate adds login-action.
func (a *AutoLogin) Populate(params *value.Map) {
	a.NewPipeline(params).Add(NewLogin(), nil)
}

// Validate checks auto_login and prompts as LAVA does.
func (a *AutoLogin) Validate() {
	a.Base.Validate()
	ValidateLogin(&a.Base, a.Params)
}

// ValidateLogin checks a block's auto_login and prompts: login_prompt and
// username required, a password with a password_prompt, login_commands a
// non-empty list, prompts present and none empty.
func ValidateLogin(b *pipeline.Base, params *value.Map) {
	if v, ok := params.Get("auto_login"); ok && pipeline.Truthy(v) {
		al, isMap := v.(*value.Map)
		if !isMap {
			b.Errorf("'auto_login' should be a dictionary")
			return
		}
		if lp, ok := al.Get("login_prompt"); !ok {
			b.Errorf("'login_prompt' is mandatory for auto_login")
		} else if !pipeline.Truthy(lp) {
			b.Errorf("value for 'login_prompt' cannot be empty")
		}
		if !al.Has("username") {
			b.Errorf("'username' is mandatory for auto_login")
		}
		if al.Has("password_prompt") && !al.Has("password") {
			b.Errorf("'password' is mandatory if 'password_prompt' is used in auto_login")
		}
		if lc, ok := al.Get("login_commands"); ok {
			list, isList := lc.([]any)
			if !isList {
				b.Errorf("'login_commands' must be a list")
			} else if len(list) == 0 {
				b.Errorf("'login_commands' must not be empty")
			}
		}
	}
	prompts, ok := params.Get("prompts")
	if !ok {
		b.Errorf("'prompts' is mandatory for AutoLoginAction")
		return
	}
	switch t := prompts.(type) {
	case string:
		if t == "" {
			b.Errorf("value for 'prompts' cannot be empty")
		}
	case []any:
		if len(t) == 0 {
			b.Errorf("value for 'prompts' cannot be empty")
		}
		for _, p := range t {
			if !pipeline.Truthy(p) {
				b.Errorf("items of 'prompts' can't be empty")
			}
		}
	default:
		b.Errorf("'prompts' should be a list or a str")
	}
}

// Login is LAVA's LoginAction (login-action): waits for the login and
// password prompts, sends the credentials, then waits for the shell
// prompt while watching for kernel messages.
type Login struct{ leaf }

// NewLogin returns login-action.
func NewLogin() *Login {
	return &Login{leaf{pipeline.NewBase("LoginAction", "login-action",
		"Real login action.", "Login after boot.")}}
}

// distinctivePromptChars are LAVA's DISTINCTIVE_PROMPT_CHARACTERS: a
// prompt without any of them may match ordinary boot messages.
const distinctivePromptChars = `\:`

// Validate warns about prompts that do not look like prompts, as LAVA
// warns when it runs.
func (a *Login) Validate() {
	a.leaf.Validate()
	var prompts []any
	switch t := a.Params.Value("prompts").(type) {
	case string:
		prompts = []any{t}
	case []any:
		prompts = t
	}
	for _, p := range prompts {
		if s, ok := p.(string); ok && s != "" && !strings.ContainsAny(s, distinctivePromptChars) {
			a.Warnf("the string '%s' does not look like a typical prompt and could match status messages instead", s)
		}
	}
}

// ExpectShell is LAVA's ExpectShellSession (expect-shell-connection):
// waits for the job's prompt so the test shell starts at a prompt.
type ExpectShell struct{ leaf }

// NewExpectShell returns expect-shell-connection.
func NewExpectShell() *ExpectShell {
	return &ExpectShell{leaf{pipeline.NewBase("ExpectShellSession", "expect-shell-connection",
		"Wait for a shell", "Expect a shell prompt")}}
}

// Validate needs prompts in the block.
func (a *ExpectShell) Validate() {
	a.leaf.Validate()
	if !a.Params.Has("prompts") {
		a.Errorf("unable to identify test image prompts from parameters")
	}
}

// ExportDeviceEnv is LAVA's ExportDeviceEnvironment (export-device-env):
// exports the env_dut variables on the device's shell.
type ExportDeviceEnv struct{ leaf }

// NewExportDeviceEnv returns export-device-env.
func NewExportDeviceEnv() *ExportDeviceEnv {
	return &ExportDeviceEnv{leaf{pipeline.NewBase("ExportDeviceEnvironment", "export-device-env",
		"Exports environment variables to the device", "Exports environment variables action")}}
}

// OverlayUnpack is LAVA's OverlayUnpack (overlay-unpack): after login,
// fetches the overlay with transfer_overlay's download_command and
// unpacks it with its unpack_command.
type OverlayUnpack struct{ leaf }

// NewOverlayUnpack returns overlay-unpack.
func NewOverlayUnpack() *OverlayUnpack {
	return &OverlayUnpack{leaf{pipeline.NewBase("OverlayUnpack", "overlay-unpack",
		"transfer and unpack overlay to persistent rootfs after login", "transfer and unpack overlay")}}
}

// Validate checks transfer_overlay: an unpack_command always, and a
// download_command unless the overlay goes over zmodem.
func (a *OverlayUnpack) Validate() {
	a.leaf.Validate()
	to, ok := a.Params.Value("transfer_overlay").(*value.Map)
	if !ok {
		a.Errorf("transfer_overlay must be a dictionary")
		return
	}
	if to.String("unpack_command") == "" {
		a.Errorf("no unpack_command specified for transfer_overlay")
	}
	method := to.String("transfer_method")
	switch method {
	case "", "http", "nfs":
		if to.String("download_command") == "" {
			a.Errorf("no download_command specified for transfer_overlay")
		}
	case "zmodem":
	default:
		a.Errorf("unknown transfer_method %q", method)
	}
}
