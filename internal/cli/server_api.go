package cli

import (
	"net/http"

	"github.com/basalt-lava/basalt/internal/lab"
	"github.com/basalt-lava/basalt/internal/lavarpc"
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
func apiHandler(c apiConfig) http.Handler {
	return lavarpc.New(lavarpc.Config{Store: c.Store, Logs: c.Logs, Lab: c.Lab})
}
