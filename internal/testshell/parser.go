package testshell

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/joblog"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// Runner matches what lava-test-runner and the helper scripts print for
// the dispatcher: `<LAVA_TEST_RUNNER EXIT>`, `<LAVA_TEST_RUNNER
// INSTALL_FAIL>` (group 1) and `<LAVA_SIGNAL_NAME params>` (groups 2 and
// 3). LAVA tries these as three patterns; one pattern with the literal
// prefix "<LAVA_" costs one fast substring search per console line
// instead of three regular expression scans. A signal sent through
// /dev/kmsg (lava-signal: kmsg) reaches the console behind the kernel's
// time stamp, which the pattern skips as it is not anchored.
var Runner = regexp.MustCompile(`<LAVA_(?:TEST_RUNNER (EXIT|INSTALL_FAIL)|SIGNAL_(\S+) ([^>]+))>`)

// Config is what a Parser reports to and reads from.
type Config struct {
	// Namespace is the test block's namespace, reported at ENDRUN.
	Namespace string
	// Stage is the test block's stage, named by INSTALL_FAIL.
	Stage int
	// Definition returns the definition of a test run named by STARTRUN
	// ("0_smoke"); nil, nil when the overlay recorded nothing for it.
	Definition func(name string) (*Definition, error)
	// Result receives each result as it is made.
	Result func(*value.Map)
	// Log receives what the parser has to say; nil discards it.
	Log *joblog.Logger
	// Now gives the time for durations; nil means time.Now.
	Now func() time.Time
	// MultiNode, when set, answers the MultiNode API calls the helper
	// scripts print (<LAVA_MULTI_NODE> <LAVA_SEND id k=v>): api is SEND,
	// WAIT, WAIT_ALL or SYNC, args the words after it. It returns the
	// line to type back on the console, "" for none.
	MultiNode func(ctx context.Context, api string, args []string) (reply string, err error)
	// Send types a line on the device's console (MultiNode replies).
	Send func(line string) error
}

// Parser follows one run of lava-test-runner. It is not safe for
// concurrent use: one goroutine reads the console and feeds it.
type Parser struct {
	cfg Config
	log *joblog.Logger

	// patterns is what Patterns returns: Runner, the active parse
	// pattern or nil, and MultiNodeCall or nil, kept in an array so the
	// console loop allocates nothing per call.
	patterns [3]*regexp.Regexp

	started    bool // a STARTRUN was seen (LAVA keeps its uuid after ENDRUN)
	definition string
	def        *Definition
	fixup      map[string]string
	testset    string
	start      time.Time
	current    *value.Map // the run in progress, reported as failed if it never ends
	expected   map[string]bool
	seen       map[string]bool
	report     map[string]string
	reportKeys []string
	errs       []string
	exited     bool
}

// New returns a parser waiting for the first signal.
func New(cfg Config) *Parser {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Result == nil {
		cfg.Result = func(*value.Map) {}
	}
	p := &Parser{cfg: cfg, log: cfg.Log, fixup: DefaultFixup, report: map[string]string{}}
	if p.log == nil {
		p.log = joblog.Discard()
	}
	p.patterns[0] = Runner
	if cfg.MultiNode != nil {
		p.patterns[2] = MultiNodeCall
	}
	return p
}

// Patterns returns the patterns to wait for: Runner, the parse pattern
// of the test run in progress and MultiNodeCall (nil when there is none;
// Expect skips nil patterns). Index 0 and 1 are what Handle takes, 2 is
// Follow's own.
func (p *Parser) Patterns() []*regexp.Regexp { return p.patterns[:] }

// Exited reports whether the runner printed its EXIT line.
func (p *Parser) Exited() bool { return p.exited }

// Errors returns the problems that make the test shell fail once the
// runner has exited (LAVA's action errors: a stage that could not start).
func (p *Parser) Errors() []string { return p.errs }

// Handle processes one match of Patterns()[index]; groups are the
// submatches, groups[0] the whole match. done is true when the runner
// exited. err is a *pipeline.Error that ends the test shell (TESTRAISE,
// a signal that cannot be handled); problems with a single result are
// logged and the run goes on, as LAVA does.
func (p *Parser) Handle(index int, groups []string) (done bool, err error) {
	if index == 1 {
		p.parsed(groups)
		return false, nil
	}
	if len(groups) != 4 {
		return false, pipeline.Bug("runner pattern match with %d groups", len(groups))
	}
	switch groups[1] {
	case "EXIT":
		p.log.Infof("ok: lava_test_shell seems to have completed")
		p.testset = ""
		p.exited = true
		return true, nil
	case "INSTALL_FAIL":
		p.installFail()
		return false, nil
	}
	return false, p.Signal(groups[2], groups[3])
}

// installFail is the runner's report that a definition's install.sh
// failed: the stage counts as not started, and the runner goes on with
// the next definition.
func (p *Parser) installFail() {
	p.log.Errorf("Unable to start stage %d. Read the log for more details.", p.cfg.Stage)
	p.errs = append(p.errs, fmt.Sprintf("Unable to start test stage %d", p.cfg.Stage))
	p.start = p.cfg.Now()
	p.current = value.MapOf("definition", "lava", "case", fmt.Sprintf("stage_%d", p.cfg.Stage), "result", "fail")
}

// Signal handles one <LAVA_SIGNAL_name params> line.
func (p *Parser) Signal(name, params string) error {
	p.log.Debugf("Received signal: <%s> %s", name, params)
	fields := strings.Fields(params)
	switch name {
	case "STARTRUN":
		return p.startRun(fields)
	case "ENDRUN":
		return p.endRun(fields)
	case "TESTCASE":
		return p.testCase(fields)
	case "TESTREFERENCE":
		return p.testReference(fields)
	case "TESTSET":
		return p.testSet(fields)
	case "TESTRAISE":
		return pipeline.TestError("%s", strings.Join(fields, " "))
	case "TESTEVENT":
		p.log.Log(joblog.Event, strings.Join(fields, " "))
	case "TESTFEEDBACK":
		// Feedback reads another namespace's console; a single console
		// has none to read.
		if len(fields) > 0 {
			p.log.Infof("Requesting feedback from namespace: %s", fields[0])
		}
		p.log.Warnf("no connection in another namespace to read feedback from")
	}
	// STARTTC and ENDTC mark where a case's output begins and ends in
	// the log; the markers are not reported here.
	return nil
}

func (p *Parser) startRun(f []string) error {
	if len(f) < 2 {
		return pipeline.TestError("Invalid STARTRUN signal: %q needs a test run name and a uuid", strings.Join(f, " "))
	}
	name, uuid := f[0], f[1]
	p.started = true
	p.definition = name
	p.start = p.cfg.Now()
	p.log.Infof("Starting test lava.%s (%s)", name, uuid)
	p.def, p.fixup, p.patterns[1], p.expected, p.seen = nil, DefaultFixup, nil, nil, nil
	if p.cfg.Definition != nil {
		d, err := p.cfg.Definition(name)
		if err != nil {
			return pipeline.TestError("%v", err)
		}
		p.def = d
	}
	if d := p.def; d != nil {
		if d.Fixup != nil {
			p.fixup = d.Fixup
		}
		if d.Pattern != nil {
			p.patterns[1] = d.Pattern
			p.log.Infof("Enabling test definition pattern %q", strings.TrimPrefix(d.Pattern.String(), "(?m)"))
			p.log.Infof("Enabling test definition fixup %s", fixupString(p.fixup))
		}
		if len(d.Expected) > 0 {
			p.expected, p.seen = map[string]bool{}, map[string]bool{}
			for _, e := range d.Expected {
				p.expected[e] = true
			}
		}
	}
	p.current = value.MapOf("definition", "lava", "case", name, "uuid", uuid, "result", "fail")
	if p.def != nil && p.def.CommitID != "" {
		p.current.Set("commit_id", p.def.CommitID)
	}
	return nil
}

func (p *Parser) endRun(f []string) error {
	if len(f) < 2 {
		return pipeline.TestError("Invalid ENDRUN signal: %q needs a test run name and a uuid", strings.Join(f, " "))
	}
	name, uuid := f[0], f[1]
	if p.start.IsZero() {
		p.start = p.cfg.Now()
	}
	d := p.def
	if d == nil || d.Name != name {
		// An ENDRUN without its STARTRUN: report what the overlay knows.
		d = nil
		if p.cfg.Definition != nil {
			d, _ = p.cfg.Definition(name)
		}
		if d == nil {
			d = &Definition{Name: name, Revision: "unspecified"}
		}
	}
	p.missingExpected()
	elapsed := p.cfg.Now().Sub(p.start).Seconds()
	p.log.Infof("Ending use of test pattern.")
	p.log.Infof("Ending test lava.%s (%s), duration %.02f", name, uuid, elapsed)
	res := value.MapOf(
		"definition", "lava",
		"case", name,
		"uuid", uuid,
		"repository", d.Repository,
		"path", d.Path,
		"duration", fmt.Sprintf("%.02f", elapsed),
		"result", "pass",
		"revision", d.Revision,
		"namespace", p.cfg.Namespace,
	)
	if d.CommitID != "" {
		res.Set("commit_id", d.CommitID)
	}
	p.cfg.Result(res)
	p.definition = name
	p.def, p.fixup, p.patterns[1], p.expected, p.seen = nil, DefaultFixup, nil, nil, nil
	p.current = nil
	p.start = time.Time{}
	return nil
}

// missingExpected reports, at the end of a run, each expected test case
// the run did not report, as failed. LAVA's logger refuses an `extra`
// without a `level`, so the reason goes to the log, not the result.
func (p *Parser) missingExpected() {
	if p.def == nil || len(p.expected) == 0 {
		return
	}
	for _, c := range p.def.Expected {
		if p.seen[c] {
			continue
		}
		p.seen[c] = true
		p.log.Warnf("expected test case %s was not reported by %s: reporting it as failed", c, p.definition)
		p.emitCase(value.MapOf("definition", p.definition, "case", c, "result", "fail"), c, "fail")
	}
}

func (p *Parser) testCase(f []string) error {
	if !p.started {
		p.log.Errorf("Unknown test uuid. The STARTRUN signal for this test action was not received correctly.")
		return pipeline.TestError("Invalid TESTCASE signal")
	}
	var id, result, units, measurement string
	var hasID, hasResult, hasUnits, hasMeasurement bool
	for _, param := range f {
		k, v, ok := strings.Cut(param, "=")
		if !ok || strings.Contains(v, "=") {
			p.log.Errorf("Ignoring malformed parameter for signal: %q.", param)
			return nil
		}
		switch strings.ToLower(k) {
		case "test_case_id":
			id, hasID = v, true
		case "result":
			result, hasResult = v, true
		case "units":
			units, hasUnits = v, true
		case "measurement":
			measurement, hasMeasurement = v, true
		}
	}
	if !hasID {
		p.log.Errorf("Test case results without test_case_id (probably a sign of an incorrect parsing pattern being used): %s", strings.Join(f, " "))
		return nil
	}
	if !hasResult {
		p.log.Errorf("Test case results without result (probably a sign of an incorrect parsing pattern being used): %s", strings.Join(f, " "))
		return nil
	}
	p.record(id, result, measurement, units, hasMeasurement, hasUnits, true)
	return nil
}

// parsed handles a line the definition's parse pattern matched: its
// named groups test_case_id, result, measurement and units.
func (p *Parser) parsed(groups []string) {
	re := p.patterns[1]
	if re == nil {
		return
	}
	var id, result, units, measurement string
	var hasID, hasResult, hasUnits, hasMeasurement bool
	for i, name := range re.SubexpNames() {
		if i >= len(groups) {
			break
		}
		switch name {
		case "test_case_id":
			id, hasID = groups[i], true
		case "result":
			result, hasResult = groups[i], true
		case "measurement":
			measurement, hasMeasurement = groups[i], groups[i] != ""
		case "units":
			units, hasUnits = groups[i], true
		}
	}
	if !hasID || !hasResult {
		p.log.Errorf("parse pattern %q has no test_case_id or no result group: nothing to report", strings.TrimPrefix(re.String(), "(?m)"))
		return
	}
	// LAVA refuses an id with a space inside, once slashes are counted
	// as underscores, and reports the id as printed otherwise.
	if strings.Contains(strings.TrimSpace(strings.ReplaceAll(id, "/", "_")), " ") {
		p.log.Debugf("Skipping invalid test_case_id '%s'", strings.TrimSpace(id))
		return
	}
	p.record(id, result, measurement, units, hasMeasurement, hasUnits, false)
}

// record validates one test case and reports it.
func (p *Parser) record(id, printed, measurement, units string, hasMeasurement, hasUnits, signal bool) {
	result := printed
	if r, ok := p.fixup[printed]; ok {
		result = r
	}
	if !validResult(result) {
		p.log.Errorf("Bad test result: %s (test case %s of %s)", printed, id, p.definition)
		return
	}
	res := value.MapOf("definition", p.definition, "case", id, "result", result)
	if hasMeasurement {
		m, err := ParseMeasurement(measurement)
		if err != nil {
			p.log.Errorf("Invalid measurement %s (test case %s of %s)", measurement, id, p.definition)
			return
		}
		res.Set("measurement", m)
		if hasUnits {
			res.Set("units", units)
		}
	}
	if signal && p.testset != "" {
		res.Set("set", p.testset)
	}
	if len(p.expected) > 0 && !p.expected[id] {
		p.log.Warnf("test case %s is not in the expected list of %s: reporting it as failed", id, p.definition)
		res.Set("result", "fail")
		result = "fail"
	}
	if p.seen != nil {
		p.seen[id] = true
	}
	p.emitCase(res, id, result)
}

func (p *Parser) emitCase(res *value.Map, id, result string) {
	key := id
	if p.testset != "" {
		key = p.testset + "/" + id
	}
	if _, ok := p.report[key]; !ok {
		p.reportKeys = append(p.reportKeys, key)
	}
	p.report[key] = result
	p.cfg.Result(res)
}

func (p *Parser) testReference(f []string) error {
	if len(f) != 3 {
		return pipeline.TestError("Invalid use of TESTREFERENCE")
	}
	if !validResult(f[1]) {
		p.log.Errorf("Bad test result: %s (test reference %s of %s)", f[1], f[0], p.definition)
		return nil
	}
	res := value.MapOf("case", f[0], "definition", p.definition, "result", f[1], "reference", f[2])
	if p.testset != "" {
		res.Set("set", p.testset)
	}
	p.cfg.Result(res)
	return nil
}

func (p *Parser) testSet(f []string) error {
	if len(f) == 0 {
		return pipeline.JobError("Test set signal without START or STOP")
	}
	switch f[0] {
	case "START":
		if len(f) < 2 {
			return pipeline.JobError("Test set declared without a name")
		}
		p.testset = f[1]
		p.log.Infof("Starting test_set %s", p.testset)
	case "STOP":
		p.log.Infof("Closing test_set %s", p.testset)
		p.testset = ""
	}
	return nil
}

// Finish reports a run that never ended (the runner was stopped, timed
// out or the console closed) as failed, with its duration so far, and
// logs the summary of what was reported. Call it once, however the run
// ended.
func (p *Parser) Finish() {
	if p.current != nil {
		p.log.Errorf("Marking unfinished test run as failed")
		p.current.Set("duration", fmt.Sprintf("%.02f", p.cfg.Now().Sub(p.start).Seconds()))
		p.cfg.Result(p.current)
		p.current = nil
	}
	if len(p.reportKeys) > 0 {
		var b strings.Builder
		keys := slices.Clone(p.reportKeys)
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s: %s\n", k, p.report[k])
		}
		p.log.Debugf("%s", strings.TrimSuffix(b.String(), "\n"))
	}
}

// Running returns the name of the test run in progress, "" between runs.
func (p *Parser) Running() string {
	if p.current == nil {
		return ""
	}
	return p.current.String("case")
}

func validResult(r string) bool {
	switch r {
	case "pass", "fail", "skip", "unknown":
		return true
	}
	return false
}

var errMeasurement = errors.New("not a decimal number")

// ParseMeasurement reads a measurement as Python's Decimal does before
// LAVA turns it into a float: decimal and exponent forms, Infinity and
// NaN, but no hexadecimal.
func ParseMeasurement(s string) (float64, error) {
	if s == "" || strings.ContainsAny(s, "xXpP_") {
		return 0, errMeasurement
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		var ne *strconv.NumError
		// An overflow is still a number to Decimal: float() makes it ±inf.
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return f, nil
		}
		return 0, errMeasurement
	}
	return f, nil
}

func fixupString(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q: %q", k, m[k])
	}
	b.WriteByte('}')
	return b.String()
}
