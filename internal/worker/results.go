package worker

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/dispatcher"
	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/results"
	"github.com/basalt-lava/basalt/internal/value"
	"github.com/basalt-lava/basalt/internal/workerapi"
)

// wireResults turns the dispatcher's cases into the protocol's results.
// The metadata is what LAVA's server keeps in a TestCase's metadata: the
// record's keys as the job logged them (definition, case, result and
// every other key), each value as text (a list or mapping as YAML in
// flow style).
func wireResults(cases []results.Case) []workerapi.Result {
	out := make([]workerapi.Result, 0, len(cases))
	for _, k := range cases {
		r := workerapi.Result{Suite: k.Suite, Case: k.Name, Result: k.Result, Units: k.Units,
			Metadata: map[string]string{"definition": k.Suite, "case": k.Name, "result": k.Result}}
		if k.Measurement != nil {
			r.Measurement = scalarText(k.Measurement)
			r.Metadata["measurement"] = r.Measurement
			if k.Units != "" {
				r.Metadata["units"] = k.Units
			}
		}
		for key, v := range map[string]string{"set": k.Set, "level": k.Level, "duration": k.Duration} {
			if v != "" {
				r.Metadata[key] = v
			}
		}
		if k.Extra != nil {
			k.Extra.Range(func(key string, v any) bool {
				r.Metadata[key] = scalarText(v)
				return true
			})
		}
		out = append(out, r)
	}
	return out
}

// scalarText is v as text: a number without exponent or trailing zeros,
// a string as is, anything else as YAML.
func scalarText(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case int:
		return strconv.Itoa(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case bool:
		return strconv.FormatBool(t)
	case *value.Map, []any:
		b, err := value.EncodeYAML(t)
		if err != nil {
			return value.GoString(t)
		}
		return strings.TrimSpace(string(b))
	}
	return fmt.Sprint(v)
}

// finishRequest is how a job that ran ended, for the server. spoolErr,
// when set, is a log the worker could not keep: the job is then
// Incomplete with an infrastructure error naming the disk problem,
// whatever the job did, since the server cannot show what happened.
// timedOut, when not zero, is the server's own timeout for the job, which
// ran out.
func finishRequest(id workerapi.JobID, o dispatcher.Outcome, spoolErr error, timedOut time.Duration) workerapi.FinishRequest {
	req := workerapi.FinishRequest{Job: id, Results: wireResults(o.Cases)}
	switch {
	case spoolErr != nil:
		req.Health, req.ErrorType, req.ErrorMessage = workerapi.Incomplete, dispatcher.ErrorType(pipeline.ClassInfrastructure), spoolErr.Error()
	case o.Completed():
		req.Health = workerapi.Complete
	case timedOut > 0:
		req.Health, req.ErrorType = workerapi.Incomplete, dispatcher.ErrorType(pipeline.ClassTimeout)
		req.ErrorMessage = fmt.Sprintf("the job timeout of %s set by the server ran out (%s)", timedOut, o.Message)
	case o.Class == pipeline.ClassCanceled:
		req.Health, req.ErrorType, req.ErrorMessage = workerapi.Canceled, o.ErrorType(), o.Message
	default:
		req.Health, req.ErrorType, req.ErrorMessage = workerapi.Incomplete, o.ErrorType(), o.Message
	}
	return req
}
