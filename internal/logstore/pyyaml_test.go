package logstore

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// pyRecords writes, with PyYAML (the library LAVA's dispatcher logs with
// and lavacli reads with), records of random nested values: strings with
// YAML's indicators, quotes, escapes and non-ASCII, numbers, booleans,
// null, bytes, lists and maps, in the default style and in LAVA's
// (default_style='"'), one record per line as `- {...}`.
const pyRecords = `
import datetime, random, sys, yaml
random.seed(int(sys.argv[1]))
chars = 'abc xyz:#-{}[],"\'\\!&*?|>%@` + "`" + `\t' + '\u00e9\u2713\u00a0\x07\x1b'
def rstr():
    return ''.join(random.choice(chars) for _ in range(random.randint(0, 12)))
def rval(d=0):
    k = random.randint(0, 8 if d < 3 else 5)
    if k <= 2: return rstr()
    if k == 3: return random.randint(-10**6, 10**6)
    if k == 4: return random.choice([True, False, None, 1.5, -0.25, 1e20, float('inf')])
    if k == 5: return bytes(random.randrange(256) for _ in range(random.randint(0, 80)))
    if k == 6: return [rval(d + 1) for _ in range(random.randint(0, 3))]
    return {random.choice(['a', 'case', 'x y', 'k:v', 'a/b', 'definition']): rval(d + 1) for _ in range(random.randint(0, 3))}
for i in range(int(sys.argv[2])):
    rec = {'dt': datetime.datetime(2026, 1, 1, 10, 0, 0, i).isoformat() + '+00:00',
           'lvl': random.choice(['info', 'debug', 'target', 'results', 'event', 'feedback']), 'msg': rval()}
    s = yaml.dump([rec], default_flow_style=True, default_style=random.choice(['"', None]), width=10**9,
                  allow_unicode=random.choice([True, False]), sort_keys=False).rstrip('\n')
    if s.startswith('[') and s.endswith(']') and '\n' not in s:
        print('- ' + s[1:-1])
`

// pyCheck reads the stored log with PyYAML's C and pure-Python safe
// loaders, as lavacli 1.2 and 2.x do, and prints the records' count and
// how many have a string dt and a level lavacli knows.
const pyCheck = `
import sys, yaml
text = sys.stdin.read()
for loader in (yaml.CLoader, yaml.SafeLoader):
    recs = yaml.load(text, Loader=loader)
    good = sum(1 for r in recs if isinstance(r.get('dt'), str) and r.get('lvl') in
               ('debug', 'info', 'warning', 'error', 'exception', 'input', 'target', 'feedback', 'results'))
    print(loader.__name__, len(recs), good)
`

// TestPyYAMLRecords checks normalise against PyYAML both ways: every
// record PyYAML writes is accepted, and the stored log reads back with
// PyYAML's loaders as one record per line, event turned to debug.
func TestPyYAMLRecords(t *testing.T) {
	t.Parallel()
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	if exec.Command(python, "-c", "import yaml; yaml.CLoader").Run() != nil {
		t.Skip("no PyYAML with its C loader (Debian's python3-yaml)")
	}
	out, err := exec.Command(python, "-c", pyRecords, "11", "1500").Output()
	if err != nil {
		t.Fatalf("generating records: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) < 1000 {
		t.Fatalf("PyYAML wrote %d one-line records", len(lines))
	}
	l := open(t, t.TempDir(), Options{})
	held, err := l.Append(1, 0, lines)
	if err != nil || held != int64(len(lines)) {
		t.Fatalf("Append of PyYAML's %d records: %d, %v", len(lines), held, err)
	}
	var log bytes.Buffer
	if _, err := l.Read(1, 0, -1, &log); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "-c", pyCheck)
	cmd.Stdin = &log
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("PyYAML cannot read the stored log: %v", err)
	}
	want := fmt.Sprintf("CLoader %d %d\nSafeLoader %d %d\n", len(lines), len(lines), len(lines), len(lines))
	if string(got) != want {
		t.Errorf("PyYAML read (records, good records):\n%s\nwant\n%s", got, want)
	}
}
