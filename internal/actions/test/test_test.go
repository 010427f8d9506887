package test_test

import (
	"strings"
	"testing"

	_ "github.com/basalt-lava/basalt/internal/actions/test"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

func decode(t *testing.T, s string) *value.Map {
	t.Helper()
	v, err := value.DecodeYAML([]byte(s))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return v.(*value.Map)
}

func TestSelect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, params string
		want         string   // strategy chosen; "" for an error
		reasons      []string // substrings the error must list
	}{
		{"definitions", `{definitions: [{from: git}]}`, "TestShell", nil},
		{"docker outranks the shell", `{definitions: [], docker: {image: debian}}`, "DockerTest", nil},
		{"multinode role", `{definitions: [], role: host, lava-multinode: {target_group: g}}`, "MultinodeTestShell", nil},
		{"role without protocol", `{definitions: [], role: host}`, "TestShell", nil},
		{"interactive", `{interactive: [{name: a, prompts: ['#'], script: []}]}`, "TestInteractive", nil},
		{"monitors", `{monitors: [{name: a, start: s, end: e, pattern: p}]}`, "TestMonitor", nil},
		{"services", `{services: [{name: a, from: git, repository: 'https://g/r.git', path: compose.yaml}]}`, "TestService", nil},
		{"incomplete service", `{services: [{name: a}]}`, "", []string{
			"TestService: missing required parameters [from path repository]"}},
		{"nothing", `{timeout: {minutes: 1}}`, "", []string{
			`TestShell: "definitions" not in parameters`,
			`TestInteractive: "interactive" not in parameters`,
			`TestMonitor: "monitors" not in parameters`,
			`DockerTest: docker or definition(s) not in parameters`,
			`MultinodeTestShell: "role" not in parameters`,
		}},
		{"incomplete monitor", `{monitors: [{name: a, start: s}]}`, "", []string{
			"TestMonitor: missing required parameters [end pattern]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := pipeline.Select("test", value.NewMap(), decode(t, tt.params))
			if tt.want != "" {
				if err != nil || s.Name() != tt.want {
					t.Fatalf("Select(%s) = %v, %v; want %s", tt.params, s, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Select(%s) = %s, want an error", tt.params, s.Name())
			}
			if pipeline.ClassOf(err) != pipeline.ClassJob {
				t.Errorf("error class = %s, want Job", pipeline.ClassOf(err))
			}
			for _, r := range tt.reasons {
				if !strings.Contains(err.Error(), r) {
					t.Errorf("error %q does not list %q", err, r)
				}
			}
		})
	}
}

// TestStrategyNeeds checks what deploy and boot ask of each kind of test.
func TestStrategyNeeds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		params                                  string
		overlay, shell, deploymentData, charDel bool
	}{
		{`{definitions: []}`, true, true, true, true},
		{`{definitions: [], docker: {image: d}}`, true, false, false, false},
		{`{interactive: []}`, false, false, false, false},
		{`{monitors: []}`, false, false, false, false},
		{`{definitions: [], role: r, lava-multinode: {target_group: g}}`, true, true, true, true},
		{`{monitors: [], role: r, lava-multinode: {target_group: g}}`, false, false, false, false},
	}
	for _, tt := range tests {
		p := decode(t, tt.params)
		s, err := pipeline.Select("test", value.NewMap(), p)
		if err != nil {
			t.Fatalf("Select(%s): %v", tt.params, err)
		}
		ts := s.(pipeline.TestStrategy)
		got := [4]bool{ts.NeedsOverlay(p), ts.HasShell(p), ts.NeedsDeploymentData(p), ts.NeedsCharacterDelay(p)}
		if want := [4]bool{tt.overlay, tt.shell, tt.deploymentData, tt.charDel}; got != want {
			t.Errorf("%s %s: overlay, shell, deployment data, character delay = %v, want %v", s.Name(), tt.params, got, want)
		}
	}
}
