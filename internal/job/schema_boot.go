package job

import (
	"strings"

	"github.com/basalt-lava/basalt/internal/value"
)

// bootMethods maps each boot "method:" value to the check of its own keys
// (LAVA's lava_common/schemas/boot/<method>.py). lxc is kept although LAVA
// dropped it in 2026, as Basalt supports LXC.
var bootMethods = map[string]func(c *checker, f *fields){
	"avh":            bootAVH,
	"barebox":        bootBarebox,
	"bootloader":     bootBootloader,
	"cmsis-dap":      func(*checker, *fields) {},
	"depthcharge":    bootDepthcharge,
	"dfu":            func(*checker, *fields) {},
	"docker":         bootDocker,
	"fastboot":       bootFastboot,
	"fvp":            bootFVP,
	"gdb":            bootGDB,
	"grub":           bootGrub,
	"grub-efi":       bootGrub,
	"ipxe":           bootIPXE,
	"jlink":          bootJLink,
	"kexec":          bootKexec,
	"lxc":            func(c *checker, f *fields) { c.checkPrompts(f.req("prompts"), f.sub("prompts")) },
	"minimal":        bootMinimal,
	"monitor":        func(*checker, *fields) {},
	"musca":          func(c *checker, f *fields) { c.checkPrompts(f.opt("prompts"), f.sub("prompts")) },
	"new_connection": bootNewConnection,
	"nodebooter":     bootDocker,
	"openocd":        func(*checker, *fields) {},
	"pyocd":          func(*checker, *fields) {},
	"qdl":            bootQDL,
	"qemu":           bootQEMU,
	"qemu-iso":       bootQEMUISO,
	"qemu-nfs":       bootQEMUNFS,
	"recovery":       bootRecovery,
	"schroot":        bootSchroot,
	"ssh":            bootSSH,
	"u-boot":         bootCommandsLogin(true),
	"uefi":           bootUEFI,
	"uefi-menu":      bootUEFIMenu,
	"uuu":            bootUUU,
}

// BootMethods lists the accepted boot "method:" values, sorted.
func BootMethods() []string { return sortedKeys(bootMethods) }

func (c *checker) checkBoot(f *fields) {
	method := f.req("method")
	c.checkActionCommon(f)
	c.strOrStrList(f.opt("soft_reboot"), f.sub("soft_reboot"))
	c.boolean(f.opt("ignore_kernel_messages"), f.sub("ignore_kernel_messages"))
	if method == nil {
		return // without a method, no key is known to be wrong
	}
	name, ok := c.str(method, f.sub("method"))
	if !ok {
		return
	}
	check, known := bootMethods[name]
	if !known {
		c.errorf(method, f.sub("method"), "unknown boot method %q (allowed: %s)", name, strings.Join(BootMethods(), ", "))
		return
	}
	if name == "ssh" {
		// ssh replaces the boot parameters with its host lookup.
		if p := c.mapAt(f.opt("parameters"), f.sub("parameters")); p != nil {
			c.str(p.opt("hostID"), p.sub("hostID"))
			c.str(p.opt("host_key"), p.sub("host_key"))
			p.finish()
		}
	} else if p := c.mapAt(f.opt("parameters"), f.sub("parameters")); p != nil {
		for _, k := range []string{"bootloader-final-message", "kernel-start-message", "shutdown-message"} {
			c.str(p.opt(k), p.sub(k))
		}
		p.finish()
	}
	check(c, f)
	f.finish()
}

// loginKeys are the keys of boot methods that reach a shell.
func (c *checker) loginKeys(f *fields, transfer bool) {
	c.checkPrompts(f.opt("prompts"), f.sub("prompts"))
	c.checkAutoLogin(f.opt("auto_login"), f.sub("auto_login"))
	if transfer {
		c.checkTransferOverlay(f.opt("transfer_overlay"), f.sub("transfer_overlay"))
	}
}

// bootCommandsLogin: bootloader commands (a named set or a list), then a
// login (barebox, u-boot).
func bootCommandsLogin(transfer bool) func(c *checker, f *fields) {
	return func(c *checker, f *fields) {
		c.strOrStrList(f.req("commands"), f.sub("commands"))
		c.loginKeys(f, transfer)
		c.boolean(f.opt("use_bootscript"), f.sub("use_bootscript"))
	}
}

func bootBarebox(c *checker, f *fields) {
	c.strOrStrList(f.req("commands"), f.sub("commands"))
	c.loginKeys(f, true)
}

func bootAVH(c *checker, f *fields) {
	if b := c.mapAt(f.opt("bootargs"), f.sub("bootargs")); b != nil {
		c.str(b.opt("normal"), b.sub("normal"))
		c.str(b.opt("restore"), b.sub("restore"))
		b.finish()
	}
	c.checkDocker(f.opt("docker"), f.sub("docker"), "image", nil)
	c.checkPrompts(f.req("prompts"), f.sub("prompts"))
	c.checkAutoLogin(f.opt("auto_login"), f.sub("auto_login"))
}

func bootBootloader(c *checker, f *fields) {
	c.str(f.req("bootloader"), f.sub("bootloader"))
	c.strList(f.opt("commands"), f.sub("commands"))
	c.boolean(f.opt("use_bootscript"), f.sub("use_bootscript"))
	c.checkPrompts(f.opt("prompts"), f.sub("prompts"))
	for _, k := range []string{"reset_connection", "reset_device", "reset"} {
		c.boolean(f.opt(k), f.sub(k))
	}
}

func bootDepthcharge(c *checker, f *fields) {
	bootCommandsLogin(true)(c, f)
	c.str(f.opt("extra_kernel_args"), f.sub("extra_kernel_args"))
}

// bootDocker covers docker and nodebooter: a command run in a container.
func bootDocker(c *checker, f *fields) {
	c.str(f.req("command"), f.sub("command"))
	c.checkPrompts(f.opt("prompts"), f.sub("prompts"))
	c.str(f.opt("downloads-namespace"), f.sub("downloads-namespace"))
}

func bootFastboot(c *checker, f *fields) {
	c.strList(f.opt("commands"), f.sub("commands"))
	c.boolean(f.opt("use_bootscript"), f.sub("use_bootscript"))
	c.loginKeys(f, true)
	c.checkDocker(f.opt("docker"), f.sub("docker"), "image", nil)
}

func bootFVP(c *checker, f *fields) {
	c.boolean(f.opt("use_telnet"), f.sub("use_telnet"))
	c.str(f.req("console_string"), f.sub("console_string"))
	c.strList(f.opt("feedbacks"), f.sub("feedbacks"))
	c.str(f.req("image"), f.sub("image"))
	for _, k := range []string{"license_variable", "ubl_license", "version_string", "erpc_app"} {
		c.str(f.opt(k), f.sub(k))
	}
	c.strList(f.req("arguments"), f.sub("arguments"))
	// Shell commands run against the model instead of a login (LAVA 2026).
	c.strList(f.opt("commands"), f.sub("commands"))
	c.checkPrompts(f.opt("prompts"), f.sub("prompts"))
	c.checkDocker(f.req("docker"), f.sub("docker"), "name", nil)
	c.checkTransferOverlay(f.opt("transfer_overlay"), f.sub("transfer_overlay"))
	c.checkAutoLogin(f.opt("auto_login"), f.sub("auto_login"))
}

func bootGDB(c *checker, f *fields) {
	c.str(f.req("commands"), f.sub("commands"))
	c.str(f.opt("container"), f.sub("container"))
}

func bootGrub(c *checker, f *fields) {
	bootCommandsLogin(true)(c, f)
	c.strOrStrList(f.opt("boot_finished"), f.sub("boot_finished"))
	c.boolean(f.opt("expect_shell"), f.sub("expect_shell"))
}

func bootIPXE(c *checker, f *fields) { bootCommandsLogin(true)(c, f) }

func bootJLink(c *checker, f *fields) {
	c.strList(f.opt("prompts"), f.sub("prompts"))
	c.strList(f.opt("commands"), f.sub("commands"))
	c.str(f.opt("coretype"), f.sub("coretype"))
}

func bootKexec(c *checker, f *fields) {
	c.str(f.req("boot_message"), f.sub("boot_message"))
	c.loginKeys(f, true)
	c.boolean(f.opt("deploy"), f.sub("deploy"))
	for _, k := range []string{"command", "kernel", "dtb", "initrd", "kernel-config"} {
		c.str(f.opt(k), f.sub(k))
	}
	c.strList(f.opt("options"), f.sub("options"))
	c.boolean(f.opt("on_panic"), f.sub("on_panic"))
}

func bootMinimal(c *checker, f *fields) {
	c.loginKeys(f, true)
	for _, k := range []string{"pre_power_command", "pre_os_command", "reset"} {
		c.boolean(f.opt(k), f.sub(k))
	}
}

func bootNewConnection(c *checker, f *fields) {
	c.str(f.req("connection"), f.sub("connection"))
	c.loginKeys(f, true)
}

func bootQDL(c *checker, f *fields) {
	c.str(f.req("firehose_program"), f.sub("firehose_program"))
	c.str(f.req("rawprogram"), f.sub("rawprogram"))
	for _, k := range []string{"patch", "path", "storage"} {
		c.str(f.opt(k), f.sub(k))
	}
	c.boolean(f.opt("debug"), f.sub("debug"))
	c.checkDocker(f.opt("docker"), f.sub("docker"), "image", nil)
}

func bootQEMU(c *checker, f *fields) {
	c.oneOf(f.opt("connection"), f.sub("connection"), "serial")
	c.oneOf(f.opt("media"), f.sub("media"), "tmpfs")
	c.loginKeys(f, true)
	c.checkDocker(f.opt("docker"), f.sub("docker"), "image", func(d *fields) {
		c.str(d.opt("binary"), d.sub("binary"))
	})
}

func bootQEMUISO(c *checker, f *fields) {
	c.oneOf(f.req("media"), f.sub("media"), "img")
	c.loginKeys(f, false)
}

func bootQEMUNFS(c *checker, f *fields) {
	c.oneOf(f.opt("connection"), f.sub("connection"), "serial")
	c.loginKeys(f, true)
}

func bootRecovery(c *checker, f *fields) {
	c.oneOf(f.req("commands"), f.sub("commands"), "recovery", "exit")
}

func bootSchroot(c *checker, f *fields) {
	c.checkPrompts(f.opt("prompts"), f.sub("prompts"))
	c.oneOf(f.req("connection"), f.sub("connection"), "ssh")
	c.str(f.req("schroot"), f.sub("schroot"))
}

// bootSSH: LAVA 2026 no longer takes "connection: ssh" here.
func bootSSH(c *checker, f *fields) {
	c.checkPrompts(f.opt("prompts"), f.sub("prompts"))
}

func bootUEFI(c *checker, f *fields) {
	c.strOrStrList(f.req("commands"), f.sub("commands"))
	c.str(f.opt("shell_menu"), f.sub("shell_menu"))
	c.loginKeys(f, false)
}

func bootUEFIMenu(c *checker, f *fields) {
	c.str(f.opt("commands"), f.sub("commands"))
	c.str(f.opt("line_separator"), f.sub("line_separator"))
	c.loginKeys(f, false)
}

// bootUUU: commands are a named set or a list of {tool: command}.
func bootUUU(c *checker, f *fields) {
	cmds := f.req("commands")
	if cmds != nil && cmds.Kind == value.ListNode {
		for i, it := range cmds.Items {
			ip := indexPath(f.sub("commands"), i)
			m := c.mapAt(it, ip)
			if m == nil {
				continue
			}
			ks, vs := m.keys()
			for j, k := range ks {
				c.str(vs[j], keyPath(ip, k.KeyString()))
			}
		}
	} else if cmds != nil {
		if _, ok := cmds.Scalar.(string); !ok || cmds.Kind != value.ScalarNode {
			c.errorf(cmds, f.sub("commands"), "expected a command set name or a list of {tool: command}, got %s", describe(cmds))
		}
	}
	c.checkDocker(f.opt("docker"), f.sub("docker"), "image", nil)
	c.boolean(f.opt("skip_uuu_if_bootloader_valid"), f.sub("skip_uuu_if_bootloader_valid"))
}
