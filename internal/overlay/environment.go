package overlay

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/basalt-lava/basalt/internal/pipeline"
	"github.com/basalt-lava/basalt/internal/value"
)

// EnvSource is one block of the environment file: data flattened under a
// prefix, and who answers for it when a name is unusable (the device
// configuration or the job).
type EnvSource struct {
	// What names the data in errors ("device environment", "job
	// environment", …).
	What   string
	Data   any
	Prefix string
	// FromJob makes a bad name the job's error; otherwise it is the
	// device configuration's.
	FromJob bool
}

// ExportLines flattens data as LAVA's overlay does: map keys and list
// indexes are joined to the prefix with "_", booleans become 1 and 0,
// integers stay bare and everything else is quoted like shlex.quote.
// Every name must be a shell variable name: a key is written before the
// "=", where quoting cannot help.
func ExportLines(data any, prefix string) ([]string, error) {
	var lines []string
	err := exportData(&lines, data, prefix)
	return lines, err
}

func exportData(lines *[]string, data any, prefix string) error {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "_" + k
	}
	switch t := data.(type) {
	case *value.Map:
		var err error
		t.Range(func(k string, v any) bool {
			err = exportData(lines, v, join(k))
			return err == nil
		})
		return err
	case []any:
		for i, v := range t {
			if err := exportData(lines, v, join(strconv.Itoa(i))); err != nil {
				return err
			}
		}
		return nil
	}
	if !ValidName(prefix) {
		return fmt.Errorf("%q is not a usable shell variable name", prefix)
	}
	var val string
	switch t := data.(type) {
	case bool:
		val = "0"
		if t {
			val = "1"
		}
	case int:
		val = strconv.Itoa(t)
	case nil:
		val = "''"
	default:
		val = Quote(pyStr(t))
	}
	*lines = append(*lines, "export "+prefix+"="+val)
	return nil
}

// WriteEnvironment writes the file the test shell sources before the
// tests: one "export NAME=value" line per flattened value of each source,
// in order.
func WriteEnvironment(path string, sources []EnvSource) error {
	var b strings.Builder
	for _, s := range sources {
		lines, err := ExportLines(s.Data, s.Prefix)
		if err != nil {
			if s.FromJob {
				return pipeline.JobError("%s: %v", s.What, err)
			}
			return pipeline.ConfigurationError("%s: %v", s.What, err)
		}
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return pipeline.InfrastructureError("writing %s: %w", path, err)
	}
	return nil
}

// Secret is one NAME=value pair of the secrets file.
type Secret struct{ Name, Value string }

// WriteSecrets writes the job's secrets (and the env_dut variables) as
// NAME=value lines, as LAVA does, the values quoted like shlex.quote so a
// test may source the file: plain values read exactly as LAVA writes
// them, others cannot run commands. Nothing is written when there are
// none.
func WriteSecrets(path string, secrets []Secret) error {
	if len(secrets) == 0 {
		return nil
	}
	var b strings.Builder
	for _, s := range secrets {
		if !ValidName(s.Name) {
			return pipeline.JobError("secrets: %q is not a usable shell variable name", s.Name)
		}
		b.WriteString(s.Name + "=" + Quote(s.Value) + "\n")
	}
	// The file holds secrets: only its owner (root on the device) reads it.
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return pipeline.InfrastructureError("writing %s: %w", path, err)
	}
	return nil
}
