package coordinator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// Responses the coordinator gives.
const (
	RespAck       = "ack"
	RespNack      = "nack"
	RespWait      = "wait"
	RespGroupData = "group_data"
)

// Reply is one decoded coordinator reply.
type Reply struct {
	Response string            // ack, nack, wait or group_data
	Message  any               // "message": data for lava_wait / lava_wait_all / lava_sync / aggregate
	Roles    map[string]string // "roles" of a group_data reply: client name -> role
	Error    string            // "error": Basalt's reason for a nack (LAVA's coordinator gives none)
	Raw      map[string]any    // the whole reply object
}

// decodeObject decodes one JSON object, keeping numbers as json.Number so
// that values relayed between clients come back exactly as sent, and
// rejecting anything after the object (as Python's json.loads does).
func decodeObject(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("invalid JSON: empty body")
		}
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("invalid JSON: data after the top-level value")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("JSON is %s, not an object", aKind(v))
	}
	return m, nil
}

// aKind is jsonKind with its article: "an array".
func aKind(v any) string {
	k := jsonKind(v)
	switch k {
	case "null":
		return k
	case "array", "object":
		return "an " + k
	}
	return "a " + k
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// parseReply decodes a reply body.
func parseReply(body []byte) (Reply, error) {
	raw, err := decodeObject(body)
	if err != nil {
		return Reply{}, fmt.Errorf("coordinator reply: %w", err)
	}
	r := Reply{Raw: raw, Message: raw["message"]}
	resp, ok := raw["response"].(string)
	if !ok {
		return Reply{}, fmt.Errorf("coordinator reply has no \"response\" string: %.200s", body)
	}
	r.Response = resp
	if e, ok := raw["error"].(string); ok {
		r.Error = e
	}
	if roles, ok := raw["roles"].(map[string]any); ok {
		r.Roles = make(map[string]string, len(roles))
		for client, role := range roles {
			s, ok := role.(string)
			if !ok {
				return Reply{}, fmt.Errorf("coordinator reply: role of client %q is %s, not a string", client, aKind(role))
			}
			r.Roles[client] = s
		}
	}
	return r, nil
}
