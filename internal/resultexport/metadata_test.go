package resultexport

import (
	"testing"
)

// TestJobMetadata: job metadata values as LAVA's get_metadata_dict
// gives them (str() of extract_job_metadata's normalised value; the
// expected texts are what Python prints for the same YAML).
func TestJobMetadata(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"12", "12"},
		{"'12'", "12"},
		{"https://example.com/x.git", "https://example.com/x.git"},
		{"true", "true"},
		{"yes", "true"},
		{"Off", "false"},
		{"'yes'", "yes"},
		{"~", "None"},
		{"null", "None"},
		{"{a: 1, b: [x, 'it''s'], c: null, d: true}", `{'a': '1', 'b': ['x', "it's"], 'c': None, 'd': 'true'}`},
		{"[]", "[]"},
		{"{}", "{}"},
		{`["a\\b"]`, `['a\\b']`},
	} {
		got := JobMetadata("metadata:\n  v: " + tc.yaml + "\n")
		if len(got) != 1 || got[0]["v"] != tc.want {
			t.Errorf("JobMetadata(v: %s) = %v, want %s", tc.yaml, got, tc.want)
		}
	}
}
