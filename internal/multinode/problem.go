package multinode

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/basalt-lava/basalt/internal/value"
)

// Problem is one reason a submission cannot be split. Path leads from the
// top of the submission to the offending key or list item: string
// segments are map keys, int segments list indices. An empty path means
// the whole document.
type Problem struct {
	Path []any
	Msg  string
}

// PathString formats Path the way LAVA users and basalt validate write a
// key path: actions[2].deploy.role, protocols.lava-multinode.roles.server;
// a key that is not a plain word is quoted: roles["my role"].
func (p Problem) PathString() string { return formatPath(p.Path) }

func (p Problem) String() string {
	if len(p.Path) == 0 {
		return p.Msg
	}
	return p.PathString() + ": " + p.Msg
}

// Error holds every problem found in a submission, so a user fixes them
// all in one go rather than one per attempt.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	if len(lines) == 1 {
		return "cannot split the MultiNode job: " + lines[0]
	}
	return fmt.Sprintf("cannot split the MultiNode job (%d problems):\n  %s", len(lines), strings.Join(lines, "\n  "))
}

var plainKeyRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func formatPath(path []any) string {
	var b strings.Builder
	for _, seg := range path {
		switch s := seg.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", s)
		case string:
			switch {
			case !plainKeyRe.MatchString(s):
				fmt.Fprintf(&b, "[%q]", s)
			case b.Len() == 0:
				b.WriteString(s)
			default:
				b.WriteString("." + s)
			}
		}
	}
	return b.String()
}

// Locate returns the source position a problem path points at in a parsed
// document: the key node when the path ends on a map key (so an editor
// lands on the key's line), the item for a list index. When part of the
// path is absent (a missing key), it is the position of the deepest node
// that exists, which is where the key should be added.
func Locate(root *value.Node, path []any) value.Pos {
	if root == nil {
		return value.Pos{Line: 1, Col: 1}
	}
	cur := root
	for i, seg := range path {
		last := i == len(path)-1
		switch s := seg.(type) {
		case string:
			k := cur.KeyNode(s)
			if k == nil {
				return cur.Pos
			}
			if last {
				return k.Pos
			}
			cur = cur.Get(s)
		case int:
			if cur.Kind != value.ListNode || s < 0 || s >= len(cur.Items) {
				return cur.Pos
			}
			cur = cur.Items[s]
		}
		if cur == nil {
			break
		}
	}
	if cur == nil {
		return root.Pos
	}
	return cur.Pos
}

// describe names a value's type for messages, as the job checker does.
func describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case bool:
		return fmt.Sprintf("a boolean (%v)", t)
	case int:
		return fmt.Sprintf("an integer (%d)", t)
	case float64:
		return fmt.Sprintf("a number (%v)", t)
	case string:
		if len(t) > 40 {
			t = t[:37] + "..."
		}
		return fmt.Sprintf("a string (%q)", t)
	case []any:
		return "a list"
	case *value.Map:
		return "a map"
	}
	return "a value"
}
