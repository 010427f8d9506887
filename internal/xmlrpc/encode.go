package xmlrpc

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
)

// maxEncodeDepth stops a value that contains itself (a []any holding
// itself) from recursing forever.
const maxEncodeDepth = 1000

const xmlHeader = "<?xml version='1.0'?>\n"

// MarshalResponse encodes v as a <methodResponse> with one param. A *Fault
// (v itself) is encoded as a <fault>. It fails on a type it cannot encode
// and on a string that XML cannot carry (control characters other than tab,
// newline and carriage return, or invalid UTF-8): such text must go as
// []byte (<base64>), which is what LAVA does for logs and dictionaries.
func MarshalResponse(v any) ([]byte, error) {
	if f, ok := v.(*Fault); ok {
		return MarshalFault(f), nil
	}
	var b bytes.Buffer
	b.WriteString(xmlHeader)
	b.WriteString("<methodResponse>\n<params>\n<param>\n")
	if err := encodeValue(&b, v, 0); err != nil {
		return nil, err
	}
	b.WriteString("</param>\n</params>\n</methodResponse>\n")
	return b.Bytes(), nil
}

// MarshalFault encodes f as a <methodResponse> holding a <fault>. A fault
// string XML cannot carry has its bad characters replaced by U+FFFD, so a
// fault can always be sent.
func MarshalFault(f *Fault) []byte {
	var b bytes.Buffer
	b.WriteString(xmlHeader)
	b.WriteString("<methodResponse>\n<fault>\n")
	msg := []rune{}
	for _, r := range f.String {
		if !xmlChar(r) {
			r = utf8.RuneError
		}
		msg = append(msg, r)
	}
	_ = encodeValue(&b, Struct{{"faultCode", f.Code}, {"faultString", string(msg)}}, 0)
	b.WriteString("</fault>\n</methodResponse>\n")
	return b.Bytes()
}

// MarshalCall encodes a <methodCall>, for tests and Go clients.
func MarshalCall(method string, params ...any) ([]byte, error) {
	if err := checkMethodName(method); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(xmlHeader)
	b.WriteString("<methodCall>\n<methodName>" + method + "</methodName>\n<params>\n")
	for _, p := range params {
		b.WriteString("<param>\n")
		if err := encodeValue(&b, p, 0); err != nil {
			return nil, err
		}
		b.WriteString("</param>\n")
	}
	b.WriteString("</params>\n</methodCall>\n")
	return b.Bytes(), nil
}

func encodeValue(b *bytes.Buffer, v any, depth int) error {
	if depth > maxEncodeDepth {
		return fmt.Errorf("value nested deeper than %d levels (a value containing itself?)", maxEncodeDepth)
	}
	if m, ok := v.(map[string]string); ok {
		a := make(map[string]any, len(m))
		for k, s := range m {
			a[k] = s
		}
		v = a
	}
	b.WriteString("<value>")
	switch v := v.(type) {
	case nil:
		b.WriteString("<nil/>")
	case bool:
		if v {
			b.WriteString("<boolean>1</boolean>")
		} else {
			b.WriteString("<boolean>0</boolean>")
		}
	case int:
		encodeInt(b, int64(v))
	case int8:
		encodeInt(b, int64(v))
	case int16:
		encodeInt(b, int64(v))
	case int32:
		encodeInt(b, int64(v))
	case int64:
		encodeInt(b, v)
	case uint8:
		encodeInt(b, int64(v))
	case uint16:
		encodeInt(b, int64(v))
	case uint32:
		encodeInt(b, int64(v))
	case float32:
		encodeDouble(b, float64(v))
	case float64:
		encodeDouble(b, v)
	case string:
		b.WriteString("<string>")
		if err := escape(b, v); err != nil {
			return err
		}
		b.WriteString("</string>")
	case []byte:
		// Encoded in place: a log chunk is megabytes, and a copy as a
		// string would double what a reply holds.
		b.WriteString("<base64>")
		b.Grow(base64.StdEncoding.EncodedLen(len(v)) + len("</base64></value>\n"))
		enc := base64.NewEncoder(base64.StdEncoding, b)
		_, _ = enc.Write(v)
		_ = enc.Close()
		b.WriteString("</base64>")
	case time.Time:
		b.WriteString("<dateTime.iso8601>")
		b.WriteString(v.UTC().Format(timeLayout))
		b.WriteString("</dateTime.iso8601>")
	case *time.Time:
		if v == nil {
			b.WriteString("<nil/>")
			break
		}
		b.WriteString("<dateTime.iso8601>" + v.UTC().Format(timeLayout) + "</dateTime.iso8601>")
	case Struct:
		b.WriteString("<struct>\n")
		for _, m := range v {
			if err := encodeMember(b, m.Name, m.Value, depth); err != nil {
				return err
			}
		}
		b.WriteString("</struct>")
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("<struct>\n")
		for _, k := range keys {
			if err := encodeMember(b, k, v[k], depth); err != nil {
				return err
			}
		}
		b.WriteString("</struct>")
	case []any:
		return encodeArray(b, len(v), func(i int) any { return v[i] }, depth)
	case []string:
		return encodeArray(b, len(v), func(i int) any { return v[i] }, depth)
	case []int:
		return encodeArray(b, len(v), func(i int) any { return v[i] }, depth)
	case []int64:
		return encodeArray(b, len(v), func(i int) any { return v[i] }, depth)
	case []map[string]any:
		return encodeArray(b, len(v), func(i int) any { return v[i] }, depth)
	case []Struct:
		return encodeArray(b, len(v), func(i int) any { return v[i] }, depth)
	case *Fault:
		return errors.New("a *Fault can only be a whole reply, not a value inside one")
	default:
		return fmt.Errorf("cannot encode a %T as XML-RPC", v)
	}
	b.WriteString("</value>\n")
	return nil
}

// encodeArray writes an array; the caller has written "<value>".
func encodeArray(b *bytes.Buffer, n int, item func(int) any, depth int) error {
	b.WriteString("<array><data>\n")
	for i := 0; i < n; i++ {
		if err := encodeValue(b, item(i), depth+1); err != nil {
			return fmt.Errorf("array item %d: %w", i+1, err)
		}
	}
	b.WriteString("</data></array></value>\n")
	return nil
}

func encodeMember(b *bytes.Buffer, name string, v any, depth int) error {
	b.WriteString("<member>\n<name>")
	if err := escape(b, name); err != nil {
		return fmt.Errorf("struct member name: %w", err)
	}
	b.WriteString("</name>\n")
	if err := encodeValue(b, v, depth+1); err != nil {
		return fmt.Errorf("struct member %q: %w", truncate(name), err)
	}
	b.WriteString("</member>\n")
	return nil
}

func encodeInt(b *bytes.Buffer, n int64) {
	if n >= math.MinInt32 && n <= math.MaxInt32 {
		b.WriteString("<int>" + strconv.FormatInt(n, 10) + "</int>")
		return
	}
	b.WriteString("<i8>" + strconv.FormatInt(n, 10) + "</i8>")
}

// encodeDouble writes what Python's float() reads back exactly (repr
// style: shortest round-trip digits, inf and nan as Python spells them).
func encodeDouble(b *bytes.Buffer, f float64) {
	var s string
	switch {
	case math.IsInf(f, 1):
		s = "inf"
	case math.IsInf(f, -1):
		s = "-inf"
	case math.IsNaN(f):
		s = "nan"
	default:
		s = strconv.FormatFloat(f, 'g', -1, 64)
		if !bytes.ContainsAny([]byte(s), ".eE") {
			s += ".0"
		}
	}
	b.WriteString("<double>" + s + "</double>")
}

// xmlChar reports whether r may appear in an XML 1.0 document.
func xmlChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' ||
		r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// escape writes s as XML text. A carriage return is written as &#13; so
// that it survives the parser's line-end normalisation.
func escape(b *bytes.Buffer, s string) error {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return fmt.Errorf("string holds invalid UTF-8 at byte %d (send bytes as base64)", i)
			}
		}
		if !xmlChar(r) {
			return fmt.Errorf("string holds %U at byte %d, which XML cannot carry (send bytes as base64)", r, i)
		}
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '\r':
			b.WriteString("&#13;")
		default:
			b.WriteRune(r)
		}
	}
	return nil
}
