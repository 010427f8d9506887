package deploy

import (
	"context"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/basalt-lava/basalt/internal/download"
	"github.com/basalt-lava/basalt/internal/overlay"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// dataTestDef is the namespace data the test shell reads about one test
// definition: "test-definition/<index>_<name>".
func dataTestDef(testName string) pipeline.DataKey { return pipeline.DataTestDefinition(testName) }

// Run fetches and writes every definition (the children), then lists the
// tests of each stage in <stage>/lava-test-runner.conf, one folder on the
// device per line, in job order.
func (a *TestDefinition) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	tree, results, err := overlayTree(&a.Base)
	if err != nil {
		return conn, err
	}
	a.Log().Infof("Loading test definitions")
	conn, err = a.Base.Run(ctx, conn)
	if err != nil {
		return conn, err
	}
	a.Log().Infof("Creating lava-test-runner.conf files")
	for stage := range a.Lists {
		dir := filepath.Join(tree, strconv.Itoa(stage))
		a.Log().Debugf("Using lava-test-runner path: %s for stage %d", dir, stage)
		var b strings.Builder
		for _, act := range a.Pipeline.Actions {
			if r, ok := act.(*RepoAction); ok && r.Stage == stage {
				a.Log().Debugf("- %s", r.TestName)
				b.WriteString(runnerPath(results, stage, r.TestName) + "\n")
			}
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return conn, pipeline.InfrastructureError("creating %s: %w", dir, err)
		}
		if err := os.WriteFile(filepath.Join(dir, "lava-test-runner.conf"), []byte(b.String()), 0o644); err != nil {
			return conn, pipeline.InfrastructureError("writing lava-test-runner.conf: %w", err)
		}
	}
	return conn, nil
}

// runnerPath is a test's folder on the device.
func runnerPath(results string, stage int, testName string) string {
	return path.Join(results, strconv.Itoa(stage), "tests", testName)
}

// hostPath is a test's folder in the overlay tree on the dispatcher.
func hostPath(tree string, stage int, testName string) string {
	return filepath.Join(tree, strconv.Itoa(stage), "tests", testName)
}

// defPath is the definition's path inside its repository; an inline
// definition without one gets LAVA's usual inline/<name>.yaml.
func (a *RepoAction) defPath() string {
	if p := str(a.Def.Value("path")); p != "" {
		return p
	}
	return "inline/" + str(a.Def.Value("name")) + ".yaml"
}

// uuid is LAVA's unique id of the definition: <jobid>_<level>.
func (a *RepoAction) uuid() string { return a.Job.ID + "_" + a.Level }

// Run puts the definition's repository in the test's folder of the
// overlay (a git clone, the inline definition, or an unpacked tarball,
// downloaded by the child for url), reads the definition and records
// what the test shell needs to report on it.
func (a *RepoAction) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	conn, err := a.Base.Run(ctx, conn)
	if err != nil {
		return conn, err
	}
	tree, results, err := overlayTree(&a.Base)
	if err != nil {
		return conn, err
	}
	dest := hostPath(tree, a.Stage, a.TestName)
	a.Log().Debugf("Using %s at stage %d", results, a.Stage)
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return conn, pipeline.InfrastructureError("creating %s: %w", filepath.Dir(dest), err)
	}
	// Left over by an earlier attempt of a retried deploy.
	if err := os.RemoveAll(dest); err != nil {
		return conn, pipeline.InfrastructureError("clearing %s: %w", dest, err)
	}
	rel := a.defPath()
	commit := ""
	switch a.from {
	case "git":
		commit, err = a.clone(ctx, dest)
	case "inline":
		err = a.writeInline(dest, rel)
	case "url":
		err = a.unpackDownload(ctx, dest)
	case "tar":
		err = a.unpackEmbedded(ctx, dest)
	default:
		err = pipeline.JobError("no testdef_repo handler is available for the given repository type '%s'", a.from)
	}
	if err != nil {
		return conn, err
	}
	a.Log().Debugf("Tests stored (tmp) in %s", filepath.Join(dest, rel))
	td, err := overlay.LoadTestDef(dest, rel)
	if err != nil {
		return conn, err
	}
	info := value.MapOf(
		"name", str(a.Def.Value("name")),
		"repository", a.Def.Value("repository"),
		"path", rel,
		"revision", "unspecified",
		"from", a.from,
		"uuid", a.uuid(),
	)
	if rev := str(a.Def.Value("revision")); rev != "" {
		info.Set("revision", rev)
	}
	if commit != "" {
		info.Set("commit_id", commit)
	}
	if p := td.Parse(); p != nil {
		info.Set("parse", p)
	}
	if exp, ok := td.Value("expected").([]any); ok {
		info.Set("expected", exp)
	}
	a.SetData(dataTestDef(a.TestName), info)
	return conn, nil
}

// clone fetches a git definition: a shallow clone unless a revision is
// asked for or shallow is false; .git is dropped when history is false.
func (a *RepoAction) clone(ctx context.Context, dest string) (string, error) {
	url := str(a.Def.Value("repository"))
	a.Log().Infof("Fetching tests from %s", url)
	shallow, history := true, true
	if v, ok := a.Def.Get("shallow"); ok {
		shallow = pipeline.Truthy(v)
	}
	if v, ok := a.Def.Get("history"); ok {
		history = pipeline.Truthy(v)
	}
	commit, err := overlay.Clone(ctx, overlay.GitClone{
		URL:        url,
		Dest:       dest,
		Branch:     str(a.Def.Value("branch")),
		Revision:   str(a.Def.Value("revision")),
		Shallow:    shallow,
		NoHistory:  !history,
		LocalFiles: a.LocalFiles(),
	})
	if err != nil {
		return "", err
	}
	a.Log().Infof("Cloned %s at %s", url, commit)
	a.SetResult("commit", commit)
	a.SetResult("repository", url)
	a.SetResult("path", str(a.Def.Value("path")))
	return commit, nil
}

// writeInline dumps the inline definition where its path says.
func (a *RepoAction) writeInline(dest, rel string) error {
	clean, err := overlay.RelPath(rel)
	if err != nil {
		return pipeline.JobError("invalid path of inline definition %s: %v", a.TestName, err)
	}
	data, err := overlay.DumpYAML(a.Def.Value("repository"))
	if err != nil {
		return pipeline.JobError("inline definition %s: %v", a.TestName, err)
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return pipeline.InfrastructureError("creating %s: %w", dest, err)
	}
	_, err = overlay.WriteInTree(dest, a.repoLabel(), clean, data, 0o644)
	return err
}

// repoLabel names the definition's repository in messages: its URL, or
// the test for the kinds held in the job itself.
func (a *RepoAction) repoLabel() string {
	switch a.from {
	case "git", "url":
		return str(a.Def.Value("repository"))
	}
	return a.from + " repository of " + a.TestName
}

// unpackDownload unpacks the tarball the child download-retry fetched
// (LAVA's url definitions are archives of a test repository).
func (a *RepoAction) unpackDownload(ctx context.Context, dest string) error {
	file := a.DataString(pipeline.DataDownload("url_repo", pipeline.DownloadFile))
	if file == "" {
		return pipeline.Bug("%s: the download of %s recorded no file", a.Name, str(a.Def.Value("repository")))
	}
	f, err := os.Open(file)
	if err != nil {
		return pipeline.InfrastructureError("opening the downloaded test archive: %w", err)
	}
	defer f.Close()
	a.Log().Infof("Untar tests from file %s to directory %s", file, dest)
	return overlay.ExtractTarWithin(f, dest, download.LimitsFrom(ctx))
}

// unpackEmbedded unpacks a tarball given in the job itself, base64
// encoded, as LAVA's tar repositories were.
func (a *RepoAction) unpackEmbedded(ctx context.Context, dest string) error {
	enc := strings.Join(strings.Fields(str(a.Def.Value("repository"))), "")
	data, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return pipeline.JobError("tar repository of %s is not base64: %v", a.TestName, err)
	}
	return overlay.ExtractTarWithin(strings.NewReader(string(data)), dest, download.LimitsFrom(ctx))
}

// repoAction finds the repository action of a test in the same
// test-definition pipeline: it knows the stage and level the overlay
// actions of the test need.
func repoAction(b *pipeline.Base, testName string) (*RepoAction, error) {
	if p := b.Parent(); p != nil && p.Pipeline != nil {
		for _, act := range p.Pipeline.Actions {
			if r, ok := act.(*RepoAction); ok && r.TestName == testName {
				return r, nil
			}
		}
	}
	return nil, pipeline.Bug("%s: no repository action for %s", b.Name, testName)
}

// CannotRun is empty: TestOverlay runs (below), although it embeds leaf.
func (*TestOverlay) CannotRun() string { return "" }

// Run writes one of the test's files: testdef.yaml, uuid and
// testdef_metadata (test-overlay), install.sh (test-install-overlay) or
// run.sh (test-runscript-overlay).
func (a *TestOverlay) Run(ctx context.Context, conn pipeline.Connection) (pipeline.Connection, error) {
	repo, err := repoAction(&a.Base, a.TestName)
	if err != nil {
		return conn, err
	}
	tree, results, err := overlayTree(&a.Base)
	if err != nil {
		return conn, err
	}
	dir := hostPath(tree, repo.Stage, a.TestName)
	td, err := overlay.LoadTestDef(dir, repo.defPath())
	if err != nil {
		return conn, err
	}
	onDevice := runnerPath(results, repo.Stage, a.TestName)
	switch a.Name {
	case "test-overlay":
		err = a.writeMetadata(td, repo, dir)
	case "test-install-overlay":
		err = a.writeInstall(ctx, td, repo, dir, onDevice)
	case "test-runscript-overlay":
		err = a.writeRun(td, repo, dir, onDevice)
	default:
		err = pipeline.Bug("unknown test overlay action %s", a.Name)
	}
	return conn, err
}

func (a *TestOverlay) setCommonResults(repo *RepoAction) {
	a.SetResult("uuid", repo.uuid())
	a.SetResult("name", str(a.Def.Value("name")))
	a.SetResult("path", repo.defPath())
	a.SetResult("from", repo.from)
	if repo.from != "inline" {
		a.SetResult("repository", a.Def.Value("repository"))
	}
}

func (a *TestOverlay) writeMetadata(td *overlay.TestDef, repo *RepoAction, dir string) error {
	commit := ""
	if info, ok := a.Data(dataTestDef(a.TestName)).(*value.Map); ok {
		commit = info.String("commit_id")
	}
	def, err := overlay.DumpYAML(td.Map)
	if err != nil {
		return pipeline.JobError("test definition %s: %v", td.Path, err)
	}
	meta, err := overlay.DumpYAML(td.Metadata(repo.from, commit))
	if err != nil {
		return pipeline.JobError("test definition %s: %v", td.Path, err)
	}
	for name, content := range map[string][]byte{
		"testdef.yaml":     def,
		"uuid":             []byte(repo.uuid()),
		"testdef_metadata": meta,
	} {
		if err := a.writeInTree(repo, dir, name, content); err != nil {
			return err
		}
	}
	a.setCommonResults(repo)
	return nil
}

func (a *TestOverlay) writeInstall(ctx context.Context, td *overlay.TestDef, repo *RepoAction, dir, onDevice string) error {
	if !td.Has("install") {
		a.SetResult("skipped "+a.Name, repo.uuid())
		return nil
	}
	params, err := overlay.ParamBlock(td, a.Def)
	if err != nil {
		return err
	}
	var skip []string
	for _, s := range a.Def.List("skip_install") {
		skip = append(skip, str(s))
	}
	script, _ := td.InstallScript(params, skip, distro(&a.Base), onDevice)
	if err := a.writeInTree(repo, dir, "install.sh", []byte(script)); err != nil {
		return err
	}
	skipRepos := false
	for _, s := range skip {
		skipRepos = skipRepos || s == "git-repos" || s == "all"
	}
	if !skipRepos {
		repos, err := td.GitRepos(a.Def)
		if err != nil {
			return err
		}
		for _, g := range repos {
			dest := filepath.Join(dir, g.Dest)
			if _, err := os.Lstat(dest); !errors.Is(err, fs.ErrNotExist) {
				return pipeline.TestError("git-repos: %s already exists in the test folder (the same repository twice, or a name the definition's repository uses)", g.Dest)
			}
			a.Log().Infof("Cloning %s for the install steps", g.URL)
			if _, err := overlay.Clone(ctx, overlay.GitClone{URL: g.URL, Dest: dest, Branch: g.Branch, LocalFiles: a.LocalFiles()}); err != nil {
				return err
			}
		}
	}
	a.SetResult("uuid", repo.uuid())
	return nil
}

func (a *TestOverlay) writeRun(td *overlay.TestDef, repo *RepoAction, dir, onDevice string) error {
	if str(a.Def.Value("name")) == "lava" {
		return pipeline.TestError(`the "lava" test definition name is reserved`)
	}
	params, err := overlay.ParamBlock(td, a.Def)
	if err != nil {
		return err
	}
	rs := overlay.RunScript{
		Params:     params,
		TestRunID:  a.TestName,
		RunnerPath: onDevice,
		KMSG:       str(a.Def.Value("lava-signal")) == "kmsg",
		Steps:      td.RunSteps(),
	}
	if d, ok := a.Def.Get("character_delay"); ok {
		if n, isNum := pipeline.ToInt(d); isNum && n > 0 {
			rs.CharacterDelay = strconv.Itoa(n)
		}
	}
	file := filepath.Join(dir, "run.sh")
	if err := a.writeInTree(repo, dir, "run.sh", []byte(rs.Script())); err != nil {
		return err
	}
	a.setCommonResults(repo)
	a.SetResult("filename", file)
	return nil
}

// writeInTree writes one of the test's files into the folder of its
// fetched repository, replacing (never writing through) a link of the
// repository at that name: see overlay.WriteInTree.
func (a *TestOverlay) writeInTree(repo *RepoAction, dir, name string, data []byte) error {
	link, err := overlay.WriteInTree(dir, repo.repoLabel(), name, data, 0o644)
	if err != nil {
		return err
	}
	if link != "" {
		a.Log().Warnf("repository %s: %s was a symlink to %s: replaced by the file Basalt writes, not written through", repo.repoLabel(), name, link)
	}
	return nil
}
