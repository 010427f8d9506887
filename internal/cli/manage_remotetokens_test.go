package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/store/storetest"
)

func TestManageRemoteTokensSQLite(t *testing.T) {
	testManageRemoteTokens(t, filepath.Join(t.TempDir(), "lab.db"))
}

// TestManageRemoteTokensPostgres: the same on PostgreSQL
// (scripts/with-postgres.sh go test ./internal/cli -run Manage).
func TestManageRemoteTokensPostgres(t *testing.T) {
	testManageRemoteTokens(t, storetest.PostgresDSN(t, true))
}

// testManageRemoteTokens: remote-tokens add (from a file, one trailing
// newline dropped, or a value; again replaces), list (never the values),
// remove, and their refusals.
func testManageRemoteTokens(t *testing.T, db string) {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("kci-s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustManage(t, db, "users", "add", "kernelci")
	mustManage(t, db, "users", "add", "bob")
	mustManage(t, db, "remote-tokens", "add", "--user", "kernelci", "kernelci-callback", "--token-file", secret)
	mustManage(t, db, "remote-tokens", "add", "--user", "bob", "artifacts", "--token", "first")
	mustManage(t, db, "remote-tokens", "add", "--user", "bob", "artifacts", "--token", "bob-value")

	st, err := openStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range [][3]string{{"kernelci", "kernelci-callback", "kci-s3cret"}, {"bob", "artifacts", "bob-value"}} {
		if v, err := st.RemoteToken(context.Background(), c[0], c[1]); err != nil || v != c[2] {
			t.Errorf("%s/%s = %q, %v, want %q", c[0], c[1], v, err, c[2])
		}
	}
	st.Close()

	all := mustManage(t, db, "remote-tokens", "list")
	if strings.Contains(all, "kci-s3cret") || strings.Contains(all, "bob-value") {
		t.Errorf("list printed a value:\n%s", all)
	}
	lines := strings.Split(strings.TrimSpace(all), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "USER") || !strings.HasPrefix(lines[1], "bob ") || !strings.Contains(lines[1], "artifacts") ||
		!strings.HasPrefix(lines[2], "kernelci ") || !strings.Contains(lines[2], "kernelci-callback") {
		t.Errorf("list:\n%s", all)
	}
	if got := mustManage(t, db, "remote-tokens", "list", "--user", "bob"); strings.Contains(got, "kernelci") || !strings.Contains(got, "artifacts") {
		t.Errorf("list --user bob:\n%s", got)
	}
	mustManage(t, db, "remote-tokens", "remove", "--user", "bob", "artifacts")
	if got := mustManage(t, db, "remote-tokens", "list", "--user", "bob"); strings.Contains(got, "artifacts") {
		t.Errorf("after remove:\n%s", got)
	}

	long := filepath.Join(t.TempDir(), "long")
	if err := os.WriteFile(long, []byte(strings.Repeat("x", 5000)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"remote-tokens", "add", "x", "--token", "v"}, exitUsage, "--user is required"},
		{[]string{"remote-tokens", "add", "--user", "bob", "x"}, exitUsage, "give one of --token-file and --token"},
		{[]string{"remote-tokens", "add", "--user", "bob", "x", "--token", "v", "--token-file", secret}, exitUsage, "give one of --token-file and --token"},
		{[]string{"remote-tokens", "add", "--user", "bob", "x", "--token-file", long}, exitFailed, "longer than 4096 bytes"},
		{[]string{"remote-tokens", "add", "--user", "bob", "x", "--token", "a\tb"}, exitUsage, "control character"},
		{[]string{"remote-tokens", "add", "--user", "nobody", "x", "--token", "v"}, exitFailed, "user nobody: not found"},
		{[]string{"remote-tokens", "add", "--user", "bob"}, exitUsage, "want 1 argument(s), got 0"},
		{[]string{"remote-tokens", "list", "--user", "nobody"}, exitFailed, "user nobody: not found"},
		{[]string{"remote-tokens", "remove", "--user", "bob", "artifacts"}, exitFailed, "remote token artifacts of bob: not found"},
		{[]string{"remote-tokens", "remove", "artifacts"}, exitUsage, "--user is required"},
	} {
		code, _, errOut := manage(t, db, c.args...)
		if code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("manage %s: exit %d, stderr %q; want exit %d saying %q", strings.Join(c.args, " "), code, errOut, c.code, c.msg)
		}
	}
}
