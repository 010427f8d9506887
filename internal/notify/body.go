package notify

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/basalt-lava/basalt/internal/store"
)

// The verbosities of notify.verbosity (LAVA's Notification.verbosity).
const (
	Verbose    = 0
	Quiet      = 1 // the default
	StatusOnly = 2
)

// MailJob is what an e-mail is written from.
type MailJob struct {
	// Job is the job, State and Health those of the transition that
	// fired.
	Job       store.Job
	DisplayID string // "12", or "11.1" for a MultiNode sub-job
	URLPrefix string // scheme://host[:port] of the server's pages
	// User is the recipient's user name ("" for a recipient given by
	// address only): "Dear <user>," rather than "Hello,".
	User      string
	Verbosity int
	// Device is the job's device (nil when it has none).
	Device *store.Device
	// LavaJob is the metadata of the lava/job result ("error_type",
	// "error_msg"), nil when the job has none.
	LavaJob map[string]string
	// Results are the job's results (verbose only), in the store's order.
	Results []store.Result
	// Blacklist names suites and test cases left out of the results
	// (notify.compare.blacklist).
	Blacklist []string
}

// Subject is LAVA's subject: the job's own id and at most 200 characters
// of its description.
func Subject(j store.Job) string {
	d := []rune(j.Description)
	if len(d) > 200 {
		d = d[:200]
	}
	return fmt.Sprintf("LAVA notification for Test Job %d %s", j.ID, string(d))
}

// Body is the text of LAVA's testjob_notification.txt for m, line for
// line (its blank lines included), without the comparison with a query
// (Basalt has no query engine: "No query is set for results comparing.")
// and without HTML-escaping (LAVA's template environment escapes & < > "
// ' in this plain-text mail).
func Body(m MailJob) string {
	j := m.Job
	var b strings.Builder
	if m.User != "" {
		fmt.Fprintf(&b, "\nDear %s,", m.User)
	} else {
		b.WriteString("\nHello,")
	}
	fmt.Fprintf(&b, "\n\nThe job with ID # %d is now in state %s and health %s. Job was submitted by %s.\n\n", j.ID, j.State, j.Health, j.Submitter)
	fmt.Fprintf(&b, "Job details and log file: %s/scheduler/job/%s\n\n", m.URLPrefix, m.DisplayID)
	if j.State == store.JobFinished {
		if m.Verbosity < StatusOnly {
			if j.Health == store.JobIncomplete && m.LavaJob != nil {
				fmt.Fprintf(&b, "\n%s error: %s", m.LavaJob["error_type"], m.LavaJob["error_msg"])
			}
			b.WriteString("\n\n")
			if d := m.Device; d != nil {
				owner := d.PhysicalOwner
				if owner == "" {
					owner = "None"
				}
				fmt.Fprintf(&b, "\nDevice details:\nHostname: %s\nType: %s\nOwner: %s\nWorker: %s\n", d.Name, d.DeviceType, owner, d.Worker)
			}
			fmt.Fprintf(&b, "Job details:\nPriority: %s\nDescription: %s\nSubmitted: %s\nStarted: %s\nFinished: %s\nDuration: %s",
				store.PriorityName(j.Priority), j.Description, strftime(j.Submitted), strftime(j.Started), strftime(j.Ended), duration(j.Started, j.Ended))
		}
		if m.Verbosity == Verbose {
			b.WriteString("\n\nMetadata:")
			for _, kv := range metadata(j.Definition) {
				for k, v := range kv {
					fmt.Fprintf(&b, "\n%s: %s", k, v)
				}
			}
			b.WriteString("\n\nResults:")
			if len(m.Blacklist) > 0 {
				b.WriteString("\n\nBlacklisted: ")
				for _, n := range m.Blacklist {
					b.WriteString(n + " ")
				}
			} else {
				b.WriteString("\n")
			}
			// Suites in the order of their first result (LAVA's suite
			// ids), each with its cases in order.
			var suites []string
			cases := map[string][]store.Result{}
			for _, r := range m.Results {
				if _, ok := cases[r.Suite]; !ok {
					suites = append(suites, r.Suite)
				}
				cases[r.Suite] = append(cases[r.Suite], r)
			}
			for _, s := range suites {
				if slices.Contains(m.Blacklist, s) {
					continue
				}
				fmt.Fprintf(&b, "\n\nTest Suite %s: %s/results/%d/%s", s, m.URLPrefix, j.ID, url.PathEscape(s))
				for _, r := range cases[s] {
					if slices.Contains(m.Blacklist, r.Case) {
						continue
					}
					fmt.Fprintf(&b, "\nTest Case %s: %s", r.Case, r.Result)
					if r.Measurement != nil && *r.Measurement != 0 {
						fmt.Fprintf(&b, "\nMeasurement: %s %s", strconv.FormatFloat(*r.Measurement, 'f', 10, 64), r.Units)
					}
				}
			}
			b.WriteString("\nNo query is set for results comparing.")
		}
	}
	b.WriteString("\n\n--\nLAVA\nLinaro Automated Validation Architecture")
	return b.String()
}

// strftime is strftime("%Y-%m-%d %H:%M:%S (%z %Z)") of a UTC time, ""
// for none.
func strftime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " (+0000 UTC)"
}

// duration is str() of TestJob.duration: whole seconds as a Python
// timedelta ("0:04:55", "1 day, 2:00:00"), "None" without both times.
func duration(start, end time.Time) string {
	if start.IsZero() || end.IsZero() {
		return "None"
	}
	s := int64(end.Sub(start) / time.Second)
	neg := s < 0
	days := s / 86400
	if neg && s%86400 != 0 {
		days--
	}
	rest := s - days*86400
	hms := fmt.Sprintf("%d:%02d:%02d", rest/3600, rest%3600/60, rest%60)
	switch {
	case days == 1 || days == -1:
		return fmt.Sprintf("%d day, %s", days, hms)
	case days != 0:
		return fmt.Sprintf("%d days, %s", days, hms)
	}
	return hms
}

// lavaJobMetadata reads the metadata of the lava/job result, as
// LAVA's action_metadata (nil when there is no such result).
func lavaJobMetadata(rs []store.Result) map[string]string {
	for _, r := range rs {
		if r.Suite != "lava" || r.Case != "job" {
			continue
		}
		out := map[string]string{}
		var m map[string]any
		if yaml.Unmarshal([]byte(r.Metadata), &m) == nil {
			for k, v := range m {
				if v != nil {
					out[k] = fmt.Sprint(v)
				}
			}
		}
		return out
	}
	return nil
}
