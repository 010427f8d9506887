package deploy_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

// escapeJob is a job with one test definition, DEF, fetched by the
// deploy's lava-overlay as basalt run fetches it.
const escapeJob = `
device_type: qemu
job_name: escape
timeouts: {job: {minutes: 15}, action: {minutes: 5}, connection: {minutes: 2}}
context: {arch: amd64}
actions:
- deploy:
    timeout: {minutes: 5}
    to: tmpfs
    os: debian
    images:
      kernel: {url: 'http://127.0.0.1:8000/vmlinuz', image_arg: '-kernel {kernel}'}
- boot:
    method: qemu
    media: tmpfs
    timeout: {minutes: 3}
    prompts: ['root@lava:~# ']
- test:
    timeout: {minutes: 5}
    definitions:
    - DEF
`

// escapeDef is the definition in every hostile repository: an install
// section, so that install.sh is written too.
const escapeDef = `metadata: {format: Lava-Test Test Definition 1.0, name: escape}
install: {steps: [echo installed]}
run: {steps: [lava-test-case a --result pass]}
`

// keepContent is a file of the repository that a link inside it points at.
const keepContent = "the definition's own file\n"

// writtenFiles is every file Basalt writes into a fetched repository's
// folder (test-overlay, test-install-overlay, test-runscript-overlay).
var writtenFiles = []string{"run.sh", "install.sh", "testdef.yaml", "testdef_metadata", "uuid"}

// runEscapeJob runs lava-overlay for a job whose definition is def
// (a YAML flow map), and returns the test's folder in the overlay and
// the error of the run.
func runEscapeJob(t *testing.T, def string) (string, error) {
	t.Helper()
	j := buildJob(t, strings.Replace(escapeJob, "DEF", def, 1), overlayDevice)
	f := &overlayFixture{job: j}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := f.action(t, "lava-overlay").Run(ctx, nil)
	location, _ := f.data("lava-overlay/location").(string)
	return filepath.Join(location, "lava-42", "0", "tests", "0_escape"), err
}

// hostileTree describes a repository: the definition, a file of its own,
// and name as a symlink (to link) or, when hard is set, a hard link to
// the file of its own.
type hostileTree struct {
	name, link string
	hard       bool
}

// tarball packs the hostile repository as a tar archive.
func (h hostileTree) tarball(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(hd *tar.Header, body string) {
		hd.Size = int64(len(body))
		if hd.Mode == 0 {
			hd.Mode = 0o644
		}
		if err := tw.WriteHeader(hd); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	add(&tar.Header{Name: "defs/", Typeflag: tar.TypeDir, Mode: 0o755}, "")
	add(&tar.Header{Name: "defs/t.yaml", Typeflag: tar.TypeReg}, escapeDef)
	add(&tar.Header{Name: "defs/keep.txt", Typeflag: tar.TypeReg}, keepContent)
	if h.hard {
		add(&tar.Header{Name: h.name, Typeflag: tar.TypeLink, Linkname: "defs/keep.txt"}, "")
	} else {
		add(&tar.Header{Name: h.name, Typeflag: tar.TypeSymlink, Linkname: h.link, Mode: 0o777}, "")
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// gitRepo makes the hostile repository as a git repository.
func (h hostileTree) gitRepo(t *testing.T) string {
	t.Helper()
	dir, _ := gitRepoWith(t, map[string]string{"defs/t.yaml": escapeDef, "defs/keep.txt": keepContent})
	if err := os.Symlink(h.link, filepath.Join(dir, h.name)); err != nil {
		t.Fatal(err)
	}
	runGit(t, dir, "add", ".")
	runGit(t, dir, "commit", "-q", "-m", "link")
	return dir
}

// TestTestDefLinksWriteInside gives the deploy test-definition action
// repositories (git, url, tar) in which a file Basalt writes is a link:
// a symlink to a file outside the job's folder (absolute, relative, to a
// file that does not exist yet), a symlink to another file of the
// repository, a hard link to one. Basalt's file replaces the link: the
// file outside is untouched or not created, the repository's file keeps
// its content, and the name holds Basalt's file.
func TestTestDefLinksWriteInside(t *testing.T) {
	if !hasGit() {
		t.Skip("git is not installed")
	}
	type linkKind struct {
		label string
		// link returns the symlink's target given the outside file;
		// empty for a hard link to defs/keep.txt.
		link func(outside string) string
		// exists says the outside file is there before the run.
		exists bool
		inside bool
	}
	kinds := []linkKind{
		{label: "absolute outside", link: func(o string) string { return o }, exists: true},
		{label: "relative outside", link: func(o string) string { return strings.Repeat("../", 40) + strings.TrimPrefix(o, "/") }, exists: true},
		{label: "dangling outside", link: func(o string) string { return o }},
		{label: "inside", link: func(string) string { return "defs/keep.txt" }, inside: true},
		{label: "hard link inside", inside: true},
	}
	srv := httptest.NewServer(&imageServer{files: map[string][]byte{}})
	defer srv.Close()
	files := srv.Config.Handler.(*imageServer).files
	for _, from := range []string{"git", "url", "tar"} {
		for _, k := range kinds {
			if k.link == nil && from == "git" {
				continue // git has no hard links
			}
			for _, name := range writtenFiles {
				t.Run(from+"/"+k.label+"/"+name, func(t *testing.T) {
					outside := filepath.Join(t.TempDir(), "host-file")
					if k.exists {
						if err := os.WriteFile(outside, []byte("untouched\n"), 0o644); err != nil {
							t.Fatal(err)
						}
					}
					h := hostileTree{name: name, hard: k.link == nil}
					if k.link != nil {
						h.link = k.link(outside)
					}
					var def string
					switch from {
					case "git":
						def = `{from: git, name: escape, path: defs/t.yaml, repository: "` + h.gitRepo(t) + `"}`
					case "url":
						p := "/" + strings.NewReplacer("/", "-", " ", "-", ".", "-").Replace(t.Name()) + ".tar.gz"
						files[p] = gzipped(t, h.tarball(t))
						def = `{from: url, name: escape, path: defs/t.yaml, repository: "` + srv.URL + p + `"}`
					case "tar":
						def = `{from: tar, name: escape, path: defs/t.yaml, repository: "` + base64.StdEncoding.EncodeToString(h.tarball(t)) + `"}`
					}
					dir, err := runEscapeJob(t, def)

					if k.exists {
						if got := readFile(t, outside); got != "untouched\n" {
							t.Errorf("the file outside the job's folder was written through %s: now %q", name, got)
						}
					} else if _, serr := os.Lstat(outside); !errors.Is(serr, os.ErrNotExist) {
						t.Errorf("a file outside the job's folder was created through %s (%v)", name, serr)
					}
					if err != nil {
						t.Fatalf("lava-overlay: %v", err)
					}
					if k.inside {
						if got := readFile(t, filepath.Join(dir, "defs", "keep.txt")); got != keepContent {
							t.Errorf("the repository's defs/keep.txt was written through %s: now %q", name, got)
						}
					}
					st, err := os.Lstat(filepath.Join(dir, name))
					if err != nil {
						t.Fatal(err)
					}
					if !st.Mode().IsRegular() {
						t.Errorf("%s is still a %v, not Basalt's file", name, st.Mode().Type())
					}
					if name == "uuid" {
						if got := readFile(t, filepath.Join(dir, name)); got != "42_1.1.2.1" {
							t.Errorf("uuid = %q, want Basalt's 42_1.1.2.1", got)
						}
					}
				})
			}
		}
	}
}

func hasGit() bool {
	_, err := exec.LookPath("git")
	return err == nil
}

// TestTestDefFolderWhereBasaltWrites gives repositories with a folder
// named like a file Basalt writes: the job fails with a Job error that
// names the repository and the path, and the folder is left as it was.
func TestTestDefFolderWhereBasaltWrites(t *testing.T) {
	if !hasGit() {
		t.Skip("git is not installed")
	}
	srv := httptest.NewServer(&imageServer{files: map[string][]byte{}})
	defer srv.Close()
	files := srv.Config.Handler.(*imageServer).files
	for _, from := range []string{"git", "url", "tar"} {
		for _, name := range writtenFiles {
			t.Run(from+"/"+name, func(t *testing.T) {
				var def, repo string
				switch from {
				case "git":
					repo, _ = gitRepoWith(t, map[string]string{"defs/t.yaml": escapeDef, name + "/x": keepContent})
					def = `{from: git, name: escape, path: defs/t.yaml, repository: "` + repo + `"}`
				default:
					var buf bytes.Buffer
					tw := tar.NewWriter(&buf)
					for _, m := range []struct{ name, body string }{{"defs/t.yaml", escapeDef}, {name + "/x", keepContent}} {
						if err := tw.WriteHeader(&tar.Header{Name: m.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(m.body))}); err != nil {
							t.Fatal(err)
						}
						if _, err := tw.Write([]byte(m.body)); err != nil {
							t.Fatal(err)
						}
					}
					if err := tw.Close(); err != nil {
						t.Fatal(err)
					}
					if from == "url" {
						p := "/folder-" + name + ".tar"
						files[p] = buf.Bytes()
						repo = srv.URL + p
						def = `{from: url, name: escape, path: defs/t.yaml, repository: "` + repo + `"}`
					} else {
						repo = "tar repository of 0_escape"
						def = `{from: tar, name: escape, path: defs/t.yaml, repository: "` + base64.StdEncoding.EncodeToString(buf.Bytes()) + `"}`
					}
				}
				dir, err := runEscapeJob(t, def)
				var pe *pipeline.Error
				want := "repository " + repo + ": cannot write " + name + ": the repository has a folder there"
				if !errors.As(err, &pe) || pe.Class != pipeline.ClassJob || !strings.Contains(err.Error(), want) {
					t.Fatalf("error %v, want a Job error with %q", err, want)
				}
				if got := readFile(t, filepath.Join(dir, name, "x")); got != keepContent {
					t.Errorf("%s/x = %q, want the repository's", name, got)
				}
			})
		}
	}
}

// TestTestDefInlinePathStaysInside gives an inline definition a path out
// of its folder, absolute or relative: a Job error, and nothing written
// there. (An inline definition's folder is made fresh by Basalt: it holds
// no link of the job's.)
func TestTestDefInlinePathStaysInside(t *testing.T) {
	for _, rel := range []bool{false, true} {
		outside := filepath.Join(t.TempDir(), "escape.yaml")
		p := outside
		if rel {
			p = strings.Repeat("../", 40) + strings.TrimPrefix(outside, "/")
		}
		def := `{from: inline, name: escape, path: "` + p + `", repository: {metadata: {format: Lava-Test Test Definition 1.0, name: escape}, run: {steps: [lava-test-case a --result pass]}}}`
		_, err := runEscapeJob(t, def)
		var pe *pipeline.Error
		if !errors.As(err, &pe) || pe.Class != pipeline.ClassJob || !strings.Contains(err.Error(), "invalid path of inline definition 0_escape") {
			t.Errorf("path %s: error %v, want a Job error", p, err)
		}
		if _, serr := os.Lstat(outside); !errors.Is(serr, os.ErrNotExist) {
			t.Errorf("path %s: a file was written outside the job's folder (%v)", p, serr)
		}
	}
}
