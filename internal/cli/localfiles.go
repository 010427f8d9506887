package cli

import (
	"errors"
	"flag"

	"github.com/basalt-lava/basalt/internal/hostfiles"
)

// localFilesFlags are --allow-local-files and --no-local-files of `basalt
// run` and `basalt validate`: by default a job may name any local file
// (a user's own images on their own machine); either flag turns the
// host-access policy on (internal/hostfiles).
type localFilesFlags struct {
	dirs listFlag
	none bool
}

func addLocalFilesFlags(fs *flag.FlagSet) *localFilesFlags {
	f := &localFilesFlags{}
	fs.Var(&f.dirs, "allow-local-files", "let jobs read local files (file:// images, local git repositories) only inside this folder (repeatable; default: any file)")
	fs.BoolVar(&f.none, "no-local-files", false, "let jobs read no local file (file:// images, local git repositories), as a worker does by default")
	return f
}

// policy is the flags' host-access policy: nil (anything) unless a flag
// was given.
func (f *localFilesFlags) policy() (*hostfiles.Policy, error) {
	if len(f.dirs) == 0 && !f.none {
		return nil, nil
	}
	if f.none && len(f.dirs) > 0 {
		return nil, errors.New("--no-local-files and --allow-local-files are exclusive")
	}
	// ssh stays allowed: the keys are the user's own.
	return hostfiles.New(hostfiles.Options{Dirs: f.dirs, GitSSH: true, LXC: true, Host: "machine", Flag: "--allow-local-files"})
}
