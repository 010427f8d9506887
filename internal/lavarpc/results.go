package lavarpc

import (
	"context"
	"errors"

	"github.com/basalt-lava/basalt/internal/resultexport"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/xmlrpc"
)

func (a *api) registerResults() {
	a.reg("results.get_testjob_results_yaml", 1, 1, "get_testjob_results_yaml(job_id): the job's test cases as a YAML list (a string).", a.resJob)
	a.reg("results.get_testsuite_results_yaml", 2, 4, "get_testsuite_results_yaml(job_id, suite_name, limit=None, offset=None): one suite's test cases as YAML.", a.resSuite)
	a.reg("results.get_testcase_results_yaml", 3, 3, "get_testcase_results_yaml(job_id, suite_name, case_name): the test cases of that name as YAML.", a.resCase)
	a.reg("results.get_testjob_suites_list_yaml", 1, 1, "get_testjob_suites_list_yaml(job_id): the job's suites as YAML.", a.resSuites)
	a.reg("results.get_testjob_metadata", 1, 1, "get_testjob_metadata(job_id): the job's metadata as a list of {name: value}.", a.resMetadata)
}

// resultsJob is the job of a results.* call: LAVA's ExposedAPI always
// wants a user (401), an empty id is 400, an unknown one 404, and a job
// the user may not see 401 (not 403).
func (a *api) resultsJob(ctx context.Context, p params) (store.Job, error) {
	if _, err := needUser(ctx); err != nil {
		return store.Job{}, err
	}
	id := p.str(0)
	if id == "" {
		return store.Job{}, badRequest("Bad request: TestJob id was not specified.")
	}
	if !validJobID(id) {
		return store.Job{}, notFound("Specified job not found.")
	}
	j, err := a.lab.FindJob(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return j, notFound("Specified job not found.")
	} else if err != nil {
		return j, err
	}
	ok, err := a.visible(ctx, j)
	if err != nil {
		return j, err
	}
	if !ok {
		return j, xmlrpc.Faultf(xmlrpc.CodeAuthRequired, "Permission denied for user to job %s", id)
	}
	return j, nil
}

func (a *api) resJob(ctx context.Context, p params) (any, error) {
	j, err := a.resultsJob(ctx, p)
	if err != nil {
		return nil, err
	}
	rs, err := a.store.Results(ctx, j.ID)
	if err != nil {
		return nil, err
	}
	// LAVA lists suite by suite (in creation order), each suite's cases in
	// order.
	return resultexport.YAMLText(j.ID, resultexport.BySuite(rs))
}

// suiteResults returns the results of the suite of argument 1 (404 when
// the job has none of that suite).
func (a *api) suiteResults(ctx context.Context, j store.Job, suite string) ([]store.Result, error) {
	rs, err := a.store.Results(ctx, j.ID)
	if err != nil {
		return nil, err
	}
	var out []store.Result
	found := false
	for _, r := range rs {
		if r.Suite == suite {
			found = true
			out = append(out, r)
		}
	}
	if !found {
		return nil, notFound("Specified test suite not found.")
	}
	return out, nil
}

func (a *api) resSuite(ctx context.Context, p params) (any, error) {
	j, err := a.resultsJob(ctx, p)
	if err != nil {
		return nil, err
	}
	rs, err := a.suiteResults(ctx, j, p.str(1))
	if err != nil {
		return nil, err
	}
	// LAVA pages only when limit is given (and not 0): offset alone is
	// ignored (lava_results_app get_testcases_with_limit).
	limit, err := p.int(2, 0)
	if err != nil {
		return nil, err
	}
	if limit != 0 {
		offset, err := p.int(3, 0)
		if err != nil {
			return nil, err
		}
		if offset < 0 || limit < 0 {
			return "[]\n", nil
		}
		rs = rs[min(offset, int64(len(rs))):]
		rs = rs[:min(limit, int64(len(rs)))]
	}
	return resultexport.YAMLText(j.ID, rs)
}

func (a *api) resCase(ctx context.Context, p params) (any, error) {
	j, err := a.resultsJob(ctx, p)
	if err != nil {
		return nil, err
	}
	rs, err := a.suiteResults(ctx, j, p.str(1))
	if err != nil {
		return nil, err
	}
	var cases []store.Result
	for _, r := range rs {
		if r.Case == p.str(2) {
			cases = append(cases, r)
		}
	}
	return resultexport.YAMLText(j.ID, cases)
}

func (a *api) resSuites(ctx context.Context, p params) (any, error) {
	j, err := a.resultsJob(ctx, p)
	if err != nil {
		return nil, err
	}
	rs, err := a.store.Results(ctx, j.ID)
	if err != nil {
		return nil, err
	}
	return resultexport.SuitesYAML(j.ID, rs)
}

// resMetadata returns the definition's metadata block as LAVA's
// get_metadata_dict does (resultexport.JobMetadata).
func (a *api) resMetadata(ctx context.Context, p params) (any, error) {
	j, err := a.resultsJob(ctx, p)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, m := range resultexport.JobMetadata(j.Definition) {
		for k, v := range m {
			out = append(out, map[string]any{k: v})
		}
	}
	return out, nil
}
