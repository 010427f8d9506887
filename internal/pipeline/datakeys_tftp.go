package pipeline

// Namespace data of the tftp deploy and the bootloader boots (LAVA's
// tftp-deploy, extract-overlay-ramdisk, compress-ramdisk,
// uboot-prepare-kernel, bootloader-overlay and interrupt data).
const (
	// DataTFTPDir is the job's folder in the TFTP root (string, a host
	// path), made by tftp-deploy and removed when the job ends.
	DataTFTPDir DataKey = "tftp-deploy/tftp/tftp_dir"
	// DataTFTPSuffix is that folder relative to the TFTP root (string):
	// what the bootloader's paths start with.
	DataTFTPSuffix DataKey = "tftp-deploy/tftp/suffix"
	// DataRamdiskWork is the ramdisk extract-overlay-ramdisk prepared for
	// the overlay (string, a host path in the scratch folder, without a
	// u-boot header); the overlay and modules are appended to it.
	DataRamdiskWork DataKey = "extract-overlay-ramdisk/ramdisk_file/file"
	// DataRamdiskFinal is the ramdisk compress-ramdisk made (string, a
	// host path: with the u-boot header when the device adds one), which
	// tftp-deploy serves in place of the download.
	DataRamdiskFinal DataKey = "compress-ramdisk/file/full-path"
	// DataBootCommand is the u-boot command that boots the kernel type
	// (booti, bootz, bootm; string), set by uboot-prepare-kernel.
	DataBootCommand DataKey = "uboot-prepare-kernel/bootcommand/bootcommand"
	// DataAtBootloaderPrompt says bootloader-interrupt already waited for
	// the bootloader prompt (a device that needs no interrupt; bool).
	DataAtBootloaderPrompt DataKey = "interrupt/interrupt/at_bootloader_prompt"
)

// DataTFTPFile is the key of the path, relative to the TFTP root, under
// which tftp-deploy serves the file of a download label (kernel, dtb,
// ramdisk, tee, dtbo0…, preseed, an extra file): what {KERNEL}, {DTB},
// {RAMDISK}… become in the bootloader commands.
func DataTFTPFile(label string) DataKey { return DataKey("tftp-deploy/file/" + label) }

// DataBootloaderCommands is the key of the commands bootloader-overlay
// prepared for a boot method ([]string, substituted).
func DataBootloaderCommands(method string) DataKey {
	return DataKey("bootloader-overlay/" + method + "/commands")
}
