package device

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/basalt-lava/basalt/internal/value"
)

// Config is a device configuration: the parsed device YAML, keys in file
// order.
type Config struct {
	Data *value.Map

	// dates holds the paths of plain scalars PyYAML reads as a date or a
	// timestamp (2024-01-31): Data holds them as strings, LAVA's schema
	// sees no string there.
	dates map[string]bool
}

// Parse parses rendered device YAML. The document must be a mapping.
func Parse(data []byte) (*Config, error) { return parseNamed("device configuration", data) }

// ParseLimit is Parse with at most maxNodes YAML nodes (0: the default).
func ParseLimit(data []byte, maxNodes int) (*Config, error) {
	return parseLimited("device configuration", data, maxNodes)
}

func parseNamed(name string, data []byte) (*Config, error) {
	return parseLimited(name, data, 0)
}

// parseLimited is parseNamed with at most maxNodes YAML nodes (0: the
// default).
func parseLimited(name string, data []byte, maxNodes int) (*Config, error) {
	doc, err := value.ParseYAMLLimit(data, maxNodes)
	if err != nil {
		var se *value.SyntaxError
		if errors.As(err, &se) && se.Err != nil {
			return nil, fmt.Errorf("%s:%d:%d: %w", name, se.Pos.Line, se.Pos.Col, se.Err)
		}
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%s:%d:%d: %s", name, se.Pos.Line, se.Pos.Col, se.Msg)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if doc.Root == nil {
		return nil, fmt.Errorf("%s: empty device configuration", name)
	}
	m, ok := doc.Root.Value().(*value.Map)
	if !ok {
		return nil, fmt.Errorf("%s:%d:%d: a device configuration must be a mapping", name, doc.Root.Pos.Line, doc.Root.Pos.Col)
	}
	c := &Config{Data: m}
	findDates(doc.Root, "", &c.dates)
	return c, nil
}

// timestampRe is PyYAML's YAML 1.1 implicit resolver for timestamps: a
// plain scalar matching it loads as a datetime.date or datetime.datetime.
var timestampRe = regexp.MustCompile(`^(?:[0-9]{4}-[0-9][0-9]-[0-9][0-9]|[0-9]{4}-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$`)

// findDates records in dates the path (as Check names it) of every plain
// scalar value under n that PyYAML would load as a timestamp.
func findDates(n *value.Node, path string, dates *map[string]bool) {
	switch n.Kind {
	case value.ScalarNode:
		if s, ok := n.Scalar.(string); ok && !n.Quoted && timestampRe.MatchString(s) {
			if *dates == nil {
				*dates = map[string]bool{}
			}
			(*dates)[path] = true
		}
	case value.MapNode:
		for i, k := range n.Keys {
			findDates(n.Values[i], join(path, k.KeyString()), dates)
		}
	case value.ListNode:
		for i, it := range n.Items {
			findDates(it, fmt.Sprintf("%s[%d]", path, i), dates)
		}
	}
}

// Lookup returns the value at a path of keys ("actions", "boot",
// "methods") and whether every key was present.
func (c *Config) Lookup(path ...string) (any, bool) { return c.Data.Lookup(path...) }

// Map returns the map at path, or nil when absent or not a map.
func (c *Config) Map(path ...string) *value.Map {
	v, _ := c.Lookup(path...)
	m, _ := v.(*value.Map)
	return m
}

// String returns the string at path, or "" when absent or not a string.
func (c *Config) String(path ...string) string {
	v, _ := c.Lookup(path...)
	s, _ := v.(string)
	return s
}

// List returns the list at path, or nil when absent or not a list.
func (c *Config) List(path ...string) []any {
	v, _ := c.Lookup(path...)
	l, _ := v.([]any)
	return l
}

// Has reports whether path exists (its value may be null).
func (c *Config) Has(path ...string) bool {
	_, ok := c.Lookup(path...)
	return ok
}

// Problem is one way a device configuration breaks LAVA's device schema.
type Problem struct {
	// Path locates the offending key, dot-separated ("timeouts.actions");
	// empty for the document itself.
	Path string
	Msg  string
}

func (p *Problem) Error() string {
	if p.Path == "" {
		return p.Msg
	}
	return p.Path + ": " + p.Msg
}

// Check returns every problem current LAVA's device schema
// (lava_common/schemas/device.py, 2026) finds in the configuration, in
// key order, or nil for a valid one. Like LAVA, it allows keys the schema
// does not name.
//
// LAVA's dispatcher never runs this check (lava-run takes any device
// mapping); "lava-server manage devices check" and share/lava-schema.py
// do. So "basalt device render --check" treats problems as errors while
// validate and run report them as warnings.
func (c *Config) Check() []error {
	ch := &checker{}
	if c != nil {
		ch.dates = c.dates
	}
	if c == nil || c.Data == nil {
		ch.add("", "expected a dictionary")
		return ch.errs
	}
	ch.device(c.Data)
	return ch.errs
}

type checker struct {
	errs  []error
	dates map[string]bool // see Config.dates
}

// str returns v as a string when LAVA would see one there: a string
// that is not an unquoted date.
func (ch *checker) str(path string, v any) (string, bool) {
	s, ok := v.(string)
	return s, ok && !ch.dates[path]
}

func (ch *checker) add(path, format string, args ...any) {
	ch.errs = append(ch.errs, &Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// field describes one key of a schema map.
type field struct {
	key      string
	required bool
	check    func(ch *checker, path string, v any)
}

// fields checks m against fs: required keys present, present keys valid.
func (ch *checker) fields(path string, m *value.Map, fs []field) {
	for _, f := range fs {
		v, ok := m.Get(f.key)
		if !ok {
			if f.required {
				ch.add(join(path, f.key), "required key not provided")
			}
			continue
		}
		f.check(ch, join(path, f.key), v)
	}
}

func (ch *checker) device(d *value.Map) {
	ch.fields("", d, []field{
		{"character_delays", false, isMapWith([]field{{"deploy", false, isInt}, {"boot", false, isInt}, {"test", false, isInt}})},
		{"commands", false, isMapWith(commandFields)},
		{"constants", true, isDict},
		{"adb_serial_number", false, isStr},
		{"fastboot_serial_number", false, isStr},
		{"fastboot_options", false, listOf(isStr)},
		{"fastboot_via_uboot", false, isBool},
		{"device_info", false, listOf(isDict)},
		{"static_info", false, listOf(isDict)},
		{"storage_info", false, listOf(isDict)},
		{"environment", false, isDict},
		{"flash_cmds_order", false, listOf(isStr)},
		{"parameters", true, checkParameters},
		{"board_id", false, isStr},
		{"usb_vendor_id", false, isUSBID},
		{"usb_product_id", false, isUSBID},
		{"usb_sleep", false, isInt},
		{"usb_filesystem_label", false, isStr},
		{"usb_serial_driver", false, isStr},
		{"actions", true, isMapWith([]field{
			// Since 2026 these may be null: the MCU device types
			// (frdm-k64f, stm32l562e-dk...) render them empty.
			{"deploy", true, isMapWith([]field{
				{"methods", true, nullOr(isDict)},
				{"connections", false, nullOr(isDict)},
				{"parameters", false, isDict},
			})},
			{"boot", true, isMapWith([]field{
				{"connections", true, nullOr(isDict)},
				{"methods", true, nullOr(isDict)},
			})},
			{"test", false, isMapWith([]field{
				{"methods", true, isMapWith([]field{
					{"docker", false, isMapWith([]field{
						{"global_options", false, isList},
						{"options", false, isList},
					})},
				})},
			})},
		})},
		{"timeouts", true, isMapWith([]field{
			{"actions", true, mapOf(checkTimeout)},
			{"connections", true, mapOf(checkTimeout)},
		})},
		{"available_architectures", false, listOf(isStr)},
	})
	if len(ch.errs) == 0 {
		ch.sshPower(d)
	}
}

// sshPower is LAVA's extra check: a device reached over SSH as its
// primary connection has no power control to run. Like LAVA, it is a
// problem of the document itself (no key path). LAVA's own check raises a
// TypeError instead of a verdict when actions.deploy.methods is null
// (which its schema allows); Basalt accepts such a device, as
// lava-server's check of a device does (lava_scheduler_app/schema.py).
func (ch *checker) sshPower(d *value.Map) {
	host, ok := d.Lookup("actions", "deploy", "methods", "ssh", "host")
	if !ok || !value.Truthy(host) {
		return
	}
	cmds, ok := d.Get("commands")
	if !ok {
		return
	}
	m, _ := cmds.(*value.Map)
	for _, c := range []string{"power_off", "power_on", "hard_reset"} {
		if m.Has(c) {
			ch.add("", "When primary connection is used, power control commands (power_off, power_on, hard_reset) should not be specified (commands has %s).", c)
			return
		}
	}
}

var commandFields = []field{
	{"connect", false, isStr},
	{"connections", false, mapOf(isMapWith([]field{{"connect", true, isStr}, {"tags", false, listOf(isStr)}}))},
	{"hard_reset", false, strOrStrList},
	{"soft_reboot", false, strOrStrList},
	{"power_off", false, strOrStrList},
	{"power_on", false, strOrStrList},
	{"pre_power_command", false, strOrStrList},
	{"pre_os_command", false, strOrStrList},
	{"users", false, mapOf(isMapWith([]field{{"do", true, strOrStrList}, {"undo", false, strOrStrList}}))},
}

func checkParameters(ch *checker, path string, v any) {
	m, ok := v.(*value.Map)
	if !ok {
		ch.add(path, "expected a dictionary")
		return
	}
	media := func(uuidRequired bool, entry []field) func(*checker, string, any) {
		return func(ch *checker, path string, v any) {
			mm, ok := v.(*value.Map)
			if !ok {
				ch.add(path, "expected a dictionary")
				return
			}
			if u, ok := mm.Get("UUID-required"); ok {
				isBool(ch, join(path, "UUID-required"), u)
			} else if uuidRequired {
				ch.add(join(path, "UUID-required"), "required key not provided")
			}
			others := 0
			for _, k := range mm.Keys() {
				if k == "UUID-required" {
					continue
				}
				others++
				isMapWith(entry)(ch, join(path, k), mm.Value(k))
			}
			if others == 0 {
				ch.add(path, "required key not provided (a media entry)")
			}
		}
	}
	fs := []field{
		{"allow_test_services", false, isBool},
		{"interfaces", false, isDict},
		{"media", false, isMapWith([]field{
			{"sata", false, media(true, []field{
				{"uuid", true, isStr}, {"device_id", true, isInt}, {"uboot_interface", true, isStr},
				{"grub_interface", true, isStr}, {"boot_part", true, isInt},
			})},
			// A string since LAVA 2025.01 (sata keeps an integer): the
			// templates quote it ("0").
			{"sd", false, media(false, []field{{"uuid", true, isStr}, {"device_id", true, isStr}})},
			{"usb", false, media(false, []field{{"uuid", true, isStr}, {"device_id", true, isStr}})},
		})},
		{"dtb_base_resize", false, isInt},
		{"load_address", false, isStr},
		{"text_offset", false, isStr},
		{"pass", false, func(ch *checker, path string, v any) {
			if v != nil {
				ch.add(path, "not a valid value (must be null)")
			}
		}},
	}
	for _, k := range []string{"image", "booti", "uimage", "bootm", "zimage", "bootz"} {
		fs = append(fs, field{k, false, isMapWith([]field{{"kernel", true, isStr}, {"ramdisk", true, isStr}, {"dtb", true, isStr}})})
	}
	ch.fields(path, m, fs)
}

// checkTimeout accepts LAVA's timeout map: one of days, hours, minutes or
// seconds whose value is at least 1, and an optional boolean skip. LAVA
// tries each unit in turn and takes the first that fits, so
// {minutes: 0, seconds: 30} is a valid (30 s) timeout; a problem is
// reported at the first unit present when none fits. (LAVA itself names
// "days" then, as a missing key; Basalt names the unit that is there.)
func checkTimeout(ch *checker, path string, v any) {
	m, ok := v.(*value.Map)
	if !ok {
		ch.add(path, "expected a dictionary")
		return
	}
	if s, ok := m.Get("skip"); ok {
		if _, ok := s.(bool); !ok {
			isBool(ch, join(path, "skip"), s)
			return
		}
	}
	var first string
	for _, u := range []string{"days", "hours", "minutes", "seconds"} {
		v, ok := m.Get(u)
		if !ok {
			continue
		}
		if atLeastOne(v) {
			return
		}
		if first == "" {
			first = u
		}
	}
	if first == "" {
		ch.add(path, "a timeout needs one of days, hours, minutes or seconds")
		return
	}
	ch.add(join(path, first), "expected a number of at least 1, got %s", describe(m.Value(first)))
}

// atLeastOne is voluptuous' Range(min=1): a Python number (booleans
// included) not below 1.
func atLeastOne(v any) bool {
	switch t := v.(type) {
	case bool:
		return t
	case int:
		return t >= 1
	case float64:
		return t >= 1
	}
	return false
}

func isMapWith(fs []field) func(*checker, string, any) {
	return func(ch *checker, path string, v any) {
		m, ok := v.(*value.Map)
		if !ok {
			ch.add(path, "expected a dictionary")
			return
		}
		ch.fields(path, m, fs)
	}
}

func mapOf(check func(*checker, string, any)) func(*checker, string, any) {
	return func(ch *checker, path string, v any) {
		m, ok := v.(*value.Map)
		if !ok {
			ch.add(path, "expected a dictionary")
			return
		}
		for _, k := range m.Keys() {
			check(ch, join(path, k), m.Value(k))
		}
	}
}

func listOf(check func(*checker, string, any)) func(*checker, string, any) {
	return func(ch *checker, path string, v any) {
		l, ok := v.([]any)
		if !ok {
			ch.add(path, "expected a list")
			return
		}
		for i, e := range l {
			check(ch, fmt.Sprintf("%s[%d]", path, i), e)
		}
	}
}

// nullOr accepts null or what check accepts (voluptuous' Any(None, X)).
func nullOr(check func(*checker, string, any)) func(*checker, string, any) {
	return func(ch *checker, path string, v any) {
		if v != nil {
			check(ch, path, v)
		}
	}
}

func isList(ch *checker, path string, v any) {
	if _, ok := v.([]any); !ok {
		ch.add(path, "expected a list, got %s", describe(v))
	}
}

func isDict(ch *checker, path string, v any) {
	if _, ok := v.(*value.Map); !ok {
		ch.add(path, "expected a dictionary, got %s", describe(v))
	}
}

func isStr(ch *checker, path string, v any) {
	if _, ok := ch.str(path, v); !ok {
		ch.add(path, "expected a string, got %s", ch.describe(path, v))
	}
}

// isInt accepts Python ints, which include booleans.
func isInt(ch *checker, path string, v any) {
	switch v.(type) {
	case int, bool:
	default:
		ch.add(path, "expected an integer, got %s", describe(v))
	}
}

func isBool(ch *checker, path string, v any) {
	if _, ok := v.(bool); !ok {
		ch.add(path, "expected a boolean, got %s", describe(v))
	}
}

func strOrStrList(ch *checker, path string, v any) {
	if _, ok := ch.str(path, v); ok {
		return
	}
	if l, ok := v.([]any); ok {
		listOf(isStr)(ch, path, l)
		return
	}
	ch.add(path, "expected a string or a list of strings, got %s", ch.describe(path, v))
}

func isUSBID(ch *checker, path string, v any) {
	s, ok := ch.str(path, v)
	if !ok {
		ch.add(path, "expected a string, got %s", ch.describe(path, v))
		return
	}
	if utf8.RuneCountInString(s) != 4 {
		ch.add(path, "expected exactly 4 characters, got %d", utf8.RuneCountInString(s))
	}
}

// describe is describe, naming an unquoted date as such.
func (ch *checker) describe(path string, v any) string {
	if s, ok := v.(string); ok && ch.dates[path] {
		return fmt.Sprintf("the date %s (YAML 1.1 reads it as a timestamp; quote it for a string)", s)
	}
	return describe(v)
}

func describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case int:
		return "an integer"
	case float64:
		return "a number"
	case string:
		return fmt.Sprintf("the string %q", t)
	case []any:
		return "a list"
	case *value.Map:
		keys := append([]string(nil), t.Keys()...)
		sort.Strings(keys)
		return "a dictionary (" + strings.Join(keys, ", ") + ")"
	}
	return fmt.Sprintf("%T", v)
}
