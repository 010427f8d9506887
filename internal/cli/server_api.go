package cli

import (
	"net/http"

	"github.com/basalt-lava/basalt/internal/lab"
	"github.com/basalt-lava/basalt/internal/logstore"
	"github.com/basalt-lava/basalt/internal/store"
)

// apiConfig is what LAVA's XML-RPC API is built from.
type apiConfig struct {
	Store store.Store
	Logs  *logstore.Logs
	Lab   *lab.Lab
}

// apiHandler serves LAVA's XML-RPC API (/RPC2, /RPC2/, //RPC2 and /).
//
// TODO(lab): internal/lavarpc is not on main yet. Once it is, this is
// lavarpc.New(lavarpc.Config{Store: c.Store, Logs: c.Logs, Lab: c.Lab,
// Version: versionText}); until then every API path answers 404.
func apiHandler(c apiConfig) http.Handler {
	_ = c
	return http.NotFoundHandler()
}
