package logstore

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestNormalise(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want, err string
	}{
		{name: "LAVA's form unchanged",
			in:   `- {"dt": "2026-01-01T10:00:00.123456+00:00", "lvl": "info", "msg": "start: 1 deploy"}`,
			want: `- {"dt": "2026-01-01T10:00:00.123456+00:00", "lvl": "info", "msg": "start: 1 deploy"}`},
		{name: "plain keys, quoted dt unchanged",
			in:   `- {dt: '2026-01-01T10:00:00', lvl: target, msg: 'login: ok'}`,
			want: `- {dt: '2026-01-01T10:00:00', lvl: target, msg: 'login: ok'}`},
		{name: "results map unchanged",
			in:   `- {"dt": "x", "lvl": "results", "msg": {"definition": "lava", "case": "job", "result": "pass", "extra": {"a": [1, "}"]}}}`,
			want: `- {"dt": "x", "lvl": "results", "msg": {"definition": "lava", "case": "job", "result": "pass", "extra": {"a": [1, "}"]}}}`},
		{name: "feedback with ns unchanged",
			in:   `- {"dt": "x", "lvl": "feedback", "msg": "hi", "ns": "common"}`,
			want: `- {"dt": "x", "lvl": "feedback", "msg": "hi", "ns": "common"}`},
		{name: "binary msg unchanged",
			in:   `- {"dt": "x", "lvl": "target", "msg": !!binary "aGk="}`,
			want: `- {"dt": "x", "lvl": "target", "msg": !!binary "aGk="}`},
		{name: "trailing space kept",
			in:   `- {"dt": "x", "lvl": "info", "msg": "m"}  `,
			want: `- {"dt": "x", "lvl": "info", "msg": "m"}  `},
		{name: "event double-quoted to debug",
			in:   `- {"dt": "x", "lvl": "event", "msg": "lvl: event"}`,
			want: `- {"dt": "x", "lvl": "debug", "msg": "lvl: event"}`},
		{name: "event single-quoted to debug",
			in:   `- {'dt': 'x', 'lvl': 'event', 'msg': 'it''s'}`,
			want: `- {'dt': 'x', 'lvl': 'debug', 'msg': 'it''s'}`},
		{name: "event plain to debug, plain dt quoted",
			in:   `- {dt: 2026-01-01T10:00:00.5+00:00, lvl: event, msg: hello}`,
			want: `- {dt: "2026-01-01T10:00:00.5+00:00", lvl: debug, msg: hello}`},
		{name: "lvl before dt, both rewritten",
			in:   `- {lvl: event, dt: 2026-01-01, msg: m}`,
			want: `- {lvl: debug, dt: "2026-01-01", msg: m}`},
		{name: "plain dt with quote escaped",
			in:   `- {dt: a"b\c, lvl: info, msg: m}`,
			want: `- {dt: "a\"b\\c", lvl: info, msg: m}`},
		{name: "msg text that looks like a key is not a key",
			in:   `- {"dt": "x", "lvl": "info", "msg": "\"lvl\": \"event\""}`,
			want: `- {"dt": "x", "lvl": "info", "msg": "\"lvl\": \"event\""}`},

		{name: "PyYAML's tagged values unchanged",
			in:   `- {"dt": "x", "lvl": "results", "msg": {"n": !!int "-5", "f": !!float "1.5e+20", "i": !!float "-.inf", "b": !!bool "true", "z": !!null "null", "s": !!str "5", "bin": !!binary "AP8A\n/w==\n"}}`,
			want: `- {"dt": "x", "lvl": "results", "msg": {"n": !!int "-5", "f": !!float "1.5e+20", "i": !!float "-.inf", "b": !!bool "true", "z": !!null "null", "s": !!str "5", "bin": !!binary "AP8A\n/w==\n"}}`},
		{name: "plain keys with spaces, trailing commas, empty collections",
			in:   `- {dt: 'x', lvl: info, msg: {x y: 1, a/b.c-d: [], e: {},}, }`,
			want: `- {dt: 'x', lvl: info, msg: {x y: 1, a/b.c-d: [], e: {},}, }`},
		{name: "YAML escapes",
			in:   `- {"dt": "x", "lvl": "info", "msg": "\0\a\t\e\N\_\L\P\x41\u00e9\U0001F600\ \""}`,
			want: `- {"dt": "x", "lvl": "info", "msg": "\0\a\t\e\N\_\L\P\x41\u00e9\U0001F600\ \""}`},
		{name: "JSON's slash escape", in: `- {"dt": "x", "lvl": "info", "msg": "\/"}`, err: `the escape \/ is not YAML's`},

		{name: "unknown escape", in: `- {"dt": "x", "lvl": "info", "msg": "\q"}`, err: `the escape \q is not YAML's`},
		{name: "surrogate escape", in: `- {"dt": "x", "lvl": "info", "msg": "\ud800"}`, err: "is not a character"},
		{name: "short escape", in: `- {"dt": "x", "lvl": "info", "msg": "\x4"}`, err: `the \x escape holds '"'`},
		{name: "bad int", in: `- {"dt": "x", "lvl": "info", "msg": !!int "x"}`, err: `"x" is not a !!int value`},
		{name: "bad float", in: `- {"dt": "x", "lvl": "info", "msg": !!float "1e"}`, err: `"1e" is not a !!float value`},
		{name: "bad bool", in: `- {"dt": "x", "lvl": "info", "msg": !!bool "yes"}`, err: "not a !!bool value"},
		{name: "bad binary", in: `- {"dt": "x", "lvl": "info", "msg": !!binary "a!=="}`, err: "is not base64"},
		{name: "plain binary", in: `- {"dt": "x", "lvl": "info", "msg": !!binary aGk=}`, err: "!!binary on a plain scalar"},
		{name: "other tag", in: `- {"dt": "x", "lvl": "info", "msg": !!python/object:os.system "x"}`, err: "only !!str"},
		{name: "alias", in: `- {"dt": "x", "lvl": "info", "msg": *a}`, err: "a value cannot start with '*'"},
		{name: "explicit key", in: `- {"dt": "x", "lvl": "info", "msg": m, ? k: v}`, err: "a key must be a quoted string or a name"},
		{name: "bool key", in: `- {"dt": "x", "lvl": "info", "msg": {yes: 1}}`, err: `the plain key "yes" reads as a boolean`},
		{name: "numeric key", in: `- {"dt": "x", "lvl": "info", "msg": {1: a}}`, err: "a key must be a quoted string or a name"},
		{name: "key with an escape", in: `- {"dt": "x", "lvl": "info", "msg": {"a\x41": 1}}`, err: "a key with an escape"},
		{name: "colon without space", in: `- {dt: x, lvl:info, msg: m}`, err: "not followed by a space"},
		{name: "empty value", in: `- {"dt": "x", "lvl": "info", "msg": }`, err: `the key "msg" has no value`},
		{name: "pair in a sequence", in: `- {"dt": "x", "lvl": "info", "msg": [a: b]}`, err: "a key: value pair inside a sequence"},
		{name: "value starting with a colon", in: `- {"dt": "x", "lvl": "info", "msg": :0}`, err: "a value cannot start with ':'"},
		{name: "block indicator", in: `- {"dt": "x", "lvl": "info", "msg": - a}`, err: "starts a block"},
		{name: "duplicate nested key", in: `- {"dt": "x", "lvl": "info", "msg": {a: 1, "a": 2}}`, err: `the key "a" is there twice`},
		{name: "too deep", in: `- {"dt": "x", "lvl": "info", "msg": ` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, err: "nested deeper than 32"},
		{name: "newline", in: "- {\"dt\": \"x\", \"lvl\": \"info\",\n \"msg\": \"m\"}", err: "line break at byte 28"},
		{name: "carriage return", in: "- {\"dt\": \"x\", \"lvl\": \"info\", \"msg\": \"m\r\"}", err: "line break"},
		{name: "NUL", in: "- {\"dt\": \"x\", \"lvl\": \"info\", \"msg\": \"a\x00b\"}", err: "control character 0x00 at byte 38"},
		{name: "escape", in: "- {\"dt\": \"x\", \"lvl\": \"info\", \"msg\": \"\x1b[0m\"}", err: "control character 0x1b"},
		{name: "C1 control", in: "- {\"dt\": \"x\", \"lvl\": \"info\", \"msg\": \"\u0090\"}", err: "control character U+0090"},
		{name: "line separator", in: "- {\"dt\": \"x\", \"lvl\": \"info\", \"msg\": \"\u2028\"}", err: "line break U+2028"},
		{name: "invalid UTF-8", in: "- {\"dt\": \"x\", \"lvl\": \"info\", \"msg\": \"\xff\"}", err: "invalid UTF-8 at byte 37"},
		{name: "tab and unicode allowed", in: "- {\"dt\": \"x\", \"lvl\": \"info\", \"msg\": \"a\tb ✓ é 😀\"}", want: "- {\"dt\": \"x\", \"lvl\": \"info\", \"msg\": \"a\tb ✓ é 😀\"}"},
		{name: "not a list item", in: `{"dt": "x", "lvl": "info", "msg": "m"}`, err: `does not start with "- {"`},
		{name: "block mapping", in: `- dt: x`, err: `does not start with "- {"`},
		{name: "unclosed", in: `- {"dt": "x", "lvl": "info", "msg": "m"`, err: `want ',' or '}' after the value of "msg"`},
		{name: "two records on a line", in: `- {"dt": "x", "lvl": "info", "msg": "m"}- {"dt": "x", "lvl": "info", "msg": "m"}`, err: `"- {\"dt\": \"" after the record's mapping`},
		{name: "unterminated quote", in: `- {"dt": "x, "lvl": "info", "msg": "m"}`, err: "want ',' or '}'"},
		{name: "unterminated quote at the end", in: `- {"dt": "x", "lvl": "info", "msg": "m}`, err: "a double-quoted scalar is not closed"},
		{name: "no lvl", in: `- {"dt": "x", "msg": "m"}`, err: "has no lvl"},
		{name: "no dt", in: `- {"lvl": "info", "msg": "m"}`, err: "has no dt"},
		{name: "no msg", in: `- {"dt": "x", "lvl": "info"}`, err: "has no msg"},
		{name: "empty mapping", in: `- {}`, err: "has no dt"},
		{name: "unknown level", in: `- {"dt": "x", "lvl": "verbose", "msg": "m"}`, err: `lvl "\"verbose\"" is not a LAVA log level`},
		{name: "escaped level", in: `- {"dt": "x", "lvl": "\x65vent", "msg": "m"}`, err: "not a LAVA log level"},
		{name: "map level", in: `- {"dt": "x", "lvl": {"a": 1}, "msg": "m"}`, err: "not a LAVA log level"},
		{name: "map dt", in: `- {"dt": [1], "lvl": "info", "msg": "m"}`, err: "not a time stamp"},
		{name: "duplicate lvl", in: `- {"dt": "x", "lvl": "info", "lvl": "error", "msg": "m"}`, err: `the key "lvl" is there twice`},
		{name: "unbalanced nested", in: `- {"dt": "x", "lvl": "info", "msg": {"a": [1}}`, err: "want ',' or ']' in a sequence"},
		{name: "key without colon", in: `- {"dt" "x", "lvl": "info", "msg": "m"}`, err: "has no ':'"},
		{name: "comment", in: `- {"dt": "x", "lvl": "info", "msg": a #b}`, err: "comment"},
		{name: "anchor", in: `- {"dt": "x", "lvl": "info", "msg": &a m}`, err: "a value cannot start with '&'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := normalise(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("normalise(%q) = %q, %v; want an error with %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("normalise(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("normalise(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			// What we store must read back as LAVA's clients read it: a
			// list of one mapping whose dt is a string and whose lvl is
			// a level they know.
			var recs []map[string]any
			if err := yaml.Unmarshal([]byte(got), &recs); err != nil {
				t.Fatalf("stored record %q does not parse: %v", got, err)
			}
			if len(recs) != 1 {
				t.Fatalf("stored record %q parses as %d records", got, len(recs))
			}
			if _, ok := recs[0]["dt"].(string); !ok {
				t.Errorf("stored record %q: dt is %T, not a string", got, recs[0]["dt"])
			}
			if lvl, _ := recs[0]["lvl"].(string); !levels[lvl] {
				t.Errorf("stored record %q: lvl %q", got, lvl)
			}
		})
	}
}

// FuzzNormalise checks, with Go's YAML parser as the oracle, that what
// normalise accepts is one line that parses as exactly one record whose dt
// is a string and whose lvl is a level lavacli knows.
func FuzzNormalise(f *testing.F) {
	for _, s := range []string{
		`- {"dt": "x", "lvl": "event", "msg": "m"}`,
		`- {dt: 2026-01-01T10:00:00, lvl: event, msg: {a: [1, '}', "\x41"]}}`,
		`- {"dt": "x", "lvl": "target", "msg": !!binary "aGk="}`,
		`- {"dt": "x", "lvl": "results", "msg": {"case": "c", "extra": [!!int "1", !!float "1.5", !!bool "true", !!null "null"]}}`,
		`- {'dt': 'x', 'lvl': 'info', 'msg': 'it''s: # here'}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := normalise(s)
		if err != nil {
			return
		}
		if strings.ContainsAny(got, "\r\n") || !strings.HasPrefix(got, "- {") {
			t.Fatalf("normalise(%q) = %q", s, got)
		}
		var recs []map[string]any
		if err := yaml.Unmarshal([]byte(got), &recs); err != nil {
			t.Fatalf("normalise(%q) = %q, which YAML refuses: %v", s, got, err)
		}
		if len(recs) != 1 {
			t.Fatalf("normalise(%q) = %q: %d records", s, got, len(recs))
		}
		if _, ok := recs[0]["dt"].(string); !ok {
			t.Fatalf("normalise(%q) = %q: dt is %T", s, got, recs[0]["dt"])
		}
		if lvl, _ := recs[0]["lvl"].(string); !levels[lvl] {
			t.Fatalf("normalise(%q) = %q: lvl %q", s, got, lvl)
		}
	})
}
