package store

import (
	"fmt"
	"strings"
	"time"
)

// JobCond is one condition on a job column, as REST v0.2's job filters
// (django-filter lookups such as id__gt=5 or description__icontains=x)
// express them. Field and Op are checked against the lists below: an
// invalid condition (Check) matches no job rather than being dropped.
type JobCond struct {
	Field JobField
	Op    CondOp
	// Value: an int64 for id and priority; a time.Time for the times;
	// a string for the text fields; a bool for health_check and for
	// isnull; for "in", a []int64 or []string.
	Value any
}

// JobField names a job column by its LAVA (REST) name.
type JobField string

// The job fields a condition may test.
const (
	FieldID          JobField = "id"
	FieldPriority    JobField = "priority"
	FieldSubmitTime  JobField = "submit_time"
	FieldStartTime   JobField = "start_time"
	FieldEndTime     JobField = "end_time"
	FieldDescription JobField = "description"
	FieldDefinition  JobField = "definition"
	FieldDeviceType  JobField = "requested_device_type" // the requested type's name
	FieldDevice      JobField = "actual_device"         // the device's hostname
	FieldSubmitter   JobField = "submitter"             // the user name
	FieldGroup       JobField = "target_group"
	FieldHealthCheck JobField = "health_check"
	FieldTag         JobField = "tags"   // Op exact or in: the job asks for that tag (one of them)
	FieldState       JobField = "state"  // a JobState's name
	FieldHealth      JobField = "health" // a JobHealth's name
)

// CondOp is a django-filter lookup.
type CondOp string

// The lookups.
const (
	OpExact       CondOp = "exact"
	OpIExact      CondOp = "iexact"
	OpLT          CondOp = "lt"
	OpLTE         CondOp = "lte"
	OpGT          CondOp = "gt"
	OpGTE         CondOp = "gte"
	OpIn          CondOp = "in"
	OpIsNull      CondOp = "isnull"
	OpContains    CondOp = "contains"
	OpIContains   CondOp = "icontains"
	OpStartsWith  CondOp = "startswith"
	OpIStartsWith CondOp = "istartswith"
	OpEndsWith    CondOp = "endswith"
	OpIEndsWith   CondOp = "iendswith"
)

// fieldKind says what a field holds and its column.
type fieldKind struct {
	col  string
	kind byte // 'i' int, 't' time, 's' text, 'b' bool, 'g' tag list
	null bool // the column can be NULL (isnull applies)
}

var jobFields = map[JobField]fieldKind{
	FieldID:          {"id", 'i', false},
	FieldPriority:    {"priority", 'i', false},
	FieldSubmitTime:  {"submitted", 't', false},
	FieldStartTime:   {"started", 't', true},
	FieldEndTime:     {"ended", 't', true},
	FieldDescription: {"description", 's', false},
	FieldDefinition:  {"definition", 's', false},
	FieldDeviceType:  {"device_type", 's', false},
	FieldDevice:      {"device", 's', true},
	FieldSubmitter:   {"submitter", 's', false},
	FieldGroup:       {"target_group", 's', true},
	FieldHealthCheck: {"health_check", 'b', false},
	FieldTag:         {"tags", 'g', false},
	FieldState:       {"state", 's', false},
	FieldHealth:      {"health", 's', false},
}

// ops lists the lookups each kind of field takes.
var ops = map[byte][]CondOp{
	'i': {OpExact, OpLT, OpLTE, OpGT, OpGTE, OpIn},
	't': {OpExact, OpLT, OpLTE, OpGT, OpGTE, OpIsNull},
	's': {OpExact, OpIExact, OpIn, OpIsNull, OpContains, OpIContains, OpStartsWith, OpIStartsWith, OpEndsWith, OpIEndsWith},
	'b': {OpExact},
	'g': {OpExact, OpIn},
}

// Check reports what is wrong with c: an unknown field, a lookup the
// field does not take, or a value of the wrong type.
func (c JobCond) Check() error {
	f, ok := jobFields[c.Field]
	if !ok {
		return fmt.Errorf("unknown job field %q", c.Field)
	}
	okOp := false
	for _, o := range ops[f.kind] {
		okOp = okOp || o == c.Op
	}
	if !okOp || c.Op == OpIsNull && !f.null && f.kind != 't' {
		return fmt.Errorf("job field %s: unsupported lookup %q", c.Field, c.Op)
	}
	var ok2 bool
	switch {
	case c.Op == OpIsNull:
		_, ok2 = c.Value.(bool)
	case c.Op == OpIn && f.kind == 'i':
		_, ok2 = c.Value.([]int64)
	case c.Op == OpIn:
		_, ok2 = c.Value.([]string)
	case f.kind == 'i':
		_, ok2 = c.Value.(int64)
	case f.kind == 't':
		_, ok2 = c.Value.(time.Time)
	case f.kind == 'b':
		_, ok2 = c.Value.(bool)
	default:
		_, ok2 = c.Value.(string)
	}
	if !ok2 {
		return fmt.Errorf("job field %s__%s: value %v (%T) of the wrong type", c.Field, c.Op, c.Value, c.Value)
	}
	return nil
}

// JobOrders are the orders JobFilter.Order takes (REST's ordering:
// id, submit_time, start_time, end_time, each with "-" for descending),
// ties broken by id. A time not yet reached (NULL) sorts after every
// time ascending and before descending, as PostgreSQL sorts it (LAVA's
// database), on both backends.
var JobOrders = []string{"id", "-id", "submit_time", "-submit_time", "start_time", "-start_time", "end_time", "-end_time"}

var jobOrders = map[string]string{
	"id":           "id",
	"-id":          "id DESC",
	"submit_time":  "submitted, id",
	"-submit_time": "submitted DESC, id DESC",
	"start_time":   "(started IS NULL), started, id",
	"-start_time":  "(started IS NULL) DESC, started DESC, id DESC",
	"end_time":     "(ended IS NULL), ended, id",
	"-end_time":    "(ended IS NULL) DESC, ended DESC, id DESC",
}

// condWhere adds the SQL of each condition. Text comparisons are written
// with replace/substr/LOWER rather than LIKE so that they mean the same
// on SQLite (whose LIKE ignores case) and PostgreSQL: case-sensitive
// unless the lookup starts with "i".
func condWhere(conds []JobCond, where []string, args []any) ([]string, []any) {
	for _, c := range conds {
		if c.Check() != nil {
			where = append(where, "1 = 0")
			continue
		}
		f := jobFields[c.Field]
		col := f.col
		val := c.Value
		if t, ok := val.(time.Time); ok {
			val = t.UnixNano()
		}
		const p = "CAST(? AS TEXT)"
		switch c.Op {
		case OpIsNull:
			if val.(bool) {
				where = append(where, col+" IS NULL")
			} else {
				where = append(where, col+" IS NOT NULL")
			}
		case OpIn:
			var vals []any
			switch v := val.(type) {
			case []int64:
				for _, x := range v {
					vals = append(vals, x)
				}
			case []string:
				for _, x := range v {
					vals = append(vals, x)
				}
			}
			if len(vals) == 0 {
				where = append(where, "1 = 0")
				continue
			}
			if f.kind == 'g' {
				var ors []string
				for _, v := range vals {
					ors = append(ors, "replace(? || tags || ?, "+p+", '') <> (? || tags || ?)")
					args = append(args, "\n", "\n", "\n"+v.(string)+"\n", "\n", "\n")
				}
				where = append(where, "("+strings.Join(ors, " OR ")+")")
				continue
			}
			where = append(where, col+" IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(vals)), ", ")+")")
			args = append(args, vals...)
		case OpExact:
			switch f.kind {
			case 'b':
				if val.(bool) {
					where = append(where, col)
				} else {
					where = append(where, "NOT "+col)
				}
			case 'g':
				where = append(where, "replace(? || tags || ?, "+p+", '') <> (? || tags || ?)")
				args = append(args, "\n", "\n", "\n"+val.(string)+"\n", "\n", "\n")
			default:
				where = append(where, col+" = ?")
				args = append(args, val)
			}
		case OpLT, OpLTE, OpGT, OpGTE:
			op := map[CondOp]string{OpLT: "<", OpLTE: "<=", OpGT: ">", OpGTE: ">="}[c.Op]
			where = append(where, col+" "+op+" ?")
			args = append(args, val)
		default: // text lookups
			s := val.(string)
			lc := col
			if strings.HasPrefix(string(c.Op), "i") {
				lc, s = "LOWER("+col+")", strings.ToLower(s)
			}
			switch strings.TrimPrefix(string(c.Op), "i") {
			case "exact":
				where = append(where, lc+" = "+p)
				args = append(args, s)
			case "contains":
				if s == "" {
					continue
				}
				where = append(where, "replace("+lc+", "+p+", '') <> "+lc)
				args = append(args, s)
			case "startswith":
				where = append(where, "substr("+lc+", 1, length("+p+")) = "+p)
				args = append(args, s, s)
			case "endswith":
				where = append(where, "(length("+lc+") >= length("+p+") AND substr("+lc+", length("+lc+") - length("+p+") + 1) = "+p+")")
				args = append(args, s, s, s)
			}
		}
	}
	return where, args
}
