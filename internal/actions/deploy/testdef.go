package deploy

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/basalt-lava/basalt/internal/overlay"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// testdefName is LAVA's DEFAULT_TESTDEF_NAME_CLASS.
var testdefName = regexp.MustCompile(`^[-_a-zA-Z0-9.]+$`)

// TestDefinition is LAVA's TestDefinitionAction (test-definition): for
// every definition of every test block of the namespace, a repository
// action chosen by `from`, then test-overlay, test-install-overlay and
// test-runscript-overlay.
type TestDefinition struct {
	pipeline.Base
	// Lists holds one list of definitions per test block (a stage).
	Lists [][]any
}

var _ pipeline.Action = (*TestDefinition)(nil)

// NewTestDefinition returns test-definition.
func NewTestDefinition() *TestDefinition {
	return &TestDefinition{Base: pipeline.NewBase("TestDefinitionAction", "test-definition",
		"load test definitions into image", "loading test definitions")}
}

// Populate adds four children per definition. The test name is
// "<index>_<name>", the index counting every definition of the namespace,
// not restarting per block; the stage is the index of the block.
func (a *TestDefinition) Populate(params *value.Map) {
	p := a.NewPipeline(params)
	if a.Job == nil {
		return
	}
	for _, ti := range a.Job.TestInfo[pipeline.Namespace(params)] {
		if defs, ok := ti.Params.Value("definitions").([]any); ok {
			a.Lists = append(a.Lists, defs)
		}
	}
	index := 0
	for stage, defs := range a.Lists {
		for _, d := range defs {
			def, _ := d.(*value.Map)
			from := def.String("from")
			testName := fmt.Sprintf("%d_%s", index, def.String("name"))
			repo := NewRepoAction(from, def, testName, stage)
			if repo == nil {
				a.Errorf("no testdef_repo handler is available for the given repository type '%s'", from)
				index++
				continue
			}
			p.Add(repo, nil)
			p.Add(newTestOverlay("TestOverlayAction", "test-overlay", "overlay test support files onto image",
				"applying LAVA test overlay", def, testName), nil)
			p.Add(newTestOverlay("TestInstallAction", "test-install-overlay",
				"overlay dependency installation support files onto image", "applying LAVA test install scripts",
				def, testName), nil)
			p.Add(newTestOverlay("TestRunnerAction", "test-runscript-overlay", "overlay run script onto image",
				"applying LAVA test run script", def, testName), nil)
			index++
		}
	}
}

// Validate checks every definition as LAVA does: parameters a map, from
// and name present, the name usable as a directory name, and not "lava",
// which the results of LAVA itself use.
func (a *TestDefinition) Validate() {
	a.Base.Validate()
	seen := map[string]bool{}
	for _, defs := range a.Lists {
		for _, d := range defs {
			def, ok := d.(*value.Map)
			if !ok {
				a.Errorf("invalid test definition: %v", value.GoString(d))
				continue
			}
			if v, ok := def.Get("parameters"); ok {
				if _, isMap := v.(*value.Map); !isMap {
					a.Errorf("invalid test definition parameters")
				}
			}
			if !def.Has("from") {
				a.Errorf("missing 'from' field in test definition %s", value.GoString(def))
			}
			name, ok := def.Value("name").(string)
			switch {
			case !ok:
				a.Errorf("missing 'name' field in test definition %s", value.GoString(def))
			case !testdefName.MatchString(name):
				a.Errorf("invalid characters found in test definition name: %s", name)
			case name == "lava":
				a.Errorf("test definition name 'lava' is reserved for LAVA's own results")
			case seen[name]:
				a.Errorf("test definition names need to be unique: %s", name)
			}
			seen[name] = true
		}
	}
}

// RepoAction fetches one test definition into the overlay: git clone,
// inline dump, URL download or tar extraction.
type RepoAction struct {
	pipeline.Base
	// Def is the test definition block from the job.
	Def *value.Map
	// TestName is "<index>_<name>", the directory under tests/.
	TestName string
	// Stage is the index of the test block the definition belongs to.
	Stage int
	from  string
}

// NewRepoAction returns the repository action for a definition's `from`
// (git, inline, url, tar), or nil for an unknown one.
func NewRepoAction(from string, def *value.Map, testName string, stage int) *RepoAction {
	var b pipeline.Base
	switch from {
	case "git":
		b = pipeline.NewBase("GitRepoAction", "git-repo-action",
			"apply git repository of tests to the test image", "clone git test repo")
	case "inline":
		b = pipeline.NewBase("InlineRepoAction", "inline-repo-action",
			"apply inline test definition to the test image", "extract inline test definition")
	case "url":
		b = pipeline.NewBase("UrlRepoAction", "url-repo-action",
			"apply a single test file to the test image", "download file test")
	case "tar":
		b = pipeline.NewBase("TarRepoAction", "tar-repo-action",
			"apply a tarball of tests to the test image", "unpack tar test repo")
	default:
		return nil
	}
	return &RepoAction{Base: b, Def: def, TestName: testName, Stage: stage, from: from}
}

// Populate gives a url definition its download, as LAVA's UrlRepoAction
// does, with the repository as the URL.
func (a *RepoAction) Populate(params *value.Map) {
	if a.from != "url" {
		return
	}
	img := a.Def.Copy()
	img.Set("url", a.Def.Value("repository"))
	a.NewPipeline(params).Add(NewDownloader("url_repo", img), nil)
}

// Validate checks what each kind of repository needs.
func (a *RepoAction) Validate() {
	a.Base.Validate()
	repo, hasRepo := a.Def.Get("repository")
	switch a.from {
	case "git":
		if !hasRepo {
			a.Errorf("git repository not specified in job definition")
		} else if url, ok := repo.(string); !ok {
			a.Errorf("git repository must be a string, not %s", value.GoString(repo))
		} else if err := overlay.CheckGitSource(url, a.LocalFiles()); err != nil {
			a.Errorf("%v", err)
		}
		if !a.Def.Has("path") {
			a.Errorf("path to YAML file not specified in the job definition")
		}
		warnMissingTool(&a.Base, "git")
	case "inline":
		if !hasRepo {
			a.Errorf("inline definition not specified in job definition")
		} else if _, ok := repo.(*value.Map); !ok {
			a.Errorf("invalid inline definition in job definition")
		}
	case "url":
		if !hasRepo {
			a.Errorf("url repository not specified in job definition")
		}
		if !a.Def.Has("path") {
			a.Errorf("path to YAML file not specified in the job definition")
		}
	case "tar":
		if !hasRepo {
			a.Errorf("tar repository not specified in job definition")
		}
	}
}

// TestOverlay writes one definition's files into the overlay: the
// metadata (test-overlay), install.sh (test-install-overlay) or run.sh
// (test-runscript-overlay).
type TestOverlay struct {
	leaf
	Def      *value.Map
	TestName string
}

func newTestOverlay(class, name, desc, summary string, def *value.Map, testName string) *TestOverlay {
	return &TestOverlay{leaf: leaf{pipeline.NewBase(class, name, desc, summary)}, Def: def, TestName: testName}
}

// skipInstall lists the install steps a definition may skip.
var skipInstall = []string{"keys", "sources", "deps", "steps", "git-repos", "all"}

// Validate checks the definition's parameters and skip_install.
func (a *TestOverlay) Validate() {
	a.leaf.Validate()
	if !a.Def.Has("path") && a.Def.String("from") != "inline" {
		a.Errorf("missing path in parameters")
	}
	for _, k := range []string{"parameters", "params"} {
		if v, ok := a.Def.Get(k); ok {
			if _, isMap := v.(*value.Map); !isMap {
				a.Errorf("invalid %s: a map of names to values is needed", k)
			}
		}
	}
	if a.Name != "test-install-overlay" {
		return
	}
	if v, ok := a.Def.Get("skip_install"); ok {
		list, isList := v.([]any)
		if !isList {
			a.Errorf("skip_install must be a list, not %s", value.GoString(v))
		}
		for _, s := range list {
			if str, _ := s.(string); !slices.Contains(skipInstall, str) {
				a.Errorf("unrecognised skip_install value %s", value.GoString(s))
			}
		}
	}
}
