// Package shlex splits a command line into arguments the way LAVA's
// pexpect does when it is handed a whole command string: whitespace
// separates arguments, single and double quotes group, a backslash takes
// the next character literally. There is no shell: no variables, globs,
// redirections or command substitution, so the pieces can go straight to
// exec without anything in them being interpreted.
package shlex

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Split returns the arguments of s. Unlike pexpect it fails on an
// unterminated quote or a trailing backslash, rather than guessing, and it
// never yields an empty argument for leading whitespace; an explicitly
// quoted empty string (” or "") is an empty argument.
func Split(s string) ([]string, error) {
	var (
		args   []string
		cur    strings.Builder
		inArg  bool // cur holds an argument, possibly empty ('')
		quote  rune // the open quote, 0 when none
		escape bool
		qStart int
	)
	for i := 0; i < len(s); {
		c, size := utf8.DecodeRuneInString(s[i:])
		// Bytes are copied as they are, so that file names which are not
		// valid UTF-8 survive.
		raw := s[i : i+size]
		i += size
		switch {
		case escape:
			cur.WriteString(raw)
			escape = false
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteString(raw)
			}
		case c == '\\':
			escape, inArg = true, true
		case c == '\'' || c == '"':
			quote, inArg, qStart = c, true, i-size
		case unicode.IsSpace(c):
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteString(raw)
			inArg = true
		}
	}
	switch {
	case quote != 0:
		return nil, fmt.Errorf("unterminated %c quote at offset %d in %q", quote, qStart, s)
	case escape:
		return nil, fmt.Errorf("trailing backslash in %q", s)
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args, nil
}

// Join quotes each argument only as much as Split needs to get it back,
// for logging a command line that can be pasted into a shell.
func Join(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(Quote(a))
	}
	return b.String()
}

// Quote returns a as one argument for Split and for a POSIX shell: as is
// when it holds only characters neither treats specially, else in single
// quotes.
func Quote(a string) string {
	if a == "" {
		return "''"
	}
	safe := true
	for _, c := range a {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("@%+=:,./_-", c)) {
			safe = false
			break
		}
	}
	if safe {
		return a
	}
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}
