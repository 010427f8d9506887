package job

import (
	"regexp"
	"sort"
	"strings"

	"github.com/basalt-lava/basalt/internal/value"
)

// deployMethods maps each deploy "to:" value to the check of its own keys
// (LAVA's lava_common/schemas/deploy/<to>.py). lxc is kept although LAVA
// dropped it in 2026, as Basalt supports LXC.
var deployMethods = map[string]func(c *checker, f *fields){
	"avh":           deployAVH,
	"docker":        deployDocker,
	"download":      deployImagesOnly,
	"downloads":     deployDownloads,
	"fastboot":      deployFastboot,
	"flasher":       deployFlasher,
	"fvp":           deployFVP,
	"iso-installer": deployISOInstaller,
	"lxc":           deployLXC,
	"mps":           deployMPS,
	"musca":         deployMusca,
	"nbd":           deployNBD,
	"nfs":           deployNFS,
	"overlay":       func(*checker, *fields) {},
	"qdl":           deployQDL,
	"recovery":      deployImagesOnly,
	"sata":          deployMassStorage,
	"sd":            deployMassStorage,
	"ssh":           deploySSH,
	"tftp":          deployTFTP,
	"tmpfs":         deployTmpfs,
	"u-boot-ums":    deployUBootUMS,
	"usb":           deployMassStorage,
	"usbg-ms":       func(c *checker, f *fields) { c.checkURL(f.req("image"), f.sub("image"), nil) },
	"uuu":           deployUUU,
	"vemsd":         func(c *checker, f *fields) { c.checkURL(f.req("recovery_image"), f.sub("recovery_image"), nil) },
}

// DeployMethods lists the accepted deploy "to:" values, sorted.
func DeployMethods() []string { return sortedKeys(deployMethods) }

func sortedKeys[V any](m map[string]V) []string {
	l := make([]string, 0, len(m))
	for k := range m {
		l = append(l, k)
	}
	sort.Strings(l)
	return l
}

func (c *checker) checkDeploy(f *fields) {
	to := f.req("to")
	c.checkActionCommon(f)
	c.str(f.opt("os"), f.sub("os"))
	c.oneOf(f.opt("authorize"), f.sub("authorize"), "ssh")
	c.oneOf(f.opt("overlay_backend"), f.sub("overlay_backend"), "auto", "e2fsprogs", "guestfs")
	if to == nil {
		return // without a method, no key is known to be wrong
	}
	name, ok := c.str(to, f.sub("to"))
	if !ok {
		return
	}
	check, known := deployMethods[name]
	if !known {
		c.errorf(to, f.sub("to"), "unknown deploy method %q (allowed: %s)", name, strings.Join(DeployMethods(), ", "))
		return
	}
	check(c, f)
	f.finish()
}

func deployImagesOnly(c *checker, f *fields) {
	c.checkImages(f.req("images"), f.sub("images"), false, nil)
}

// deployAVH: the AVH model under options (avh in LAVA before 2025), and
// either images to build a firmware package from or a ready fw_package.
func deployAVH(c *checker, f *fields) {
	opts := "options"
	if f.has("avh") && !f.has("options") {
		opts = "avh"
	}
	f.allow("avh", "options")
	if a := c.mapAt(f.req(opts), f.sub(opts)); a != nil {
		c.str(a.req("model"), a.sub("model"))
		c.str(a.opt("api_endpoint"), a.sub("api_endpoint"))
		c.str(a.opt("project_name"), a.sub("project_name"))
		a.finish()
	}
	images, pkg := f.opt("images"), f.opt("fw_package")
	switch {
	case images != nil && pkg != nil:
		c.errorf(f.n.KeyNode("fw_package"), f.sub("fw_package"), "images and fw_package are exclusive")
	case images == nil && pkg == nil:
		c.errorf(f.n, f.sub("images"), "missing required key \"images\" (or \"fw_package\")")
	}
	c.checkImages(images, f.sub("images"), false, func(i *fields) {
		c.oneOf(i.opt("format"), i.sub("format"), "ext4")
		c.integer(i.opt("root_partition"), i.sub("root_partition"), 0)
		c.oneOf(i.opt("type"), i.sub("type"), "image")
	})
	c.checkURL(pkg, f.sub("fw_package"), func(i *fields) {
		c.str(i.opt("storage_file"), i.sub("storage_file"))
		c.integer(i.opt("root_partition"), i.sub("root_partition"), 0)
	})
}

// deployDocker: image is a name, or a map with the name under "name".
func deployDocker(c *checker, f *fields) {
	img := f.req("image")
	if img != nil && img.Kind == value.MapNode {
		c.checkDocker(img, f.sub("image"), "name", nil)
	} else {
		c.matches(img, f.sub("image"), dockerImageRe, "docker image name")
	}
}

func deployDownloads(c *checker, f *fields) {
	c.checkImages(f.req("images"), f.sub("images"), false, nil)
	if pp := c.mapAt(f.opt("postprocess"), f.sub("postprocess")); pp != nil {
		c.checkDocker(pp.req("docker"), pp.sub("docker"), "image", func(d *fields) {
			c.strList(d.req("steps"), d.sub("steps"))
		})
		pp.finish()
	}
}

func deployFastboot(c *checker, f *fields) {
	c.checkImages(f.req("images"), f.sub("images"), false, func(i *fields) {
		c.boolean(i.opt("apply-overlay"), i.sub("apply-overlay"))
		c.integer(i.opt("root_partition"), i.sub("root_partition"), 0)
		c.boolean(i.opt("sparse"), i.sub("sparse"))
		c.oneOf(i.opt("reboot"), i.sub("reboot"), "hard-reset", "fastboot-reboot", "fastboot-reboot-bootloader", "fastboot-reboot-fastboot")
	})
	c.checkDocker(f.opt("docker"), f.sub("docker"), "image", nil)
	c.oneOf(f.opt("connection"), f.sub("connection"), "lxc")
}

// deployFlasher: download: false keeps a URL for the flasher tool
// without LAVA fetching it.
func deployFlasher(c *checker, f *fields) {
	c.checkImages(f.req("images"), f.sub("images"), true, func(i *fields) {
		c.boolean(i.opt("download"), i.sub("download"))
	})
	c.boolean(f.opt("uniquify"), f.sub("uniquify"))
}

func deployFVP(c *checker, f *fields) {
	if r := c.mapAt(f.opt("ramdisk"), f.sub("ramdisk")); r != nil {
		c.boolean(r.opt("install_overlay"), r.sub("install_overlay"))
		c.str(r.opt("compression"), r.sub("compression"))
		c.oneOf(r.opt("header"), r.sub("header"), "u-boot")
		r.finish()
	}
	c.boolean(f.opt("uniquify"), f.sub("uniquify"))
	c.checkImages(f.req("images"), f.sub("images"), false, nil)
}

func deployISOInstaller(c *checker, f *fields) {
	if im := c.mapAt(f.req("images"), f.sub("images")); im != nil {
		c.checkURL(im.req("iso"), im.sub("iso"), func(i *fields) {
			c.str(i.opt("image_arg"), i.sub("image_arg"))
		})
		c.checkURL(im.req("preseed"), im.sub("preseed"), nil)
		im.finish()
	}
	if iso := c.mapAt(f.req("iso"), f.sub("iso")); iso != nil {
		c.str(iso.req("installation_size"), iso.sub("installation_size"))
		c.str(iso.opt("kernel"), iso.sub("kernel"))
		c.str(iso.opt("initrd"), iso.sub("initrd"))
		iso.finish()
	}
}

func deployLXC(c *checker, f *fields) {
	c.strList(f.opt("packages"), f.sub("packages"))
}

// mpsTestBinaryRe is LAVA's pattern for MPS test binaries (re.match:
// anchored at the start only).
var mpsTestBinaryRe = regexp.MustCompile(`^test_binary(_\w+)?$`)

func deployMPS(c *checker, f *fields) {
	im := c.mapAt(f.req("images"), f.sub("images"))
	if im == nil {
		return
	}
	ks, vs := im.keys()
	if len(ks) == 0 {
		c.errorf(im.n, im.path, "no images: expected recovery_image or test_binary entries")
	}
	for i, k := range ks {
		name := k.KeyString()
		switch {
		case name == "recovery_image":
			c.checkURL(vs[i], im.sub(name), nil)
		case mpsTestBinaryRe.MatchString(name):
			c.checkURL(vs[i], im.sub(name), func(u *fields) { c.str(u.opt("rename"), u.sub("rename")) })
		case !c.opts.Lax:
			c.errorf(k, im.sub(name), "unknown image %q (allowed: recovery_image, test_binary, test_binary_<name>)", name)
		}
	}
}

func deployMusca(c *checker, f *fields) {
	if im := c.mapAt(f.req("images"), f.sub("images")); im != nil {
		c.checkURL(im.req("test_binary"), im.sub("test_binary"), nil)
		im.finish()
	}
}

func kernelType(c *checker) func(*fields) {
	return func(k *fields) { c.oneOf(k.opt("type"), k.sub("type"), "image", "uimage", "zimage") }
}

func deployNBD(c *checker, f *fields) {
	c.checkURL(f.req("kernel"), f.sub("kernel"), kernelType(c))
	c.checkURL(f.req("nbdroot"), f.sub("nbdroot"), nil)
	c.checkURL(f.req("initrd"), f.sub("initrd"), nil)
	c.checkURL(f.opt("dtb"), f.sub("dtb"), nil)
}

// deployNFS: an NFS root filesystem (and modules), or images for
// qemu-nfs.
func deployNFS(c *checker, f *fields) {
	if f.has("images") {
		c.checkImages(f.req("images"), f.sub("images"), false, func(i *fields) {
			c.str(i.opt("image_arg"), i.sub("image_arg"))
		})
		return
	}
	c.checkURL(f.opt("nfsrootfs"), f.sub("nfsrootfs"), nil)
	c.checkURL(f.opt("modules"), f.sub("modules"), nil)
}

// deployQDL: qcomflash is one archive (a resource with url) or named
// resources.
func deployQDL(c *checker, f *fields) {
	qn := f.req("qcomflash")
	if qn != nil && qn.Get("url") != nil {
		c.checkURL(qn, f.sub("qcomflash"), func(i *fields) {
			c.boolean(i.opt("apply-overlay"), i.sub("apply-overlay"))
		})
	} else if q := c.mapAt(qn, f.sub("qcomflash")); q != nil {
		c.boolean(q.opt("apply-overlay"), q.sub("apply-overlay"))
		ks, vs := q.rest()
		if len(ks) == 0 {
			c.errorf(q.n, q.path, "no images: at least one is needed")
		}
		for i, k := range ks {
			c.checkURL(vs[i], keyPath(q.path, k.KeyString()), nil)
		}
	}
	c.boolean(f.opt("uniquify"), f.sub("uniquify"))
	c.str(f.opt("rootfs_image"), f.sub("rootfs_image"))
	c.str(f.opt("overlay_path"), f.sub("overlay_path"))
}

// deployMassStorage covers sata, sd and usb: one image or images (with a
// required "image" entry), written to device by the download or writer
// tool.
func deployMassStorage(c *checker, f *fields) {
	img, imgs := f.opt("image"), f.opt("images")
	if img != nil && imgs != nil {
		c.errorf(f.n.KeyNode("images"), f.sub("images"), "image and images are exclusive")
	}
	c.checkURL(img, f.sub("image"), nil)
	if im := c.mapAt(imgs, f.sub("images")); im != nil {
		im.req("image")
		ks, vs := im.keys()
		for i, k := range ks {
			c.checkURL(vs[i], im.sub(k.KeyString()), nil)
		}
	}
	c.str(f.req("device"), f.sub("device"))
	for _, k := range []string{"download", "writer"} {
		if t := c.mapAt(f.opt(k), f.sub(k)); t != nil {
			for _, tk := range []string{"tool", "options", "prompt"} {
				c.str(t.req(tk), t.sub(tk))
			}
			t.finish()
		}
	}
	if t := c.mapAt(f.opt("tool"), f.sub("tool")); t != nil {
		c.strList(t.req("prompts"), t.sub("prompts"))
		t.finish()
	}
	c.boolean(f.opt("uniquify"), f.sub("uniquify"))
}

func deploySSH(c *checker, f *fields) {
	for _, k := range []string{"firmware", "kernel", "rootfs", "modules"} {
		c.checkURL(f.opt(k), f.sub(k), nil)
	}
}

func deployTFTP(c *checker, f *fields) {
	c.checkURL(f.req("kernel"), f.sub("kernel"), kernelType(c))
	for _, k := range []string{"dtb", "modules", "preseed", "tee"} {
		c.checkURL(f.opt(k), f.sub(k), nil)
	}
	c.checkURL(f.opt("ramdisk"), f.sub("ramdisk"), func(r *fields) {
		c.boolean(r.opt("install_modules"), r.sub("install_modules"))
		c.boolean(r.opt("install_overlay"), r.sub("install_overlay"))
		c.oneOf(r.opt("header"), r.sub("header"), "u-boot")
	})
	nfs, persistent := f.opt("nfsrootfs"), f.opt("persistent_nfs")
	if nfs != nil && persistent != nil {
		c.errorf(f.n.KeyNode("persistent_nfs"), f.sub("persistent_nfs"), "nfsrootfs and persistent_nfs are exclusive")
	}
	c.checkURL(nfs, f.sub("nfsrootfs"), func(r *fields) {
		c.boolean(r.opt("install_modules"), r.sub("install_modules"))
		c.boolean(r.opt("install_overlay"), r.sub("install_overlay"))
		c.str(r.opt("prefix"), r.sub("prefix"))
	})
	if p := c.mapAt(persistent, f.sub("persistent_nfs")); p != nil {
		c.str(p.req("address"), p.sub("address"))
		c.boolean(p.opt("install_overlay"), p.sub("install_overlay"))
		p.finish()
	}
}

// deployTmpfs: images for QEMU. LAVA dropped the per-image format: qcow2
// key; image_arg says how QEMU gets each image.
func deployTmpfs(c *checker, f *fields) {
	c.checkImages(f.req("images"), f.sub("images"), false, func(i *fields) {
		c.str(i.opt("image_arg"), i.sub("image_arg"))
	})
	c.oneOf(f.opt("type"), f.sub("type"), "monitor")
	c.checkURL(f.opt("uefi"), f.sub("uefi"), nil)
}

func deployUBootUMS(c *checker, f *fields) {
	c.checkURL(f.req("image"), f.sub("image"), func(i *fields) {
		c.integer(i.opt("root_partition"), i.sub("root_partition"), 0)
	})
}

func deployUUU(c *checker, f *fields) {
	im := c.mapAt(f.req("images"), f.sub("images"))
	if im == nil {
		return
	}
	im.req("boot")
	ks, vs := im.keys()
	for i, k := range ks {
		name := k.KeyString()
		if name == "boot" {
			c.checkURL(vs[i], im.sub(name), nil)
			continue
		}
		c.checkURL(vs[i], im.sub(name), func(u *fields) {
			c.boolean(u.opt("apply-overlay"), u.sub("apply-overlay"))
			c.integer(u.opt("root_partition"), u.sub("root_partition"), 0)
		})
	}
}
