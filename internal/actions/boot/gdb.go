package boot

import (
	"github.com/basalt-lava/basalt/internal/actions/power"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "GDB",
		accepts: func(device, params *value.Map) (bool, string) {
			check := pipeline.MethodCheck{Section: "boot", Method: "gdb",
				NotListed: `"gdb" is not in the device configuration boot methods`}
			if ok, why := check.Accepts(device, params); !ok {
				return false, why
			}
			switch {
			case !params.Has("commands"):
				return false, `"commands" not in parameters`
			case !pipeline.DeviceMethods(device, "boot").Map("gdb").Has(params.String("commands")):
				return false, `commands "` + params.String("commands") + `" undefined for the device`
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewBootGDB() },
	})
}

// BootGDB is LAVA's BootGDB (boot-gdb): loads and starts the image with
// gdb over a debug probe, the device naming gdb command sets the block
// picks by name.
type BootGDB struct{ pipeline.Base }

var _ pipeline.Action = (*BootGDB)(nil)

// NewBootGDB returns boot-gdb.
func NewBootGDB() *BootGDB {
	return &BootGDB{pipeline.NewBase("BootGDB", "boot-gdb", "boot with gdb", "boot with gdb")}
}

// Populate adds boot-gdb-retry.
func (a *BootGDB) Populate(params *value.Map) {
	a.NewPipeline(params).Add(NewBootGDBRetry(), nil)
}

// BootGDBRetry is LAVA's BootGDBRetry (boot-gdb-retry): after a power
// cycle (devices with a PDU), the wait for the serial port and the
// connection, it starts gdb (in docker when the command set says so),
// sends the set's commands and continues.
type BootGDBRetry struct{ pipeline.Base }

// NewBootGDBRetry returns boot-gdb-retry.
func NewBootGDBRetry() *BootGDBRetry {
	a := &BootGDBRetry{pipeline.NewBase("BootGDBRetry", "boot-gdb-retry",
		"boot with gdb with retry and optional docker support", "boot with gdb with retry")}
	a.Retry = true
	return a
}

// Populate adds the power cycle, the serial wait and the connection; gdb
// itself runs in this action's own Run.
func (a *BootGDBRetry) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	if hasHardReset(a.Device()) {
		p.Add(power.NewResetDevice(), nil)
	}
	p.Add(NewWaitUSBSerialDevice(), nil)
	p.Add(power.NewConnectDevice(), nil)
}

// Validate checks the device's gdb command and the block's command set:
// commands and arguments lists, and a container exactly when the set
// uses docker.
func (a *BootGDBRetry) Validate() {
	a.Base.Validate()
	method := pipeline.DeviceMethods(a.Device(), "boot").Map("gdb")
	mp := method.Map("parameters")
	if mp == nil {
		a.Errorf(`"parameters" not defined in device configuration`)
		return
	}
	cmd, _ := mp.Value("command").(string)
	if cmd == "" {
		a.Errorf(`"command" not defined under "parameters" in device configuration`)
		return
	}
	name := a.Params.String("commands")
	set, ok := method.Value(name).(*value.Map)
	if !ok {
		a.Errorf("'%s' not available", name)
		return
	}
	if _, ok := set.Value("commands").([]any); !ok {
		a.Errorf("'commands' should be a list")
	}
	if _, ok := set.Value("arguments").([]any); !ok {
		a.Errorf("'arguments' should be a list")
	}
	if pipeline.Truthy(set.Map("docker").Value("use")) {
		warnMissingTool(&a.Base, "docker")
		if !set.Map("docker").Has("container") && !a.Params.Has("container") {
			a.Errorf("a docker container should be defined")
		}
	} else {
		if pipeline.Truthy(a.Params.Value("container")) {
			a.Errorf("requesting a docker container while docker is not used for this device")
		}
		warnMissingTool(&a.Base, cmd)
	}
}
