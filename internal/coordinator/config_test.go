package coordinator

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	def := DefaultConfig()
	tests := []struct {
		name    string
		text    string
		want    Config
		wantErr string
	}{
		{name: "empty object", text: `{}`, want: def},
		{name: "lava shipped file", text: `{"port": 3079, "blocksize": 4096, "poll_delay": 3, "coordinator_hostname": "localhost"}`,
			want: Config{Port: 3079, Blocksize: 4096, PollDelay: 3 * time.Second, CoordinatorHostname: "localhost"}},
		{name: "partial", text: `{"port": 4000, "coordinator_hostname": "coord.lab"}`,
			want: Config{Port: 4000, Blocksize: 4096, PollDelay: time.Second, CoordinatorHostname: "coord.lab"}},
		{name: "fractional poll delay", text: `{"poll_delay": 0.25}`,
			want: Config{Port: 3079, Blocksize: 4096, PollDelay: 250 * time.Millisecond, CoordinatorHostname: "localhost"}},
		{name: "unknown keys ignored", text: `{"logfile": "/x", "port": 1}`,
			want: Config{Port: 1, Blocksize: 4096, PollDelay: time.Second, CoordinatorHostname: "localhost"}},
		{name: "bad json", text: `{"port": 3079,}`, wantErr: "invalid JSON"},
		{name: "not an object", text: `[3079]`, wantErr: "JSON is an array, not an object"},
		{name: "empty file", text: ``, wantErr: "invalid JSON: empty body"},
		{name: "port as string", text: `{"port": "3079"}`, wantErr: `"port" must be an integer from 1 to 65535, not "3079"`},
		{name: "port out of range", text: `{"port": 70000}`, wantErr: `"port" must be an integer from 1 to 65535, not 70000`},
		{name: "port float", text: `{"port": 3079.5}`, wantErr: `"port" must be an integer`},
		{name: "blocksize zero", text: `{"blocksize": 0}`, wantErr: `"blocksize" must be an integer from 1`},
		{name: "poll delay negative", text: `{"poll_delay": -1}`, wantErr: `"poll_delay" must be a number of seconds above 0`},
		{name: "poll delay string", text: `{"poll_delay": "1"}`, wantErr: `"poll_delay" must be a number`},
		{name: "poll delay huge", text: `{"poll_delay": 1e300}`, wantErr: `"poll_delay" must be a number`},
		{name: "hostname number", text: `{"coordinator_hostname": 12}`, wantErr: `"coordinator_hostname" must be a non-empty string, not 12`},
		{name: "limits", text: `{"max_groups": 10, "max_group_size": 0, "max_messages": 5, "max_group_bytes": 1048576, "max_bytes": 0, "max_conns": 64, "group_ttl": 3600}`,
			want: Config{Port: 3079, Blocksize: 4096, PollDelay: time.Second, CoordinatorHostname: "localhost",
				Limits:   Limits{MaxGroups: 10, MaxGroupSize: -1, MaxMessages: 5, MaxGroupBytes: 1 << 20, MaxBytes: -1, MaxConns: 64},
				GroupTTL: time.Hour}},
		{name: "group ttl zero keeps", text: `{"group_ttl": 0}`,
			want: Config{Port: 3079, Blocksize: 4096, PollDelay: time.Second, CoordinatorHostname: "localhost", GroupTTL: -1}},
		{name: "limit negative", text: `{"max_groups": -1}`, wantErr: `"max_groups" must be an integer, 0 or more`},
		{name: "limit string", text: `{"max_bytes": "1G"}`, wantErr: `"max_bytes" must be an integer, 0 or more`},
		{name: "limit too large", text: `{"max_messages": 1e20}`, wantErr: `"max_messages" must be an integer`},
		{name: "group ttl negative", text: `{"group_ttl": -5}`, wantErr: `"group_ttl" must be a number of seconds, 0 or more`},
		{name: "group ttl huge", text: `{"group_ttl": 1e300}`, wantErr: `"group_ttl" must be a number of seconds`},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".conf")
			if err := os.WriteFile(path, []byte(tt.text), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := LoadConfig(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("error %v, want one naming %s and containing %q", err, path, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.conf")
	_, err := LoadConfig(path)
	if err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error %v, want a not-exist error naming %s", err, path)
	}
}

func TestConfigAddr(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{DefaultConfig(), "localhost:3079"},
		{Config{CoordinatorHostname: "::1", Port: 9}, "[::1]:9"},
	} {
		if got := tt.cfg.Addr(); got != tt.want {
			t.Errorf("Addr() = %q, want %q", got, tt.want)
		}
	}
}
