package store

import "testing"

func TestVisible(t *testing.T) {
	alice, bob, root, anon := User{Name: "alice"}, User{Name: "bob"}, User{Name: "root", Superuser: true}, User{}
	pub := Job{Submitter: "alice", Visibility: VisibilityPublic}
	personal := Job{Submitter: "alice", Visibility: VisibilityPersonal}
	group := Job{Submitter: "alice", Visibility: VisibilityGroup, VisibleGroups: []string{"lab"}}
	for _, c := range []struct {
		name   string
		job    Job
		user   User
		groups []string
		want   bool
	}{
		{"public to anonymous", pub, anon, nil, true},
		{"personal to anonymous", personal, anon, nil, false},
		{"personal to submitter", personal, alice, nil, true},
		{"personal to another", personal, bob, []string{"lab"}, false},
		{"personal to superuser", personal, root, nil, true},
		{"group to member", group, bob, []string{"ci", "lab"}, true},
		{"group to non-member", group, bob, []string{"ci"}, false},
		{"group to anonymous", group, anon, []string{"lab"}, false},
		{"group to submitter outside it", group, alice, nil, true},
	} {
		if got := Visible(c.job, c.user, c.groups); got != c.want {
			t.Errorf("%s: Visible = %v, want %v", c.name, got, c.want)
		}
	}
}
