package test_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/basalt-lava/basalt/internal/coordinator"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/protocol"
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
      - {name: substituted, command: 'echo got-{val}-job-{JOB_ID} | tr a-z A-Z', successes: [{message: GOT-42-JOB-42}]}
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

const interactiveMultinodeYAML = `
job_name: interactive multinode
timeouts: {job: {minutes: 5}, action: {minutes: 1}}
protocols:
  lava-multinode: {target_group: g-interactive, role: %s, group_size: 2, sub_id: %d}
actions:
- test:
    role: %s
    timeout: {seconds: 30}
    interactive:
    - name: mn
      prompts: ['lava-test: # ']
      script:
%s`

// TestInteractiveMultinode: the MultiNode steps of two scripts, each on
// a real shell, through a real coordinator: one sends a value and both
// meet at a lava-sync; the other waits for it and uses it in a command.
func TestInteractiveMultinode(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := coordinator.NewServer(coordinator.Options{})
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close(); <-served })
	settings := protocol.Settings{Addr: l.Addr().String(), PollDelay: 10 * time.Millisecond, Blocksize: 4096}

	scripts := map[string]string{
		"sender": `      - {lava-send: 'ready val=42 job={JOB_ID}'}
      - {name: sent, command: 'echo sent'}
      - {lava-sync: done}
`,
		"waiter": `      - {lava-wait: ready}
      - {name: received, command: 'echo got-{v""al}-{val}-{job}', successes: [{message: 'got-\{val\}-42-100'}]}
      - {lava-sync: done}
`,
	}
	jobs := map[string]*shellJob{}
	for i, role := range []string{"sender", "waiter"} {
		sj := newShellJob(t, fmt.Sprintf(interactiveMultinodeYAML, role, i, role, scripts[role]))
		sj.job.ID = fmt.Sprint(100 + i)
		m, err := protocol.NewMultinode(sj.job, settings)
		if err != nil {
			t.Fatal(err)
		}
		sj.job.Protocols = append(sj.job.Protocols, m)
		jobs[role] = sj
	}
	errs := make(chan error, 2)
	for _, sj := range jobs {
		sess := sj.startShell(t)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			m := sj.job.Protocols[0].(*protocol.Multinode)
			if err := m.SetUp(ctx); err != nil {
				errs <- err
				return
			}
			defer m.Finalise(ctx)
			if _, err := sess.Expect(ctx, regexp.MustCompile(regexp.QuoteMeta("lava-test: # "))); err != nil {
				errs <- err
				return
			}
			errs <- sj.run(t, sess)
		}()
	}
	for range jobs {
		if err := <-errs; err != nil {
			t.Errorf("run: %v", err)
		}
	}
	for role, want := range map[string][]string{"sender": {"0_mn/sent=pass", "lava/0_mn=pass"}, "waiter": {"0_mn/received=pass", "lava/0_mn=pass"}} {
		var got []string
		for _, c := range jobs[role].cases() {
			if !strings.HasPrefix(c, "lava/lava-test-interactive") {
				got = append(got, c)
			}
		}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("%s's results (-got +want):\n%s", role, diff)
		}
	}
}
