package xmlrpc

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Limits bound what DecodeCall accepts. A zero field takes its default.
type Limits struct {
	// MaxBodyBytes bounds the request body (default 16 MiB: above the
	// 10 MB job definitions a server must be able to refuse with a clear
	// fault of its own rather than a decoding error).
	MaxBodyBytes int64
	// MaxDepth bounds the nesting of arrays and structs (default 64).
	MaxDepth int
}

// Default limits.
const (
	DefaultMaxBodyBytes = 16 << 20
	DefaultMaxDepth     = 64
	maxMethodName       = 256
)

func (l Limits) withDefaults() Limits {
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	return l
}

// Call is a decoded <methodCall>.
type Call struct {
	Method string
	Params []any
}

// ErrLimit is wrapped by every error that a limit caused, so a server can
// tell "too big" from "malformed".
var ErrLimit = errors.New("xmlrpc limit exceeded")

// DecodeCall reads and decodes one <methodCall> from r, reading at most
// lim.MaxBodyBytes+1 bytes. Errors say what is wrong and where (the byte
// offset in the body); a limit error wraps ErrLimit and names the limit.
// It never panics on any input.
func DecodeCall(r io.Reader, lim Limits) (*Call, error) {
	lim = lim.withDefaults()
	body, err := io.ReadAll(io.LimitReader(r, lim.MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the request body: %w", err)
	}
	if int64(len(body)) > lim.MaxBodyBytes {
		return nil, fmt.Errorf("%w: the request body is larger than MaxBodyBytes (%d bytes)", ErrLimit, lim.MaxBodyBytes)
	}
	p := &parser{d: xml.NewDecoder(bytes.NewReader(body)), lim: lim}
	p.d.Strict = true
	c, err := p.call()
	if err != nil {
		return nil, fmt.Errorf("at byte %d: %w", p.d.InputOffset(), err)
	}
	return c, nil
}

type parser struct {
	d       *xml.Decoder
	lim     Limits
	depth   int
	started bool // a token was read: an XML declaration may only come first
}

// token returns the next token that matters: comments are dropped, a
// processing instruction is allowed only as the leading XML declaration and
// a directive (DOCTYPE, entities) never.
func (p *parser) token() (xml.Token, error) {
	for {
		t, err := p.d.Token()
		if err != nil {
			if err == io.EOF {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		first := !p.started
		p.started = true
		switch t := t.(type) {
		case xml.Comment:
			continue
		case xml.ProcInst:
			if t.Target == "xml" && first {
				continue
			}
			return nil, fmt.Errorf("unexpected processing instruction <?%s", t.Target)
		case xml.Directive:
			return nil, errors.New("XML directives (DOCTYPE, ENTITY) are not accepted")
		case xml.StartElement:
			if t.Name.Space != "" {
				return nil, fmt.Errorf("unexpected namespaced element <%s:%s>", t.Name.Space, t.Name.Local)
			}
			return t, nil
		case xml.EndElement, xml.CharData:
			return t, nil
		}
	}
}

// elem returns the next start or end element, refusing any text but
// whitespace before it.
func (p *parser) elem() (xml.Token, error) {
	for {
		t, err := p.token()
		if err != nil {
			return nil, err
		}
		if cd, ok := t.(xml.CharData); ok {
			if len(bytes.TrimSpace(cd)) != 0 {
				return nil, fmt.Errorf("unexpected text %q", truncate(string(cd)))
			}
			continue
		}
		return t, nil
	}
}

func (p *parser) expectStart(name string) error {
	t, err := p.elem()
	if err != nil {
		return err
	}
	if s, ok := t.(xml.StartElement); !ok || s.Name.Local != name {
		return fmt.Errorf("expected <%s>, found %s", name, describe(t))
	}
	return nil
}

func (p *parser) expectEnd(name string) error {
	t, err := p.elem()
	if err != nil {
		return err
	}
	if e, ok := t.(xml.EndElement); !ok || e.Name.Local != name {
		return fmt.Errorf("expected </%s>, found %s", name, describe(t))
	}
	return nil
}

// text reads the character data of an element up to its end tag; a child
// element is an error.
func (p *parser) text(name string) (string, error) {
	var b strings.Builder
	for {
		t, err := p.token()
		if err != nil {
			return "", err
		}
		switch t := t.(type) {
		case xml.CharData:
			b.Write(t)
		case xml.EndElement:
			return b.String(), nil
		default:
			return "", fmt.Errorf("unexpected %s inside <%s>", describe(t), name)
		}
	}
}

func (p *parser) call() (*Call, error) {
	if err := p.expectStart("methodCall"); err != nil {
		return nil, err
	}
	if err := p.expectStart("methodName"); err != nil {
		return nil, err
	}
	name, err := p.text("methodName")
	if err != nil {
		return nil, err
	}
	if err := checkMethodName(name); err != nil {
		return nil, err
	}
	c := &Call{Method: name, Params: []any{}}
	t, err := p.elem()
	if err != nil {
		return nil, err
	}
	if s, ok := t.(xml.StartElement); ok && s.Name.Local == "params" {
		for {
			t, err := p.elem()
			if err != nil {
				return nil, err
			}
			if e, ok := t.(xml.EndElement); ok && e.Name.Local == "params" {
				break
			}
			if s, ok := t.(xml.StartElement); !ok || s.Name.Local != "param" {
				return nil, fmt.Errorf("expected <param>, found %s", describe(t))
			}
			if err := p.expectStart("value"); err != nil {
				return nil, err
			}
			v, err := p.value()
			if err != nil {
				return nil, fmt.Errorf("param %d: %w", len(c.Params)+1, err)
			}
			c.Params = append(c.Params, v)
			if err := p.expectEnd("param"); err != nil {
				return nil, err
			}
		}
		if t, err = p.elem(); err != nil {
			return nil, err
		}
	}
	if e, ok := t.(xml.EndElement); !ok || e.Name.Local != "methodCall" {
		return nil, fmt.Errorf("expected </methodCall>, found %s", describe(t))
	}
	// Only whitespace and comments may follow the document element.
	for {
		t, err := p.d.Token()
		if err == io.EOF {
			return c, nil
		}
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.Comment:
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, errors.New("text after </methodCall>")
			}
		default:
			return nil, fmt.Errorf("%s after </methodCall>", describe(t))
		}
	}
}

// checkMethodName keeps to the characters the XML-RPC specification allows.
func checkMethodName(name string) error {
	if name == "" {
		return errors.New("empty <methodName>")
	}
	if len(name) > maxMethodName {
		return fmt.Errorf("%w: <methodName> is longer than %d bytes", ErrLimit, maxMethodName)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_.:/", r)) {
			return fmt.Errorf("<methodName> %q holds %q (allowed: letters, digits, _ . : /)", truncate(name), r)
		}
	}
	return nil
}

// value decodes the content of a <value> whose start tag has been read,
// through its end tag.
func (p *parser) value() (any, error) {
	var text strings.Builder
	var start xml.StartElement
	for {
		t, err := p.token()
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.CharData:
			text.Write(t)
			continue
		case xml.EndElement: // untyped: a string, whitespace kept
			return text.String(), nil
		case xml.StartElement:
			if strings.TrimSpace(text.String()) != "" {
				return nil, fmt.Errorf("text %q before <%s>", truncate(text.String()), t.Name.Local)
			}
			start = t
		}
		break
	}
	v, err := p.typed(start.Name.Local)
	if err != nil {
		return nil, err
	}
	if err := p.expectEnd("value"); err != nil {
		return nil, err
	}
	return v, nil
}

func (p *parser) typed(kind string) (any, error) {
	switch kind {
	case "struct", "array":
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > p.lim.MaxDepth {
			return nil, fmt.Errorf("%w: arrays and structs nested deeper than MaxDepth (%d)", ErrLimit, p.lim.MaxDepth)
		}
		if kind == "struct" {
			return p.structValue()
		}
		return p.arrayValue()
	case "nil":
		if err := p.expectEnd("nil"); err != nil {
			return nil, err
		}
		return nil, nil
	}
	s, err := p.text(kind)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "string":
		return s, nil
	case "int", "i4", "i8":
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return nil, fmt.Errorf("<%s> %q is out of the 64-bit range", kind, truncate(s))
			}
			return nil, fmt.Errorf("bad <%s> %q", kind, truncate(s))
		}
		return n, nil
	case "boolean":
		switch s {
		case "0":
			return false, nil
		case "1":
			return true, nil
		}
		return nil, fmt.Errorf("bad <boolean> %q (want 0 or 1)", truncate(s))
	case "double":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, fmt.Errorf("bad <double> %q", truncate(s))
		}
		return f, nil
	case "dateTime.iso8601":
		return parseTime(strings.TrimSpace(s))
	case "base64":
		b, err := base64.StdEncoding.DecodeString(strings.Map(dropSpace, s))
		if err != nil {
			return nil, fmt.Errorf("bad <base64>: %v", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("unknown value type <%s>", kind)
}

func dropSpace(r rune) rune {
	switch r {
	case ' ', '\t', '\n', '\r':
		return -1
	}
	return r
}

func (p *parser) structValue() (map[string]any, error) {
	m := map[string]any{}
	for {
		t, err := p.elem()
		if err != nil {
			return nil, err
		}
		if e, ok := t.(xml.EndElement); ok && e.Name.Local == "struct" {
			return m, nil
		}
		if s, ok := t.(xml.StartElement); !ok || s.Name.Local != "member" {
			return nil, fmt.Errorf("expected <member>, found %s", describe(t))
		}
		if err := p.expectStart("name"); err != nil {
			return nil, err
		}
		name, err := p.text("name")
		if err != nil {
			return nil, err
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("struct member %q given twice", truncate(name))
		}
		if err := p.expectStart("value"); err != nil {
			return nil, fmt.Errorf("struct member %q: %w", truncate(name), err)
		}
		v, err := p.value()
		if err != nil {
			return nil, fmt.Errorf("struct member %q: %w", truncate(name), err)
		}
		m[name] = v
		if err := p.expectEnd("member"); err != nil {
			return nil, err
		}
	}
}

func (p *parser) arrayValue() ([]any, error) {
	if err := p.expectStart("data"); err != nil {
		return nil, err
	}
	a := []any{}
	for {
		t, err := p.elem()
		if err != nil {
			return nil, err
		}
		if e, ok := t.(xml.EndElement); ok && e.Name.Local == "data" {
			break
		}
		if s, ok := t.(xml.StartElement); !ok || s.Name.Local != "value" {
			return nil, fmt.Errorf("expected <value>, found %s", describe(t))
		}
		v, err := p.value()
		if err != nil {
			return nil, fmt.Errorf("array item %d: %w", len(a)+1, err)
		}
		a = append(a, v)
	}
	if err := p.expectEnd("array"); err != nil {
		return nil, err
	}
	return a, nil
}

func describe(t xml.Token) string {
	switch t := t.(type) {
	case xml.StartElement:
		return "<" + t.Name.Local + ">"
	case xml.EndElement:
		return "</" + t.Name.Local + ">"
	case xml.CharData:
		return fmt.Sprintf("text %q", truncate(string(t)))
	}
	return fmt.Sprintf("%T", t)
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// DecodeResponse reads one <methodResponse> from r within lim (for Go
// clients and tests): the value of its one param, or a *Fault as the
// error when the response is a fault. Other errors say what is malformed.
func DecodeResponse(r io.Reader, lim Limits) (any, error) {
	lim = lim.withDefaults()
	body, err := io.ReadAll(io.LimitReader(r, lim.MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the response body: %w", err)
	}
	if int64(len(body)) > lim.MaxBodyBytes {
		return nil, fmt.Errorf("%w: the response body is larger than MaxBodyBytes (%d bytes)", ErrLimit, lim.MaxBodyBytes)
	}
	p := &parser{d: xml.NewDecoder(bytes.NewReader(body)), lim: lim}
	p.d.Strict = true
	v, fault, err := p.response()
	if err != nil {
		return nil, fmt.Errorf("at byte %d: %w", p.d.InputOffset(), err)
	}
	if fault != nil {
		return nil, fault
	}
	return v, nil
}

func (p *parser) response() (any, *Fault, error) {
	if err := p.expectStart("methodResponse"); err != nil {
		return nil, nil, err
	}
	t, err := p.elem()
	if err != nil {
		return nil, nil, err
	}
	s, ok := t.(xml.StartElement)
	if !ok || s.Name.Local != "params" && s.Name.Local != "fault" {
		return nil, nil, fmt.Errorf("expected <params> or <fault>, found %s", describe(t))
	}
	var v any
	var fault *Fault
	if s.Name.Local == "params" {
		if err := p.expectStart("param"); err != nil {
			return nil, nil, err
		}
		if err := p.expectStart("value"); err != nil {
			return nil, nil, err
		}
		if v, err = p.value(); err != nil {
			return nil, nil, err
		}
		if err := p.expectEnd("param"); err != nil {
			return nil, nil, err
		}
		if err := p.expectEnd("params"); err != nil {
			return nil, nil, err
		}
	} else {
		if err := p.expectStart("value"); err != nil {
			return nil, nil, err
		}
		fv, err := p.value()
		if err != nil {
			return nil, nil, err
		}
		m, ok := fv.(map[string]any)
		code, cok := m["faultCode"].(int64)
		str, sok := m["faultString"].(string)
		if !ok || !cok || !sok {
			return nil, nil, fmt.Errorf("a <fault> needs faultCode (int) and faultString (string), found %v", fv)
		}
		fault = &Fault{Code: int(code), String: str}
		if err := p.expectEnd("fault"); err != nil {
			return nil, nil, err
		}
	}
	if err := p.expectEnd("methodResponse"); err != nil {
		return nil, nil, err
	}
	return v, fault, nil
}
