package boot

import (
	"context"

	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
)

// The UEFI shell boot as it runs (method uefi, LAVA's UefiShellAction):
// menu-connect opens the board's console, reset-device powers it on,
// uefi-shell-interrupt stops the shell's startup countdown, and
// bootloader-commands (UefiBootloaderCommandsAction, CR LF line ends)
// types the commands at each shell prompt. The console is the board's
// serial connection with escape sequences stripped: the UEFI shell
// redraws every typed character with cursor moves, which would otherwise
// split its echo and its prompts.
//
// The UEFI menu's interrupt and selector run (uefimenu_run.go, for
// grub-efi); the shell reached through a menu (shell_menu) and the
// uefi-menu boot method do not yet.

// CannotRun is empty: MenuConnect runs.
func (*MenuConnect) CannotRun() string { return "" }

// Run connects the console as connect-device does (the same connection
// command, namespace and reuse of a live connection). LAVA then sends a
// newline to see a menu prompt; Basalt does not, since the board is
// about to be reset and a newline typed into a powered-off board's
// console goes nowhere useful.
func (a *MenuConnect) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	c := power.NewConnectDevice()
	*c.ActionBase() = a.Base
	return c.Run(ctx, conn)
}

// CannotRun is empty: UefiShellInterrupt runs.
func (*UefiShellInterrupt) CannotRun() string { return "" }

// Run waits for the shell's shell_interrupt_prompt (a regular expression,
// as LAVA's prompt_str) and sends shell_interrupt_string as it is; the
// commands then wait for the shell prompt.
func (a *UefiShellInterrupt) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	s, err := sessionOf(&a.Base, conn)
	if err != nil {
		return conn, err
	}
	p := bootMethodParams(a.Device(), "uefi")
	if err := waitPrompt(ctx, &a.Base, s, "the UEFI shell's interrupt prompt", []string{p.String("shell_interrupt_prompt")}); err != nil {
		return conn, err
	}
	str := p.String("shell_interrupt_string")
	a.Log().Input(str)
	if err := s.Send(str); err != nil {
		return conn, pipeline.InfrastructureError("sending the UEFI shell interrupt: %v", err)
	}
	a.SetData(pipeline.DataAtBootloaderPrompt, false)
	return s, nil
}
