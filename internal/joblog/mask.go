package joblog

import (
	"regexp"
	"strings"
	"sync"

	"github.com/basalt-lava/basalt/internal/value"
)

// Masker hides secrets in what Basalt writes about a job: the job's
// declared secrets, and always the password of a URL's user information
// (https://user:password@host/ shows as https://user:[MASKED]@host/),
// whether or not the job declared it. It is the one mechanism behind
// every output of a job: the log (a Logger masks every record), the
// files a job publishes and its results (the dispatcher's sink goes
// through it) and what a front end prints (the summary's error message).
// Safe for concurrent use; a nil Masker still masks URL passwords.
type Masker struct {
	mu      sync.RWMutex
	secrets []string
}

// Add makes every later call show s as [MASKED]. Empty strings and very
// short ones are ignored: masking "1" would garble every number.
func (m *Masker) Add(s string) {
	if m == nil || len(s) < 3 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, have := range m.secrets {
		if have == s {
			return
		}
	}
	m.secrets = append(m.secrets, s)
	// The longest first, so that a secret holding another is masked
	// whole.
	for i := len(m.secrets) - 1; i > 0 && len(m.secrets[i]) > len(m.secrets[i-1]); i-- {
		m.secrets[i], m.secrets[i-1] = m.secrets[i-1], m.secrets[i]
	}
}

// String returns s with every secret and URL password masked.
func (m *Masker) String(s string) string {
	if m != nil {
		m.mu.RLock()
		for _, sec := range m.secrets {
			if strings.Contains(s, sec) {
				s = strings.ReplaceAll(s, sec, Masked)
			}
		}
		m.mu.RUnlock()
	}
	return maskUserinfo(s)
}

// Bytes is String for a file's content.
func (m *Masker) Bytes(b []byte) []byte {
	s := string(b)
	if t := m.String(s); t != s {
		return []byte(t)
	}
	return b
}

// Value returns v with String applied to every string in it (map keys
// included); maps and lists are copied when something in them changes,
// v itself is never modified.
func (m *Masker) Value(v any) any {
	out, _ := m.value(v)
	return out
}

func (m *Masker) value(v any) (any, bool) {
	switch t := v.(type) {
	case string:
		if s := m.String(t); s != t {
			return s, true
		}
		return v, false // v itself: boxing s again would allocate
	case *value.Map:
		changed := false
		t.Range(func(k string, e any) bool {
			_, c1 := m.value(k)
			_, c2 := m.value(e)
			changed = c1 || c2
			return !changed
		})
		if !changed {
			return t, false
		}
		c := value.NewMap()
		t.Range(func(k string, e any) bool {
			e, _ = m.value(e)
			c.Set(m.String(k), e)
			return true
		})
		return c, true
	case []any:
		var out []any
		for i, e := range t {
			me, c := m.value(e)
			if c && out == nil {
				out = append(make([]any, 0, len(t)), t[:i]...)
			}
			if out != nil {
				out = append(out, me)
			}
		}
		if out == nil {
			return t, false
		}
		return out, true
	case []string:
		var out []string
		for i, e := range t {
			me := m.String(e)
			if me != e && out == nil {
				out = append(make([]string, 0, len(t)), t[:i]...)
			}
			if out != nil {
				out = append(out, me)
			}
		}
		if out == nil {
			return t, false
		}
		return out, true
	}
	return v, false
}

// userinfoRe finds the password of a URL's user information: scheme://,
// a user name, a colon, the password, an at sign (the last one before
// the path, as URL parsers read it: a password may hold an at sign).
var userinfoRe = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^/?#@:\s"'<>]*):([^/?#\s"'<>]+)@`)

// maskUserinfo replaces the password of every URL's user information.
func maskUserinfo(s string) string {
	i := strings.Index(s, "://")
	if i < 0 || !strings.Contains(s[i:], "@") {
		return s // the usual case, without the regular expression
	}
	return userinfoRe.ReplaceAllString(s, "${1}:"+Masked+"@")
}
