package jinja

import (
	"testing"

	"github.com/basalt-lava/basalt/internal/value"
	"github.com/google/go-cmp/cmp"
)

// testVars is the render context of the feature table.
func testVars() *value.Map {
	return value.MapOf(
		"s", "abc", "n", 3, "f", 1.5, "l", []any{"a", 1, nil, true},
		"d", value.MapOf("b", 1, "a", []any{1, 2}),
		"none", nil, "t", true, "q", "it's \"x\"", "e", "", "neg", -7, "u", "h\u00e9\u2028",
		"words", "  a b\tc  ",
	)
}

// featureCases hold templates and the output Python Jinja2 3.1.2 gives
// for them (SandboxedEnvironment, trim_blocks, LAVA's filters) with
// testVars as the context.
var featureCases = []struct{ name, src, want string }{
	{"text", "hello\nworld\n", "hello\nworld"},
	{"trim_blocks", "{% if t %}\nyes\n{% endif %}\nend", "yes\nend"},
	{"comment_trim", "a{# c #}\nb", "ab"},
	{"lstrip", "a  \n  {%- if t %}x{% endif %}", "ax"},
	{"rstrip", "{% if t -%}   \n  x{% endif %}", "x"},
	{"var_strip", "a  {{- s -}}  b", "aabcb"},
	{"var_no_trim", "{{ s }}\nb", "abc\nb"},
	{"raw", "{% raw %}{{ x }}{% endraw %}\nz", "{{ x }}z"},
	{"print_types", "{{ n }} {{ f }} {{ t }} {{ none }} {{ l }} {{ d }} {{ q }} {{ [q] }} {{ e }}|", "3 1.5 True None ['a', 1, None, True] {'b': 1, 'a': [1, 2]} it's \"x\" ['it\\'s \"x\"'] |"},
	{"undefined", "[{{ missing }}] [{{ missing | default('d') }}] [{{ none | default('d') }}] [{{ e | default('d', true) }}]", "[] [d] [None] [d]"},
	{"float_repr", "{{ 1e17 }} {{ 1e-5 }} {{ 10/4 }} {{ 0.1 + 0.2 }} {{ 1/3 }} {{ 2.0 }} {{ 1e16 }} {{ 123456789.123 }} {{ -0.0 }}", "1e+17 1e-05 2.5 0.30000000000000004 0.3333333333333333 2.0 1e+16 123456789.123 -0.0"},
	{"arith", "{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 7.5 // 2 }} {{ n * 'ab' }} {{ [1] * 2 }} {{ t + 1 }}", "3 -4 2 -2 1024 0.5 3.0 ababab [1, 1] 2"},
	{"concat", "{{ s ~ n ~ none ~ missing }} {{ 'a' + 'b' }} {{ l + [2] }}", "abc3None ab ['a', 1, None, True, 2]"},
	{"compare", "{{ 1 < 2 < 3 }} {{ 1 == 1.0 }} {{ t == 1 }} {{ 'a' < 'b' }} {{ [1,2] < [1,3] }} {{ s != 'x' }}", "True True True True True True"},
	{"in", "{{ 'b' in s }} {{ 1 in l }} {{ 'a' in d }} {{ 'z' not in d }} {{ none in l }} {{ 'x' in missing }}", "True True True True True False"},
	{"logic", "{{ n and s }} {{ e or 'x' }} {{ not e }} {{ none or l }} {{ 0 and 1 }}", "abc x True ['a', 1, None, True] 0"},
	{"condexpr", "{{ 'y' if t else 'n' }} {{ 'y' if e else 'n' }} [{{ 'y' if e }}]", "y n []"},
	{"subscript", "{{ l[0] }} {{ l[-1] }} {{ d['b'] }} {{ d.a }} {{ d.a[1] }} {{ s[1] }} [{{ l[10] }}] {{ l[1:3] }} {{ s[::-1] }} {{ l[:-1] }} {{ l.0 }}", "a True 1 [1, 2] 2 b [] [1, None] cba ['a', 1, None] a"},
	{"tuple", "{{ (1,) }} {{ (1, 'a') }} {{ () }} {% set a, b = 1, 2 %}{{ a }}{{ b }}", "(1,) (1, 'a') () 12"},
	{"dict_literal", "{% set x = {'k': 'v', 'n': [1, {'z': None}]} %}{{ x }} {{ x.k }} {{ {} }}", "{'k': 'v', 'n': [1, {'z': None}]} v {}"},
	{"methods_str", "{{ s.upper() }} {{ 'A-B-C'.lower().split('-') }} {{ words.split() }} {{ words.strip() }} {{ 'a,b'.replace(',', ';') }} {{ s.startswith('ab') }} {{ s.endswith(('x', 'c')) }} {{ '{} {}'.format(1, 'x') }} {{ '{0:>5}|{1:.2f}'.format(s, f) }} {{ 'a b'.title() }} {{ s.find('c') }} {{ ','.join(['x','y']) }}", "ABC ['a', 'b', 'c'] ['a', 'b', 'c'] a b\tc a;b True True 1 x   abc|1.50 A B 2 x,y"},
	{"methods_dict", "{{ d.get('b') }} {{ d.get('zz', 5) }} {{ d.get('zz') }} {{ d.items() }} {{ d.keys() }} {{ d.values() }} {% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", "1 5 None dict_items([('b', 1), ('a', [1, 2])]) dict_keys(['b', 'a']) dict_values([1, [1, 2]]) b=1;a=[1, 2];"},
	{"for_loop", "{% for x in l %}{{ loop.index }}/{{ loop.length }}:{{ x }}{% if loop.first %}F{% endif %}{% if loop.last %}L{% endif %} {% endfor %}", "1/4:aF 2/4:1 3/4:None 4/4:TrueL "},
	{"for_else", "{% for x in [] %}x{% else %}empty{% endfor %} {% for x in missing %}x{% else %}none{% endfor %}", "empty none"},
	{"for_filter", "{% for x in [1,2,3,4] if x is even %}{{ x }}{{ loop.revindex }} {% endfor %}", "22 41 "},
	{"for_scope", "{% set c = 0 %}{% for x in [1,2] %}{% set c = c + x %}[{{ c }}]{% endfor %}{{ c }}", "[1][2]0"},
	{"for_missing_quirk", "{% for i in [1] %}[{{ n }}]{% endfor %}{% set n = 2 %}{{ n }}", "[]2"},
	{"if_all_branches_quirk", "{% if t %}[{{ n }}]{% set n = 5 %}{% elif e %}{% set n = 6 %}{% else %}{% set n = 7 %}{% endif %}{{ n }}", "[]5"},
	{"if_some_branches", "{% if t %}[{{ n }}]{% set n = 5 %}{% else %}{% set n = 7 %}{% endif %}{{ n }}", "[3]5"},
	{"loop_cycle", "{% for x in 'abc' %}{{ loop.cycle('o', 'e') }}{{ loop.previtem }}{{ loop.nextitem }},{% endfor %}", "ob,eac,ob,"},
	{"nested_loop", "{% for a in [1,2] %}{% for b in 'xy' %}{{ a }}{{ b }}{{ loop.index }} {% endfor %}{% endfor %}", "1x1 1y2 2x1 2y2 "},
	{"filters_basic", "{{ l | join(',') }} {{ s | upper }} {{ 'AbC' | lower }} {{ '  x  ' | trim }} {{ 'a-b' | replace('-', '+') }} {{ n | string }} {{ '42' | int + 1 }} {{ '4.7' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ s | list }} {{ l | length }} {{ l | first }} {{ l | last }} {{ d | items | list }}", "a,1,None,True ABC abc x a+b 3 43 4 0 7 ['a', 'b', 'c'] 4 a True [('b', 1), ('a', [1, 2])]"},
	{"filter_more", "{{ [3,1,2] | sort }} {{ ['b','A','a'] | unique | list }} {{ [1,2,3] | sum }} {{ [1,5,2] | max }} {{ -3 | abs }} {{ 2.567 | round(1) }} {{ 'hello world' | title }} {{ 'hello' | capitalize }} {{ l | map('string') | join('|') }} {{ [1,2,3,4] | select('odd') | list }} {{ d | dictsort }} {{ '%s-%d' | format('a', 3) }} {{ 'a<b' | e }} {{ [1,2,3] | reverse | list }} {{ 'abc' | reverse }} {{ 3.7 | float }} {{ [1,2,3,4,5] | batch(2) | list }}", "[1, 2, 3] ['b', 'A'] 6 5 3 2.6 Hello World Hello a|1|None|True [1, 3] [('a', [1, 2]), ('b', 1)] a-3 a&lt;b [3, 2, 1] cba 3.7 [[1, 2], [3, 4], [5]]"},
	{"tojson", "{{ d | tojson }} {{ \"<a'&>\" | tojson }} {{ [1, none, t, 1.5, 'hé'] | tojson }} {{ {'b':1,'a':2} | tojson(indent=2) }}", "{\"a\": [1, 2], \"b\": 1} \"\\u003ca\\u0027\\u0026\\u003e\" [1, null, true, 1.5, \"h\\u00e9\"] {\n  \"a\": 2,\n  \"b\": 1\n}"},
	{"indent", "{{ 'a\nb\n\nc' | indent }}|{{ 'a\nb' | indent(2, true) }}|{{ 'a\n\nb' | indent(width=3, blank=true) }}|{{ 'x\ny' | indent('> ') }}", "a\n    b\n\n    c|  a\n  b|a\n   \n   b|x\n> y"},
	{"filter_block", "x:\n{% filter indent(width=4) %}\na: 1\nb: 2\n{% endfilter %}\nend", "x:\na: 1\n    b: 2\nend"},
	{"filter_block_chain", "{% filter upper | replace('A', 'x') %}abc{% endfilter %}", "xBC"},
	{"tests", "{{ n is number }} {{ s is string }} {{ none is none }} {{ missing is defined }} {{ missing is undefined }} {{ l is iterable }} {{ n is iterable }} {{ d is mapping }} {{ l is sequence }} {{ t is sameas true }} {{ 1 is sameas true }} {{ 4 is divisibleby 2 }} {{ n is odd }} {{ s is not string }} {{ n is integer }} {{ f is float }} {{ 3 is gt 2 }} {{ 'a' is in 'abc' }} {{ s is lower }} {{ t is boolean }}", "True True True False True True False True True True False True True False True True True True True True"},
	{"lava_filters", "{{ 'a b' | shlex_quote }} {{ 'ab' | shlex_quote }} {{ '' | shlex_quote }} {{ \"it's\" | shlex_quote }} {{ missing | shlex_quote }} | {{ 'x\"y\\\\z' | yaml_quote }} {{ n | yaml_quote }} {{ l | yaml_quote }} {{ d | yaml_quote }} {{ f | yaml_quote }} {{ 1e17 | yaml_quote }} {{ u | yaml_quote }} {{ '' | yaml_quote }} | {{ 'amd64' | qemu_guest_fs_interface('') }} {{ 'arm64' | qemu_guest_fs_interface(missing) }} {{ 'i386' | qemu_guest_fs_interface('scsi') }}", "'a b' ab '' 'it'\"'\"'s' '' | \"x\\\"y\\\\z\" ! \"3\" [\"a\", ! \"1\", ! \"null\", ! \"true\"] {\"a\": [! \"1\", ! \"2\"], \"b\": ! \"1\"} ! \"1.5\" ! \"1.0e+17\" \"h\\xE9\\L\" \"\" | ide virtio scsi"},
	{"set_multiline", "{% set x = (\n\"  - a\n  - b\n\"\n) -%}\nlist:\n{{ x }}end", "list:\n  - a\n  - b\nend"},
	{"set_block", "{% set x %}in {{ s }}{% endset %}[{{ x }}] {% set y | upper %}low{% endset %}{{ y }}", "[in abc] LOW"},
	{"string_escapes", "{{ 'a\\tb\\nc' }} {{ 'a\\\\sb' }} {{ \"q'\" }} {{ 'x\\'y' }} {{ ['a\\nb', \"it's\", 'say \"hi\"', 'both \\' \"'] }} {{ ['\\x01', 'hé', '\\u2028'] }}", "a\tb\nc a\\sb q' x'y ['a\\nb', \"it's\", 'say \"hi\"', 'both \\' \"'] ['\\x01', 'hé', '\\u2028']"},
	{"repr_nested", "{{ {'a': {'b': ('x', None)}, 'c': [1.0, -2, t]} }} {{ [d.items()] }}", "{'a': {'b': ('x', None)}, 'c': [1.0, -2, True]} [dict_items([('b', 1), ('a', [1, 2])])]"},
	{"with", "{% with a = 1, b = n %}{{ a + b }}{% endwith %}{{ a }}", "4"},
	{"namespace", "{% set ns = namespace(c=0) %}{% for x in [1,2,3] %}{% set ns.c = ns.c + x %}{% endfor %}{{ ns.c }}", "6"},
	{"range", "{{ range(3) | list }} {{ range(1, 10, 3) | list }} {% for i in range(2) %}{{ i }}{% endfor %}", "[0, 1, 2] [1, 4, 7] 01"},
	{"percent", "{{ '%s|%5s|%-4d|%05.1f|%x|%%' % ('a', 'b', 3, 2.25, 255) }} {{ '%(a)s' % {'a': 1} }}", "a|    b|3   |002.2|ff|% 1"},
	{"format_spec", "{{ '{:05d}|{:<4}|{:^7}|{:+.3e}|{:,}|{:g}|{!r}'.format(42, 'ab', 'mid', 12345.678, 1234567, 0.00001234, 'x') }}", "00042|ab  |  mid  |+1.235e+04|1,234,567|1.234e-05|'x'"},
	{"dict_update", "{% set x = {'a': 1} %}{% set _ = x.update({'b': 2}) %}{{ x }} {{ x.pop('a') }} {{ x }} {{ x.setdefault('c', 3) }} {{ x }}", "{'a': 1, 'b': 2} 1 {'b': 2} 3 {'b': 2, 'c': 3}"},
	{"trailing_newline", "a\n\n", "a\n"},
	{"crlf", "a\r\n{% if t %}\r\nb\r\n{% endif %}\r\nc", "a\nb\nc"},
	{"default_chain", "{{ missing | default(none) }} {{ missing | d('x') | upper }} {{ (missing or 'o') }}", "None X o"},
	{"int_filter", "{{ ' 12 ' | int }} {{ '0x1A' | int(base=16) }} {{ '1_000' | int }} {{ true | int }} {{ 3.9 | int }} {{ none | int }}", "12 26 1000 1 3 0"},
	{"str_ops", "{{ s[0:2] ~ s[-1] }} {{ 'abc' * 0 }} {{ 'a b  c'.split(' ') }} {{ 'a,b,c'.split(',', 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ 'ab'.center(6, '*') }} {{ '7'.zfill(3) }}", "abc  ['a', 'b', '', 'c'] ['a', 'b,c'] ['a,b', 'c'] **ab** 007"},
	{"unicode", "{{ u }} {{ [u] }} {{ u | length }} {{ u.upper() }}", "hé  ['hé\\u2028'] 3 HÉ "},
	{"empty_if", "{% if missing %}{% elif none %}{% else %}else{% endif %}", "else"},
	{"neg", "{{ -n }} {{ -f }} {{ +n }} {{ neg // 2 }} {{ neg % 3 }} {{ -neg }}", "-3 -1.5 3 -4 2 7"},
	{"comparisons_chain", "{{ 1 < n <= 3 }} {{ n > 5 or n < 0 }} {{ not n == 3 }} {{ n is not none and n > 1 }}", "True False False True"},
}

func render(t *testing.T, src string, vars *value.Map) (string, error) {
	t.Helper()
	return NewEnvironment(MapLoader{"t.jinja2": src}).Render("t.jinja2", vars)
}

func TestFeatures(t *testing.T) {
	t.Parallel()
	for _, tc := range featureCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := render(t, tc.src, testVars())
			if err != nil {
				t.Fatalf("Render(%q): %v", tc.src, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Render(%q) mismatch (-want +got):\n%s", tc.src, diff)
			}
		})
	}
}
