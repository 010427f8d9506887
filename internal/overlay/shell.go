package overlay

import (
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/basalt-lava/basalt/internal/value"
)

// shellName is what a POSIX shell accepts as a variable name. Names go
// into files the device's shell reads: anything else could run commands.
var shellName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ValidName reports whether s can be a shell variable name.
func ValidName(s string) bool { return shellName.MatchString(s) }

// shlexSafe is the set of characters Python's shlex.quote leaves bare.
var shlexSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// Quote quotes s for a POSIX shell exactly as Python's shlex.quote does,
// so the environment file reads as LAVA's: words of safe characters stay
// bare, anything else is single-quoted with each ' written as '"'"'.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	if shlexSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// singleQuote always single-quotes s, the shape LAVA gives parameters
// (name='value'), with ' written as '\” so no value can end the quoting.
func singleQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// pyStr formats a YAML value as Python's str() does: job and test
// definition values reach the device's files in the form LAVA writes.
func pyStr(v any) string {
	switch t := v.(type) {
	case string:
		return t
	default:
		return pyRepr(v)
	}
}

func pyRepr(v any) string {
	switch t := v.(type) {
	case nil:
		return "None"
	case bool:
		if t {
			return "True"
		}
		return "False"
	case int:
		return strconv.Itoa(t)
	case float64:
		return pyFloat(t)
	case string:
		if strings.Contains(t, "'") && !strings.Contains(t, `"`) {
			return `"` + strings.ReplaceAll(t, `\`, `\\`) + `"`
		}
		r := strings.NewReplacer(`\`, `\\`, "'", `\'`, "\n", `\n`, "\t", `\t`, "\r", `\r`)
		return "'" + r.Replace(t) + "'"
	case []any:
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = pyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case *value.Map:
		var parts []string
		t.Range(func(k string, e any) bool {
			parts = append(parts, pyRepr(k)+": "+pyRepr(e))
			return true
		})
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return value.GoString(v)
}

// pyFloat is Python's repr of a float: the shortest digits that read back
// the same, fixed notation from 1e-4 up to 1e16, ".0" on whole numbers.
func pyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	if exp < -4 || exp >= 16 {
		sign := "+"
		if exp < 0 {
			sign, exp = "-", -exp
		}
		return mant + "e" + sign + twoDigits(exp)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}
