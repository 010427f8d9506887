package deploy

import (
	"context"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

// sshAuthorizeActive reports whether ssh-authorize has work to do: only
// a deploy that asks for it (authorize: ssh, secondary connections) and
// is not itself a deploy to ssh. Everywhere else LAVA's action logs "No
// authorisation required." and returns.
func (a *SshAuthorize) sshAuthorizeActive() bool {
	return a.Params.String("to") != "ssh" && a.Params.String("authorize") == "ssh"
}

// CannotRun is empty where ssh-authorize has nothing to do (every deploy
// without authorize: ssh); copying the key for secondary connections is
// not written yet.
func (a *SshAuthorize) CannotRun() string {
	if !a.sshAuthorizeActive() {
		return ""
	}
	return pipeline.NotWritten
}

// Run does nothing for a deploy that did not ask for ssh authorization.
func (a *SshAuthorize) Run(_ context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	if !a.sshAuthorizeActive() {
		a.Log().Debugf("No authorisation required.")
		return conn, nil
	}
	return conn, pipeline.NotImplemented(&a.Base)
}
