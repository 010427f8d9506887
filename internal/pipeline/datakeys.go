package pipeline

// DataKey names a piece of namespace data: what an action records with
// SetData for later actions of its namespace to read with Data (LAVA's
// namespace data, whose (action, label, key) triples are written here as
// a path). Writers and readers take their keys from this file, never
// from a string of their own, so that a renamed or mistyped key is a
// build error rather than a job that silently finds nothing.
//
// Each key says who writes it and what its value is.
type DataKey string

const (
	// DataConnection is the live console of the namespace
	// (Connection): the boot action that started it writes it, later
	// boots replace it and finalize closes it (LAVA's
	// shared/shared/connection).
	DataConnection DataKey = "shared/connection"
	// DataShell is the console (Connection) on which a shell prompt was
	// reached (login or a forced prompt).
	DataShell DataKey = "shared/shell"
	// DataQemuSession is the console of the QEMU this namespace started:
	// finalize asks its guest to power off only when DataShell is the
	// same console (never another kind of device: "poweroff" over ssh
	// would turn a real machine off).
	DataQemuSession DataKey = "execute-qemu/session"
	// DataOverlayApplied says append-overlays put the overlay into an
	// image (bool): the boot then has no overlay disk to add.
	DataOverlayApplied DataKey = "append-overlays/applied"
	// DataPreCommands are the commands ([]string) the test shell runs
	// once on a new console before lava-test-runner: the QEMU boot
	// leaves the mount of the overlay disk there.
	DataPreCommands DataKey = "execute-qemu/pre-commands"
	// DataPreCommandsDone is the console (Connection) the pre-commands
	// last ran on: a retry or a second test block on the same boot must
	// not mount the overlay disk twice, while a new boot needs them.
	DataPreCommandsDone DataKey = "lava-test-shell/pre-commands-done"

	// DataOverlayLocation is the host folder (string) lava-overlay
	// builds the overlay in.
	DataOverlayLocation DataKey = "lava-overlay/location"
	// DataResultsDir is the overlay's folder on the device (string,
	// /lava-<job id>), written by lava-overlay, read by the boot (mount
	// point) and the test shell.
	DataResultsDir DataKey = "lava-overlay/results-dir"
	// DataCompressedOverlay is the overlay tarball (string, a host
	// path), written by compress-overlay.
	DataCompressedOverlay DataKey = "compress-overlay/file"
	// DataGuestFile, DataGuestFormat and DataGuestUUID describe the
	// overlay disk apply-overlay-guest built (strings: host path, QEMU
	// format, filesystem UUID), read by the QEMU boot.
	DataGuestFile   DataKey = "apply-overlay-guest/file"
	DataGuestFormat DataKey = "apply-overlay-guest/format"
	DataGuestUUID   DataKey = "apply-overlay-guest/uuid"
	// DataEnvDict, DataEnvShellFile and DataEnvLineSep are the device
	// environment deploy-device-env records (*value.Map of variables,
	// the shell file to write them to, the console's line separator),
	// read by export-device-env-shell and the QEMU boot.
	DataEnvDict      DataKey = "deploy-device-env/environment/env_dict"
	DataEnvShellFile DataKey = "deploy-device-env/environment/shell_file"
	DataEnvLineSep   DataKey = "deploy-device-env/environment/line_separator"
	// DataNFSRoot is the extracted NFS root filesystem (string, a host
	// folder), read by the qemu-nfs boot.
	DataNFSRoot DataKey = "extract-rootfs/nfsroot"
	// DataNFSServerIP is the address the device reaches the job's NFS
	// server at (string), and DataNFSClientOptions the mount options
	// that reach it without rpcbind ("vers=3,port=…,mountport=…"), both
	// set once the server exports DataNFSRoot; NFSRootArg joins them.
	DataNFSServerIP      DataKey = "nfs-server/ip"
	DataNFSClientOptions DataKey = "nfs-server/client-options"
	// DataKernelType is the deploy's kernel type (zimage, uimage…), as
	// the job wrote it, recorded by the kernel's download.
	DataKernelType DataKey = "download-action/type/kernel"
)

// DownloadField is one fact a download records about the file of a
// label (the image's key in the deploy: kernel, rootfs…).
type DownloadField string

const (
	// DownloadFile is where the file landed (string, a host path: the
	// file, or the folder of an unpacked archive; "" once cleaned up).
	DownloadFile DownloadField = "file"
	// DownloadSHA256 is the downloaded data's sha256 (string).
	DownloadSHA256 DownloadField = "sha256sum"
	// DownloadCompression is the image's compression as the job wrote it.
	DownloadCompression DownloadField = "compression"
	// DownloadDecompressed says the file was decompressed on the way (bool).
	DownloadDecompressed DownloadField = "decompressed"
	// DownloadImageArg is the image's image_arg (string), with its
	// {label} placeholder still in.
	DownloadImageArg DownloadField = "image_arg"
)

// DataDownload is the key of one fact about the download of label:
// download-action/<label>/<field>.
func DataDownload(label string, f DownloadField) DataKey {
	return DataKey("download-action/" + label + "/" + string(f))
}

// DataDownloadFileOf is LAVA's second form of a download's file,
// download-action/file/<label>, which the tftp, nbd and fastboot
// families read.
func DataDownloadFileOf(label string) DataKey {
	return DataKey("download-action/file/" + label)
}

// DataTestDefinition is what the overlay recorded about the test run
// name (*value.Map: the definition's path, name, uuid…), read by the
// test shell: test-definition/<name>.
func DataTestDefinition(name string) DataKey {
	return DataKey("test-definition/" + name)
}

// DataMultinode holds the values a lava-multinode call received for
// messageID (*value.Map), for later actions' parameters:
// lava-multinode/<messageID>.
func DataMultinode(messageID string) DataKey {
	return DataKey("lava-multinode/" + messageID)
}

// DataQemuVersion is the version `<bin> --version` reported (string, ""
// when unknown), so that the job asks each binary once.
func DataQemuVersion(bin string) DataKey {
	return DataKey("execute-qemu/version/" + bin)
}

// DataDirClaim records which download handler owns a download folder
// (an Action), so that two handlers never share one.
func DataDirClaim(dir string) DataKey {
	return DataKey("download-action/dir/" + dir)
}

// Docker keys (internal/actions: deploy to docker, boot method docker).
const (
	// DataDockerImage is the image deploy-docker checked or pulled
	// (string), read by the docker boot (LAVA's deploy-docker/image/name).
	DataDockerImage DataKey = "deploy-docker/image/name"
)

// NFSRootArg is what {NFSROOTFS} stands for in a kernel command line
// (nfsroot={NFS_SERVER_IP}:{NFSROOTFS},tcp,hard): the exported folder,
// followed by the options that reach the job's own NFS server (its
// ports), which the template's options after it may override. Empty
// when no NFS root was deployed in b's namespace.
func NFSRootArg(b *Base) string {
	root := b.DataString(DataNFSRoot)
	if root == "" {
		return ""
	}
	if opts := b.DataString(DataNFSClientOptions); opts != "" {
		return root + "," + opts
	}
	return root
}
