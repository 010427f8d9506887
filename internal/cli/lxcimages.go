package cli

import (
	"flag"

	"github.com/basalt-lava/basalt/internal/lxc"
)

// lxcImageFlags are --lxc-image-server, --lxc-image-ca and
// --lxc-image-cache of `basalt run` and `basalt worker`: where the
// lava-lxc protocol's download template fetches the pre-built root file
// systems it makes containers from. They are the host's configuration,
// never the job's: the image server decides what runs as root in the
// container.
type lxcImageFlags struct{ server, ca, cache string }

func addLXCImageFlags(fs *flag.FlagSet) *lxcImageFlags {
	f := &lxcImageFlags{}
	fs.StringVar(&f.server, "lxc-image-server", "", "image server of the lava-lxc download template, HOST[:PORT][/PATH] or https://… (default: LXC's, images.linuxcontainers.org)")
	fs.StringVar(&f.ca, "lxc-image-ca", "", "PEM file of the certificate authorities trusted for --lxc-image-server (default: the system's)")
	fs.StringVar(&f.cache, "lxc-image-cache", "", "folder where the download template keeps images between jobs (default: LXC's, /var/cache/lxc)")
	return f
}

// source is the flags' image source, checked.
func (f *lxcImageFlags) source() (lxc.ImageSource, error) {
	server, err := lxc.ParseImageServer(f.server)
	if err != nil {
		return lxc.ImageSource{}, err
	}
	s := lxc.ImageSource{Server: server, CAFile: f.ca, CacheDir: f.cache}
	return s, s.Check()
}
