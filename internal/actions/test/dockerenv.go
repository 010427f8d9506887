package test

import (
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// DockerTestSetEnvironment is LAVA's DockerTestSetEnvironment
// (lava-docker-test-set-environment): it gives the test container what
// it needs to reach the device — ANDROID_SERIAL and LAVA_BOARD_ID (the
// first device_info board_id, which adb and fastboot in the container
// select the board by), the connection commands and the power commands.
type DockerTestSetEnvironment struct{ leaf }

// NewDockerTestSetEnvironment returns lava-docker-test-set-environment.
func NewDockerTestSetEnvironment() *DockerTestSetEnvironment {
	return &DockerTestSetEnvironment{leaf{pipeline.NewBase("DockerTestSetEnvironment",
		"lava-docker-test-set-environment",
		"Adds necessary environments variables for docker-test-shell",
		"Adds necessary environments variables for docker-test-shell")}}
}

// BoardID returns the board ID the container gets, as LAVA's
// GetBoardId: device_info[0].board_id, or nil.
func BoardID(device *value.Map) any {
	infos, _ := device.Value("device_info").([]any)
	if len(infos) == 0 {
		return nil
	}
	first, _ := infos[0].(*value.Map)
	return first.Value("board_id")
}

// Validate warns when the device gives the container no board ID: LAVA
// then exports ANDROID_SERIAL as "None", and adb or fastboot in the
// container would pick whichever device they see first. A board ID that
// is not a string cannot be a USB serial.
func (a *DockerTestSetEnvironment) Validate() {
	a.leaf.Validate()
	switch id := BoardID(a.Device()).(type) {
	case nil:
		a.Warnf("the device has no device_info board_id: ANDROID_SERIAL and LAVA_BOARD_ID will not select the board")
	case string:
	default:
		a.Errorf("device_info board_id must be a string, not %s", value.GoString(id))
	}
}
