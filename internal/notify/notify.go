// Package notify sends the callbacks of a job's `notify:` block as LAVA
// does (lava_scheduler_app/notifications.py, TestJob.create_job_data):
// which transitions fire (Criteria.Match), the payload (Payload, pure) and
// the delivery (Notifier: a bounded queue and a few sender goroutines, so
// a slow or hanging receiver never delays the scheduler or a worker's
// Finish; LAVA sends inline, inside the worker's request).
//
// Deliberate differences from LAVA:
//   - a callback token naming one of the submitter's remote artifact
//     tokens (store.RemoteTokens, LAVA's RemoteArtifactsAuth) is replaced
//     by its value, else sent verbatim, as LAVA does; but LAVA first
//     looks the value up among the submitter's API token *descriptions*
//     and sends the matching secret, which Basalt cannot do: it stores
//     API tokens hashed (SHA-256). A KernelCI lab keeps its callback
//     secret as a remote token named as the job's `token:` says;
//   - IRC recipients are accepted and not sent; e-mail recipients are sent
//     only with an SMTP server configured (Config.Mail), and greeted by
//     user name (Basalt users have no first and last names);
//   - a criteria with dependency_query never fires (Basalt has no LAVA
//     query engine), rather than firing without the dependency check.
package notify

import (
	"bytes"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/basalt-lava/basalt/internal/store"
)

// Callback is one entry of notify.callback(s), defaults filled in.
type Callback struct {
	URL         string
	Method      string // GET (default) or POST
	Token       string // as written; a remote token's name is replaced when sent (Hook)
	Header      string // default Authorization
	Dataset     string // minimal (default), logs, results, all
	ContentType string // urlencoded (default) or json
}

// Criteria is notify.criteria.
type Criteria struct {
	Status          string // all, finished, running, complete, incomplete, canceled
	Type            string // regression, progression or empty
	DependencyQuery string
}

// Recipient is one entry of notify.recipients (its `to:`).
type Recipient struct {
	Method string // email or irc
	User   string // a user name, or "{LAVA_DEVICE_OWNER}"
	Email  string
	Handle string // irc
	Server string // irc
}

// DeviceOwner is the user name standing for the physical owner of the
// job's device.
const DeviceOwner = "{LAVA_DEVICE_OWNER}"

// Spec is a job's notify block.
type Spec struct {
	Criteria   Criteria
	Callbacks  []Callback
	Recipients []Recipient
	Verbosity  int      // Verbose, Quiet (default) or StatusOnly
	Blacklist  []string // compare.blacklist
}

// Parse reads the notify block of a job definition: nil, nil when the job
// has none. Errors name the key.
func Parse(definition string) (*Spec, error) {
	var doc struct {
		Notify *struct {
			Criteria   map[string]any `yaml:"criteria"`
			Verbosity  string         `yaml:"verbosity"`
			Recipients []struct {
				To map[string]any `yaml:"to"`
			} `yaml:"recipients"`
			Compare struct {
				Blacklist []string `yaml:"blacklist"`
			} `yaml:"compare"`
			Callback  map[string]any   `yaml:"callback"`
			Callbacks []map[string]any `yaml:"callbacks"`
		} `yaml:"notify"`
	}
	if err := yaml.Unmarshal([]byte(definition), &doc); err != nil {
		return nil, fmt.Errorf("notify: %v", err)
	}
	n := doc.Notify
	if n == nil {
		return nil, nil
	}
	s := &Spec{Verbosity: Quiet, Blacklist: n.Compare.Blacklist}
	switch n.Verbosity {
	case "", "quiet":
	case "verbose":
		s.Verbosity = Verbose
	case "status-only":
		s.Verbosity = StatusOnly
	default:
		return nil, fmt.Errorf("notify.verbosity: %q is not verbose, quiet or status-only", n.Verbosity)
	}
	for i, r := range n.Recipients {
		var rc Recipient
		if err := setStrings(fmt.Sprintf("notify.recipients[%d].to", i), r.To, map[string]*string{
			"method": &rc.Method, "user": &rc.User, "email": &rc.Email, "handle": &rc.Handle, "server": &rc.Server,
		}); err != nil {
			return nil, err
		}
		if rc.Method != "email" && rc.Method != "irc" {
			return nil, fmt.Errorf("notify.recipients[%d].to.method: %q is not email or irc", i, rc.Method)
		}
		s.Recipients = append(s.Recipients, rc)
	}
	if n.Criteria == nil {
		return nil, fmt.Errorf("notify.criteria: required")
	}
	s.Criteria.Status, _ = n.Criteria["status"].(string)
	s.Criteria.Type, _ = n.Criteria["type"].(string)
	s.Criteria.DependencyQuery, _ = n.Criteria["dependency_query"].(string)
	switch s.Criteria.Status {
	case "all", "finished", "running", "complete", "incomplete", "canceled":
	default:
		return nil, fmt.Errorf("notify.criteria.status: %q is not one of all, finished, running, complete, incomplete, canceled", s.Criteria.Status)
	}
	switch s.Criteria.Type {
	case "", "regression", "progression":
	default:
		return nil, fmt.Errorf("notify.criteria.type: %q is not regression or progression", s.Criteria.Type)
	}
	if n.Callback != nil && n.Callbacks != nil {
		return nil, fmt.Errorf("notify: callback and callbacks are exclusive")
	}
	raw := n.Callbacks
	if n.Callback != nil {
		raw = []map[string]any{n.Callback}
	}
	for i, m := range raw {
		c := Callback{Method: "GET", Header: "Authorization", Dataset: "minimal", ContentType: "urlencoded"}
		where := fmt.Sprintf("notify.callbacks[%d]", i)
		if err := setStrings(where, m, map[string]*string{
			"url": &c.URL, "method": &c.Method, "token": &c.Token, "header": &c.Header,
			"dataset": &c.Dataset, "content-type": &c.ContentType,
		}); err != nil {
			return nil, err
		}
		if c.URL == "" {
			return nil, fmt.Errorf("%s.url: required", where)
		}
		if c.Method != "GET" && c.Method != "POST" {
			return nil, fmt.Errorf("%s.method: %q is not GET or POST", where, c.Method)
		}
		switch c.Dataset {
		case "minimal", "logs", "results", "all":
		default:
			return nil, fmt.Errorf("%s.dataset: %q is not minimal, logs, results or all", where, c.Dataset)
		}
		if c.ContentType != "json" && c.ContentType != "urlencoded" {
			return nil, fmt.Errorf("%s.content-type: %q is not json or urlencoded", where, c.ContentType)
		}
		s.Callbacks = append(s.Callbacks, c)
	}
	return s, nil
}

// Match reports whether a job entering state with health (its health
// before the change being oldHealth) fires, per LAVA's
// notification_criteria: "all" fires on Running and on Finished (two
// deliveries), complete/incomplete/canceled compare the health, and
// type regression/progression need oldHealth Complete→Incomplete or the
// reverse.
func (c Criteria) Match(state store.JobState, health, oldHealth store.JobHealth) bool {
	if c.DependencyQuery != "" {
		return false
	}
	switch c.Status {
	case "all":
		return state == store.JobRunning || state == store.JobFinished
	case "finished":
		return state == store.JobFinished
	case "running":
		return state == store.JobRunning
	}
	want := store.JobCanceled
	switch c.Status {
	case "complete":
		want = store.JobComplete
	case "incomplete":
		want = store.JobIncomplete
	}
	if health != want {
		return false
	}
	switch c.Type {
	case "regression":
		return oldHealth == store.JobComplete && health == store.JobIncomplete
	case "progression":
		return oldHealth == store.JobIncomplete && health == store.JobComplete
	}
	return true
}

// LegacyStatus is LAVA's TestJob.status (models.py): 0 queued, 1
// running, 2 complete, 3 incomplete (also Finished with Unknown health),
// 4 canceled, 5 canceling; and its lower-case display.
func LegacyStatus(state store.JobState, health store.JobHealth) (int, string) {
	switch state {
	case store.JobRunning:
		return 1, "running"
	case store.JobCanceling:
		return 5, "canceling"
	case store.JobFinished:
		switch health {
		case store.JobComplete:
			return 2, "complete"
		case store.JobCanceled:
			return 4, "canceled"
		}
		return 3, "incomplete"
	}
	return 0, "submitted"
}

var stateInts = map[store.JobState]int{store.JobSubmitted: 0, store.JobScheduling: 1, store.JobScheduled: 2,
	store.JobRunning: 3, store.JobCanceling: 4, store.JobFinished: 5}
var healthInts = map[store.JobHealth]int{store.JobUnknown: 0, store.JobComplete: 1, store.JobIncomplete: 2, store.JobCanceled: 3}

// PyTime is Python's str(datetime) of an aware UTC time
// ("2026-01-01 10:00:00.123456+00:00", without the fraction when the
// microseconds are 0), or the string "None" for the zero time.
func PyTime(t time.Time) string {
	if t.IsZero() {
		return "None"
	}
	t = t.UTC()
	s := t.Format("2006-01-02 15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	return s + "+00:00"
}

var urlVar = regexp.MustCompile(`{\s*[A-Z_-]*\s*}`)

// ExpandURL replaces {STATUS} (legacy int) and {STATUS_STRING} in a
// callback URL as LAVA does; other {NAME}s are left as they are (LAVA
// reads any job attribute; Basalt knows only these two).
func ExpandURL(u string, state store.JobState, health store.JobHealth) string {
	code, text := LegacyStatus(state, health)
	return urlVar.ReplaceAllStringFunc(u, func(m string) string {
		switch strings.TrimSpace(m[1 : len(m)-1]) {
		case "STATUS":
			return strconv.Itoa(code)
		case "STATUS_STRING":
			return text
		}
		return m
	})
}

// Job is what a payload is built from. State and Health are those of the
// transition that fired (LAVA overwrites them before building).
type Job struct {
	store.Job
	ID             int64 // the (sub-)job's own id, never a display id
	SubmitterEmail string
	// Log is the whole log text (logs.yaml) for datasets logs/all; HasLog
	// false omits the key, as LAVA does when the log cannot be read.
	Log    string
	HasLog bool
	// Results maps each suite to its YAML (results.get_testsuite_results_yaml).
	Results map[string]string
}

// field is one key of an ordered payload.
type field struct {
	key string
	val any
}

// Payload is create_job_data's dict, keys in LAVA's order.
type Payload []field

// Build returns the payload of a job for a dataset.
func Build(j Job, dataset string) Payload {
	status, statusText := LegacyStatus(j.State, j.Health)
	var failure any
	if j.ErrorMsg != "" {
		failure = j.ErrorMsg
	}
	var device any
	if j.Device != "" {
		device = j.Device
	}
	p := Payload{
		{"id", j.ID},
		{"status", status},
		{"status_string", statusText},
		{"state", stateInts[j.State]},
		{"state_string", string(j.State)},
		{"health", healthInts[j.Health]},
		{"health_string", string(j.Health)},
		{"submit_time", PyTime(j.Submitted)},
		{"start_time", PyTime(j.Started)},
		{"end_time", PyTime(j.Ended)},
		{"submitter_username", j.Submitter},
		{"submitter_email", j.SubmitterEmail},
		{"failure_comment", failure},
		{"priority", j.Priority},
		{"description", j.Description},
		{"actual_device_id", device},
		{"definition", j.Definition},
		{"metadata", metadata(j.Definition)},
		{"health_check", j.HealthCheck},
	}
	if (dataset == "logs" || dataset == "all") && j.HasLog {
		p = append(p, field{"log", j.Log})
	}
	if dataset == "results" || dataset == "all" {
		r := j.Results
		if r == nil {
			r = map[string]string{}
		}
		p = append(p, field{"results", r})
	}
	return p
}

// metadata is get_metadata_dict: [{key: "value"}] from the definition's
// metadata mapping, in its order, values as text.
func metadata(definition string) []map[string]string {
	out := []map[string]string{}
	var doc yaml.Node
	if yaml.Unmarshal([]byte(definition), &doc) != nil || len(doc.Content) == 0 {
		return out
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "metadata" || root.Content[i+1].Kind != yaml.MappingNode {
			continue
		}
		m := root.Content[i+1]
		for k := 0; k+1 < len(m.Content); k += 2 {
			v := m.Content[k+1].Value
			if m.Content[k+1].Kind != yaml.ScalarNode {
				b, _ := yaml.Marshal(m.Content[k+1])
				v = strings.TrimSpace(string(b))
			}
			out = append(out, map[string]string{m.Content[k].Value: v})
		}
	}
	return out
}

// JSON is the body of a json callback as Python's json.dumps writes it:
// keys in LAVA's order, ", " and ": " separators, non-ASCII escaped as
// \uXXXX and "&<>" left as they are.
func (p Payload) JSON() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range p {
		if i > 0 {
			b.WriteString(", ")
		}
		pyJSON(&b, f.key)
		b.WriteString(": ")
		pyJSON(&b, f.val)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func pyJSON(b *bytes.Buffer, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int:
		b.WriteString(strconv.Itoa(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case string:
		pyString(b, v)
	case []map[string]string:
		b.WriteByte('[')
		for i, m := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			pyJSON(b, m)
		}
		b.WriteByte(']')
	case map[string]string:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			pyString(b, k)
			b.WriteString(": ")
			pyString(b, v[k])
		}
		b.WriteByte('}')
	default:
		panic(fmt.Sprintf("notify: no JSON for %T", v)) // a programming error: Build makes only the types above
	}
}

func pyString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || (r >= 0x7f && r < 0x10000): // outside " "-"~"
			fmt.Fprintf(b, `\u%04x`, r)
		case r >= 0x10000:
			r -= 0x10000
			fmt.Fprintf(b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// Form is the body of an urlencoded callback, flattened as Python's
// requests does: None values dropped, a list or dict becomes its items
// (a dict's keys), booleans as True/False.
func (p Payload) Form() string {
	var parts []string
	add := func(k, v string) { parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v)) }
	for _, f := range p {
		switch v := f.val.(type) {
		case nil:
		case bool:
			if v {
				add(f.key, "True")
			} else {
				add(f.key, "False")
			}
		case []map[string]string:
			for _, m := range v {
				for k := range m {
					add(f.key, k)
				}
			}
		case map[string]string:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				add(f.key, k)
			}
		default:
			add(f.key, fmt.Sprint(v))
		}
	}
	return strings.Join(parts, "&")
}

// CheckRecipients is the submission check of the recipients that needs
// the database (LAVA's dbutils.validate_yaml): a user named must exist
// (user reports whether it does), an address must be one. It returns
// the problems, none for a job without notify.
func CheckRecipients(definition string, user func(name string) bool) []string {
	s, err := Parse(definition)
	if err != nil || s == nil {
		return nil // the schema check reports a malformed block
	}
	var out []string
	for i, r := range s.Recipients {
		switch {
		case r.User != "" && r.User != DeviceOwner:
			if !user(r.User) {
				out = append(out, fmt.Sprintf("notify.recipients[%d].to.user: %q is not an existing user", i, r.User))
			}
		case r.Email != "":
			if err := store.CheckEmail(r.Email); err != nil {
				out = append(out, fmt.Sprintf("notify.recipients[%d].to.email: %v", i, err))
			}
		}
	}
	return out
}

// setStrings sets, for each key of m (the mapping at where in the job),
// the field fields names for it: every value must be a string and every
// key one of fields'.
func setStrings(where string, m map[string]any, fields map[string]*string) error {
	for k, v := range m {
		sv, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s.%s: must be a string", where, k)
		}
		f, known := fields[k]
		if !known {
			return fmt.Errorf("%s: unknown key %q", where, k)
		}
		*f = sv
	}
	return nil
}
