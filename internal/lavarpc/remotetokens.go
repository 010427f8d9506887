package lavarpc

import (
	"context"
	"errors"

	"github.com/basalt-lava/basalt/internal/store"
)

// Remote artifact tokens (lavacli ≥ 2025.5 `tokens`): the caller's own
// named secrets, which the lab sends for the caller's jobs (a notify
// callback's token, download headers, secrets). Deliberate difference
// from LAVA: a value is never read back — list gives each name with an
// empty token (lavacli prints "* NAME:") and show is refused — since
// Basalt shows a stored secret to nobody (the tokens page and `basalt
// manage remote-tokens list` neither).

func (a *api) registerRemoteTokens() {
	a.reg("scheduler.remote_artifact_tokens.add", 2, 2, "remote_artifact_tokens.add(name, token): keep a remote artifact token, sent for your jobs where they name it.", a.remoteTokenAdd)
	a.reg("scheduler.remote_artifact_tokens.delete", 1, 1, "remote_artifact_tokens.delete(name): remove one of your remote artifact tokens.", a.remoteTokenDelete)
	a.reg("scheduler.remote_artifact_tokens.list", 0, 0, "remote_artifact_tokens.list(): your remote artifact tokens, by name (values are not shown: token is empty).", a.remoteTokenList)
	a.reg("scheduler.remote_artifact_tokens.show", 1, 1, "remote_artifact_tokens.show(name): refused: Basalt does not show a remote artifact token's value again.", a.remoteTokenShow)
}

func remoteTokenNotFound(name string) error { return notFound("Token '%s' was not found.", name) }

func (a *api) remoteTokenAdd(ctx context.Context, p params) (any, error) {
	u, err := needUser(ctx)
	if err != nil {
		return nil, err
	}
	name, tok := p.str(0), p.str(1)
	if err := store.CheckRemoteToken(name, tok); err != nil {
		return nil, badRequest("Bad request: %v", err)
	}
	// LAVA's add refuses a name the user has (a unique constraint).
	switch _, err := a.store.RemoteToken(ctx, u.Name, name); {
	case err == nil:
		return nil, badRequest("Bad request: token already exists?")
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	return nil, a.store.PutRemoteToken(ctx, u.Name, name, tok)
}

func (a *api) remoteTokenDelete(ctx context.Context, p params) (any, error) {
	u, err := needUser(ctx)
	if err != nil {
		return nil, err
	}
	name := p.str(0)
	if err := a.store.DeleteRemoteToken(ctx, u.Name, name); errors.Is(err, store.ErrNotFound) {
		return nil, remoteTokenNotFound(name)
	} else if err != nil {
		return nil, err
	}
	return nil, nil
}

func (a *api) remoteTokenList(ctx context.Context, _ params) (any, error) {
	u, err := needUser(ctx)
	if err != nil {
		return nil, err
	}
	ts, err := a.store.RemoteTokens(ctx, u.Name, false)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(ts))
	for _, t := range ts {
		out = append(out, st("name", t.Name, "token", ""))
	}
	return out, nil
}

func (a *api) remoteTokenShow(ctx context.Context, p params) (any, error) {
	u, err := needUser(ctx)
	if err != nil {
		return nil, err
	}
	name := p.str(0)
	if _, err := a.store.RemoteToken(ctx, u.Name, name); errors.Is(err, store.ErrNotFound) {
		return nil, remoteTokenNotFound(name)
	} else if err != nil {
		return nil, err
	}
	return nil, forbidden("Basalt does not show a remote artifact token's value again: delete and add it to change it.")
}
