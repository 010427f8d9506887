package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServerSMTPFlags: the --smtp-* flags are checked before anything
// starts, each mistake named; the password is the file's first line.
func TestServerSMTPFlags(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--smtp-from", "a@example.org"}, "go with --smtp-server"},
		{[]string{"--smtp-server", "mail.example.org"}, `SMTP server "mail.example.org": want HOST:PORT`},
		{[]string{"--smtp-server", "127.0.0.1:25", "--smtp-from", "Lab <a@example.org>"}, "is not a valid email address"},
		{[]string{"--smtp-server", "127.0.0.1:25", "--smtp-tls", "maybe"}, `SMTP TLS mode "maybe"`},
		{[]string{"--smtp-server", "127.0.0.1:25", "--smtp-user", "u"}, "--smtp-user needs --smtp-password-file"},
		{[]string{"--smtp-server", "127.0.0.1:25", "--smtp-password-file", pw}, "an SMTP password needs a user"},
		{[]string{"--smtp-server", "127.0.0.1:25", "--smtp-user", "u", "--smtp-password-file", filepath.Join(dir, "absent")}, "--smtp-password-file"},
		{[]string{"--smtp-server", "127.0.0.1:25", "--smtp-timeout", "0s"}, "--smtp-timeout 0s: must be positive"},
	} {
		var stderr bytes.Buffer
		if code := serverMain(context.Background(), append(tc.args, "--data-dir", t.TempDir()), &bytes.Buffer{}, &stderr, nil); code != exitUsage || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %q", tc.args, code, stderr.String(), tc.want)
		}
	}
	m, err := smtpConfig("127.0.0.1:25", "", "u", pw, "starttls")
	if err != nil || m.Password != "s3cret" || !strings.HasPrefix(m.From, "basalt@") || m.TLS != "starttls" {
		t.Errorf("smtpConfig = %+v, %v", m, err)
	}
}

func TestDefaultPublicURL(t *testing.T) {
	host, _ := os.Hostname()
	for listen, want := range map[string]string{
		"127.0.0.1:8000": "http://127.0.0.1:8000",
		"0.0.0.0:80":     "http://" + host + ":80",
		"[::]:8000":      "http://" + host + ":8000",
		":8000":          "http://" + host + ":8000",
		"[::1]:8000":     "http://[::1]:8000",
	} {
		if got := defaultPublicURL(listen); got != want {
			t.Errorf("defaultPublicURL(%q) = %q, want %q", listen, got, want)
		}
	}
}
