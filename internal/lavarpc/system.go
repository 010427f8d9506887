package lavarpc

import (
	"context"

	"github.com/basalt-lava/basalt/internal/xmlrpc"
)

// register registers every method; the help texts are what
// system.methodHelp (and lavacli system methods help) prints.
func (a *api) register() {
	a.registerSystem()
	a.registerJobs()
	a.registerDevices()
	a.registerDeviceTypes()
	a.registerWorkers()
	a.registerResults()
	a.registerLegacy()
	a.registerRemoteTokens()
}

func (a *api) registerSystem() {
	a.reg("system.version", 0, 0, "Return the server's version (LAVA-style YYYY.MM).",
		func(context.Context, params) (any, error) { return a.version, nil })
	a.reg("system.whoami", 0, 0, "Return the authenticated user's name, or nil when anonymous.",
		func(ctx context.Context, _ params) (any, error) {
			if u, ok := caller(ctx); ok {
				return u.Name, nil
			}
			return nil, nil
		})
	a.reg("system.api_version", 0, 0, "Return the XML-RPC API version (2, as LAVA).",
		func(context.Context, params) (any, error) { return 2, nil })
	a.reg("system.master_config", 0, 0, "Return the server settings clients read: EVENT_TOPIC, EVENT_SOCKET, EVENT_NOTIFICATION, LOG_SIZE_LIMIT.",
		func(context.Context, params) (any, error) {
			// LAVA's defaults (lava_server/settings/common.py): Basalt has
			// no ZMQ publisher, so notifications are off as LAVA's default.
			return xmlrpc.Struct{
				{Name: "EVENT_TOPIC", Value: "org.lavasoftware"},
				{Name: "EVENT_SOCKET", Value: "tcp://*:5500"},
				{Name: "EVENT_NOTIFICATION", Value: false},
				{Name: "LOG_SIZE_LIMIT", Value: 5},
			}, nil
		})
}
