package storetest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/basalt-lava/basalt/internal/store"
)

// testNotifications: a user's e-mail address is kept, checked and
// cleared; a notification is claimed once among concurrent callers, a
// released claim can be taken again, and claims are per job.
func testNotifications(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	lab(t, s, 1)
	if u, err := s.User(ctx, "alice"); err != nil || u.Email != "" {
		t.Errorf("new user = %+v, %v, want no email", u, err)
	}
	must(t, s.SetUserEmail(ctx, "alice", "alice@example.org"))
	if u, err := s.User(ctx, "alice"); err != nil || u.Email != "alice@example.org" {
		t.Errorf("User = %+v, %v", u, err)
	}
	if us, err := s.Users(ctx); err != nil || len(us) != 1 || us[0].Email != "alice@example.org" {
		t.Errorf("Users = %+v, %v", us, err)
	}
	for _, bad := range []string{"alice", "Alice <alice@example.org>", "a@b\r\nBcc: x@y", "a b@c"} {
		if err := s.SetUserEmail(ctx, "alice", bad); err == nil || !strings.Contains(err.Error(), "not a valid email address") {
			t.Errorf("SetUserEmail(%q) = %v", bad, err)
		}
	}
	if err := s.SetUserEmail(ctx, "nobody", "n@example.org"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetUserEmail(nobody) = %v, want ErrNotFound", err)
	}
	must(t, s.SetUserEmail(ctx, "alice", ""))
	if u, _ := s.User(ctx, "alice"); u.Email != "" {
		t.Errorf("cleared email = %q", u.Email)
	}

	ids := submit(t, s, 2)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.ClaimNotification(ctx, ids[0], "email:alice@example.org")
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d concurrent claims won, want 1", wins)
	}
	if ok, err := s.ClaimNotification(ctx, ids[1], "email:alice@example.org"); !ok || err != nil {
		t.Errorf("claim on another job = %v, %v", ok, err)
	}
	must(t, s.ReleaseNotification(ctx, ids[0], "email:alice@example.org"))
	if ok, err := s.ClaimNotification(ctx, ids[0], "email:alice@example.org"); !ok || err != nil {
		t.Errorf("claim after release = %v, %v", ok, err)
	}
	if ok, _ := s.ClaimNotification(ctx, ids[0], "email:alice@example.org"); ok {
		t.Error("claimed twice")
	}
}
