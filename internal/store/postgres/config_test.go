package postgres

import "testing"

// TestConnConfigJIT: JIT compilation is off unless the DSN sets it.
func TestConnConfigJIT(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://basalt@127.0.0.1:5432/lab?sslmode=disable":        "off",
		"postgres://basalt@127.0.0.1:5432/lab?sslmode=disable&jit=on": "on",
		"host=127.0.0.1 user=basalt dbname=lab":                       "off",
		"host=127.0.0.1 user=basalt dbname=lab jit=on":                "on",
	} {
		cfg, err := connConfig(dsn)
		if err != nil {
			t.Fatalf("connConfig(%q): %v", dsn, err)
		}
		if got := cfg.RuntimeParams["jit"]; got != want {
			t.Errorf("connConfig(%q) jit = %q, want %q", dsn, got, want)
		}
	}
}
