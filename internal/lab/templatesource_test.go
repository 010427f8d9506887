package lab

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/store/sqlite"
)

// TestTemplateSource: the store's template wins and says so, then a
// folder's file by its path, then the shipped one; an unknown type is
// ErrNotFound.
func TestTemplateSource(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "basalt.db"))
	must(t, err)
	defer st.Close()
	folder := t.TempDir()
	must(t, os.WriteFile(filepath.Join(folder, "mine.jinja2"), []byte("{# mine #}\n"), 0o644))
	l, err := New(Config{Store: st, Logs: newTestLogs(t), DeviceTypeDirs: []string{folder}})
	must(t, err)
	must(t, st.PutDeviceType(ctx, store.DeviceType{Name: "set", Template: "{# set #}"}))
	for _, c := range []struct{ dt, src, origin string }{
		{"set", "{# set #}", OriginStore},
		{"mine", "{# mine #}\n", filepath.Join(folder, "mine.jinja2")},
		{"qemu", "", "(basalt)/qemu.jinja2"},
	} {
		src, origin, err := l.TemplateSource(ctx, c.dt)
		must(t, err)
		if origin != c.origin || c.src != "" && src != c.src || !strings.Contains(src, "{") {
			t.Errorf("TemplateSource(%s) = %q from %q, want %q from %q", c.dt, src, origin, c.src, c.origin)
		}
	}
	if _, _, err := l.TemplateSource(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TemplateSource(nope) = %v, want ErrNotFound", err)
	}
}
