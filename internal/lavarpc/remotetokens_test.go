package lavarpc

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/xmlrpc"
)

// TestRemoteArtifactTokens: scheduler.remote_artifact_tokens.* act on the
// caller's own tokens, with LAVA's faults; values are stored and never
// read back (list's token is empty, show is refused).
func TestRemoteArtifactTokens(t *testing.T) {
	e := newEnv(t)
	e.run(t, []rpcCase{
		{name: "anonymous", method: "scheduler.remote_artifact_tokens.list", fault: xmlrpc.CodeAuthRequired, msg: "Authentication"},
		{name: "add", user: "alice", method: "scheduler.remote_artifact_tokens.add", args: []any{"kernelci-callback", "kci-S3CRET"}, isNil: true},
		{name: "add again", user: "alice", method: "scheduler.remote_artifact_tokens.add", args: []any{"kernelci-callback", "other"}, fault: xmlrpc.CodeBadRequest, msg: "token already exists?"},
		{name: "add bad value", user: "alice", method: "scheduler.remote_artifact_tokens.add", args: []any{"x", "a\nb"}, fault: xmlrpc.CodeBadRequest, msg: "control character"},
		{name: "bob's own", user: "bob", method: "scheduler.remote_artifact_tokens.add", args: []any{"kernelci-callback", "bob-value"}, isNil: true},
		{name: "list", user: "alice", method: "scheduler.remote_artifact_tokens.list", want: []any{map[string]any{"name": "kernelci-callback", "token": ""}}},
		{name: "show", user: "alice", method: "scheduler.remote_artifact_tokens.show", args: []any{"kernelci-callback"}, fault: xmlrpc.CodeForbidden, msg: "does not show"},
		{name: "show unknown", user: "alice", method: "scheduler.remote_artifact_tokens.show", args: []any{"nope"}, fault: xmlrpc.CodeNotFound, msg: "Token 'nope' was not found."},
		{name: "delete", user: "alice", method: "scheduler.remote_artifact_tokens.delete", args: []any{"kernelci-callback"}, isNil: true},
		{name: "delete again", user: "alice", method: "scheduler.remote_artifact_tokens.delete", args: []any{"kernelci-callback"}, fault: xmlrpc.CodeNotFound, msg: "was not found"},
		{name: "list empty", user: "alice", method: "scheduler.remote_artifact_tokens.list", want: []any{}},
	})
	if v, err := e.st.RemoteToken(context.Background(), "bob", "kernelci-callback"); err != nil || v != "bob-value" {
		t.Errorf("bob's token = %q, %v", v, err)
	}
}

// TestLavacliTokens: lavacli 2.x's `tokens` commands (lavacli ≥ 2025.5,
// BASALT_LAVACLI2) add, list (names, no value), refuse show and delete.
func TestLavacliTokens(t *testing.T) {
	bin, ok := lavaclis(t)["2.x"]
	if !ok {
		t.Skip("lavacli 2.x only (BASALT_LAVACLI2)")
	}
	e := newEnv(t)
	dir := t.TempDir()
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"--uri", e.url("alice", "/RPC2")}, args...)...)
		cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+dir, "HOME="+dir)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("tokens", "add", "kernelci-callback", "--token", "kci-S3CRET"); err != nil {
		t.Fatalf("tokens add: %v\n%s", err, out)
	}
	if v, err := e.st.RemoteToken(context.Background(), "alice", "kernelci-callback"); err != nil || v != "kci-S3CRET" {
		t.Errorf("stored %q, %v", v, err)
	}
	if out, err := run("tokens", "list"); err != nil || out != "tokens:\n* kernelci-callback:\n" {
		t.Errorf("tokens list: %v\n%q", err, out)
	}
	if out, err := run("tokens", "show", "kernelci-callback"); err == nil || strings.Contains(out, "kci-S3CRET") || !strings.Contains(out, "does not show") {
		t.Errorf("tokens show: %v\n%s", err, out)
	}
	if out, err := run("tokens", "delete", "kernelci-callback"); err != nil {
		t.Errorf("tokens delete: %v\n%s", err, out)
	}
	if out, err := run("tokens", "list"); err != nil || out != "tokens:\n" {
		t.Errorf("tokens list after delete: %v\n%q", err, out)
	}
}
