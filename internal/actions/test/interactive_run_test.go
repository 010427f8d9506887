package test_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

const interactiveJobYAML = `
job_name: interactive
timeouts: {job: {minutes: 5}, action: {minutes: 1}}
actions:
- test:
    timeout: {seconds: %d}
    interactive:
%s`

// TestInteractiveRun plays lava-test-interactive scripts on a real
// shell and checks the results each reports and how the block ends.
func TestInteractiveRun(t *testing.T) {
	t.Parallel()
	const prompt = "prompts: ['lava-test: # ']"
	tests := []struct {
		name    string
		timeout int
		scripts string
		want    []string // definition/case=result, in order
		class   pipeline.Class
		msg     string
	}{
		{
			name: "prompts, successes, failures, groups and substitutions",
			scripts: `
    - name: first
      ` + prompt + `
      script:
      - command: "true"
      - {name: hello, command: 'echo hel""lo', successes: [{message: hello}]}
      - {name: number, command: 'echo val=4""2', successes: [{message: 'val=(?P<val>\d+)'}]}
      - {name: substituted, command: 'echo got-{val}-job-{JOB_ID}', successes: [{message: got-42-job-42}]}
      - {name: failed-case, command: 'echo no such thing', failures: [{message: 'no such'}]}
      - {name: prompt-instead, command: 'echo nothing', successes: [{message: never}]}
    - name: second
      ` + prompt + `
      script:
      - {name: two, command: 'echo 2'}`,
			want: []string{"0_first/hello=pass", "0_first/number=pass", "0_first/substituted=pass", "0_first/failed-case=fail",
				"0_first/prompt-instead=fail", "lava/0_first=pass", "0_second/two=pass", "lava/0_second=pass"},
		},
		{
			// LAVA's LAVATimeoutError, a Test error at the job's level.
			name:    "waiting for a message until the block's time ends",
			timeout: 3,
			scripts: `
    - name: waiting
      ` + prompt + `
      script:
      - {command: null, name: waits, successes: [{message: later}], wait_for_prompt: false}`,
			want:  []string{"0_waiting/waits=fail", "lava/0_waiting=fail"},
			class: pipeline.ClassTest, msg: "lava-test-interactive timed out after 3 seconds",
		},
		{
			name: "a failure raising its exception",
			scripts: `
    - name: raising
      ` + prompt + `
      script:
      - {name: boom, command: 'echo kernel pa""nic', failures: [{message: 'kernel panic', exception: InfrastructureError, error: the board panicked}]}
      - {name: never-run, command: 'true'}`,
			want:  []string{"0_raising/boom=fail", "lava/0_raising=fail"},
			class: pipeline.ClassInfrastructure, msg: "the board panicked",
		},
		{
			name: "an unnamed step that fails",
			scripts: `
    - name: unnamed
      ` + prompt + `
      script:
      - {command: 'echo oops', successes: [{message: 'all good'}]}`,
			want:  []string{"lava/0_unnamed=fail"},
			class: pipeline.ClassTest, msg: "Failed to run command 'echo oops'",
		},
		{
			name: "expected test cases",
			scripts: `
    - name: exp
      ` + prompt + `
      expected: [one, two]
      script:
      - {name: one, command: 'true'}
      - {name: extra, command: 'true'}`,
			want: []string{"0_exp/one=pass", "0_exp/extra=fail", "0_exp/two=fail", "lava/0_exp=pass"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 20
			}
			sj := newShellJob(t, fmt.Sprintf(interactiveJobYAML, timeout, strings.TrimPrefix(tc.scripts, "\n")))
			sess := sj.startShell(t)
			// The boot has waited for the prompt.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := sess.Expect(ctx, regexp.MustCompile(regexp.QuoteMeta("lava-test: # "))); err != nil {
				t.Fatal(err)
			}
			err := sj.run(t, sess)
			var pe *pipeline.Error
			switch {
			case tc.class == "" && err != nil:
				t.Errorf("run: %v, want success", err)
			case tc.class != "" && (!errors.As(err, &pe) || pe.Class != tc.class || !strings.Contains(pe.Error(), tc.msg)):
				t.Errorf("run: %v, want a %s error with %q", err, tc.class, tc.msg)
			}
			var got []string
			for _, c := range sj.cases() {
				if !strings.HasPrefix(c, "lava/lava-test-interactive") && !strings.HasPrefix(c, "lava/lava-test-interactive-retry") {
					got = append(got, c)
				}
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("results (-got +want):\n%s", diff)
			}
		})
	}
}
