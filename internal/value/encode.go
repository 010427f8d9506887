package value

import (
	"bytes"
	"fmt"
	"math"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// EncodeYAML writes v as block-style YAML, map keys in their stored order.
func EncodeYAML(v any) ([]byte, error) {
	n, err := toNode(v)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func toNode(v any) (*yaml.Node, error) {
	switch t := v.(type) {
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(t)}, nil
	case int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(t)}, nil
	case float64:
		s := strconv.FormatFloat(t, 'g', -1, 64)
		switch {
		case math.IsInf(t, 1):
			s = ".inf"
		case math.IsInf(t, -1):
			s = "-.inf"
		case math.IsNaN(t):
			s = ".nan"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: s}, nil
	case string:
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: t}
		// A string that YAML 1.1 would read as something else is quoted,
		// so PyYAML reads back what we wrote.
		if _, ok := ResolvePlain(t).(string); !ok {
			n.Style = yaml.SingleQuotedStyle
		}
		return n, nil
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range t {
			c, err := toNode(e)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, c)
		}
		return n, nil
	case *Map:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		var err error
		t.Range(func(k string, e any) bool {
			var c *yaml.Node
			c, err = toNode(e)
			if err != nil {
				return false
			}
			kn, _ := toNode(k)
			n.Content = append(n.Content, kn, c)
			return true
		})
		return n, err
	}
	return nil, fmt.Errorf("value: cannot encode %T", v)
}
