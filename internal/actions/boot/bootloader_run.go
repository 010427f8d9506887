package boot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/connection"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// The interactive bootloaders as they run (U-Boot, and the GRUB, iPXE and
// barebox families that share these actions): bootloader-overlay turns
// the device's (or the job's) command list into the commands to send,
// with LAVA's substitutions; bootloader-interrupt waits for the
// interrupt prompt and stops the autoboot; bootloader-commands sends one
// command per bootloader prompt and waits for the final message (the
// kernel starting), failing on a bootloader error message the device
// lists. The console is the board's serial connection (connect-device),
// with escape sequences stripped.

// dispatcherAddress is {SERVER_IP}: the dispatcher configuration's
// dispatcher_ip (LAVA's dispatcher_ip(config)), else the host's address
// on its default route. An emulated board on QEMU's user network reaches
// the host at 10.0.2.2, which its dispatcher configuration says.
func dispatcherAddress(j *pipeline.Job) (string, error) {
	if ip := j.Params.Map("dispatcher").String("dispatcher_ip"); ip != "" {
		return ip, nil
	}
	return dispatcherIP()
}

// CannotRun is empty: BootloaderCommandOverlay runs, iPXE's boot script
// (use_bootscript, ipxe_bootscript.go) included.
func (a *BootloaderCommandOverlay) CannotRun() string { return "" }

// Run substitutes the job's files and the device's addresses into the
// commands, as LAVA's bootloader-overlay does, and records them for
// bootloader-commands.
func (a *BootloaderCommandOverlay) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	method := a.method()
	commands, err := a.commands()
	if err != nil {
		return conn, err
	}
	ip, err := dispatcherAddress(a.Job)
	if err != nil {
		return conn, err
	}
	file := func(label string) string { return a.DataString(pipeline.DataTFTPFile(label)) }
	ramdisk := file("ramdisk")
	subs := []sub{
		{"{SERVER_IP}", ip},
		{"{PRESEED_CONFIG}", file("preseed")},
		{"{PRESEED_LOCAL}", ""},
		{"{DTB}", file("dtb")},
		{"{RAMDISK}", ramdisk},
		{"{INITRD}", ramdisk},
		{"{KERNEL}", file("kernel")},
		{"{LAVA_MAC}", bootMethodParams(a.Device(), method).String("lava_mac")},
		{"{TEE}", file("tee")},
		{"{DTB_BASE_ADDR}", ""},
		{"{DTB_BASE_RESIZE}", ""},
		{"{APPLY_DTBO_COMMANDS}", ""},
		{"{LAVA_DISPATCHER_IP}", ip},
		{"{LAVA_JOB_ID}", a.Job.ID},
	}
	bootcmd := a.DataString(pipeline.DataBootCommand)
	if bootcmd == "" && a.Params.Has("type") {
		return conn, pipeline.JobError("Kernel image type can't be determined")
	}
	if bootcmd != "" {
		addrs := a.Device().Map("parameters").Map(bootcmd)
		kernelAddr, dtbAddr, ramdiskAddr := addrs.String("kernel"), addrs.String("dtb"), addrs.String("ramdisk")
		teeAddr := addrs.String("tee")
		if ramdisk == "" && file("initrd") == "" {
			ramdiskAddr = "-"
		}
		dp, _ := a.Device().Lookup("actions", "deploy", "parameters")
		dpm, _ := dp.(*value.Map)
		header := dpm.String("add_header")
		if method == "u-boot" && header != "u-boot" && header != "raw" {
			a.Log().Debugf("No u-boot header, not passing ramdisk to bootX cmd")
			ramdiskAddr = "-"
		}
		first := kernelAddr
		if file("tee") != "" {
			first = teeAddr
		}
		bootx := fmt.Sprintf("%s %s %s %s", bootcmd, first, ramdiskAddr, dtbAddr)
		if file("initrd") != "" || header == "raw" {
			// No header, so no size in the image: u-boot takes it after
			// the address.
			bootx = fmt.Sprintf("%s %s %s:%s %s", bootcmd, first, ramdiskAddr, "${initrd_size}", dtbAddr)
		}
		subs = append(subs, sub{"{BOOTX}", bootx}, sub{"{KERNEL_ADDR}", kernelAddr}, sub{"{DTB_ADDR}", dtbAddr},
			sub{"{RAMDISK_ADDR}", ramdiskAddr}, sub{"{TEE_ADDR}", teeAddr})
		a.SetResult("kernel_addr", kernelAddr)
		a.SetResult("dtb_addr", dtbAddr)
		a.SetResult("ramdisk_addr", ramdiskAddr)
		a.SetResult("tee_addr", teeAddr)
	}
	if nfs := pipeline.NFSRootArg(&a.Base); nfs != "" && a.DataString(pipeline.DataDownload("nfsrootfs", pipeline.DownloadFile)) != "" {
		// The job's NFS server says its address and ports (nfs_run.go).
		nfsIP := a.DataString(pipeline.DataNFSServerIP)
		if nfsIP == "" {
			nfsIP = ip
		}
		subs = append(subs, sub{"{NFSROOTFS}", nfs}, sub{"{NFS_SERVER_IP}", nfsIP})
	} else if addr := a.DataString(dataPersistentNFSRoot); addr != "" {
		subs = append(subs, sub{"{NFSROOTFS}", addr}, sub{"{NFS_SERVER_IP}", a.DataString(dataPersistentNFSServer)})
	}
	subs = append(subs, sub{"{ROOT}", a.DataString(dataMediaRoot)}, sub{"{ROOT_PART}", a.DataString(dataMediaBootPart)})
	if suffix := a.DataString(pipeline.DataTFTPSuffix); suffix != "" {
		subs = append(subs, sub{"{EXTRA_FILES_DIR}", suffix + "/extra_files"})
	}
	out := substituteCommands(commands, subs)
	if pipeline.Truthy(a.Params.Value("use_bootscript")) {
		return a.bootScript(conn, method, ip, file("kernel"), out)
	}
	a.SetData(pipeline.DataBootloaderCommands(method), out)
	a.Log().Debugf("substitutions:")
	for _, s := range subs {
		a.Log().Debugf("- %s: %s", s.key, s.value)
	}
	a.Log().Infof("Parsed boot commands:")
	for _, c := range out {
		a.Log().Infof("- %s", c)
	}
	return conn, nil
}

// Namespace data the overlay reads when other actions set it: the
// persistent NFS root (parse-persistent-nfs) and the root on secondary
// media (bootloader-from-media).
const (
	dataPersistentNFSRoot   pipeline.DataKey = "parse-persistent-nfs/nfs_address/nfsroot"
	dataPersistentNFSServer pipeline.DataKey = "parse-persistent-nfs/nfs_address/serverip"
	dataMediaRoot           pipeline.DataKey = "bootloader-from-media/uuid/root"
	dataMediaBootPart       pipeline.DataKey = "bootloader-from-media/uuid/boot_part"
)

// commands returns the command list validation chose: preset, the
// job's list, or the device's named set.
func (a *BootloaderCommandOverlay) commands() ([]string, error) {
	list := a.Commands
	if list == nil {
		cv := a.Params.Value("commands")
		if l, ok := cv.([]any); ok {
			list = l
		} else {
			name, _ := cv.(string)
			list, _ = pipeline.DeviceMethods(a.Device(), "boot").Map(a.method()).Map(name).Value("commands").([]any)
		}
	}
	out := make([]string, 0, len(list))
	for _, c := range list {
		s, ok := c.(string)
		if !ok {
			return nil, pipeline.JobError("deploy commands instruction is not a string: %s", value.GoString(c))
		}
		out = append(out, s)
	}
	return out, nil
}

type sub struct{ key, value string }

// substituteCommands is LAVA's substitute(drop=True): each key with a
// value is replaced; a command that names a key without a value is
// dropped whole ("tftp {TEE_ADDR} {TEE}" on a board without a TEE).
// Keys absent from the list stay as they are.
func substituteCommands(commands []string, subs []sub) []string {
	out := make([]string, 0, len(commands))
next:
	for _, line := range commands {
		for _, s := range subs {
			if s.value != "" {
				line = strings.ReplaceAll(line, s.key, s.value)
			} else if strings.Contains(line, s.key) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}

// CannotRun is empty: BootloaderSecondaryMedia runs.
func (*BootloaderSecondaryMedia) CannotRun() string { return "" }

// Run records, for a boot from secondary media, where the kernel, ramdisk,
// dtb and root are; other boots have nothing to record.
func (a *BootloaderSecondaryMedia) Run(_ context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	media := a.Device().Map("parameters").Map("media")
	name, isName := a.Params.Value("commands").(string)
	if media == nil || !isName || !media.Has(name) {
		return conn, nil
	}
	for _, k := range []string{"kernel", "ramdisk", "dtb"} {
		a.SetData(pipeline.DataTFTPFile(k), a.Params.String(k))
	}
	a.SetData(dataMediaRoot, a.Params.String("root_uuid"))
	a.SetData(dataMediaBootPart, fmt.Sprint(a.Params.Value("boot_part")))
	return conn, nil
}

// bootloaderParams are the device's parameters of the bootloader method
// with what the interrupt needs.
type bootloaderParams struct {
	prompt          string
	interruptPrompt string
	interruptChar   string
	ctrlChars       []string
	newline         bool
	needsInterrupt  bool
}

func (a *BootloaderInterrupt) params() bootloaderParams {
	m := a.method()
	p := bootMethodParams(a.Device(), m)
	bp := bootloaderParams{prompt: p.String("bootloader_prompt"), needsInterrupt: true, newline: true}
	if v, ok := p.Get("needs_interrupt"); ok {
		bp.needsInterrupt = pipeline.Truthy(v)
	}
	if v, ok := p.Get("interrupt_prompt"); ok {
		bp.interruptPrompt = fmt.Sprint(v)
	} else if v, ok := a.Constant("interrupt-prompt", m); ok {
		bp.interruptPrompt = fmt.Sprint(v)
	}
	if m != "ipxe" {
		if v, ok := p.Get("interrupt_char"); ok {
			bp.interruptChar = fmt.Sprint(v)
		} else if v, ok := a.Constant("interrupt-character", m); ok {
			bp.interruptChar = fmt.Sprint(v)
		}
	}
	if v, ok := a.Constant("interrupt-newline", m); ok {
		bp.newline = pipeline.Truthy(v)
	}
	if v, ok := p.Get("interrupt_ctrl_list"); ok {
		bp.ctrlChars = stringList(v)
	} else if v, ok := a.Constant("interrupt_ctrl_list", m); ok {
		bp.ctrlChars = stringList(v)
	}
	return bp
}

// CannotRun is empty: BootloaderInterrupt runs.
func (*BootloaderInterrupt) CannotRun() string { return "" }

// Run waits for the interrupt prompt and sends the interrupt: the
// control characters of interrupt_ctrl_list, else interrupt_char (with
// a newline unless the device's interrupt-newline is false). A device
// that needs no interrupt is only waited for at its bootloader prompt.
func (a *BootloaderInterrupt) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	s, err := sessionOf(&a.Base, conn)
	if err != nil {
		return conn, err
	}
	bp := a.params()
	if !bp.needsInterrupt {
		a.Log().Infof("Not interrupting bootloader, waiting for bootloader prompt")
		if err := a.wait(ctx, s, "the bootloader prompt", bp.prompt); err != nil {
			return conn, err
		}
		a.SetData(pipeline.DataAtBootloaderPrompt, true)
		return conn, nil
	}
	if err := a.wait(ctx, s, "the bootloader's interrupt prompt", bp.interruptPrompt); err != nil {
		return conn, err
	}
	switch {
	case len(bp.ctrlChars) > 0:
		for _, c := range bp.ctrlChars {
			ch, ok := controlChar(c)
			if !ok {
				return conn, pipeline.ConfigurationError("interrupt_ctrl_list: %q is not a control character name", c)
			}
			a.Log().Input(fmt.Sprintf("Ctrl-%s", c))
			if err := s.Send(string(ch)); err != nil {
				return conn, pipeline.InfrastructureError("sending the interrupt: %v", err)
			}
		}
	case bp.newline:
		err = s.SendLine(bp.interruptChar)
	default:
		a.Log().Input(bp.interruptChar)
		err = s.Send(bp.interruptChar)
	}
	if err != nil {
		return conn, pipeline.InfrastructureError("sending the interrupt: %v", err)
	}
	a.SetData(pipeline.DataAtBootloaderPrompt, false)
	return conn, nil
}

// controlChar is pexpect's sendcontrol: a letter or one of @[\]^_? as
// its control character.
func controlChar(name string) (byte, bool) {
	if len(name) != 1 {
		return 0, false
	}
	c := name[0]
	switch {
	case c >= 'a' && c <= 'z':
		return c - 'a' + 1, true
	case c >= 'A' && c <= 'Z':
		return c - 'A' + 1, true
	}
	switch c {
	case '@':
		return 0, true
	case '[':
		return 27, true
	case '\\':
		return 28, true
	case ']':
		return 29, true
	case '^':
		return 30, true
	case '_':
		return 31, true
	case '?':
		return 127, true
	}
	return 0, false
}

// wait waits for a literal-or-regex prompt of the device; running out of
// time or the console closing are the action's failure.
func (a *BootloaderInterrupt) wait(ctx context.Context, s *connection.Session, what, prompt string) error {
	return waitPrompt(ctx, &a.Base, s, what, []string{prompt})
}

// waitPrompt waits, within the action's connection timeout, for one of
// prompts (regular expressions, as LAVA's prompt_str); it returns the
// index matched. A prompt not seen in time is LAVA's "wait for prompt
// timed out" JobError when the connection timeout ends first, the
// action's timeout otherwise; the console closing is an
// InfrastructureError.
func waitPrompt(ctx context.Context, b *pipeline.Base, s *connection.Session, what string, prompts []string) error {
	_, err := waitPromptIndex(ctx, b, s, what, prompts)
	return err
}

func waitPromptIndex(ctx context.Context, b *pipeline.Base, s *connection.Session, what string, prompts []string) (int, error) {
	res, err := compile("prompt", prompts)
	if err != nil {
		return 0, err
	}
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if b.ConnectionTimeout.Seconds > 0 {
		wctx, cancel = context.WithTimeout(ctx, time.Duration(b.ConnectionTimeout.Seconds)*time.Second)
	}
	defer cancel()
	b.Log().Debugf("%s: Wait for prompt %q (timeout %s)", b.Name, prompts, remaining(wctx))
	m, err := s.Expect(wctx, res...)
	if err == nil {
		return m.Index, nil
	}
	if errors.Is(err, connection.ErrClosed) {
		return 0, consoleClosed(ctx, s, what, err)
	}
	if ctx.Err() == nil && wctx.Err() != nil {
		return 0, pipeline.JobError("wait for prompt timed out: %s not seen within the connection timeout (%ds)", what, b.ConnectionTimeout.Seconds)
	}
	return 0, err
}

// CannotRun is empty: BootloaderCommands runs.
func (*BootloaderCommands) CannotRun() string { return "" }

// Run sends the prepared commands, each at the bootloader prompt, and
// waits for the final message (the kernel starting) after the last; a
// bootloader error message the device lists is an InfrastructureError,
// as in LAVA.
func (a *BootloaderCommands) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	s, err := sessionOf(&a.Base, conn)
	if err != nil {
		return conn, err
	}
	method := a.Method
	if method == "" {
		method = a.Params.String("method")
	}
	prompt := bootMethodParams(a.Device(), method).String("bootloader_prompt")
	if at, _ := a.Data(pipeline.DataAtBootloaderPrompt).(bool); !at {
		if err := waitPrompt(ctx, &a.Base, s, "the bootloader prompt", []string{prompt}); err != nil {
			return conn, err
		}
	}
	commands, ok := a.Data(pipeline.DataBootloaderCommands(method)).([]string)
	if !ok {
		return conn, pipeline.JobError("Bootloader commands for '%s' method are not defined", method)
	}
	var errorMessages []string
	if v, ok := a.Constant("error-messages", method); ok {
		errorMessages = stringList(v)
	}
	final := ""
	if v, ok := a.Constant("final-message", method); ok {
		final, _ = v.(string)
	}
	if v := a.Params.Map("parameters").String("bootloader-final-message"); v != "" {
		final = v
	}
	if a.Class == "UefiBootloaderCommandsAction" {
		// UEFI shells want CRLF.
		s.SetLineSeparator("\r\n")
	}
	prompts := append([]string{prompt}, errorMessages...)
	for i, line := range commands {
		if err := s.SendLine(line); err != nil {
			return conn, pipeline.InfrastructureError("sending '%s': %v", line, err)
		}
		if i == len(commands)-1 {
			if final == "" || !a.ExpectFinal {
				break
			}
			prompts = append([]string{final}, errorMessages...)
		}
		idx, err := waitPromptIndex(ctx, &a.Base, s, fmt.Sprintf("the bootloader after '%s'", line), prompts)
		if err != nil {
			return conn, err
		}
		if idx != 0 {
			return conn, pipeline.InfrastructureError("matched a bootloader error message: '%s' (%d)", prompts[idx], idx)
		}
	}
	a.SetData(DataConnection, s)
	return s, nil
}
