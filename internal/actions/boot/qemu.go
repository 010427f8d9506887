package boot

import (
	"fmt"
	"os"
	"regexp"
	"slices"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name: "BootQEMU",
		accepts: func(device, params *value.Map) (bool, string) {
			if !hasMethod(device, "qemu") && !hasMethod(device, "qemu-nfs") {
				return false, `"qemu" or "qemu-nfs" was not in the device configuration boot methods`
			}
			if !params.Has("method") {
				return false, `"method" was not in parameters`
			}
			if m := params.String("method"); m != "qemu" && m != "qemu-nfs" && m != "monitor" {
				return false, `"method" was not "qemu" or "qemu-nfs"`
			}
			return true, "accepted"
		},
		action: func(*value.Map) pipeline.Action { return NewBootQEMU() },
	})
}

// BootQEMU is LAVA's BootQEMUImageAction (boot-image-retry): starts QEMU
// with retries, then logs in and waits for the shell.
type BootQEMU struct{ pipeline.Base }

var _ pipeline.Action = (*BootQEMU)(nil)

// NewBootQEMU returns boot-image-retry.
func NewBootQEMU() *BootQEMU {
	a := &BootQEMU{pipeline.NewBase("BootQEMUImageAction", "boot-image-retry",
		"boot image with retry", "boot with retry")}
	a.Retry = true
	return a
}

// Populate adds boot-qemu-image, then the login and shell actions.
func (a *BootQEMU) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(NewBootQemuRetry(), nil)
	AddShellActions(p, &a.Base, params, true)
}

// BootQemuRetry is LAVA's BootQemuRetry (boot-qemu-image).
type BootQemuRetry struct{ pipeline.Base }

// NewBootQemuRetry returns boot-qemu-image.
func NewBootQemuRetry() *BootQemuRetry {
	a := &BootQemuRetry{pipeline.NewBase("BootQemuRetry", "boot-qemu-image",
		"boot image using QEMU command line", "boot QEMU image")}
	a.Retry = true
	return a
}

// Populate adds execute-qemu.
func (a *BootQemuRetry) Populate(params *value.Map) {
	a.NewPipeline(params).Add(NewCallQemu(), nil)
}

// CallQemu is LAVA's CallQemuAction (execute-qemu): builds the QEMU
// command line from the device's command, options and extra, each
// image's image_arg and the overlay disk, and starts it.
type CallQemu struct{ leaf }

// NewCallQemu returns execute-qemu.
func NewCallQemu() *CallQemu {
	return &CallQemu{leaf{pipeline.NewBase("CallQemuAction", "execute-qemu",
		"call qemu to boot the image", "execute qemu to boot the image")}}
}

// placeholder matches the {label} substitutions of an image_arg.
var placeholder = regexp.MustCompile(`\{([A-Za-z0-9_.-]+)\}`)

// noImageArg are download labels that never reach QEMU through an
// image_arg.
var noImageArg = []string{"offset", "available_loops", "uefi", "nfsrootfs"}

// sysClassKVM is what LAVA checks for a loaded kvm module.
const sysClassKVM = "/sys/class/misc/kvm"

// Validate checks, as LAVA does: the job's context.arch among the
// device's available architectures, the device's qemu command, prompts
// when a test needs a shell, an image_arg for every image of the
// namespace, and kvm when the options ask for it. A missing QEMU binary
// is a warning so that the description is still written.
func (a *CallQemu) Validate() {
	a.leaf.Validate()
	dev := a.Device()
	arch, _ := a.Job.Params.Map("context").Value("arch").(string)
	archs, hasArchs := dev.Value("available_architectures").([]any)
	switch {
	case !hasArchs:
		a.Errorf("device lacks list of available architectures")
	case arch == "":
		a.Errorf("arch parameter must be set in the context section, one of %v", archs)
	case !slices.Contains(archs, any(arch)):
		a.Errorf("non existing architecture %q specified in context arch parameter, one of %v", arch, archs)
	}
	method := a.Params.String("method")
	if (method == "qemu" || method == "qemu-nfs") && !a.Params.Has("prompts") && a.TestHasShell(a.Params) {
		a.Errorf("unable to identify boot prompts from job definition")
	}
	methods := pipeline.DeviceMethods(dev, "boot")
	boot := methods.Map("qemu")
	if boot == nil {
		boot = methods.Map("qemu-nfs")
	}
	bp := boot.Map("parameters")
	if bp == nil || !bp.Has("command") {
		a.Errorf("invalid device configuration - missing parameters")
	} else if cmd, _ := bp.Value("command").(string); cmd == "" {
		a.Errorf("no QEMU binary command found - missing context")
	} else {
		warnMissingTool(&a.Base, cmd)
	}
	a.validateImageArgs()
	if !methods.Has(method) {
		a.Errorf("unknown boot method '%s'", method)
		return
	}
	opts, _ := methods.Map(method).Map("parameters").Value("options").([]any)
	if slices.Contains(opts, any("-enable-kvm")) {
		if _, err := os.Stat(sysClassKVM); err != nil {
			a.Errorf("device configuration contains -enable-kvm option but kvm module is not enabled")
		}
	}
	if err := a.checkStaticArgs(); err != nil {
		a.Errorf("%v", err)
	}
}

// validateImageArgs checks the images deployed in this namespace before
// this boot, as the run will see them (a later deploy of a label replaces
// an earlier one, as LAVA's namespace data does): one without an
// image_arg is left off the QEMU command line, which LAVA only warns
// about; an image_arg may only name labels that were downloaded, since an
// unknown {label} would reach QEMU literally.
func (a *CallQemu) validateImageArgs() {
	ns := pipeline.Namespace(a.Params)
	labels := map[string]bool{}
	var order []string
	argOf := map[string]string{}
	for _, item := range a.Job.Params.List("actions") {
		blk, _ := item.(*value.Map)
		if blk.Map("boot") == a.Params {
			break
		}
		dp := blk.Map("deploy")
		if dp == nil || pipeline.Namespace(dp) != ns {
			continue
		}
		dp.Map("images").Range(func(label string, v any) bool {
			if !labels[label] {
				order = append(order, label)
			}
			labels[label] = true
			img, _ := v.(*value.Map)
			argOf[label], _ = img.Value("image_arg").(string)
			return true
		})
	}
	var args [][2]string
	for _, label := range order {
		if slices.Contains(noImageArg, label) {
			continue
		}
		if argOf[label] == "" {
			a.Warnf("missing image arg for %s: the image is not given to QEMU", label)
			continue
		}
		args = append(args, [2]string{label, argOf[label]})
	}
	for _, la := range args {
		for _, m := range placeholder.FindAllStringSubmatch(la[1], -1) {
			if !labels[m[1]] && m[1] != "NFS_SERVER_IP" && m[1] != "NFSROOTFS" {
				a.Errorf("image_arg of %s names {%s}, which is not a deployed image: %s",
					la[0], m[1], fmt.Sprint(la[1]))
			}
		}
	}
}
