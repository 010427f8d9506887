package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Lists is what the web pages' job tables read beyond Jobs: per-job test
// counts, counts by device type and each device's last health check,
// each one query for a whole page of rows.
type Lists interface {
	// ResultCounts returns, for each job of jobs that has results, the
	// counts of its test cases by result. LAVA's own "lava" suite (the
	// job's actions) is left out: the counts are the user's tests.
	ResultCounts(ctx context.Context, jobs []int64) (map[int64]ResultCount, error)
	// JobCountsByType counts the jobs matching f by requested device
	// type (f's Limit, Offset and order are ignored); a type with no job
	// is absent.
	JobCountsByType(ctx context.Context, f JobFilter) (map[string]int, error)
	// LastHealthChecks returns, for each device of devices that has one,
	// its last finished health-check job (LAVA's
	// Device.last_health_report_job), without its definitions.
	LastHealthChecks(ctx context.Context, devices []string) (map[string]Job, error)
}

// ResultCount is how many of a job's test cases passed, failed, were
// skipped or are unknown.
type ResultCount struct {
	Pass, Fail, Skip, Unknown int
}

// listWhere adds the conditions of JobFilter's web-list fields.
func listWhere(f JobFilter, where []string, args []any) ([]string, []any) {
	if f.HealthCheck != nil {
		// Written as the partial indexes' conditions (migration 0004).
		if *f.HealthCheck {
			where = append(where, "health_check")
		} else {
			where = append(where, "NOT health_check")
		}
	}
	if len(f.ErrorClasses) > 0 {
		ph := make([]string, len(f.ErrorClasses))
		for i, c := range f.ErrorClasses {
			ph[i] = "?"
			args = append(args, c)
		}
		where = append(where, "error_class IN ("+strings.Join(ph, ", ")+")")
	}
	if q := strings.TrimSpace(f.DescriptionContains); q != "" {
		cond := "LOWER(description) LIKE ? ESCAPE '!'"
		args = append(args, "%"+likeEscape(strings.ToLower(q))+"%")
		if id, err := strconv.ParseInt(q, 10, 64); err == nil && id > 0 {
			cond = "(" + cond + " OR id = ?)"
			args = append(args, id)
		}
		where = append(where, cond)
	}
	return where, args
}

// listCols are the columns Jobs reads for f.
func listCols(f JobFilter) string {
	if f.WithoutDefinitions {
		return queueCols
	}
	return jobCols
}

// likeEscape escapes LIKE's wildcards with '!' (the ESCAPE character).
func likeEscape(s string) string {
	return strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(s)
}

// placeholders returns "?, ?, …" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// ResultCounts counts each job's test cases by result, outside the lava
// suite.
func (s *SQL) ResultCounts(ctx context.Context, jobs []int64) (map[int64]ResultCount, error) {
	out := map[int64]ResultCount{}
	if len(jobs) == 0 {
		return out, nil
	}
	args := make([]any, 0, len(jobs)+1)
	for _, id := range jobs {
		args = append(args, id)
	}
	args = append(args, "lava")
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT job, result, COUNT(*) FROM results
		WHERE job IN (`+placeholders(len(jobs))+`) AND suite <> ? GROUP BY job, result`), args...)
	if err != nil {
		return nil, storeErr("result counts", err)
	}
	defer rows.Close()
	for rows.Next() {
		var job int64
		var result string
		var n int
		if err := rows.Scan(&job, &result, &n); err != nil {
			return nil, storeErr("result counts", err)
		}
		c := out[job]
		switch result {
		case "pass":
			c.Pass += n
		case "fail":
			c.Fail += n
		case "skip":
			c.Skip += n
		default:
			c.Unknown += n
		}
		out[job] = c
	}
	return out, storeErr("result counts", rows.Err())
}

// JobCountsByType counts the jobs matching f by device_type.
func (s *SQL) JobCountsByType(ctx context.Context, f JobFilter) (map[string]int, error) {
	where, args := jobWhere(f)
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT device_type, COUNT(*) FROM jobs`+where+` GROUP BY device_type`), args...)
	if err != nil {
		return nil, storeErr("job counts", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var dt string
		var n int
		if err := rows.Scan(&dt, &n); err != nil {
			return nil, storeErr("job counts", err)
		}
		out[dt] = n
	}
	return out, storeErr("job counts", rows.Err())
}

// LastHealthChecks returns each device's last finished health check: the
// one with the highest id, ids growing with submission.
func (s *SQL) LastHealthChecks(ctx context.Context, devices []string) (map[string]Job, error) {
	out := map[string]Job{}
	if len(devices) == 0 {
		return out, nil
	}
	args := []any{JobFinished}
	for _, d := range devices {
		args = append(args, d)
	}
	js, err := s.queryJobs(ctx, `SELECT `+queueCols+` FROM jobs WHERE id IN (SELECT MAX(id) FROM jobs
		WHERE health_check AND state = ? AND device IN (`+placeholders(len(devices))+`) GROUP BY device)`, args...)
	if err != nil {
		return nil, storeErr("last health checks", err)
	}
	for _, j := range js {
		out[j.Device] = j
	}
	return out, nil
}

func storeErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("store: %s: %w", what, err)
}
