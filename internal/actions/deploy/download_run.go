package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/basalt-lava/basalt/internal/download"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// dirClaims is the runtime-data namespace that records which handler
// owns which download folder. It cannot clash with a job's namespace:
// those are YAML keys and never start with NUL.
const dirClaims = "\x00download-dirs"

// CannotRun refuses the URL schemes whose download is not written yet:
// scp, rclone and downloads:// (http, https and file are).
func (a *DownloadHandler) CannotRun() string {
	switch a.Scheme {
	case "http", "https", "file":
		return ""
	}
	return "downloading " + a.Scheme + ":// URLs not written yet, only http, https and file"
}

// Run fetches the file with internal/download into <tmpdir>/<label>/ and
// records where it landed for later actions: download-action/<label>/file
// (the file, or the folder of an unpacked tar archive), .../sha256sum,
// .../image_arg, and LAVA's results (label, size, sha256sum).
func (a *DownloadHandler) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	switch a.Scheme {
	case "http", "https", "file":
	default:
		return conn, pipeline.Bug("%s: downloading %s:// urls is not implemented yet (http, https and file urls are)", a.Name, a.Scheme)
	}
	dir, err := a.claimDir()
	if err != nil {
		return conn, err
	}
	a.dir = dir
	log := a.Log()
	compression := a.Image.String("compression")
	if a.Key == "ramdisk" && compression != "" {
		// The boot loads a compressed ramdisk as it is.
		log.Debugf("not decompressing ramdisk as it can be used compressed")
		compression = ""
	}
	req := download.Request{
		URL:         a.Image.String("url"),
		Dir:         dir,
		Compression: compression,
		Archive:     a.Image.String("archive"),
		ArchiveDir:  filepath.Join(dir, a.Key),
		MD5:         checksum(a.Image, "md5sum"),
		SHA256:      checksum(a.Image, "sha256sum"),
		SHA512:      checksum(a.Image, "sha512sum"),
		Log:         log,
		Name:        a.Key,
		LocalFiles:  a.LocalFiles(),
	}
	if h := a.Image.Map("headers"); h != nil {
		req.Headers = map[string]string{}
		h.Range(func(k string, v any) bool {
			req.Headers[k] = fmt.Sprint(v)
			return true
		})
	}
	res, err := download.Fetch(ctx, req)
	if err != nil {
		var ce *download.ChecksumError
		if errors.As(err, &ce) {
			a.SetResult("fail", value.MapOf(ce.Alg, ce.Expected, "download", ce.Actual))
		}
		return conn, err
	}

	a.SetData(pipeline.DataDownload(a.Key, pipeline.DownloadFile), res.Path)
	// LAVA's second form, read by the tftp, nbd and fastboot families.
	a.SetData(pipeline.DataDownloadFileOf(a.Key), res.Path)
	a.SetData(pipeline.DataDownload(a.Key, pipeline.DownloadSHA256), res.SHA256)
	a.SetData(pipeline.DataDownload(a.Key, pipeline.DownloadCompression), a.Image.Value("compression"))
	a.SetData(pipeline.DataDownload(a.Key, pipeline.DownloadDecompressed), download.Decompresses(compression))
	if arg, ok := a.Image.Value("image_arg").(string); ok {
		a.SetData(pipeline.DataDownload(a.Key, pipeline.DownloadImageArg), arg)
	}
	if a.Key == "kernel" {
		if t := a.Params.Map("kernel").Value("type"); t != nil {
			a.SetData(pipeline.DataKernelType, t)
		}
	}
	a.SetResult("label", a.Key)
	a.SetResult("size", int(res.Size))
	if res.MD5 != "" {
		a.SetResult("md5sum", res.MD5)
	}
	a.SetResult("sha256sum", res.SHA256)
	if res.SHA512 != "" {
		a.SetResult("sha512sum", res.SHA512)
	}
	return conn, nil
}

// Cleanup removes the download folder, so that a retry starts from
// nothing and no partial file outlives a failed attempt.
func (a *DownloadHandler) Cleanup(ctx context.Context) error {
	if a.dir == "" {
		return nil
	}
	a.Log().Debugf("cleaning up download directory: %s", a.dir)
	err := os.RemoveAll(a.dir)
	a.SetData(pipeline.DataDownload(a.Key, pipeline.DownloadFile), "")
	if err != nil {
		return pipeline.InfrastructureError("unable to remove %s: %v", a.dir, err)
	}
	return nil
}

// claimDir returns the handler's folder: <tmpdir>/<label>, or, when an
// earlier handler of the job already uses that folder (the same label in
// two deploys, or several url test definitions), <tmpdir>/<label>-<level>,
// so that one download never overwrites or removes another's file.
func (a *DownloadHandler) claimDir() (string, error) {
	rt := &a.Job.Runtime
	if rt.TmpDir == "" {
		return "", pipeline.Bug("%s: the job has no scratch directory", a.Name)
	}
	if a.Key == "" || a.Key == "." || a.Key == ".." || filepath.Base(a.Key) != a.Key {
		return "", pipeline.JobError("invalid key %q", a.Key)
	}
	dir := filepath.Join(rt.TmpDir, a.Key)
	if owner := rt.Data(dirClaims, pipeline.DataDirClaim(dir)); owner != nil && owner != a {
		dir = filepath.Join(rt.TmpDir, a.Key+"-"+a.Level)
	}
	rt.SetData(dirClaims, pipeline.DataDirClaim(dir), a)
	return dir, nil
}

// checksum returns an expected digest of the image block as a string; a
// YAML number (all digits) is still a digest.
func checksum(image *value.Map, key string) string {
	v := image.Value(key)
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}
