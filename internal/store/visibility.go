package store

// Visible reports whether user (a member of groups) may see job, by LAVA's
// rules: public jobs to everyone, superusers and the submitter always,
// personal jobs to nobody else, group jobs to members of a listed group. An
// anonymous caller is the zero User.
func Visible(job Job, user User, groups []string) bool {
	switch {
	case job.Visibility == VisibilityPublic || job.Visibility == "":
		return true
	case user.Name == "":
		return false
	case user.Superuser || user.Name == job.Submitter:
		return true
	case job.Visibility == VisibilityGroup:
		for _, g := range job.VisibleGroups {
			for _, m := range groups {
				if g == m {
					return true
				}
			}
		}
	}
	return false
}
