package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/store"
)

// testRemoteTokens: a remote token is added, replaced, read by user and
// name (another user's of the same name is distinct), listed without
// values unless asked, checked, deleted, and goes with its user.
func testRemoteTokens(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	for _, u := range []string{"alice", "bob"} {
		_, err := s.CreateUser(ctx, u, "pw", false)
		must(t, err)
	}
	must(t, s.PutRemoteToken(ctx, "alice", "kernelci-callback", "v1"))
	must(t, s.PutRemoteToken(ctx, "alice", "kernelci-callback", "v2"))
	must(t, s.PutRemoteToken(ctx, "alice", "artifacts", "a-secret"))
	must(t, s.PutRemoteToken(ctx, "bob", "kernelci-callback", "bob-secret"))
	if err := s.PutRemoteToken(ctx, "nobody", "x", "y"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PutRemoteToken(nobody) = %v, want ErrNotFound", err)
	}
	for _, c := range []struct{ name, token, want string }{
		{"", "v", "name is empty"},
		{" x", "v", "space"},
		{"a\nb", "v", "control character"},
		{strings.Repeat("n", store.MaxRemoteTokenName+1), "v", "longer than 100"},
		{"x", "", "value is empty"},
		{"x", "v\r\nX-Evil: 1", "control character"},
		{"x", strings.Repeat("v", store.MaxRemoteTokenValue+1), "longer than 4096"},
	} {
		if err := s.PutRemoteToken(ctx, "alice", c.name, c.token); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("PutRemoteToken(%q, %q) = %v, want an error saying %q", c.name, c.token, err, c.want)
		}
	}
	for _, c := range []struct{ user, name, want string }{
		{"alice", "kernelci-callback", "v2"},
		{"alice", "artifacts", "a-secret"},
		{"bob", "kernelci-callback", "bob-secret"},
	} {
		if v, err := s.RemoteToken(ctx, c.user, c.name); err != nil || v != c.want {
			t.Errorf("RemoteToken(%s, %s) = %q, %v, want %q", c.user, c.name, v, err, c.want)
		}
	}
	if _, err := s.RemoteToken(ctx, "bob", "artifacts"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RemoteToken(bob, artifacts) = %v, want ErrNotFound", err)
	}

	names := func(ts []store.RemoteToken) string {
		var b strings.Builder
		for _, x := range ts {
			b.WriteString(x.User + "/" + x.Name + "=" + x.Token + " ")
			if x.Created.IsZero() {
				t.Errorf("%s/%s: no creation time", x.User, x.Name)
			}
		}
		return b.String()
	}
	ts, err := s.RemoteTokens(ctx, "alice", false)
	must(t, err)
	if got, want := names(ts), "alice/artifacts= alice/kernelci-callback= "; got != want {
		t.Errorf("RemoteTokens(alice, false) = %q, want %q", got, want)
	}
	ts, err = s.RemoteTokens(ctx, "", true)
	must(t, err)
	if got, want := names(ts), "alice/artifacts=a-secret alice/kernelci-callback=v2 bob/kernelci-callback=bob-secret "; got != want {
		t.Errorf("RemoteTokens(all, true) = %q, want %q", got, want)
	}

	must(t, s.DeleteRemoteToken(ctx, "alice", "artifacts"))
	if err := s.DeleteRemoteToken(ctx, "alice", "artifacts"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second DeleteRemoteToken = %v, want ErrNotFound", err)
	}
	if err := s.DeleteRemoteToken(ctx, "alice", "bob's"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteRemoteToken(unknown) = %v, want ErrNotFound", err)
	}
	must(t, s.DeleteUser(ctx, "bob"))
	ts, err = s.RemoteTokens(ctx, "", true)
	must(t, err)
	if got, want := names(ts), "alice/kernelci-callback=v2 "; got != want {
		t.Errorf("after deleting bob and alice/artifacts: %q, want %q", got, want)
	}
}
