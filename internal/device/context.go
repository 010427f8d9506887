package device

// Job context values are data. A job's "context:" reaches the device-type
// template as render variables, and a template prints them into YAML
// text; a value that carries YAML syntax (a line break and a key, a flow
// mapping, a quote that closes the template's own) would otherwise add
// keys to the rendered device configuration, such as a "commands:"
// entry that a command block runs on the worker. LAVA has the same
// flaw; its job schema accepts any string.
//
// Three ways to stop it were weighed:
//
//   - Refusing suspicious values in the job checker alone (line breaks,
//     control characters) is simple and covers every template for the
//     commonest attack, but a one-line value can still change the
//     structure where a template prints it inside a flow collection or
//     as a whole value ("{commands: ...}", "a, b: c", a closing quote),
//     and refusing every YAML indicator would refuse ordinary values
//     (URLs, "console=ttyS0,115200"). internal/job does refuse line
//     breaks and control characters, as a first line of defence (see
//     its checkContext).
//   - Re-rendering the template with placeholder values and comparing
//     the two devices fails on templates that branch on a value
//     ({% if arch == 'arm64' %}): the placeholder takes another branch.
//   - What Render does: the engine reports where each print landed in
//     the output (jinja.RenderPrints); the prints that came from the
//     context are neutralised in the rendered text itself (replaced by
//     one plain character, so every branch stays the one taken), and the
//     rendered device must have the same structure as the neutralised
//     text: the same keys in each mapping, the same number of items in
//     each sequence, mappings, sequences and scalars in the same places.
//     Scalars may differ; that is the data. A value printed inside a
//     block scalar may hold line breaks and still pass; one that adds,
//     removes or renames a key, or turns a scalar into a collection, is
//     refused with a *ContextError naming the variable, whatever the
//     template and whichever variable.
//
// Only variables holding strings are followed: numbers and booleans
// print as digits and words. A print counts as coming from the context
// variable K when its expression reads K by name; when it reads a
// variable the templates computed from K (set, for, with, set and
// filter blocks; jinja.Span.From) and its text holds more than a plain
// word; when its text contains one of K's strings (as it is, or as
// Python's repr prints it inside a list; a string shorter than 8 bytes
// only as a whole word); or when its text, holding more than a plain
// word, is part of one of K's strings (a template that splits a value).
// What is not followed: a plain word computed from K and printed as a
// key (a loop over (name, value) pairs prints its keys from the same
// assignment as its values, so these are not refused), and a value
// passed through a construct the engine does not track (a macro, were
// one supported). The job checker's refusal of line breaks and control
// characters holds there too. The marking errs towards too much, which
// tends to refuse rather than let a change by; TestContextValuesAreData
// holds it to no wrong refusal on the payloads it tries.
//
// A value that makes the rendered text unparsable is left to the YAML
// parser: nothing runs from a device that does not parse, and "basalt
// device render" still prints LAVA's bytes (the corpus's bbb-01-badquote).

import (
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/basalt-lava/basalt/internal/jinja"
	"github.com/basalt-lava/basalt/internal/value"
)

// ContextError reports a job context variable whose value, printed by
// the device-type template, changes the structure of the rendered
// device configuration.
type ContextError struct {
	Key  string // the context variable
	File string // the device dictionary rendered
	// Path is where the structure differs, in the rendered device
	// ("commands", "actions.deploy.methods"); "" for the whole document.
	Path string
	// What says how it differs.
	What string
}

func (e *ContextError) Error() string {
	where := "the rendered device configuration"
	if e.Path != "" {
		where += " at " + e.Path
	}
	return fmt.Sprintf("context variable %q: its value, printed by the device template %s, changes the structure of %s (%s); a context value is data and may not add or change keys", e.Key, e.File, where, e.What)
}

// placeholder replaces each context print in the neutralised text: a
// plain scalar fragment wherever a template may print a value.
const placeholder = "x"

// mark is a part of the rendered text that came from the context, and
// what replaces it in the neutralised text.
type mark struct {
	start, end int
	repl       string
	// level says how the print was tied to the variable, for naming
	// the culprit: markWhole, markContent or markName.
	level int
}

const (
	markWhole   = iota // the print is the value, or a piece of it
	markContent        // the print holds the value
	markName           // the print's expression reads the variable
)

// neutralValue is v with every string replaced by the placeholder: a
// list stays a list of as many items, so a template that prints a whole
// list (extra: {{ extra_options }}) keeps its flow sequence.
func neutralValue(v any) any {
	switch t := v.(type) {
	case string:
		return placeholder
	case []any:
		out := make([]any, len(t))
		for i, it := range t {
			out[i] = neutralValue(it)
		}
		return out
	case *value.Map:
		out := value.NewMap()
		i := 0
		t.Range(func(_ string, x any) bool {
			i++
			out.Set(fmt.Sprintf("%s%d", placeholder, i), neutralValue(x))
			return true
		})
		return out
	}
	return v
}

// checkContextPrints checks that the context variables in ctx printed
// into out (at prints) leave the rendered YAML's structure as the
// template wrote it. file names the dictionary, for errors.
func checkContextPrints(file, out string, prints []jinja.Span, ctx *value.Map) error {
	if ctx == nil || ctx.Len() == 0 || len(prints) == 0 {
		return nil
	}
	keys := ctx.Keys()
	marks := map[string][]mark{}
	var all []mark
	for _, k := range keys {
		m := contextMarks(out, prints, k, ctx.Value(k))
		marks[k] = m
		all = append(all, m...)
	}
	if len(all) == 0 {
		return nil
	}
	real, realErr := value.DecodeYAML([]byte(out))
	neutral, neutralErr := value.DecodeYAML([]byte(neutralise(out, all)))
	if realErr == nil && neutralErr == nil {
		if _, _, same := sameShape(real, neutral, ""); same {
			return nil
		}
	}
	if realErr != nil {
		// Text that does not parse runs nothing: the parser reports it
		// to whoever loads the device, as LAVA's yaml.safe_load would,
		// and "basalt device render" still prints LAVA's bytes.
		return nil
	}
	// Something differs: name the first variable that alone makes a
	// difference, in the order the job gives them, first by the prints
	// that hold its value, then also by those that read its name (a
	// print such as {{ arch | qemu_guest_fs_interface(guestfs_interface) }}
	// reads two).
	for level := markWhole; level <= markName; level++ {
		for _, k := range keys {
			var ms []mark
			for _, m := range marks[k] {
				if m.level <= level {
					ms = append(ms, m)
				}
			}
			if len(ms) == 0 {
				continue
			}
			alone, aloneErr := value.DecodeYAML([]byte(neutralise(out, ms)))
			if aloneErr != nil {
				return &ContextError{Key: k, File: file, What: "the text parses only because of the value"}
			}
			if path, what, same := sameShape(real, alone, ""); !same {
				return &ContextError{Key: k, File: file, Path: path, What: what}
			}
		}
	}
	// Only several variables together make the difference.
	k := ""
	for _, key := range keys {
		if len(marks[key]) > 0 {
			k = key
			break
		}
	}
	ce := &ContextError{Key: k, File: file, What: "the text parses only because of the values, together with other context variables"}
	if neutralErr == nil {
		path, what, _ := sameShape(real, neutral, "")
		ce.Path, ce.What = path, what+", together with other context variables"
	}
	return ce
}

// contextMarks returns the parts of out that the prints of context
// variable key (holding v) wrote. A print of the whole value is
// replaced by the value's shape (neutralValue); anything else by the
// placeholder.
func contextMarks(out string, prints []jinja.Span, key string, v any) []mark {
	var strs []string
	collectStrings(v, &strs)
	if len(strs) == 0 {
		return nil // numbers and booleans print as digits and words
	}
	var needles []string
	for _, s := range strs {
		if !hasWord(s) {
			continue
		}
		needles = append(needles, s, jinja.Repr(s))
	}
	whole := jinja.Repr(v)
	if s, ok := v.(string); ok {
		whole = s
	}
	shape := jinja.Repr(neutralValue(v))
	if _, ok := v.(string); ok {
		shape = placeholder
	}
	var marks []mark
	for _, p := range prints {
		text := out[p.Start:p.End]
		// A print computed from the variable through the templates' own
		// assignments counts by name only when it holds syntax: the
		// keys of a loop over pairs ({{ section }}: {{ delay }}) come
		// from the same assignment as the values.
		byName := containsString(p.Names, key) || containsString(p.From, key) && hasSyntax(text)
		if text == whole && (byName || hasWord(text)) {
			marks = append(marks, mark{p.Start, p.End, shape, markWhole})
			continue
		}
		if partOfAny(text, strs) {
			marks = append(marks, mark{p.Start, p.End, placeholder, markWhole})
			continue
		}
		if byName {
			marks = append(marks, mark{p.Start, p.End, placeholder, markName})
			continue
		}
		for _, n := range needles {
			for off := 0; ; {
				i := strings.Index(text[off:], n)
				if i < 0 {
					break
				}
				start, end := off+i, off+i+len(n)
				off = end
				if len(n) < minEmbedded && (wordByte(text, start-1) || wordByte(text, end)) {
					continue // "a" in "extra": a chance match
				}
				marks = append(marks, mark{p.Start + start, p.Start + end, placeholder, markContent})
			}
		}
	}
	return marks
}

// minEmbedded is the length from which a value found inside a word of a
// print still counts as the value: a shorter one ("a", "virt") counts
// only as a whole word, so that a chance match does not neutralise a
// template's own key ("extra"); the print that reads the variable by
// name is marked regardless.
const minEmbedded = 8

// wordByte reports whether text[i] exists and is an ASCII letter or digit.
func wordByte(text string, i int) bool {
	if i < 0 || i >= len(text) {
		return false
	}
	c := text[i]
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func containsString(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// hasWord reports whether s holds a letter or a digit. Content that
// holds neither (blanks, a lone comma or dash) is not matched by content:
// it would match the template's own punctuation everywhere; a print
// that reads the variable by name is still marked.
func hasWord(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0
}

// hasSyntax reports whether text holds something else than letters,
// digits and "-_./": a plain word cannot carry YAML syntax of its own.
func hasSyntax(text string) bool {
	return strings.Trim(text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./") != ""
}

// partOfAny reports whether text is part of one of strs (a piece of a
// value the template split) and holds a letter or digit and YAML
// syntax. A plain word that happens to be part of a value ("root" in
// "root=/dev/vda") may be a key the dictionary prints.
func partOfAny(text string, strs []string) bool {
	if !hasWord(text) || !hasSyntax(text) {
		return false
	}
	for _, s := range strs {
		if strings.Contains(s, text) {
			return true
		}
	}
	return false
}

// collectStrings appends every string in v (a context value: a scalar,
// a list, or a mapping with its keys) to out.
func collectStrings(v any, out *[]string) {
	switch t := v.(type) {
	case string:
		*out = append(*out, t)
	case []any:
		for _, it := range t {
			collectStrings(it, out)
		}
	case *value.Map:
		t.Range(func(k string, x any) bool {
			*out = append(*out, k)
			collectStrings(x, out)
			return true
		})
	}
}

// neutralise returns out with every marked range replaced: a mark
// inside another goes with it, and overlapping marks merge into one
// placeholder.
func neutralise(out string, marks []mark) string {
	ms := append([]mark(nil), marks...)
	sort.SliceStable(ms, func(i, j int) bool {
		if ms[i].start != ms[j].start {
			return ms[i].start < ms[j].start
		}
		return ms[i].end > ms[j].end
	})
	var b strings.Builder
	pos := 0
	for i := 0; i < len(ms); {
		start, end, repl := ms[i].start, ms[i].end, ms[i].repl
		for i++; i < len(ms) && ms[i].start < end; i++ {
			switch {
			case ms[i].end > end:
				end, repl = ms[i].end, placeholder
			case ms[i].start == start && ms[i].end == end && ms[i].repl != placeholder:
				repl = ms[i].repl // a whole list printed keeps its shape
			}
		}
		b.WriteString(out[pos:start])
		b.WriteString(repl)
		pos = end
	}
	b.WriteString(out[pos:])
	return b.String()
}

// sameShape compares the structure of two decoded YAML documents: the
// same keys in the same order in each mapping, the same number of items
// in each sequence, collections in the same places; scalars may differ.
// When they differ it returns where and how.
func sameShape(got, want any, path string) (string, string, bool) {
	switch w := want.(type) {
	case *value.Map:
		g, ok := got.(*value.Map)
		if !ok {
			return path, "a mapping became " + kindName(got), false
		}
		gk, wk := g.Keys(), w.Keys()
		for _, k := range gk {
			if !w.Has(k) {
				return joinPath(path, k), fmt.Sprintf("it adds the key %q", k), false
			}
		}
		for _, k := range wk {
			if !g.Has(k) {
				return joinPath(path, k), fmt.Sprintf("it removes the key %q", k), false
			}
		}
		for i, k := range wk {
			if gk[i] != k {
				return joinPath(path, k), "it reorders the keys", false
			}
			if p, what, same := sameShape(g.Value(k), w.Value(k), joinPath(path, k)); !same {
				return p, what, false
			}
		}
		return "", "", true
	case []any:
		g, ok := got.([]any)
		if !ok {
			return path, "a sequence became " + kindName(got), false
		}
		if len(g) != len(w) {
			return path, fmt.Sprintf("a sequence of %d items became %d", len(w), len(g)), false
		}
		for i := range w {
			if p, what, same := sameShape(g[i], w[i], fmt.Sprintf("%s[%d]", path, i)); !same {
				return p, what, false
			}
		}
		return "", "", true
	}
	switch got.(type) {
	case *value.Map, []any:
		return path, "a scalar became " + kindName(got), false
	}
	return "", "", true
}

func kindName(v any) string {
	switch v.(type) {
	case *value.Map:
		return "a mapping"
	case []any:
		return "a sequence"
	}
	return "a scalar"
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
