package dispatcher

import (
	"testing"

	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/value"
)

// TestMaskSecretsHeaders: the values of a job's download and test
// repository headers are masked like its secrets; other values are not.
func TestMaskSecretsHeaders(t *testing.T) {
	v, err := value.DecodeYAML([]byte(`secrets: {API: declared-secret}
actions:
- deploy:
    images:
      kernel: {url: 'http://x/k', headers: {Authorization: Bearer art-0123, X-Num: 12345}}
- test:
    definitions:
    - {from: url, repository: 'http://x/t.tar', headers: {PRIVATE-TOKEN: glpat-4567}, name: t, path: t.yaml}
`))
	if err != nil {
		t.Fatal(err)
	}
	m := &joblog.Masker{}
	MaskSecrets(m, v.(*value.Map))
	for in, want := range map[string]string{
		"auth Bearer art-0123 sent":     "auth " + joblog.Masked + " sent",
		"token glpat-4567":              "token " + joblog.Masked,
		"id 12345":                      "id " + joblog.Masked,
		"declared-secret":               joblog.Masked,
		"http://x/k and Authorization:": "http://x/k and Authorization:",
	} {
		if got := m.String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
}
