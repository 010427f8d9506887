package deploy

import (
	"net/url"
	"slices"
	"strings"

	"github.com/basalt-lava/basalt/internal/actions/boot"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func init() {
	// `to: downloads` only fetches files into the job's downloads
	// directory, where later deploys find them as downloads:// URLs.
	pipeline.Register(&strategy{
		name: "Downloads",
		accepts: func(_, params *value.Map) (bool, string) {
			return pipeline.MethodCheck{Section: "deploy", Method: "downloads"}.Named(params)
		},
		action: func(*value.Map) pipeline.Action { return NewDownloads() },
	})
}

// Downloads is LAVA's DownloadsAction (downloads).
type Downloads struct{ pipeline.Base }

var _ pipeline.Action = (*Downloads)(nil)

// NewDownloads returns downloads.
func NewDownloads() *Downloads {
	return &Downloads{pipeline.NewBase("DownloadsAction", "downloads", "Just downloads files", "downloads files")}
}

// Populate adds the overlay when a test needs it, one download per image
// in job order (LAVA 2026; older LAVA sorted them), and the docker
// post-processing when the block asks for it.
func (a *Downloads) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	if a.TestNeedsOverlay(params) {
		p.Add(NewOverlay(), nil)
	}
	params.Map("images").Range(func(label string, v any) bool {
		img, _ := v.(*value.Map)
		p.Add(NewDownloader(label, img), nil)
		return true
	})
	if pipeline.Truthy(params.Map("postprocess").Value("docker")) {
		p.Add(NewPostprocessWithDocker(), nil)
	}
}

// Validate needs at least one image.
func (a *Downloads) Validate() {
	a.Base.Validate()
	validateFlashImages(&a.Base, a.Params)
}

// PostprocessWithDocker is LAVA's PostprocessWithDocker
// (download-postprocess-docker): runs the block's postprocess.docker
// steps in a container with the downloads directory mounted.
type PostprocessWithDocker struct{ leaf }

// NewPostprocessWithDocker returns download-postprocess-docker.
func NewPostprocessWithDocker() *PostprocessWithDocker {
	return &PostprocessWithDocker{leaf{pipeline.NewBase("PostprocessWithDocker", "download-postprocess-docker",
		"Postprocess downloaded images with Docker", "download-postprocess")}}
}

// Validate needs steps to run and an image to run them in.
func (a *PostprocessWithDocker) Validate() {
	a.leaf.Validate()
	d := a.Params.Map("postprocess").Map("docker")
	steps, _ := d.Value("steps").([]any)
	if len(steps) == 0 {
		a.Errorf("postprocessing steps missing")
	}
	boot.ValidateContainer(&a.Base, value.MapOf("docker", d))
}

// usesNetloc are the schemes for which Python's urlunparse writes "//"
// before an empty host (urllib.parse.uses_netloc).
var usesNetloc = []string{"", "ftp", "http", "gopher", "nntp", "telnet", "imap", "wais", "file", "mms",
	"https", "shttp", "snews", "prospero", "rtsp", "rtspu", "rsync", "svn", "svn+ssh", "sftp", "nfs",
	"git", "git+ssh", "ws", "wss", "itms-services"}

// DescribedURL is a download URL as LAVA's describe() shows it:
// urlparse(url).geturl(), which drops the empty "//" host of schemes
// Python does not know to have one, so downloads:///a.img reads
// downloads:/a.img.
func DescribedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host != "" || u.User != nil || u.Opaque != "" {
		return raw
	}
	scheme := strings.ToLower(u.Scheme)
	if slices.Contains(usesNetloc, scheme) {
		return raw
	}
	prefix := u.Scheme + "://"
	if !strings.HasPrefix(raw, prefix) {
		return raw
	}
	return u.Scheme + ":" + raw[len(prefix):]
}
