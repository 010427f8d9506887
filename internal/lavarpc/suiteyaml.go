package lavarpc

import (
	"github.com/basalt-lava/basalt/internal/store"
	"go.yaml.in/yaml/v3"
)

// SuiteYAML renders a job's results suite by suite, each as
// results.get_testsuite_results_yaml answers it: the `results` of a notify
// callback's payload (internal/notify).
func SuiteYAML(jobID int64, rs []store.Result) (map[string]string, error) {
	by := map[string][]*yaml.Node{}
	for _, r := range rs {
		by[r.Suite] = append(by[r.Suite], testcase(jobID, r))
	}
	out := make(map[string]string, len(by))
	for s, items := range by {
		text, err := dumpList(items)
		if err != nil {
			return nil, err
		}
		out[s] = text
	}
	return out, nil
}
