package jinja

import (
	"fmt"
	"sort"
	"strings"

	"github.com/basalt-lava/basalt/internal/value"
)

// The three filters LAVA adds to its device-template environment
// (lava_common/jinja.py).

// shlexQuote is Python's shlex.quote: safe strings unchanged, anything
// else single-quoted for a POSIX shell.
func shlexQuote(v any) (any, error) {
	if !truthy(v) {
		return "''", nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("expected string or bytes-like object, got '%s'", pyTypeName(v))
	}
	safe := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_@%+=:,./-", c) >= 0) {
			safe = false
			break
		}
	}
	if safe {
		return s, nil
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'", nil
}

// qemuGuestFSInterface gives the guest filesystem interface: the one
// asked for, else IDE on x86 PCs (the only machines with an IDE
// controller) and virtio elsewhere.
func qemuGuestFSInterface(r *renderer, arch any, a []any) (any, error) {
	if truthy(a[0]) {
		return a[0], nil
	}
	switch arch {
	case "amd64", "x86_64", "i386":
		return "ide", nil
	}
	return "virtio", nil
}

// yamlQuote dumps v as one line of YAML in double-quoted flow style, as
// LAVA's yaml_quote does with PyYAML's libyaml dumper (default_style='"',
// default_flow_style=True, unlimited width, ASCII only, keys sorted):
// strings are "...", lists and dicts are [..] and {..}, and other
// scalars get libyaml's non-specific tag: 3 becomes ! "3" (the pure
// Python dumper would write !!int "3"; LAVA on Debian uses libyaml).
func yamlQuote(v any) (any, error) {
	var b strings.Builder
	if err := writeYAMLFlow(&b, v, 0); err != nil {
		return nil, err
	}
	return b.String(), nil
}

func writeYAMLFlow(b *strings.Builder, v any, depth int) error {
	if depth > 100 {
		return fmt.Errorf("yaml_quote: value nested too deeply")
	}
	if b.Len() > maxPrinted {
		panic(tooLarge{})
	}
	switch t := v.(type) {
	case string:
		writeYAMLDoubleQuoted(b, t)
	case nil:
		b.WriteString(`! "null"`)
	case bool:
		if t {
			b.WriteString(`! "true"`)
		} else {
			b.WriteString(`! "false"`)
		}
	case int:
		fmt.Fprintf(b, `! "%d"`, t)
	case float64:
		b.WriteString(`! `)
		writeYAMLDoubleQuoted(b, yamlFloat(t))
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := writeYAMLFlow(b, e, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case *value.Map:
		b.WriteByte('{')
		keys := append([]string(nil), t.Keys()...)
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			// libyaml writes long or multi-line keys as explicit
			// "? key" entries.
			if len(k) > 128 || strings.ContainsAny(k, "\n\r\u0085\u2028\u2029") {
				b.WriteString("? ")
			}
			writeYAMLDoubleQuoted(b, k)
			b.WriteString(": ")
			if err := writeYAMLFlow(b, t.Value(k), depth+1); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case *Undefined:
		return fmt.Errorf("cannot represent an object: Undefined")
	default:
		return fmt.Errorf("cannot represent an object: %s", pyRepr(v))
	}
	return nil
}

// yamlFloat is PyYAML's float representation.
func yamlFloat(f float64) string {
	s := strings.ToLower(formatFloat(f))
	switch s {
	case "inf":
		return ".inf"
	case "-inf":
		return "-.inf"
	case "nan":
		return ".nan"
	}
	if !strings.Contains(s, ".") && strings.Contains(s, "e") {
		s = strings.Replace(s, "e", ".0e", 1)
	}
	return s
}

var yamlEscapes = map[rune]string{
	0: `\0`, 7: `\a`, 8: `\b`, 9: `\t`, 10: `\n`, 11: `\v`, 12: `\f`, 13: `\r`, 27: `\e`,
	'"': `\"`, '\\': `\\`, 0x85: `\N`, 0xa0: `\_`, 0x2028: `\L`, 0x2029: `\P`,
}

func writeYAMLDoubleQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		if e, ok := yamlEscapes[r]; ok {
			b.WriteString(e)
			continue
		}
		switch {
		case r >= 0x20 && r <= 0x7e:
			b.WriteRune(r)
		case r <= 0xff:
			fmt.Fprintf(b, `\x%02X`, r)
		case r <= 0xffff:
			fmt.Fprintf(b, `\u%04X`, r)
		default:
			fmt.Fprintf(b, `\U%08X`, r)
		}
	}
	b.WriteByte('"')
}
