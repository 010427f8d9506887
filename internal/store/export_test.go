package store

// The queries whose plans plan_test.go reads.
var (
	JobWhere        = jobWhere
	CaseHistoryJobs = caseHistoryJobs
)
