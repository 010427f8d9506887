package coordinator

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Request names, as LAVA's dispatcher sends them.
const (
	ReqGroupData   = "group_data"
	ReqClearGroup  = "clear_group"
	ReqSend        = "lava_send"
	ReqWait        = "lava_wait"
	ReqWaitAll     = "lava_wait_all"
	ReqSync        = "lava_sync"
	ReqAggregate   = "aggregate"
	ReqComplete    = "complete"
	maxGroupSize   = 1 << 20 // far beyond any lab; keeps group_size an honest int
	maxNameRunes   = 1024    // client, group, role and message IDs
	requestKeyName = "request"
)

var knownRequests = map[string]bool{
	ReqGroupData: true, ReqClearGroup: true, ReqSend: true, ReqWait: true,
	ReqWaitAll: true, ReqSync: true, ReqAggregate: true, ReqComplete: true,
}

// request is a checked incoming request. Every error parseRequest returns
// is a sentence for the nack's "error".
type request struct {
	kind      string
	client    string
	group     string
	role      string
	hasRole   bool
	hostname  string
	groupSize int // 0 when absent
	raw       map[string]any
	size      int // of the body: what storing its message costs
}

func parseRequest(body []byte) (*request, error) {
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("request body is not valid UTF-8")
	}
	raw, err := decodeObject(body)
	if err != nil {
		return nil, fmt.Errorf("request %w", err)
	}
	r := &request{raw: raw, size: len(body)}
	kind, present, err := stringField(raw, requestKeyName)
	switch {
	case !present:
		return nil, fmt.Errorf("missing \"request\"")
	case err != nil:
		return nil, err
	case !knownRequests[kind]:
		return nil, fmt.Errorf("unknown request %q", truncate(kind))
	}
	r.kind = kind
	for _, f := range []struct {
		key string
		dst *string
	}{{"client_name", &r.client}, {"group_name", &r.group}} {
		v, present, err := stringField(raw, f.key)
		switch {
		case !present:
			return nil, fmt.Errorf("%s request is missing %q", kind, f.key)
		case err != nil:
			return nil, err
		case v == "":
			return nil, fmt.Errorf("%s request has an empty %q", kind, f.key)
		}
		*f.dst = v
	}
	if r.role, r.hasRole, err = stringField(raw, "role"); err != nil {
		return nil, err
	}
	if h, ok := raw["hostname"].(string); ok {
		r.hostname = h
	}
	if v, ok := raw["group_size"]; ok && v != nil {
		n, err := groupSize(v)
		if err != nil {
			return nil, err
		}
		r.groupSize = n
	}
	return r, nil
}

// stringField reads a name-like field: a string, or an integer (job ids
// are numbers, and YAML may turn a message ID into one), which is used as
// its decimal text.
func stringField(raw map[string]any, key string) (string, bool, error) {
	v, ok := raw[key]
	if !ok || v == nil {
		return "", false, nil
	}
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case json.Number:
		if _, err := strconv.ParseInt(string(x), 10, 64); err != nil {
			return "", true, fmt.Errorf("%q must be a string or an integer, not %s", key, x)
		}
		s = string(x)
	default:
		return "", true, fmt.Errorf("%q must be a string, not %s", key, aKind(v))
	}
	if utf8.RuneCountInString(s) > maxNameRunes {
		return "", true, fmt.Errorf("%q is longer than %d characters", key, maxNameRunes)
	}
	return s, true, nil
}

// groupSize accepts what LAVA's int(group_size) does in practice: an
// integer number or a string of digits.
func groupSize(v any) (int, error) {
	var text string
	switch x := v.(type) {
	case json.Number:
		text = string(x)
	case string:
		text = x
	default:
		return 0, fmt.Errorf("\"group_size\" must be an integer, not %s", aKind(v))
	}
	n, err := strconv.Atoi(text)
	if err != nil {
		return 0, fmt.Errorf("\"group_size\" must be an integer, not %q", truncate(text))
	}
	if n < 0 || n > maxGroupSize {
		return 0, fmt.Errorf("\"group_size\" %d is out of range 1-%d", n, maxGroupSize)
	}
	return n, nil
}

// messageID returns the request's messageID, required by the messaging
// requests.
func (r *request) messageID() (string, error) {
	id, present, err := stringField(r.raw, "messageID")
	switch {
	case err != nil:
		return "", err
	case !present:
		return "", fmt.Errorf("%s request is missing \"messageID\"", r.kind)
	}
	return id, nil
}

// message is the request's "message" as LAVA reads it: absent or null
// means an empty object.
func (r *request) message() any {
	m, ok := r.raw["message"]
	if !ok || m == nil {
		return map[string]any{}
	}
	return m
}

// truncate shortens untrusted text quoted in errors and logs.
func truncate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}

// falsy is Python's truth test on decoded JSON, which LAVA applies to a
// lava_sync message ("if not message: message = messageID").
func falsy(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case string:
		return x == ""
	case json.Number:
		f, err := x.Float64()
		return err == nil && f == 0
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}
