package boot

import (
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

// bootScriptName is the iPXE script LAVA writes for use_bootscript.
const bootScriptName = "script.ipxe"

// bootScript is bootloader-overlay for a block with use_bootscript (iPXE):
// the substituted commands go into an iPXE script in the job's TFTP
// folder, and what bootloader-commands types is only "dhcp net0" and
// "chain tftp://{SERVER_IP}/<script>", as in LAVA.
//
// Deliberate difference: LAVA chains the script from the folder of
// {KERNEL} (<job folder>/kernel/script.ipxe) but writes it one level up
// (<job folder>/script.ipxe), so its chain finds no file; Basalt writes
// it where the chain command looks.
func (a *BootloaderCommandOverlay) bootScript(conn pipeline.Connection, method, ip, kernel string, commands []string) (pipeline.Connection, error) {
	dir, suffix := a.DataString(pipeline.DataTFTPDir), a.DataString(pipeline.DataTFTPSuffix)
	if dir == "" || suffix == "" || kernel == "" {
		return conn, pipeline.JobError("TFTP deployment not defined. Unable to create bootscript file.")
	}
	rel := path.Join(path.Dir(kernel), bootScriptName)
	inJob, ok := strings.CutPrefix(rel, suffix+"/")
	if !ok || strings.Contains(inJob, "..") {
		return conn, pipeline.Bug("%s: the kernel %q is not in the job's TFTP folder %q", a.Name, kernel, suffix)
	}
	var b strings.Builder
	b.WriteString("#!ipxe\n\n")
	for _, c := range commands {
		b.WriteString(c + "\n")
	}
	host := filepath.Join(dir, filepath.FromSlash(inJob))
	if err := os.WriteFile(host, []byte(b.String()), 0o644); err != nil {
		return conn, pipeline.InfrastructureError("writing the iPXE boot script: %v", err)
	}
	out := []string{"dhcp net0", "chain tftp://" + ip + "/" + rel}
	a.SetData(pipeline.DataBootloaderCommands(method), out)
	a.Log().Infof("Parsed boot commands: %s", strings.Join(out, "; "))
	a.Log().Debugf("iPXE boot script %s:\n%s", rel, b.String())
	return conn, nil
}
