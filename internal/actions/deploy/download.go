package deploy

import (
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/basalt-lava/basalt/internal/overlay"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// Downloader is LAVA's DownloaderAction (download-retry): a retrying
// action whose one child fetches Image["url"] by its scheme, followed by
// the image's extra overlays.
type Downloader struct {
	pipeline.Base
	// Key is the label of the download (an image name, "kernel", …); the
	// file lands in <dir>/<Key>/.
	Key string
	// Image holds url, compression, archive, checksums, image_arg.
	Image *value.Map
}

var _ pipeline.Action = (*Downloader)(nil)

// NewDownloader returns a download-retry action for one file.
func NewDownloader(key string, image *value.Map) *Downloader {
	d := &Downloader{Base: pipeline.NewBase("DownloaderAction", "download-retry",
		"download with retry", "download-retry"), Key: key, Image: image}
	d.Retry = true
	return d
}

// Populate picks the handler by URL scheme, as LAVA does, then adds one
// nested download per extra overlay and the action that appends them.
func (a *Downloader) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	raw, ok := a.Image.Value("url").(string)
	if !ok {
		a.Errorf("invalid deploy action: 'url' is missing for '%s'", a.Key)
		return
	}
	u, err := url.Parse(raw)
	if err != nil {
		a.Errorf("invalid url %q for '%s': %v", raw, a.Key, err)
		return
	}
	h := newHandler(u.Scheme, a.Key, raw, a.Image)
	if h == nil {
		a.Errorf("unsupported url protocol scheme: %s", u.Scheme)
		return
	}
	p.Add(h, nil)
	overlays := a.Image.Map("overlays")
	overlays.Range(func(name string, v any) bool {
		if name == "lava" {
			// Not a download: it says where the LAVA overlay goes.
			return true
		}
		m, _ := v.(*value.Map)
		p.Add(NewDownloader(a.Key+"."+name, m), nil)
		return true
	})
	if overlays.Len() > 0 {
		if overlays.Has("lava") && !a.TestNeedsOverlay(params) {
			p.Add(NewCreateOverlay(), nil)
		}
		p.Add(NewAppendOverlays(a.Key, a.Image), nil)
	}
}

// newHandler returns the download handler for a URL scheme, or nil.
func newHandler(scheme, key, raw string, image *value.Map) pipeline.Action {
	var base pipeline.Base
	switch scheme {
	case "http", "https":
		base = pipeline.NewBase("HttpDownloadAction", "http-download", "use http to download the file", "http download")
	case "file":
		base = pipeline.NewBase("FileDownloadAction", "file-download", "copy a local file", "local file copy")
	case "scp":
		base = pipeline.NewBase("ScpDownloadAction", "scp-download", "Use scp to copy the file", "scp download")
	case "rclone":
		base = pipeline.NewBase("RcloneDownloadAction", "rclone-download", "Use rclone to download the file", "rclone download")
	case "downloads":
		base = pipeline.NewBase("PreDownloadedAction", "pre-downloaded", "Map to the correct downloaded path", "pre downloaded")
	default:
		return nil
	}
	base.URL = DescribedURL(raw)
	// LAVA's DownloadHandler.timeout_exception: a download that runs out
	// of time is the network's fault, not the job's.
	base.TimeoutClass = pipeline.ClassInfrastructure
	return &DownloadHandler{leaf: leaf{base}, Key: key, Image: image, Scheme: scheme}
}

// DownloadHandler fetches one file: http-download, file-download,
// scp-download, rclone-download or pre-downloaded, by Scheme.
type DownloadHandler struct {
	leaf
	Key    string
	Image  *value.Map
	Scheme string
	// dir is the folder Run downloaded into, for Cleanup.
	dir string
}

// compressions LAVA accepts; zip is accepted but not decompressed while
// downloading.
var compressions = []string{"gz", "bz2", "xz", "zip", "zstd"}

// Validate checks the download's own parameters as LAVA's DownloadHandler
// does. LAVA's http-download also sends a HEAD request at validation; that
// belongs to running (internal/download), so a job validates offline.
func (a *DownloadHandler) Validate() {
	a.leaf.Validate()
	if a.Key == "" || strings.ContainsAny(a.Key, "/") || a.Key == "." || a.Key == ".." {
		a.Errorf("invalid key %q", a.Key)
	}
	u, _ := url.Parse(a.URL)
	if u != nil && strings.HasSuffix(u.Path, "/") {
		a.Errorf("cannot download a directory for %s", a.Key)
	}
	if c, ok := a.Image.Get("compression"); ok && c != nil {
		s, _ := c.(string)
		if !slices.Contains(compressions, s) {
			a.Errorf("unknown 'compression' format '%v'", c)
		}
	}
	if ar, ok := a.Image.Get("archive"); ok && ar != nil && ar != "tar" {
		a.Errorf("unknown 'archive' format '%v'", ar)
	}
	switch a.Scheme {
	case "file":
		if u == nil {
			break
		}
		if err := a.LocalFiles().Check(u.Path); err != nil {
			a.Errorf("%s: %s: %v", a.urlKey(), u.Redacted(), err)
		} else if !fileReadable(u.Path) {
			a.Errorf("image file '%s' does not exist or is not readable", u.Path)
		}
	case "downloads":
		if u != nil && u.Path == "" && u.Host == "" {
			a.Errorf("invalid path in downloads:// url")
		}
	case "scp":
		warnMissingTool(&a.Base, "ssh")
	case "rclone":
		warnMissingTool(&a.Base, "rclone")
	}
}

// urlKey names the job's key holding the URL, for messages:
// images.rootfs.url, kernel.url, images.rootfs.overlays.modules.url, or
// the repository of a url test definition.
func (a *DownloadHandler) urlKey() string {
	if a.Key == "url_repo" {
		return "repository"
	}
	k := a.Key
	image, overlay, nested := strings.Cut(k, ".")
	if nested {
		k = image + ".overlays." + overlay
	}
	if a.Params.Map("images").Has(image) {
		k = "images." + k
	}
	return k + ".url"
}

// FileName is where the download lands below its directory: the URL's
// base name, without the compression suffix when the download is
// decompressed on the way (never for the key "ramdisk", which boots
// compressed).
func (a *DownloadHandler) FileName() string {
	u, err := url.Parse(a.URL)
	if err != nil {
		return ""
	}
	name := path.Base(u.Path)
	c := a.Image.String("compression")
	if a.Key == "ramdisk" || c == "" || c == "zip" {
		return name
	}
	if i := strings.LastIndex(name, "."); i > 0 {
		return name[:i]
	}
	return name
}

// AppendOverlays appends downloaded overlays (and the LAVA overlay) into
// an image (appendoverlays_run.go).
type AppendOverlays struct {
	pipeline.Base
	Key   string
	Image *value.Map
}

// NewAppendOverlays returns LAVA's append-overlays action.
func NewAppendOverlays(key string, image *value.Map) *AppendOverlays {
	return &AppendOverlays{Base: pipeline.NewBase("AppendOverlays", "append-overlays",
		"append overlays to an image", "append overlays to an image"), Key: key, Image: image}
}

// Validate checks the image format and each overlay's format and path.
func (a *AppendOverlays) Validate() {
	a.Base.Validate()
	switch f := a.Image.String("format"); f {
	case "cpio.newc":
	case "ext4":
		if !overlay.HasE2fsTool("debugfs") {
			a.Warnf("debugfs is not installed on the dispatcher (e2fsprogs)")
		}
		if p, ok := a.Image.Get("partition"); ok && p != nil {
			if n, isInt := pipeline.ToInt(p); !isInt || n < 0 {
				a.Errorf("invalid partition number %s", value.GoString(p))
			}
		}
		// Not written yet: Android sparse images (simg2img).
		if pipeline.Truthy(a.Image.Value("sparse")) {
			a.Errorf("sparse: appending overlays to a sparse image is not supported by basalt yet")
		}
	case "tar":
	default:
		a.Errorf("unsupported image format %q", f)
	}
	a.Image.Map("overlays").Range(func(name string, v any) bool {
		if name == "lava" {
			return true
		}
		m, _ := v.(*value.Map)
		if f := m.String("format"); f != "file" && f != "tar" {
			a.Errorf("invalid 'format' (%q) for 'overlays.%s'", f, name)
		}
		if p := m.String("path"); p == "" {
			a.Errorf("missing 'path' for 'overlays.%s'", name)
		} else if !strings.HasPrefix(p, "/") || strings.Contains(p, "..") {
			a.Errorf("invalid 'path': %q", p)
		}
		return true
	})
}
