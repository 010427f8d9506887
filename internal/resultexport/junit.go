package resultexport

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/basalt-lava/basalt/internal/store"
)

// LogFunc returns lines [start, end) of the job's log as text (the
// log's YAML lines), for a failed case's output. A nil LogFunc leaves
// the output out.
type LogFunc func(start, end int64) (string, error)

// maxCaseLog bounds the log text one failed case carries into an export:
// a case that spans a whole 1 GB log must not make the server hold it.
const maxCaseLog = 1 << 20

// caseLog is the log text of r, "" when it has no range or log is nil;
// longer than maxCaseLog it is cut there with a note.
func caseLog(r store.Result, log LogFunc) (string, bool, error) {
	if log == nil || r.LogStart == nil || r.LogEnd == nil {
		return "", false, nil
	}
	s, err := log(*r.LogStart, *r.LogEnd)
	if err != nil {
		return "", false, err
	}
	if len(s) > maxCaseLog {
		s = s[:maxCaseLog] + "\n... (cut at " + strconv.Itoa(maxCaseLog) + " bytes)\n"
	}
	return s, true, nil
}

// isoTime is Python's datetime.isoformat() of an aware UTC time.
func isoTime(t time.Time) string {
	t = t.UTC()
	if us := t.Nanosecond() / 1000; us != 0 {
		return t.Format("2006-01-02T15:04:05") + fmt.Sprintf(".%06d", us) + "+00:00"
	}
	return t.Format("2006-01-02T15:04:05") + "+00:00"
}

// duration is the case's metadata "duration" in seconds, if it has one.
func duration(r store.Result) (float64, bool) {
	meta, _ := metadataNode(r.Metadata)
	for i := 0; i+1 < len(meta.Content); i += 2 {
		if meta.Content[i].Value == "duration" && meta.Content[i+1].Kind == yaml.ScalarNode {
			f, err := strconv.ParseFloat(strings.TrimSpace(meta.Content[i+1].Value), 64)
			return f, err == nil
		}
	}
	return 0, false
}

// JUnitOptions are REST /junit/'s query options.
type JUnitOptions struct {
	// ClassnamePrefix, when not empty, prefixes each case's classname
	// (the suite name) with "<prefix>_".
	ClassnamePrefix string
	// Log gives failed cases their log lines.
	Log LogFunc
}

// xmlText escapes s for an attribute value (every quote and newline
// escaped; characters XML cannot carry become U+FFFD).
func xmlText(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// xmlContent escapes s for element text, keeping newlines, tabs and
// quotes readable.
func xmlContent(s string) string {
	return contentUnescape.Replace(xmlText(s))
}

var contentUnescape = strings.NewReplacer("&#xA;", "\n", "&#x9;", "\t", "&#34;", `"`, "&#39;", "'")

// JUnit writes rs as LAVA's JUnit export (junit_xml's report): a
// testsuites element with one testsuite per suite, a testcase per result,
// a failure (message "failed", with the case's log lines) for "fail" and
// a skipped element for "skip".
func JUnit(w io.Writer, job int64, rs []store.Result, opt JUnitOptions) error {
	prefix := ""
	if opt.ClassnamePrefix != "" {
		prefix = opt.ClassnamePrefix + "_"
	}
	type suite struct {
		name                     string
		cases                    []string
		tests, failures, skipped int
		time                     float64
		end                      time.Time
	}
	var suites []*suite
	byName := map[string]*suite{}
	total := &suite{}
	for _, r := range rs {
		s := byName[r.Suite]
		if s == nil {
			s = &suite{name: r.Suite}
			byName[r.Suite] = s
			suites = append(suites, s)
		}
		var c strings.Builder
		fmt.Fprintf(&c, "\t\t<testcase name=\"%s\" classname=\"%s\"", xmlText(r.Case), xmlText(prefix+r.Suite))
		if d, ok := duration(r); ok {
			fmt.Fprintf(&c, " time=\"%s\"", strconv.FormatFloat(d, 'f', 6, 64))
			s.time += d
		}
		if !r.Logged.IsZero() {
			fmt.Fprintf(&c, " timestamp=\"%s\"", isoTime(r.Logged))
			if r.Logged.After(s.end) {
				s.end = r.Logged
			}
		}
		switch r.Result {
		case "fail":
			out, ok, err := caseLog(r, opt.Log)
			if err != nil {
				return err
			}
			c.WriteString(">\n\t\t\t<failure type=\"failure\" message=\"failed\"")
			if ok {
				c.WriteString(">" + xmlContent(out) + "</failure>\n")
			} else {
				c.WriteString("/>\n")
			}
			c.WriteString("\t\t</testcase>")
			s.failures++
		case "skip":
			c.WriteString(">\n\t\t\t<skipped type=\"skipped\" message=\"skipped\"/>\n\t\t</testcase>")
			s.skipped++
		default:
			c.WriteString("/>")
		}
		s.tests++
		s.cases = append(s.cases, c.String())
	}
	for _, s := range suites {
		total.tests += s.tests
		total.failures += s.failures
		total.skipped += s.skipped
		total.time += s.time
	}
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n")
	fmt.Fprintf(&b, "<testsuites disabled=\"0\" errors=\"0\" failures=\"%d\" tests=\"%d\" time=\"%s\">\n",
		total.failures, total.tests, strconv.FormatFloat(total.time, 'f', -1, 64))
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	for _, s := range suites {
		b.Reset()
		fmt.Fprintf(&b, "\t<testsuite disabled=\"0\" errors=\"0\" failures=\"%d\" name=\"%s\" skipped=\"%d\" tests=\"%d\" time=\"%s\"",
			s.failures, xmlText(s.name), s.skipped, s.tests, strconv.FormatFloat(s.time, 'f', -1, 64))
		if !s.end.IsZero() {
			fmt.Fprintf(&b, " timestamp=\"%s\"", isoTime(s.end))
		}
		b.WriteString(">\n")
		for _, c := range s.cases {
			b.WriteString(c + "\n")
		}
		b.WriteString("\t</testsuite>\n")
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, "</testsuites>\n")
	return err
}

// TAP13 writes rs as LAVA's TAP13 export (tappy's streaming tracker):
// "TAP version 13", the plan "1..N", then one line per case, numbered
// from 1: "ok N case", "not ok N case" for a failure (followed by its log
// lines as a YAML block " ---\n ...\n ..." when it has them), "ok N case
// # SKIP test skipped" and "not ok N case # TODO unknown result".
func TAP13(w io.Writer, job int64, rs []store.Result, log LogFunc) error {
	var b strings.Builder
	fmt.Fprintf(&b, "TAP version 13\n1..%d\n", len(rs))
	for i, r := range BySuite(rs) {
		n := i + 1
		name := strings.ReplaceAll(r.Case, "\n", " ")
		switch r.Result {
		case "fail":
			fmt.Fprintf(&b, "not ok %d %s\n", n, name)
			out, ok, err := caseLog(r, log)
			if err != nil {
				return err
			}
			if ok {
				out = strings.TrimRight(out, "\n")
				b.WriteString(" ---\n " + strings.ReplaceAll(out, "\n", "\n ") + "\n ...\n")
			}
		case "skip":
			fmt.Fprintf(&b, "ok %d %s # SKIP test skipped\n", n, name)
		case "unknown":
			fmt.Fprintf(&b, "not ok %d %s # TODO unknown result\n", n, name)
		default:
			fmt.Fprintf(&b, "ok %d %s\n", n, name)
		}
		if b.Len() >= 64<<10 {
			if _, err := io.WriteString(w, b.String()); err != nil {
				return err
			}
			b.Reset()
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
