package coordinator

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"strconv"
	"time"

	"github.com/basalt-lava/basalt/internal/limits"
)

// DefaultConfigPath is where LAVA's coordinator and dispatchers read the
// coordinator settings.
const DefaultConfigPath = "/etc/lava-coordinator/lava-coordinator.conf"

// DefaultPort is LAVA's coordinator port.
const DefaultPort = 3079

// Config is LAVA's lava-coordinator.conf: JSON
// {"port", "blocksize", "poll_delay", "coordinator_hostname"}, every key
// optional. The coordinator uses port; dispatchers use all four to reach it.
// Basalt's coordinator also reads its limits there (LAVA's ignores
// them): "max_groups", "max_group_size", "max_messages",
// "max_group_bytes", "max_bytes", "max_conns" (integers, 0 for no limit) and
// "group_ttl" (seconds, 0 to keep groups until cleared).
type Config struct {
	Port                int
	Blocksize           int
	PollDelay           time.Duration // the file gives seconds
	CoordinatorHostname string
	// Limits and GroupTTL are as Options takes them: zero where the file
	// does not give the key, negative for the file's 0 (no limit).
	Limits   Limits
	GroupTTL time.Duration
}

// DefaultConfig is what LAVA assumes for keys the file leaves out.
func DefaultConfig() Config {
	return Config{
		Port:                DefaultPort,
		Blocksize:           DefaultBlocksize,
		PollDelay:           DefaultPollDelay,
		CoordinatorHostname: "localhost",
	}
}

// Addr is host:port of the coordinator.
func (c Config) Addr() string {
	return net.JoinHostPort(c.CoordinatorHostname, strconv.Itoa(c.Port))
}

// LoadConfig reads a coordinator config file. Keys it does not know are
// ignored, as LAVA does.
func LoadConfig(path string) (Config, error) {
	b, err := limits.File{What: "coordinator configuration", Max: limits.ConfigSize}.Read(path)
	if err != nil {
		return Config{}, fmt.Errorf("coordinator config: %w", err)
	}
	return ParseConfig(b, path)
}

// ParseConfig parses the contents of a coordinator config file; name is
// used in errors.
func ParseConfig(b []byte, name string) (Config, error) {
	cfg := DefaultConfig()
	raw, err := decodeObject(b)
	if err != nil {
		return Config{}, fmt.Errorf("coordinator config %s: %w", name, err)
	}
	bad := func(key string, v any, want string) error {
		return fmt.Errorf("coordinator config %s: %q must be %s, not %s", name, key, want, jsonText(v))
	}
	if v, ok := raw["port"]; ok {
		n, ok := jsonInt(v)
		if !ok || n < 1 || n > 65535 {
			return Config{}, bad("port", v, "an integer from 1 to 65535")
		}
		cfg.Port = int(n)
	}
	if v, ok := raw["blocksize"]; ok {
		n, ok := jsonInt(v)
		if !ok || n < 1 || n > DefaultMaxBody {
			return Config{}, bad("blocksize", v, fmt.Sprintf("an integer from 1 to %d", DefaultMaxBody))
		}
		cfg.Blocksize = int(n)
	}
	if v, ok := raw["poll_delay"]; ok {
		num, isNum := v.(json.Number)
		f, err := num.Float64()
		// A day is far past any sensible poll; the bound keeps the
		// Duration from overflowing.
		if !isNum || err != nil || !(f > 0) || f > 86400 || math.IsInf(f, 0) {
			return Config{}, bad("poll_delay", v, "a number of seconds above 0 and at most 86400")
		}
		cfg.PollDelay = time.Duration(f * float64(time.Second))
	}
	if v, ok := raw["coordinator_hostname"]; ok {
		s, isStr := v.(string)
		if !isStr || s == "" {
			return Config{}, bad("coordinator_hostname", v, "a non-empty string")
		}
		cfg.CoordinatorHostname = s
	}
	for _, l := range []struct {
		key string
		dst *int64
	}{
		{"max_groups", nil}, {"max_group_size", nil}, {"max_messages", nil},
		{"max_group_bytes", &cfg.Limits.MaxGroupBytes}, {"max_bytes", &cfg.Limits.MaxBytes}, {"max_conns", nil},
	} {
		v, ok := raw[l.key]
		if !ok {
			continue
		}
		n, ok := jsonInt(v)
		if !ok || n < 0 || (l.dst == nil && n > math.MaxInt32) {
			return Config{}, bad(l.key, v, "an integer, 0 or more (0: no limit)")
		}
		if n == 0 {
			n = -1
		}
		switch l.key {
		case "max_groups":
			cfg.Limits.MaxGroups = int(n)
		case "max_group_size":
			cfg.Limits.MaxGroupSize = int(n)
		case "max_messages":
			cfg.Limits.MaxMessages = int(n)
		case "max_conns":
			cfg.Limits.MaxConns = int(n)
		default:
			*l.dst = n
		}
	}
	if v, ok := raw["group_ttl"]; ok {
		num, isNum := v.(json.Number)
		f, err := num.Float64()
		// A hundred years keeps the Duration from overflowing.
		if !isNum || err != nil || !(f >= 0) || f > 100*365*86400 {
			return Config{}, bad("group_ttl", v, "a number of seconds, 0 or more (0: keep groups until cleared)")
		}
		cfg.GroupTTL = time.Duration(f * float64(time.Second))
		if cfg.GroupTTL == 0 {
			cfg.GroupTTL = -1
		}
	}
	return cfg, nil
}

func jsonInt(v any) (int64, bool) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(string(num), 10, 64)
	return n, err == nil
}

// jsonText shows a decoded JSON value in an error.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return jsonKind(v)
	}
	return truncate(string(b))
}
