package device

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/basalt-lava/basalt/internal/jinja"
	"github.com/basalt-lava/basalt/internal/value"
	"github.com/google/go-cmp/cmp"
)

// TestShippedBaseUnderLAVATypes renders every corpus case with LAVA's
// device types and dictionaries but Basalt's shipped templates searched
// first, so base.jinja2 (and qemu.jinja2) are ours and every other family
// (u-boot, depthcharge, fastboot, grub, UEFI ...) extends our base. The
// data must equal LAVA's, after lavaDifferences: our base is a drop-in
// for the variables and blocks LAVA's device types rely on.
func TestShippedBaseUnderLAVATypes(t *testing.T) {
	corpus := corpusDir(t)
	if corpus == "" {
		t.Skip("LAVA corpus not found (../shared/lava-corpus next to the module); skipping")
	}
	data, err := os.ReadFile(filepath.Join(corpus, "render-cases.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := value.DecodeYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range doc.(*value.Map).List("cases") {
		m := c.(*value.Map)
		id := m.String("id")
		if _, invalid := lavaVerdicts[id]; invalid && lavaVerdicts[id] == "" {
			continue // LAVA's own rendering is not YAML
		}
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			var dirs []string
			for _, p := range m.List("search_path") {
				dirs = append(dirs, filepath.Join(corpus, p.(string)))
			}
			rec := &shippedRecorder{}
			loader := jinja.ChainLoader{rec, jinja.NewDirLoader(dirs...)}
			text, err := jinja.NewEnvironment(loader).Render(m.String("template"), value.Clone(m.Map("context")).(*value.Map))
			if err != nil {
				t.Fatalf("render %s: %v", m.String("template"), err)
			}
			got, err := Parse([]byte(text))
			if err != nil {
				t.Fatalf("Parse: %v\n%s", err, text)
			}
			raw, err := os.ReadFile(filepath.Join(corpus, m.String("expected")))
			if err != nil {
				t.Fatal(err)
			}
			want, err := Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			applyDifferences(want.Data, rec.used)
			dropVlandInterfaces(got.Data)
			if diff := cmp.Diff(want.Data, got.Data, mapsAsGo); diff != "" {
				t.Fatalf("render %s with Basalt's base: data differs from LAVA's (-lava +basalt):\n%s", m.String("template"), diff)
			}
		})
	}
}

// dropVlandInterfaces removes the VLANd interfaces (every entry of
// parameters.interfaces but target) that Basalt's base renders from a
// dictionary's interfaces, sysfs, mac_addr, map and tags, as LAVA 2023
// did; the corpus is LAVA's rendering after it dropped VLANd in 2026.
// internal/dispatcher's TestVlandConformance checks them against LAVA
// 2023's.
func dropVlandInterfaces(cfg *value.Map) {
	params := cfg.Map("parameters")
	ifaces := params.Map("interfaces")
	if ifaces == nil {
		return
	}
	for _, k := range append([]string(nil), ifaces.Keys()...) {
		if k != "target" {
			ifaces.Delete(k)
		}
	}
	if ifaces.Len() == 0 {
		params.Delete("interfaces")
	}
}
