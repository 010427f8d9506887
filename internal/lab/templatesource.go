package lab

import (
	"context"
	"errors"
	"fmt"

	"github.com/basalt-lava/basalt/internal/device"
	"github.com/basalt-lava/basalt/internal/jinja"
	"github.com/basalt-lava/basalt/internal/limits"
	"github.com/basalt-lava/basalt/internal/store"
)

// OriginStore is TemplateSource's origin of a template set in the store
// (scheduler.device_types.set_template, basalt manage).
const OriginStore = "database"

// TemplateSource is Template with where the text comes from: OriginStore,
// the file's path in a --device-types folder, or "(basalt)/<type>.jinja2"
// for the template Basalt ships.
func (l *Lab) TemplateSource(ctx context.Context, deviceType string) (src, origin string, err error) {
	dt, err := l.st.DeviceType(ctx, deviceType)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", "", err
	}
	if err == nil && dt.Template != "" {
		return dt.Template, OriginStore, nil
	}
	src, file, lerr := device.TemplateLoader(l.cfg.DeviceTypeDirs, limits.Limits{}).Load(deviceType + ".jinja2")
	var nf *jinja.NotFoundError
	if errors.As(lerr, &nf) {
		return "", "", fmt.Errorf("device type %s: no template: %w", deviceType, store.ErrNotFound)
	}
	return src, file, lerr
}
