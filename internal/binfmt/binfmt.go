// Package binfmt answers one question before a job runs a foreign
// architecture's programs (a container or chroot of arm64 binaries on
// an x86_64 host, LAVA's "pre-built chroot of a foreign architecture"):
// does the kernel's binfmt_misc have an enabled handler that runs ELF
// executables of that architecture, and which interpreter is it?
//
// It only reads /proc/sys/fs/binfmt_misc: registering a handler changes
// the whole host, so that is the administrator's business (Debian's
// qemu-user-static with binfmt-support or systemd-binfmt), never a job's.
// The errors say what is missing and how an administrator adds it.
package binfmt

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
)

// DefaultDir is where binfmt_misc is mounted.
const DefaultDir = "/proc/sys/fs/binfmt_misc"

// Arch is an ELF architecture: what e_ident and e_machine of its
// executables hold.
type Arch struct {
	// Name is the kernel's name (uname -m), what qemu-user calls it.
	Name    string
	Class   byte   // ELFCLASS32 (1) or ELFCLASS64 (2)
	Data    byte   // ELFDATA2LSB (1) or ELFDATA2MSB (2)
	Machine uint16 // e_machine
}

// arches maps the names a job may give (Debian's, which LXC's image
// servers use, and the kernel's) to the ELF architecture.
var arches = map[string]Arch{}

func init() {
	for _, a := range []struct {
		names []string
		arch  Arch
	}{
		{[]string{"amd64", "x86_64"}, Arch{"x86_64", 2, 1, 62}},
		{[]string{"i386", "i686", "x86", "386"}, Arch{"i386", 1, 1, 3}},
		{[]string{"arm64", "aarch64"}, Arch{"aarch64", 2, 1, 183}},
		{[]string{"armhf", "armel", "arm", "armv7l", "armv7", "armv6l"}, Arch{"arm", 1, 1, 40}},
		{[]string{"ppc64el", "ppc64le"}, Arch{"ppc64le", 2, 1, 21}},
		{[]string{"ppc64"}, Arch{"ppc64", 2, 2, 21}},
		{[]string{"s390x"}, Arch{"s390x", 2, 2, 22}},
		{[]string{"riscv64"}, Arch{"riscv64", 2, 1, 243}},
		{[]string{"mips64el", "mips64le"}, Arch{"mips64el", 2, 1, 8}},
		{[]string{"mipsel", "mipsle"}, Arch{"mipsel", 1, 1, 8}},
		{[]string{"mips"}, Arch{"mips", 1, 2, 8}},
		{[]string{"loong64", "loongarch64"}, Arch{"loongarch64", 2, 1, 258}},
	} {
		for _, n := range a.names {
			arches[n] = a.arch
		}
	}
}

// Lookup returns the architecture a name (Debian's or the kernel's)
// stands for.
func Lookup(name string) (Arch, bool) {
	a, ok := arches[name]
	return a, ok
}

// Host is the architecture Basalt itself runs on.
func Host() Arch {
	a, _ := Lookup(runtime.GOARCH)
	return a
}

// Native reports whether the host runs a's executables without an
// interpreter: the same architecture, or its 32-bit form where those
// CPUs run it (i386 on x86_64, arm on aarch64: most arm64 CPUs do; one
// that does not needs a handler anyway and fails as a plain exec
// error).
func Native(a Arch) bool {
	h := Host()
	switch {
	case a == h:
		return true
	case h.Name == "x86_64" && a.Name == "i386", h.Name == "aarch64" && a.Name == "arm":
		return true
	}
	return false
}

// header is the first bytes of an executable of a, of ELF type typ
// (ET_EXEC 2, ET_DYN 3: static-pie and dynamic programs).
func (a Arch) header(typ byte) []byte {
	h := make([]byte, 20)
	copy(h, "\x7fELF")
	h[4], h[5], h[6] = a.Class, a.Data, 1
	if a.Data == 2 {
		h[17] = typ
		h[18], h[19] = byte(a.Machine>>8), byte(a.Machine)
	} else {
		h[16] = typ
		h[18], h[19] = byte(a.Machine), byte(a.Machine>>8)
	}
	return h
}

// Handler is one registered binfmt_misc entry.
type Handler struct {
	Name        string // its file under the binfmt_misc folder
	Enabled     bool
	Interpreter string
	// Flags are the entry's flags: F (the interpreter opened when it was
	// registered, so it runs inside containers and chroots that do not
	// hold it), P, O, C.
	Flags  string
	offset int
	magic  []byte
	mask   []byte
}

// FixBinary reports the F flag: the kernel opened the interpreter when
// the handler was registered, so it works in any mount namespace or
// chroot.
func (h Handler) FixBinary() bool { return strings.Contains(h.Flags, "F") }

// matches reports whether the handler claims a file starting with b.
func (h Handler) matches(b []byte) bool {
	if h.magic == nil || h.offset+len(h.magic) > len(b) {
		return false
	}
	for i, m := range h.magic {
		c := b[h.offset+i]
		if h.mask != nil && i < len(h.mask) {
			c &= h.mask[i]
			m &= h.mask[i]
		}
		if c != m {
			return false
		}
	}
	return true
}

// ErrNotMounted is returned when binfmt_misc is not mounted.
var ErrNotMounted = errors.New("binfmt_misc is not mounted")

// maxEntry bounds one entry file read.
const maxEntry = 4096

// Handlers reads the entries registered under dir (DefaultDir when
// empty), in name order, and whether binfmt_misc as a whole is enabled.
func Handlers(dir string) (handlers []Handler, enabled bool, err error) {
	if dir == "" {
		dir = DefaultDir
	}
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, false, fmt.Errorf("%w at %s (mount -t binfmt_misc binfmt_misc %s)", ErrNotMounted, dir, dir)
		}
		return nil, false, err
	}
	enabled = strings.TrimSpace(string(status)) == "enabled"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, enabled, err
	}
	names := []string{}
	for _, e := range ents {
		if n := e.Name(); n != "status" && n != "register" && e.Type().IsRegular() {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := readLimited(filepath.Join(dir, n))
		if err != nil {
			continue // unregistered meanwhile
		}
		handlers = append(handlers, parse(n, b))
	}
	return handlers, enabled, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, maxEntry)
	n, err := f.Read(b)
	if n == 0 && err != nil {
		return nil, err
	}
	return b[:n], nil
}

// parse reads an entry as the kernel prints it:
//
//	enabled
//	interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
//	flags: POCF
//	offset 0
//	magic 7f454c46...
//	mask ffffffff...
func parse(name string, b []byte) Handler {
	h := Handler{Name: name}
	for _, line := range bytes.Split(b, []byte("\n")) {
		k, v, _ := strings.Cut(strings.TrimSpace(string(line)), " ")
		v = strings.TrimSpace(v)
		switch k {
		case "enabled":
			h.Enabled = true
		case "interpreter":
			h.Interpreter = v
		case "flags:":
			h.Flags = v
		case "offset":
			h.offset, _ = strconv.Atoi(v)
		case "magic":
			h.magic, _ = hex.DecodeString(v)
		case "mask":
			h.mask, _ = hex.DecodeString(v)
		}
	}
	if h.offset < 0 || h.offset > 128 {
		h.magic = nil
	}
	return h
}

// For returns the enabled handler of dir (DefaultDir when empty) that
// runs a's executables. The error names what is missing and how an
// administrator adds it: binfmt_misc not mounted, disabled, or no
// handler for the architecture.
func For(dir string, a Arch) (Handler, error) {
	if dir == "" {
		dir = DefaultDir
	}
	hs, enabled, err := Handlers(dir)
	if err != nil {
		return Handler{}, err
	}
	if !enabled {
		return Handler{}, fmt.Errorf("binfmt_misc is disabled (%s/status): no foreign executable can run", dir)
	}
	exec, dyn := a.header(2), a.header(3)
	var disabled string
	for _, h := range hs {
		if !h.matches(exec) && !h.matches(dyn) {
			continue
		}
		if h.Enabled {
			return h, nil
		}
		disabled = h.Name
	}
	if disabled != "" {
		return Handler{}, fmt.Errorf("the binfmt_misc handler %s for %s is disabled (echo 1 > %s/%s)", disabled, a.Name, dir, disabled)
	}
	return Handler{}, fmt.Errorf("no binfmt_misc handler for %s executables is registered in %s: install qemu-user-static and register its handler (update-binfmts --enable qemu-%s, or systemd-binfmt)",
		a.Name, dir, a.Name)
}
