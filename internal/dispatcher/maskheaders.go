package dispatcher

import (
	"fmt"

	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/value"
)

// maskHeaders adds to m the values of every `headers:` mapping of the
// job's actions (a download's, a test repository's): they usually carry
// credentials, and the lab puts a user's remote artifact tokens there
// (internal/lab, workerDefinition), which must not reach the log.
func maskHeaders(m *joblog.Masker, data *value.Map) {
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case []any:
			for _, e := range t {
				walk(e)
			}
		case *value.Map:
			t.Range(func(k string, e any) bool {
				if h, ok := e.(*value.Map); ok && k == "headers" {
					h.Range(func(_ string, hv any) bool {
						if s, ok := hv.(string); ok {
							m.Add(s)
						} else if hv != nil {
							m.Add(fmt.Sprint(hv))
						}
						return true
					})
					return true
				}
				walk(e)
				return true
			})
		}
	}
	walk(data.Value("actions"))
}
