package boot

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/basalt-lava/basalt/internal/hostfiles"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/shlex"
	"github.com/basalt-lava/basalt/internal/value"
)

// QEMU's command line is partly the job's: each image's image_arg, and
// the job context values the device-type template prints into the
// device's options (memory, netdevice, extra_options...). QEMU options
// can read and write any file of the host (-drive file=/etc/shadow,
// -virtfs local,path=/, -chardev file,path=..., a qcow2 image's backing
// file, semihosting), run host commands (-netdev user,guestfwd=...-cmd:,
// script=, -incoming exec:) or load host code (-plugin). Under a
// host-access policy (a worker's, internal/hostfiles) the command line
// is therefore checked before QEMU starts, against an allow-list of
// options, each with what its value may hold; the overlay drive Basalt
// adds itself is not checked. Host paths may name only the job's scratch
// folder (its downloads), the policy's allowed folders, and the system's
// read-only data under /usr/share (firmware, QEMU's ROMs), with links
// evaluated. Without a policy (basalt run) nothing changes: the command
// line is the user's own.

// qemuOption says what the value of an allowed option may hold.
type qemuOption int

const (
	qemuFlag qemuOption = iota // takes no value
	qemuOpts                   // a value of key=value options, each key checked
	qemuText                   // guest-side text, not looked into (-append)
	qemuFile                   // a host file read as it is (-kernel)
	qemuChar                   // a character device: stdio, null, none, chardev:ID
)

var qemuOptions = map[string]qemuOption{
	"nographic": qemuFlag, "enable-kvm": qemuFlag, "no-reboot": qemuFlag, "no-shutdown": qemuFlag,
	"snapshot": qemuFlag, "S": qemuFlag, "nodefaults": qemuFlag, "no-user-config": qemuFlag,
	"no-hpet": qemuFlag, "no-acpi": qemuFlag, "usb": qemuFlag,
	"m": qemuOpts, "smp": qemuOpts, "cpu": qemuOpts, "machine": qemuOpts, "M": qemuOpts, "accel": qemuOpts,
	"vga": qemuOpts, "k": qemuOpts, "boot": qemuOpts, "name": qemuOpts, "uuid": qemuOpts, "rtc": qemuOpts,
	"display": qemuOpts, "device": qemuOpts, "drive": qemuOpts, "net": qemuOpts, "netdev": qemuOpts,
	"nic": qemuOpts, "object": qemuOpts, "global": qemuOpts, "mon": qemuOpts, "chardev": qemuOpts,
	"icount": qemuOpts, "usbdevice": qemuOpts,
	"append": qemuText,
	"kernel": qemuFile, "initrd": qemuFile, "dtb": qemuFile, "bios": qemuFile,
	"serial": qemuChar, "monitor": qemuChar, "parallel": qemuChar, "qmp": qemuChar, "debugcon": qemuChar,
}

// qemuPathKeys are option keys whose value is a host path QEMU opens.
var qemuPathKeys = map[string]bool{
	"file": true, "path": true, "filename": true, "romfile": true, "mem-path": true, "splash": true,
	"tftp": true, "x509-dir": true, "dir": true,
}

// qemuRefusedKeys are option keys that run host programs, pass host file
// descriptors, export host folders or write host files.
var qemuRefusedKeys = map[string]bool{
	"script": true, "downscript": true, "helper": true, "fd": true, "fds": true, "vhostfd": true,
	"vhostfds": true, "smb": true, "guestfwd": true, "logfile": true, "sock": true, "backing": true,
	"socket": true,
}

// qemuChardevBackends are the chardev backends that touch no host file
// or socket.
var qemuChardevBackends = map[string]bool{"stdio": true, "null": true, "ringbuf": true, "memory": true, "vc": true}

// qemuChecker checks a QEMU command line under a policy.
type qemuChecker struct {
	policy  *hostfiles.Policy
	scratch string // the job's scratch folder, links evaluated
}

// checkQemuArgs refuses, with a Job error naming the argument and the
// policy, the first argument of args (QEMU's arguments, without the
// binary) that the allow-list does not let through.
func checkQemuArgs(args []string, policy *hostfiles.Policy, scratch string) error {
	c := qemuChecker{policy: policy, scratch: scratch}
	if real, err := filepath.EvalSymlinks(scratch); err == nil {
		c.scratch = real
	}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			return c.refuse(arg, "not an option: QEMU would take it for a disk image")
		}
		name := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
		if n, _, hasValue := strings.Cut(name, "="); hasValue {
			return c.refuse(arg, fmt.Sprintf("write -%s and its value as two arguments", n))
		}
		kind, ok := qemuOptions[name]
		if !ok {
			return c.refuse(arg, "the option is not in the list allowed")
		}
		if kind == qemuFlag {
			continue
		}
		if i+1 >= len(args) {
			return c.refuse(arg, "it has no value")
		}
		i++
		v := args[i]
		var err error
		switch kind {
		case qemuOpts:
			err = c.checkOpts(name, v)
		case qemuFile:
			err = c.checkPath(v)
		case qemuChar:
			if !(v == "stdio" || v == "null" || v == "none" || v == "mon:stdio" || v == "vc" || strings.HasPrefix(v, "chardev:")) {
				err = fmt.Errorf("only stdio, null, none, mon:stdio, vc or chardev:ID")
			}
		}
		if err != nil {
			return c.refuse(arg+" "+v, err.Error())
		}
	}
	return nil
}

func (c qemuChecker) refuse(arg, why string) error {
	return pipeline.JobError("QEMU argument %q refused: %s (QEMU options can reach any file of the host or run its commands; this %s allows only a checked list: see SECURITY.md)", arg, why, c.policy.Host())
}

// checkOpts checks a key=value,... value, QEMU's ",," being a comma.
func (c qemuChecker) checkOpts(option, v string) error {
	if strings.Contains(v, "cmd:") || strings.Contains(v, "exec:") {
		return fmt.Errorf("it would run a host command")
	}
	parts := splitQemuOpts(v)
	format := ""
	hasFile := false
	for i, p := range parts {
		key, val, isKV := strings.Cut(p, "=")
		if !isKV {
			if i == 0 && option == "chardev" && !qemuChardevBackends[p] {
				return fmt.Errorf("the %s chardev backend reaches host files or sockets", p)
			}
			continue
		}
		if option == "global" {
			// driver.property=value
			key = key[strings.LastIndex(key, ".")+1:]
		}
		if j := strings.LastIndex(key, "."); j >= 0 {
			// file.filename=, backing.file.filename=...
			if strings.HasPrefix(key, "backing") {
				return fmt.Errorf("%s: a backing image can be any file of the host", key)
			}
			key = key[j+1:]
		}
		switch {
		case key == "driver" && option == "drive":
			return fmt.Errorf("driver=%s: give format=raw and file= instead", val)
		case qemuRefusedKeys[key]:
			if (key == "script" || key == "downscript") && val == "no" {
				continue
			}
			return fmt.Errorf("%s= would run a host program, pass a host descriptor or reach host files", key)
		case qemuPathKeys[key]:
			if err := c.checkPath(val); err != nil {
				return err
			}
			hasFile = hasFile || key == "file"
		case key == "format":
			format = val
		}
		if option == "chardev" && i == 0 {
			return fmt.Errorf("a chardev starts with its backend")
		}
	}
	if option == "drive" && hasFile && format != "raw" {
		// Probed or qcow2-like formats read a backing file named inside
		// the image, which the job wrote.
		return fmt.Errorf("a drive's image must say format=raw: other formats can name a backing file on the host")
	}
	return nil
}

// checkPath allows a host path in the job's scratch folder (its
// downloads), the policy's allowed folders or /usr/share, links
// evaluated.
func (c qemuChecker) checkPath(p string) error {
	if p == "/dev/urandom" || p == "/dev/random" {
		return nil
	}
	if !filepath.IsAbs(p) {
		return fmt.Errorf("%s: not an absolute path", p)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		real = filepath.Clean(p)
	}
	for _, dir := range []string{c.scratch, "/usr/share"} {
		if dir != "" && (real == dir || strings.HasPrefix(real, dir+"/")) {
			return nil
		}
	}
	if c.policy.Check(p) == nil {
		return nil
	}
	return fmt.Errorf("%s is outside the job's folder and the folders allowed (%s)", p, c.policy.Allowed())
}

// splitQemuOpts splits QEMU's comma-separated options, ",," standing
// for a comma.
func splitQemuOpts(v string) []string {
	var parts []string
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == ',' {
			if i+1 < len(v) && v[i+1] == ',' {
				b.WriteByte(',')
				i++
				continue
			}
			parts = append(parts, b.String())
			b.Reset()
			continue
		}
		b.WriteByte(v[i])
	}
	return append(parts, b.String())
}

// validationScratch stands for the job's scratch folder at validation,
// before there is one: the downloads' paths are placeholders in it.
const validationScratch = "/basalt-job-scratch"

// checkStaticArgs is the run's check (commandLine) made at validation,
// so that `validate` and a server's submission refuse what they can see:
// the device's options (where the job's context is printed) and each
// image_arg, with every {label} standing for a download in the scratch
// folder. Nil without a policy.
func (a *CallQemu) checkStaticArgs() error {
	p := a.LocalFiles()
	if p == nil {
		return nil
	}
	bp := a.bootParameters()
	var argv []string
	for _, key := range []string{"options", "extra"} {
		args, err := deviceArgs(bp.Value(key), key)
		if err != nil {
			return nil // the run reports it
		}
		argv = append(argv, args...)
	}
	ns := pipeline.Namespace(a.Params)
	values := map[string]string{}
	var imageArgs []string
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
			values[label] = validationScratch + "/" + label + "/" + label
			img, _ := v.(*value.Map)
			if arg, _ := img.Value("image_arg").(string); arg != "" && !slices.Contains(noImageArg, label) {
				imageArgs = append(imageArgs, arg)
			}
			return true
		})
	}
	for _, ia := range imageArgs {
		args, err := shlex.Split(ia)
		if err != nil {
			return nil // the run reports it
		}
		for _, arg := range args {
			argv = append(argv, substitute(arg, values))
		}
	}
	return checkQemuArgs(argv, p, validationScratch)
}
