package lavarpc

import (
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestMetadataValue: job metadata values as LAVA's get_metadata_dict
// gives them (str() of extract_job_metadata's normalised value; the
// expected texts are what Python prints for the same YAML).
func TestMetadataValue(t *testing.T) {
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
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte("v: "+tc.yaml), &doc); err != nil {
			t.Fatalf("%s: %v", tc.yaml, err)
		}
		if got := metadataValue(doc.Content[0].Content[1], false); got != tc.want {
			t.Errorf("metadataValue(%s) = %s, want %s", tc.yaml, got, tc.want)
		}
	}
}
