package download

import (
	"net/url"
	"path"
	"strings"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

// FileName is the name a download gets in its folder: the last element
// of the URL's path, without the compression's extension when the file
// is decompressed on the way (rootfs.ext4.xz → rootfs.ext4; a name
// without an extension keeps its name). The name comes from the job, so
// it must be one plain file name: never "..", never a path.
func FileName(u *url.URL, compression string) (string, error) {
	p := u.Path
	if p == "" {
		p = u.Opaque
	}
	if p == "" || strings.HasSuffix(p, "/") {
		return "", pipeline.JobError("cannot download a directory: '%s' has no file name", u.Redacted())
	}
	name := path.Base(p)
	if Decompresses(compression) {
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			name = name[:i]
		}
	}
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
		return "", pipeline.JobError("invalid file name %q from url '%s'", name, u.Redacted())
	}
	return name, nil
}
