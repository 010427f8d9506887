package web

import (
	"html/template"
	"regexp"
	"strings"
)

// Syntax-light highlighting of the device pages' code blocks (a device
// dictionary in Jinja2, a rendered configuration or template in YAML):
// enough colour to find the tags, keys and comments, nothing that needs a
// script. Each function returns the text's lines as escaped HTML, one
// entry a line, every span closed on its line, so the page can number and
// anchor the lines. The classes (hl-comment, hl-tag, hl-expr, hl-kw,
// hl-str, hl-key, hl-num) are styled in static/devices.css.

// hlLine is one numbered line of a code block.
type hlLine struct {
	N    int
	HTML template.HTML
}

// codeBlock is what the dv-code partial draws: lines under an element id,
// each anchored as #<prefix>-L<n>.
type codeBlock struct {
	ID, Prefix string
	Lines      []hlLine
}

func newCodeBlock(id, prefix string, lines []hlLine) codeBlock {
	return codeBlock{ID: id, Prefix: prefix, Lines: lines}
}

// hlSegment is a run of text with one class ("" for plain).
type hlSegment struct{ class, text string }

// lines turns segments into numbered lines, splitting each hlSegment at its
// newlines so that no span crosses a line.
func numberLines(segs []hlSegment) []hlLine {
	// Adjacent runs of one class make one span.
	var merged []hlSegment
	for _, s := range segs {
		if n := len(merged); n > 0 && merged[n-1].class == s.class {
			merged[n-1].text += s.text
			continue
		}
		merged = append(merged, s)
	}
	var out []hlLine
	var cur strings.Builder
	flush := func() {
		out = append(out, hlLine{N: len(out) + 1, HTML: template.HTML(cur.String())})
		cur.Reset()
	}
	for _, s := range merged {
		parts := strings.Split(s.text, "\n")
		for i, p := range parts {
			if i > 0 {
				flush()
			}
			if p == "" {
				continue
			}
			esc := template.HTMLEscapeString(p)
			if s.class == "" {
				cur.WriteString(esc)
			} else {
				cur.WriteString(`<span class="` + s.class + `">` + esc + `</span>`)
			}
		}
	}
	if cur.Len() > 0 {
		flush()
	}
	return out
}

// jinjaKeywords are the statement names coloured inside {% %}.
var jinjaKeywords = regexp.MustCompile(`^(\s*-?\s*)(extends|set|if|elif|else|endif|for|endfor|block|endblock|include|import|from|macro|endmacro|raw|endraw|filter|endfilter|with|endwith)\b`)

// jinjaString matches the quoted strings inside a tag or expression.
var jinjaString = regexp.MustCompile(`'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"`)

// highlightJinja colours a Jinja2 template: comments, statements (their
// keyword and strings) and expressions; the text between them is YAML
// and is coloured as such.
func highlightJinja(src string) []hlLine {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	var segs []hlSegment
	for len(src) > 0 {
		i := strings.Index(src, "{")
		for i >= 0 && (i+1 >= len(src) || !strings.ContainsRune("#%{", rune(src[i+1]))) {
			j := strings.Index(src[i+1:], "{")
			if j < 0 {
				i = -1
				break
			}
			i += 1 + j
		}
		if i < 0 {
			segs = append(segs, yamlSegments(src)...)
			break
		}
		if i > 0 {
			segs = append(segs, yamlSegments(src[:i])...)
		}
		closing := map[byte]string{'#': "#}", '%': "%}", '{': "}}"}[src[i+1]]
		end := strings.Index(src[i+2:], closing)
		var tag string
		if end < 0 {
			tag, src = src[i:], ""
		} else {
			tag, src = src[i:i+2+end+2], src[i+2+end+2:]
		}
		switch src0 := tag[1]; src0 {
		case '#':
			segs = append(segs, hlSegment{"hl-comment", tag})
		case '%':
			segs = append(segs, tagSegments("hl-tag", tag)...)
		default:
			segs = append(segs, tagSegments("hl-expr", tag)...)
		}
	}
	return numberLines(segs)
}

// tagSegments colours a {% %} or {{ }} block: its keyword and strings
// stand out inside the block's colour.
func tagSegments(class, tag string) []hlSegment {
	open, body, close := tag[:2], tag[2:], ""
	if strings.HasSuffix(body, tag[1:2]+"}") || strings.HasSuffix(body, "}}") {
		body, close = body[:len(body)-2], body[len(body)-2:]
	}
	segs := []hlSegment{{class, open}}
	if m := jinjaKeywords.FindStringSubmatchIndex(body); class == "hl-tag" && m != nil {
		segs = append(segs, hlSegment{class, body[:m[3]]}, hlSegment{"hl-kw", body[m[4]:m[5]]})
		body = body[m[5]:]
	}
	for len(body) > 0 {
		loc := jinjaString.FindStringIndex(body)
		if loc == nil {
			segs = append(segs, hlSegment{class, body})
			break
		}
		segs = append(segs, hlSegment{class, body[:loc[0]]}, hlSegment{"hl-str", body[loc[0]:loc[1]]})
		body = body[loc[1]:]
	}
	return append(segs, hlSegment{class, close})
}

// yamlKey matches a mapping key at the start of a line, after its indent
// and any list dashes.
var yamlKey = regexp.MustCompile(`^(\s*(?:-\s+)*)('(?:[^']|'')*'|"(?:[^"\\]|\\.)*"|[^\s#'"\-?:,\[\]{}][^:#]*?|-[^\s:#][^:#]*?)(\s*:)(\s|$)`)

// yamlScalar matches the plain scalars coloured as numbers or constants.
var yamlScalar = regexp.MustCompile(`^(?:[-+]?(?:\d[\d_]*)(?:\.\d+)?(?:[eE][-+]?\d+)?|0x[0-9a-fA-F]+|true|false|True|False|yes|no|null|Null|~)$`)

// highlightYAML colours YAML text line by line.
func highlightYAML(src string) []hlLine {
	return numberLines(yamlSegments(strings.ReplaceAll(src, "\r\n", "\n")))
}

// yamlSegments colours YAML (or the YAML between Jinja2 tags): each line's
// key, its value when quoted or a constant, and its comment.
func yamlSegments(src string) []hlSegment {
	var segs []hlSegment
	for i, line := range strings.Split(src, "\n") {
		if i > 0 {
			segs = append(segs, hlSegment{"", "\n"})
		}
		segs = append(segs, yamlLine(line)...)
	}
	return segs
}

func yamlLine(line string) []hlSegment {
	if t := strings.TrimSpace(line); strings.HasPrefix(t, "#") {
		return []hlSegment{{"", line[:len(line)-len(strings.TrimLeft(line, " \t"))]}, {"hl-comment", strings.TrimLeft(line, " \t")}}
	}
	var segs []hlSegment
	rest := line
	if m := yamlKey.FindStringSubmatchIndex(line); m != nil {
		segs = append(segs, hlSegment{"", line[m[2]:m[3]]}, hlSegment{"hl-key", line[m[4]:m[5]]}, hlSegment{"", line[m[6]:m[7]]})
		rest = line[m[7]:]
	}
	// The value and a trailing comment (a # after a space, outside quotes).
	comment := ""
	inq := byte(0)
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case inq != 0:
			if c == inq {
				inq = 0
			}
		case c == '\'' || c == '"':
			if strings.TrimSpace(rest[:i]) == "" || strings.HasSuffix(strings.TrimRight(rest[:i], " "), "-") || strings.HasSuffix(strings.TrimRight(rest[:i], " "), "[") || strings.HasSuffix(strings.TrimRight(rest[:i], " "), ",") {
				inq = c
			}
		case c == '#' && (i == 0 || rest[i-1] == ' ' || rest[i-1] == '\t'):
			comment, rest = rest[i:], rest[:i]
			i = len(rest)
		}
	}
	value := strings.TrimSpace(rest)
	switch {
	case value == "":
		segs = append(segs, hlSegment{"", rest})
	case value[0] == '\'' || value[0] == '"':
		lead := rest[:strings.Index(rest, value)]
		segs = append(segs, hlSegment{"", lead}, hlSegment{"hl-str", value}, hlSegment{"", rest[len(lead)+len(value):]})
	case yamlScalar.MatchString(value):
		lead := rest[:strings.Index(rest, value)]
		segs = append(segs, hlSegment{"", lead}, hlSegment{"hl-num", value}, hlSegment{"", rest[len(lead)+len(value):]})
	default:
		segs = append(segs, hlSegment{"", rest})
	}
	if comment != "" {
		segs = append(segs, hlSegment{"hl-comment", comment})
	}
	return segs
}

// dictExtends is the template a device dictionary extends.
var dictExtends = regexp.MustCompile(`\{%-?\s*extends\s+['"]([^'"]+)['"]\s*-?%\}`)

// extendsOf returns the template name a dictionary extends, "" for none
// (LAVA's Device.get_extends, which the dictionary page shows).
func extendsOf(dict string) string {
	if m := dictExtends.FindStringSubmatch(dict); m != nil {
		return m[1]
	}
	return ""
}
