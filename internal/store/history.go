package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CaseHistoryQuery selects the jobs whose results of one test case the
// web pages plot across jobs.
type CaseHistoryQuery struct {
	Suite, Case string
	// DeviceType, when set, keeps jobs that ran on a device of this type
	// (the jobs placed on its devices: a job never placed has no results).
	DeviceType string
	// Description, when set, keeps jobs with this job_name.
	Description string
	// Viewer, when not nil, keeps the jobs this user may see (as
	// JobFilter.Viewer), so that the limit counts visible jobs.
	Viewer *Viewer
	// Limit is how many jobs at most, the most recent ones (by id);
	// <= 0 or over MaxCaseHistory is MaxCaseHistory.
	Limit int
}

// MaxCaseHistory bounds CaseHistory: a plot of more jobs than this is not
// readable, and the query stays cheap.
const MaxCaseHistory = 500

// CasePoint is one job's result of a test case. Job is read without its
// definitions (Definition and MultinodeDefinition are empty).
type CasePoint struct {
	Job    Job
	Result Result
}

// TestCase returns one result by its store id (LAVA's TestCase id, as in
// /results/testcase/<id>) and the id of its job.
func (s *SQL) TestCase(ctx context.Context, id int64) (int64, Result, error) {
	var job int64
	r, err := scanResult(s.db.QueryRowContext(ctx, s.q(`SELECT job, `+resultCols+` FROM results WHERE id = ?`), id), &job)
	if err := notFound(err, "test case "+strconv.FormatInt(id, 10)); err != nil {
		return 0, Result{}, err
	}
	return job, r, nil
}

// CaseHistory returns, for the most recent jobs matching q that have a
// result named q.Suite/q.Case, the first such result of each job, newest
// job first.
func (s *SQL) CaseHistory(ctx context.Context, q CaseHistoryQuery) ([]CasePoint, error) {
	if q.Limit <= 0 || q.Limit > MaxCaseHistory {
		q.Limit = MaxCaseHistory
	}
	query, args := caseHistoryJobs(q)
	jobs, err := s.queryJobs(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: history of %s/%s: %w", q.Suite, q.Case, err)
	}
	if len(jobs) == 0 {
		return nil, nil
	}
	ph := make([]string, len(jobs))
	rargs := []any{q.Suite, q.Case}
	for i, j := range jobs {
		ph[i] = "?"
		rargs = append(rargs, j.ID)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT job, `+resultCols+` FROM results
		WHERE suite = ? AND test_case = ? AND job IN (`+strings.Join(ph, ", ")+`) ORDER BY id`), rargs...)
	if err != nil {
		return nil, fmt.Errorf("store: history of %s/%s: %w", q.Suite, q.Case, err)
	}
	defer rows.Close()
	first := map[int64]Result{}
	for rows.Next() {
		var job int64
		r, err := scanResult(rows, &job)
		if err != nil {
			return nil, err
		}
		if _, ok := first[job]; !ok {
			first[job] = r
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]CasePoint, 0, len(jobs))
	for _, j := range jobs {
		if r, ok := first[j.ID]; ok {
			out = append(out, CasePoint{Job: j, Result: r})
		}
	}
	return out, nil
}

// caseHistoryJobs is CaseHistory's query of its jobs (q.Limit set). The
// jobs first: the EXISTS is answered by results' index on suite, case and
// job (migration 0012), and walking jobs by id from the newest stops at
// the limit.
func caseHistoryJobs(q CaseHistoryQuery) (string, []any) {
	where := []string{`EXISTS (SELECT 1 FROM results r WHERE r.job = jobs.id AND r.suite = ? AND r.test_case = ?)`}
	args := []any{q.Suite, q.Case}
	if q.DeviceType != "" {
		where = append(where, `device IN (SELECT name FROM devices WHERE device_type = ?)`)
		args = append(args, q.DeviceType)
	}
	if q.Description != "" {
		where = append(where, `description = ?`)
		args = append(args, q.Description)
	}
	if vw, vargs := jobWhere(JobFilter{Viewer: q.Viewer}); vw != "" {
		where = append(where, strings.TrimPrefix(vw, " WHERE "))
		args = append(args, vargs...)
	}
	args = append(args, q.Limit)
	return `SELECT ` + queueCols + ` FROM jobs WHERE ` + strings.Join(where, " AND ") + ` ORDER BY id DESC LIMIT ?`, args
}

// resultCols are the columns scanResult reads, in its order.
const resultCols = `id, suite, test_case, result, measurement, units, metadata, logged, log_start_line, log_end_line`

// scanResult scans lead (columns before resultCols) and then a result.
func scanResult(sc interface{ Scan(...any) error }, lead ...any) (Result, error) {
	var r Result
	var m sql.NullFloat64
	var logged, start, end sql.NullInt64
	err := sc.Scan(append(lead, &r.ID, &r.Suite, &r.Case, &r.Result, &m, &r.Units, &r.Metadata, &logged, &start, &end)...)
	if logged.Valid {
		r.Logged = time.Unix(0, logged.Int64).UTC()
	}
	if start.Valid {
		r.LogStart = &start.Int64
	}
	if end.Valid {
		r.LogEnd = &end.Int64
	}
	if m.Valid {
		v := m.Float64
		r.Measurement = &v
	}
	return r, err
}
