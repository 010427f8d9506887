package lab

import (
	"context"
	"strings"
	"testing"

	"github.com/basalt-lava/basalt/internal/dispatcher"
	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/value"
)

// TestWithRemoteTokens: names are replaced where LAVA's
// InPlaceTokenUpdater replaces them (headers of a mapping with a url, or
// from: url with a repository, in deploy and test actions, at any depth;
// secrets) and nowhere else; a definition with nothing to replace comes
// back byte for byte.
func TestWithRemoteTokens(t *testing.T) {
	tokens := map[string]string{"art": "ART-VALUE", "kci": "KCI-VALUE"}
	cases := []struct {
		name, def string
		want      map[string]any // path (dot-separated, list indexes as numbers) → value
	}{
		{"deploy image headers", `actions:
- deploy:
    images:
      kernel:
        url: http://x/k
        headers: {Authorization: art, X-Other: plain, X-Num: 3}
`, map[string]any{"actions.0.deploy.images.kernel.headers.Authorization": "ART-VALUE",
			"actions.0.deploy.images.kernel.headers.X-Other": "plain", "actions.0.deploy.images.kernel.headers.X-Num": 3}},
		{"test repository from url", `actions:
- test:
    definitions:
    - {from: url, repository: http://x/t.tar, headers: {PRIVATE-TOKEN: kci}, name: t, path: t.yaml}
`, map[string]any{"actions.0.test.definitions.0.headers.PRIVATE-TOKEN": "KCI-VALUE"}},
		{"secrets", `secrets: {API: kci, LITERAL: not-a-token}
actions: []
`, map[string]any{"secrets.API": "KCI-VALUE", "secrets.LITERAL": "not-a-token"}},
		{"headers without url", `actions:
- deploy:
    images:
      kernel: {path: /k, headers: {Authorization: art}}
`, map[string]any{"actions.0.deploy.images.kernel.headers.Authorization": "art"}},
		{"boot action", `actions:
- boot: {url: http://x, headers: {Authorization: art}}
`, map[string]any{"actions.0.boot.headers.Authorization": "art"}},
		{"not a header", `actions:
- deploy: {images: {kernel: {url: art, sha256sum: kci}}}
`, map[string]any{"actions.0.deploy.images.kernel.url": "art", "actions.0.deploy.images.kernel.sha256sum": "kci"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := withRemoteTokens(c.def, tokens)
			if err != nil {
				t.Fatal(err)
			}
			v, err := value.DecodeYAML([]byte(got))
			if err != nil {
				t.Fatalf("%v in\n%s", err, got)
			}
			changed := false
			for p, want := range c.want {
				if w, ok := want.(string); ok && w != "" && strings.HasSuffix(w, "-VALUE") {
					changed = true
				}
				if g := lookup(v, p); !value.Equal(g, want) {
					t.Errorf("%s = %#v, want %#v, in\n%s", p, g, want, got)
				}
			}
			if !changed && got != c.def {
				t.Errorf("nothing to replace, yet the definition changed:\n%s", got)
			}
		})
	}
	if got, _ := withRemoteTokens("# comment\nactions: []\n", tokens); got != "# comment\nactions: []\n" {
		t.Errorf("unchanged definition came back as %q", got)
	}
	if _, err := withRemoteTokens("actions: [", tokens); err == nil {
		t.Error("a broken definition gave no error")
	}
}

func lookup(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		switch t := v.(type) {
		case *value.Map:
			v = t.Value(k)
		case []any:
			i := 0
			for _, c := range k {
				i = i*10 + int(c-'0')
			}
			if i >= len(t) {
				return nil
			}
			v = t[i]
		default:
			return nil
		}
	}
	return v
}

// TestRemoteTokensSentToWorker: through the lab's worker server, the job
// a worker receives holds the submitter's remote token values in its
// download headers and secrets, while the stored definition (what pages,
// REST and XML-RPC show) keeps the names; another user's token of the
// same name is not used.
func TestRemoteTokensSentToWorker(t *testing.T) {
	backends(t, func(t *testing.T, open func(t *testing.T) store.Store) {
		ctx := context.Background()
		f := newFixture(t, open(t), 1)
		must(t, f.st.PutRemoteToken(ctx, "alice", "artifacts", "Bearer art-0123"))
		must(t, f.st.PutRemoteToken(ctx, "alice", "api-key", "key-4567"))
		_, err := f.st.CreateUser(ctx, "bob", "", false)
		must(t, err)
		must(t, f.st.PutRemoteToken(ctx, "bob", "bobs", "bob-secret"))
		r := f.start(t, nil)
		p := r.peer(t, "w1", f.token)
		def := strings.Replace(readFile(t, "job.yaml"), "        url: http://127.0.0.1:8000/vmlinuz\n",
			"        url: http://127.0.0.1:8000/vmlinuz\n        headers:\n          Authorization: artifacts\n          X-Bob: bobs\n", 1) +
			"secrets:\n  API_KEY: api-key\n"
		jobs, err := r.lab.Submit(ctx, f.alice, def)
		must(t, err)
		resp := pollFor(t, p, nil, hasStart)
		sent := resp.Start[0].Definition
		v, err := value.DecodeYAML([]byte(sent))
		must(t, err)
		for p, want := range map[string]string{
			"actions.0.deploy.images.kernel.headers.Authorization": "Bearer art-0123",
			"actions.0.deploy.images.kernel.headers.X-Bob":         "bobs",
			"secrets.API_KEY": "key-4567",
			"job_name":        "lab-test",
		} {
			if g := lookup(v, p); g != want {
				t.Errorf("sent %s = %#v, want %q", p, g, want)
			}
		}
		// The worker's dispatcher masks what was put in (dispatcher.Run
		// masks with MaskSecrets of the definition it runs).
		masker := &joblog.Masker{}
		dispatcher.MaskSecrets(masker, v.(*value.Map))
		if got := masker.String("sent Bearer art-0123 and key-4567"); got != "sent "+joblog.Masked+" and "+joblog.Masked {
			t.Errorf("the worker's log would show %q", got)
		}
		if ps := r.lab.Validate(ctx, sent, true); len(ps) > 0 {
			t.Errorf("the definition sent no longer validates: %v\n%s", ps, sent)
		}
		stored, err := f.st.Job(ctx, jobs[0].ID)
		must(t, err)
		if stored.Definition != def {
			t.Errorf("stored definition changed:\n%s", stored.Definition)
		}
		// What lavacli's jobs definition shows.
		if !strings.Contains(stored.Definition, "Authorization: artifacts") || strings.Contains(stored.Definition, "art-0123") {
			t.Errorf("stored definition:\n%s", stored.Definition)
		}
	})
}
