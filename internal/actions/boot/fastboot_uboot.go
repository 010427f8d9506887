package boot

import (
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// UBootEnterFastboot is LAVA's UBootEnterFastbootAction
// (uboot-enter-fastboot): on devices with fastboot_via_uboot, resets the
// board, interrupts U-Boot and sends the device's u-boot fastboot
// commands so that the board waits for fastboot. LAVA keeps it with the
// U-Boot actions; it lives with fastboot here because only the fastboot
// deploy and boot use it.
type UBootEnterFastboot struct{ pipeline.Base }

var _ pipeline.Action = (*UBootEnterFastboot)(nil)

// NewUBootEnterFastboot returns uboot-enter-fastboot.
func NewUBootEnterFastboot() *UBootEnterFastboot {
	a := &UBootEnterFastboot{pipeline.NewBase("UBootEnterFastbootAction", "uboot-enter-fastboot",
		"interactive uboot enter fastboot action", "uboot commands to enter fastboot mode")}
	a.Retry = true
	return a
}

// Populate adds reset-device and bootloader-interrupt (which resolves to
// u-boot for fastboot blocks), and the LXC connection when the job's
// tools run in LXC.
func (a *UBootEnterFastboot) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(power.NewResetDevice(), nil)
	p.Add(NewBootloaderInterrupt(""), nil)
	if LXCRequested(&a.Base) {
		p.Add(&leaf{pipeline.NewBase("ConnectLxc", "connect-lxc",
			"connect to the lxc container", "run connection command")}, nil)
	}
}

// Validate needs the device's u-boot deploy method with the fastboot
// commands to send at the U-Boot prompt.
func (a *UBootEnterFastboot) Validate() {
	a.Base.Validate()
	ub := pipeline.DeviceMethods(a.Device(), "deploy").Map("u-boot")
	if ub == nil {
		a.Errorf("uboot method missing")
		return
	}
	if !ub.Map("parameters").Map("fastboot").Has("commands") {
		a.Errorf("uboot command missing")
	}
}
