package deploy

import (
	"fmt"

	"github.com/basalt-lava/basalt/internal/actions/boot"
	"github.com/basalt-lava/basalt/internal/janitor"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	pipeline.Register(&strategy{
		name:    "Tftp",
		accepts: pipeline.MethodCheck{Section: "deploy", Method: "tftp"}.AcceptsBlockFirst,
		action:  func(*value.Map) pipeline.Action { return NewTftpAction() },
	})
}

// tftpKeys are the downloads a tftp deploy may have, in LAVA's order;
// dtbo is a list of overlays, downloaded as dtbo0, dtbo1, ….
var tftpKeys = []string{"ramdisk", "kernel", "dtb", "nfsrootfs", "modules", "preseed", "tee", "dtbo"}

// TftpAction is LAVA's TftpAction (tftp-deploy, `to: tftp`): downloads the
// kernel, dtb, ramdisk, NFS root, modules, preseed and TEE into the TFTP
// directory for a bootloader to fetch, with the overlay put into the
// ramdisk or the NFS root.
type TftpAction struct {
	pipeline.Base
	// undo is the janitor's removal of the job's TFTP folder.
	undo *janitor.Entry
}

var _ pipeline.Action = (*TftpAction)(nil)

// NewTftpAction returns tftp-deploy.
func NewTftpAction() *TftpAction {
	return &TftpAction{Base: pipeline.NewBase("TftpAction", "tftp-deploy",
		"download files and deploy using tftp", "tftp deployment")}
}

// Populate builds the overlay first when a test needs it (current LAVA;
// 2023.01 built it inside prepare-tftp-overlay), then downloads each file
// the block gives and the extra files, then prepares the ramdisk or NFS
// root.
func (a *TftpAction) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	if a.TestNeedsOverlay(params) {
		p.Add(NewOverlay(), nil)
	}
	for _, key := range tftpKeys {
		if key == "dtbo" {
			for i, v := range params.List("dtbo") {
				img, _ := v.(*value.Map)
				p.Add(NewDownloader(fmt.Sprintf("dtbo%d", i), img), nil)
			}
			continue
		}
		if img, ok := params.Value(key).(*value.Map); ok {
			p.Add(NewDownloader(key, img), nil)
		}
	}
	params.Map("extra_files").Range(func(name string, v any) bool {
		img, _ := v.(*value.Map)
		p.Add(NewDownloader(name, img), nil)
		return true
	})
	p.Add(NewPrepareOverlayTftp(), nil)
	if a.TestNeedsDeployment(params) {
		p.Add(NewDeployDeviceEnv(), nil)
	}
}

// Validate checks what LAVA checks: a known kernel type, one root at
// most, and the TFTP server (a warning when missing). Current LAVA no
// longer needs a kernel here (a tftp deploy may carry only a ramdisk or
// extra files); nbd still does.
func (a *TftpAction) Validate() {
	a.Base.Validate()
	validateBootFiles(&a.Base, a.Params)
	warnMissingTool(&a.Base, "in.tftpd")
}

// validateBootFiles checks the kernel, ramdisk and root downloads of a
// tftp or nbd deploy.
func validateBootFiles(b *pipeline.Base, params *value.Map) {
	if params.Has("nfsrootfs") && params.Has("persistent_nfs") {
		b.Errorf("only one of nfsrootfs or persistent_nfs can be specified")
	}
	for _, key := range tftpKeys {
		if key == "dtbo" {
			continue // a list; each download checks its own url
		}
		if v, ok := params.Get(key); ok {
			m, isMap := v.(*value.Map)
			if !isMap || !m.Has("url") {
				b.Errorf("%s: 'url' is missing", key)
			}
		}
	}
	if kt, ok := params.Map("kernel").Get("type"); ok {
		switch kt {
		case "zimage", "image", "uimage":
		case "bootm", "bootz", "booti":
			b.Errorf("booti, bootm and bootz are deprecated, please use 'image', 'uimage' or 'zimage'")
		default:
			b.Errorf("unknown kernel type %s: use zimage, image or uimage", value.GoString(kt))
		}
	}
}

// PrepareOverlayTftp is LAVA's PrepareOverlayTftp (prepare-tftp-overlay):
// unpacks the NFS root or the ramdisk, adds the overlay and the modules,
// converts the kernel when the bootloader needs it, and packs the
// ramdisk again. Each child does nothing when its file is absent, so the
// list is always the same.
type PrepareOverlayTftp struct{ pipeline.Base }

var _ pipeline.Action = (*PrepareOverlayTftp)(nil)

// NewPrepareOverlayTftp returns prepare-tftp-overlay.
func NewPrepareOverlayTftp() *PrepareOverlayTftp {
	return &PrepareOverlayTftp{pipeline.NewBase("PrepareOverlayTftp", "prepare-tftp-overlay",
		"extract ramdisk or nfsrootfs in preparation for lava overlay", "extract ramdisk or nfsrootfs")}
}

// Populate follows current LAVA: the persistent NFS root is parsed where
// 2023.01 built the overlay, the overlay is applied only when a test
// needs it, and prepare-kernel comes a second time for depthcharge
// devices (to build the FIT image after the ramdisk).
func (a *PrepareOverlayTftp) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	p.Add(NewExtractNfsRootfs(), nil)
	p.Add(NewParsePersistentNFS(), nil)
	p.Add(NewExtractRamdisk(), nil)
	p.Add(NewExtractModules(), nil)
	if a.TestNeedsOverlay(params) {
		p.Add(NewApplyOverlayTftp(), nil)
	}
	if params.Map("kernel").Has("type") {
		p.Add(NewPrepareKernel(), nil)
	}
	p.Add(NewConfigurePreseedFile(), nil)
	p.Add(NewCompressRamdisk(), nil)
	if pipeline.DeviceHasMethod(a.Device(), "boot", "depthcharge") {
		p.Add(NewPrepareKernel(), nil)
	}
}

// ExtractRamdisk is LAVA's ExtractRamdisk (extract-overlay-ramdisk):
// unpacks the ramdisk (stripping a u-boot header) for the overlay.
type ExtractRamdisk struct{ leaf }

// NewExtractRamdisk returns extract-overlay-ramdisk.
func NewExtractRamdisk() *ExtractRamdisk {
	return &ExtractRamdisk{leaf{pipeline.NewBase("ExtractRamdisk", "extract-overlay-ramdisk",
		"extract ramdisk to a temporary directory", "extract the ramdisk")}}
}

// CompressRamdisk is LAVA's CompressRamdisk (compress-ramdisk): packs the
// ramdisk again as cpio.newc, adding a u-boot header when the device asks
// for one.
type CompressRamdisk struct{ leaf }

// NewCompressRamdisk returns compress-ramdisk.
func NewCompressRamdisk() *CompressRamdisk {
	return &CompressRamdisk{leaf{pipeline.NewBase("CompressRamdisk", "compress-ramdisk",
		"recreate a ramdisk with the overlay applied.", "compress ramdisk with overlay")}}
}

// Validate needs, for a ramdisk that gets a u-boot header, the
// mkimage architecture; mkimage and cpio are host tools.
func (a *CompressRamdisk) Validate() {
	a.leaf.Validate()
	rd := a.Params.Map("ramdisk")
	if rd == nil || rd.Has("install_overlay") && !pipeline.Truthy(rd.Value("install_overlay")) {
		return
	}
	warnMissingTool(&a.Base, "cpio")
	dp, _ := a.Device().Lookup("actions", "deploy", "parameters")
	params, _ := dp.(*value.Map)
	if params.String("add_header") == "u-boot" {
		warnMissingTool(&a.Base, "mkimage")
		if !params.Has("mkimage_arch") {
			a.Errorf("missing architecture for uboot mkimage support (mkimage_arch in deploy parameters)")
		}
	}
}

// ConfigurePreseedFile is LAVA's ConfigurePreseedFile
// (configure-preseed-file): adds to a Debian installer preseed the
// commands that copy the overlay into the installed system.
type ConfigurePreseedFile struct{ leaf }

// NewConfigurePreseedFile returns configure-preseed-file.
func NewConfigurePreseedFile() *ConfigurePreseedFile {
	return &ConfigurePreseedFile{leaf{pipeline.NewBase("ConfigurePreseedFile", "configure-preseed-file",
		"add commands to automated installers, to copy the lava test overlay to the installed system",
		"add commands to installer config")}}
}

// PrepareKernel is LAVA's PrepareKernelAction (prepare-kernel): converts
// the kernel for the device's bootloader, a uImage for u-boot or a FIT
// image for depthcharge.
type PrepareKernel struct{ pipeline.Base }

var _ pipeline.Action = (*PrepareKernel)(nil)

// NewPrepareKernel returns prepare-kernel.
func NewPrepareKernel() *PrepareKernel {
	return &PrepareKernel{pipeline.NewBase("PrepareKernelAction", "prepare-kernel",
		"populates the pipeline with a kernel conversion action", "add a kernel conversion")}
}

// Populate picks the conversion by the device's boot methods.
func (a *PrepareKernel) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	switch {
	case pipeline.DeviceHasMethod(a.Device(), "boot", "u-boot"):
		p.Add(NewUBootPrepareKernel(), nil)
	case pipeline.DeviceHasMethod(a.Device(), "boot", "depthcharge"):
		p.Add(NewPrepareFIT(), nil)
	}
}

// UBootPrepareKernel is LAVA's UBootPrepareKernelAction
// (uboot-prepare-kernel): wraps a zImage or Image in a uImage when the
// device can only bootm.
type UBootPrepareKernel struct{ leaf }

// NewUBootPrepareKernel returns uboot-prepare-kernel.
func NewUBootPrepareKernel() *UBootPrepareKernel {
	return &UBootPrepareKernel{leaf{pipeline.NewBase("UBootPrepareKernelAction", "uboot-prepare-kernel",
		"convert kernel to uimage", "prepare/convert kernel")}}
}

// Validate checks the kernel type against the device's boot commands, as
// LAVA does: the device must have the command the type maps to, and a
// conversion needs mkimage and the mkimage architecture.
func (a *UBootPrepareKernel) Validate() {
	a.leaf.Validate()
	dev := a.Device()
	dp, _ := dev.Lookup("actions", "deploy", "parameters")
	deployParams, _ := dp.(*value.Map)
	if deployParams == nil {
		return
	}
	kt, _ := a.Params.Map("kernel").Value("type").(string)
	if kt == "" {
		return
	}
	if !dev.Has("parameters") {
		a.Errorf("kernel boot type is not supported by this device")
		return
	}
	cmd, _ := boot.UBootBootCommand(kt, dev)
	if !dev.Map("parameters").Has(cmd) {
		a.Errorf("requested kernel boot type '%s' is not supported by this device", cmd)
	}
	if cmd == "bootm" && kt != "uimage" {
		warnMissingTool(&a.Base, "mkimage")
		if !deployParams.Has("mkimage_arch") {
			a.Errorf("missing architecture for uboot mkimage support (mkimage_arch in u-boot parameters)")
		}
	}
}

// PrepareFIT is LAVA's PrepareFITAction (prepare-fit): packs kernel, dtb
// and ramdisk into a FIT image for depthcharge.
type PrepareFIT struct{ leaf }

// NewPrepareFIT returns prepare-fit.
func NewPrepareFIT() *PrepareFIT {
	return &PrepareFIT{leaf{pipeline.NewBase("PrepareFITAction", "prepare-fit",
		"package kernel, dtb and ramdisk into an FIT image", "generate depthcharge FIT image")}}
}

// Validate needs mkimage and the device's mkimage architecture.
func (a *PrepareFIT) Validate() {
	a.leaf.Validate()
	warnMissingTool(&a.Base, "mkimage")
	dp, _ := a.Device().Lookup("actions", "deploy", "parameters")
	if m, _ := dp.(*value.Map); !m.Has("mkimage_arch") {
		a.Errorf("missing architecture for FIT image (mkimage_arch in deploy parameters)")
	}
}
