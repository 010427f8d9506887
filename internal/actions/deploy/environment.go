package deploy

import (
	"github.com/basalt-lava/basalt/internal/pipeline"
)

// DeployDeviceEnv is LAVA's DeployDeviceEnvironment (deploy-device-env):
// it reads the job's env_dut variables and the OS's shell init file so
// that export-device-env can set them on the device after boot.
type DeployDeviceEnv struct{ leaf }

// NewDeployDeviceEnv returns deploy-device-env.
func NewDeployDeviceEnv() *DeployDeviceEnv {
	return &DeployDeviceEnv{leaf{pipeline.NewBase("DeployDeviceEnvironment", "deploy-device-env",
		"deploy device environment", "deploy device environment")}}
}

// Validate needs the shell file of the OS (lava_test_shell_file), from
// the deployment data or the device's posix constants.
func (a *DeployDeviceEnv) Validate() {
	a.leaf.Validate()
	v, ok := a.Constant("lava_test_shell_file", "posix")
	if s, _ := v.(string); !ok || s == "" {
		a.Errorf("invalid deployment data - missing lava_test_shell_file")
	}
}
