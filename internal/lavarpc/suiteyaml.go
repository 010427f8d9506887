package lavarpc

import (
	"github.com/basalt-lava/basalt/internal/resultexport"
	"github.com/basalt-lava/basalt/internal/store"
)

// SuiteYAML renders a job's results suite by suite, each as
// results.get_testsuite_results_yaml answers it: the `results` of a notify
// callback's payload (internal/notify). It is resultexport.SuiteYAML.
func SuiteYAML(jobID int64, rs []store.Result) (map[string]string, error) {
	return resultexport.SuiteYAML(jobID, rs)
}
