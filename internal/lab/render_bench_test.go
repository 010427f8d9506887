package lab

import (
	"fmt"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/store"
)

// BenchmarkRenderDevices renders the dictionaries of a pass's devices
// through one renderer, as a pass does: each template is parsed once.
func BenchmarkRenderDevices(b *testing.B) {
	l := &Lab{}
	dict := readFile(&testing.T{}, "device.jinja2")
	r := l.templates(nil)
	for i := 0; i < b.N; i++ {
		d := store.Device{Name: fmt.Sprintf("qemu-%d", i), Dictionary: dict}
		out, err := renderDevice(d, nil, r)
		if err != nil {
			b.Fatal(err)
		}
		if !strings.Contains(out, d.Name) {
			b.Fatalf("%s: the configuration does not name its device:\n%s", d.Name, out)
		}
	}
}
