package boot

import (
	"context"
	"strings"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

// GRUB's boots as they run: grub-main-action's children are the shared
// bootloader actions (bootloader_run.go), and installer-wait for a boot
// with boot_finished and no shell (LAVA's debian-installer commands).

// CannotRun is empty: InstallerWait runs.
func (*InstallerWait) CannotRun() string { return "" }

// Run waits for the block's boot_finished message (a regular expression,
// or a list of them, as LAVA's prompt_str): a boot that runs an installer
// (or anything else that ends by itself) rather than a shell. The boot
// then powers the board off.
func (a *InstallerWait) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	s, err := sessionOf(&a.Base, conn)
	if err != nil {
		return conn, err
	}
	finished := stringList(a.Params.Value("boot_finished"))
	if len(finished) == 0 {
		return conn, pipeline.JobError("boot_finished must be a string or a list of strings")
	}
	a.Log().Debugf("Not expecting a shell, so waiting for boot_finished: %s", strings.Join(finished, ", "))
	if err := waitPrompt(ctx, &a.Base, s, "boot_finished", finished); err != nil {
		return conn, err
	}
	a.SetData(DataConnection, s)
	return s, nil
}
