package lavacorpus

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"

	"github.com/basalt-lava/basalt/internal/value"
)

// Case is one pipeline conformance case of pipeline-cases.yaml; paths
// are relative to the corpus folder.
type Case struct {
	ID         string
	Job        string
	Dictionary string // device_dictionary
	Config     string // device_config: LAVA's rendering for this job
	Expected   string // LAVA's describe() of the pipeline
	// Context, when set, replaces the job's own context block.
	Context *value.Map
}

// Cases reads pipeline-cases.yaml.
func Cases(corpus string) ([]Case, error) {
	doc, err := readYAML(filepath.Join(corpus, "pipeline-cases.yaml"))
	if err != nil {
		return nil, err
	}
	m, _ := doc.(*value.Map)
	var out []Case
	for _, c := range m.List("cases") {
		cm, _ := c.(*value.Map)
		out = append(out, Case{ID: cm.String("id"), Job: cm.String("job"), Dictionary: cm.String("device_dictionary"),
			Config: cm.String("device_config"), Expected: cm.String("expected"), Context: cm.Map("context")})
	}
	return out, nil
}

// Jobs returns the corpus's job definitions (jobs/ and scheduler-jobs/),
// relative to the corpus folder, sorted.
func Jobs(corpus string) []string {
	var out []string
	for _, dir := range []string{"jobs", "scheduler-jobs"} {
		m, _ := filepath.Glob(filepath.Join(corpus, dir, "*.yaml"))
		for _, f := range m {
			out = append(out, filepath.Join(dir, filepath.Base(f)))
		}
	}
	sort.Strings(out)
	return out
}

// Pairing chooses corpus devices for a job, for checks that need one,
// in this order:
//  1. a job of a pipeline case gets that case's device_config (LAVA's own
//     rendering of the device for it; the first case when several);
//  2. the dictionaries under devices/ (by name) whose
//     `{% extends 'TYPE.jinja2' %}` names the job's device_type, rendered
//     with the job's context as a user's would be;
//  3. the device_config of the first case whose job has that device_type.
//
// Devices of one type differ (one has USB media, another not), and LAVA's
// sample jobs were written for one of them: a check may try the
// candidates in turn (Candidates) and keep the first that fits.
type Pairing struct {
	caseDevice map[string]string
	dicts      map[string][]string
	caseByType map[string]string
}

var extendsRE = regexp.MustCompile(`\{%-?\s*extends\s+['"]([^'"]+)\.jinja2['"]`)

// NewPairing reads the cases, their jobs' device types and the
// dictionaries' parents.
func NewPairing(corpus string) (*Pairing, error) {
	p := &Pairing{caseDevice: map[string]string{}, dicts: map[string][]string{}, caseByType: map[string]string{}}
	cases, err := Cases(corpus)
	if err != nil {
		return nil, err
	}
	for _, c := range cases {
		if _, ok := p.caseDevice[c.Job]; !ok {
			p.caseDevice[c.Job] = c.Config
		}
		dt, err := DeviceType(filepath.Join(corpus, c.Job))
		if err != nil {
			return nil, err
		}
		if _, ok := p.caseByType[dt]; dt != "" && !ok {
			p.caseByType[dt] = c.Config
		}
	}
	dicts, _ := filepath.Glob(filepath.Join(corpus, "devices", "*.jinja2"))
	sort.Strings(dicts)
	for _, d := range dicts {
		b, err := os.ReadFile(d)
		if err != nil {
			return nil, err
		}
		if m := extendsRE.FindSubmatch(b); m != nil {
			p.dicts[string(m[1])] = append(p.dicts[string(m[1])], filepath.Join("devices", filepath.Base(d)))
		}
	}
	return p, nil
}

// Device returns the first candidate device (relative to the corpus
// folder) for the job at corpus-relative path job whose device_type is
// deviceType, or "".
func (p *Pairing) Device(job, deviceType string) string {
	if c := p.Candidates(job, deviceType); len(c) > 0 {
		return c[0]
	}
	return ""
}

// Candidates returns every corpus device for the job, in the order of
// the Pairing rules, without repeats.
func (p *Pairing) Candidates(job, deviceType string) []string {
	var out []string
	if d, ok := p.caseDevice[job]; ok {
		out = append(out, d)
	}
	out = append(out, p.dicts[deviceType]...)
	if d, ok := p.caseByType[deviceType]; ok && !slices.Contains(out, d) {
		out = append(out, d)
	}
	return out
}

// DeviceType returns the device_type of the job definition at path, ""
// when it has none (a MultiNode definition names one per role).
func DeviceType(path string) (string, error) {
	v, err := readYAML(path)
	if err != nil {
		return "", err
	}
	m, _ := v.(*value.Map)
	s, _ := m.Value("device_type").(string)
	return s, nil
}

func readYAML(path string) (any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v, err := value.DecodeYAML(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}
