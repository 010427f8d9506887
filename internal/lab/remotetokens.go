package lab

import (
	"context"

	"github.com/basalt-lava/basalt/internal/value"
)

// workerDefinition is the definition a worker gets for job: the stored
// one, except that download `headers:` values and `secrets:` values
// naming one of the submitter's remote artifact tokens are that token's
// value (LAVA's InPlaceTokenUpdater, in internal_v1_jobs). The store is
// never changed: pages, REST and XML-RPC keep showing the names. A
// definition with nothing to replace is sent byte for byte; one with
// something is sent re-encoded (comments dropped, as LAVA's dump drops
// them). A failure to read the tokens or to encode is logged and the
// stored definition sent: the download then fails on its own.
func (l *Lab) workerDefinition(ctx context.Context, id int64, submitter, def string) string {
	ts, err := l.st.RemoteTokens(ctx, submitter, true)
	if err != nil {
		l.log.Warn("the submitter's remote tokens cannot be read: the definition is sent with their names", "job", id, "err", err)
		return def
	}
	if len(ts) == 0 {
		return def
	}
	tokens := make(map[string]string, len(ts))
	for _, t := range ts {
		tokens[t.Name] = t.Token
	}
	out, err := withRemoteTokens(def, tokens)
	if err != nil {
		l.log.Warn("remote tokens not put into the definition sent", "job", id, "err", err)
		return def
	}
	return out
}

// withRemoteTokens returns def with the values of tokens (name → value)
// put in place of their names, where LAVA puts them: in the `headers:`
// of any mapping of a deploy or test action that has a `url` (or
// `from: url` and a `repository`), at any depth, and in the job's
// `secrets:`. Only string values equal to a name are replaced. def is
// returned unchanged when nothing was replaced.
func withRemoteTokens(def string, tokens map[string]string) (string, error) {
	v, err := value.DecodeYAML([]byte(def))
	if err != nil {
		return def, err
	}
	m, _ := v.(*value.Map)
	if m == nil {
		return def, nil
	}
	r := replacer{tokens: tokens}
	for _, a := range m.List("actions") {
		if am, ok := a.(*value.Map); ok && (am.Has("deploy") || am.Has("test")) {
			r.headers(am)
		}
	}
	r.values(m.Map("secrets"))
	if !r.changed {
		return def, nil
	}
	b, err := value.EncodeYAML(m)
	if err != nil {
		return def, err
	}
	return string(b), nil
}

type replacer struct {
	tokens  map[string]string
	changed bool
}

// headers walks v as LAVA's update_headers does.
func (r *replacer) headers(v any) {
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			r.headers(e)
		}
	case *value.Map:
		if t.Has("url") || (t.Value("from") == "url" && t.Has("repository")) {
			r.values(t.Map("headers"))
		}
		t.Range(func(_ string, e any) bool {
			r.headers(e)
			return true
		})
	}
}

// values replaces the string values of m that name a token.
func (r *replacer) values(m *value.Map) {
	m.Range(func(k string, e any) bool {
		if s, ok := e.(string); ok {
			if tok, ok := r.tokens[s]; ok {
				m.Set(k, tok)
				r.changed = true
			}
		}
		return true
	})
}
