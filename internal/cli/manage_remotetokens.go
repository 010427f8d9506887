package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/basalt-lava/basalt/internal/limits"
	"github.com/basalt-lava/basalt/internal/store"
)

// Remote artifact tokens (LAVA's RemoteArtifactsAuth, its "Remote
// artifact tokens" on /api/tokens/): a user's named secrets, sent by the
// lab for that user's jobs only. The values are stored in clear (they
// must be sent) and never printed back.

var remoteTokenAdd = manageAction{"remote-tokens add --user NAME TOKEN-NAME (--token-file FILE | --token VALUE)", 1,
	func(fs *flag.FlagSet, _ *limits.Limits) func(context.Context, store.Store, []string, io.Writer) error {
		user := fs.String("user", "", "the token's owner (required): only this user's jobs use it")
		file := fs.String("token-file", "", "a file holding the value (one trailing newline is dropped)")
		value := fs.String("token", "", "the value (visible to other local users in the process list: prefer --token-file)")
		return func(ctx context.Context, st store.Store, pos []string, _ io.Writer) error {
			if *user == "" {
				return &usageError{"--user is required"}
			}
			if (*file == "") == (*value == "") {
				return &usageError{"give one of --token-file and --token"}
			}
			tok := *value
			if *file != "" {
				var err error
				if tok, err = readTokenFile(*file); err != nil {
					return err
				}
			}
			if err := store.CheckRemoteToken(pos[0], tok); err != nil {
				return &usageError{err.Error()}
			}
			return st.PutRemoteToken(ctx, *user, pos[0], tok)
		}
	}}

var remoteTokenList = manageAction{"remote-tokens list [--user NAME]", 0,
	func(fs *flag.FlagSet, _ *limits.Limits) func(context.Context, store.Store, []string, io.Writer) error {
		user := fs.String("user", "", "only this user's tokens (default: every user's)")
		return func(ctx context.Context, st store.Store, _ []string, w io.Writer) error {
			if *user != "" {
				if _, err := st.User(ctx, *user); err != nil {
					return err
				}
			}
			ts, err := st.RemoteTokens(ctx, *user, false)
			if err != nil {
				return err
			}
			return table(w, "USER\tNAME\tCREATED", len(ts), func(i int) string {
				return fmt.Sprintf("%s\t%s\t%s", ts[i].User, ts[i].Name, ts[i].Created.Format("2006-01-02T15:04:05Z"))
			})
		}
	}}

var remoteTokenRemove = manageAction{"remote-tokens remove --user NAME TOKEN-NAME", 1,
	func(fs *flag.FlagSet, _ *limits.Limits) func(context.Context, store.Store, []string, io.Writer) error {
		user := fs.String("user", "", "the token's owner (required)")
		return func(ctx context.Context, st store.Store, pos []string, _ io.Writer) error {
			if *user == "" {
				return &usageError{"--user is required"}
			}
			return st.DeleteRemoteToken(ctx, *user, pos[0])
		}
	}}

// readTokenFile reads a token's value from a file of at most
// store.MaxRemoteTokenValue bytes plus a line ending, dropping that one
// trailing newline (as `echo secret > file` leaves it).
func readTokenFile(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, store.MaxRemoteTokenValue+3))
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if len(s) > store.MaxRemoteTokenValue {
		return "", fmt.Errorf("%s: the value is longer than %d bytes", name, store.MaxRemoteTokenValue)
	}
	return s, nil
}
