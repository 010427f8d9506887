package overlay

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/basalt-lava/basalt/internal/pipeline"
)

// TestCloneRefusesURLs: a repository URL, branch or revision that could
// make git do anything but fetch over the allowed transports is a Job
// error naming it, before git runs. fd:: used to leave git waiting on a
// file descriptor of Basalt's.
func TestCloneRefusesURLs(t *testing.T) {
	r := newGitRepo(t)
	marker := filepath.Join(t.TempDir(), "pwned")
	tests := []struct {
		name  string
		clone GitClone
		want  string
	}{
		{"fd transport", GitClone{URL: "fd::0"}, "fd:: transport"},
		{"fd transport, two descriptors", GitClone{URL: "fd::3,4/x"}, "fd:: transport"},
		{"ext transport", GitClone{URL: "ext::sh -c touch% " + marker}, "ext:: transport"},
		{"other remote helper", GitClone{URL: "testgit::" + r.dir}, "testgit:: transport"},
		{"unknown scheme", GitClone{URL: "foo://example.org/x.git"}, "foo:// scheme"},
		{"scheme case", GitClone{URL: "FILE://" + r.dir}, "FILE:// scheme"},
		{"option", GitClone{URL: "-u touch " + marker}, "option"},
		{"upload-pack option", GitClone{URL: "--upload-pack=touch " + marker}, "option"},
		{"config option", GitClone{URL: "-ccore.sshCommand=touch " + marker}, "option"},
		{"ssh host as option", GitClone{URL: "ssh://-oProxyCommand=touch%20" + marker + "/x"}, "host starts with '-'"},
		{"ssh host with user as option", GitClone{URL: "ssh://u@-oProxyCommand=x/y"}, "host starts with '-'"},
		{"scp-like host as option", GitClone{URL: "u@-oProxyCommand=touch:x"}, "host starts with '-'"},
		{"newline", GitClone{URL: r.dir + "\n--upload-pack=x"}, "control character"},
		{"branch as option", GitClone{URL: r.dir, Branch: "--upload-pack=touch " + marker}, "invalid git branch"},
		{"branch with newline", GitClone{URL: r.dir, Branch: "main\n-x"}, "invalid git branch"},
		{"revision as option", GitClone{URL: r.dir, Revision: "-c"}, "invalid git revision"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.clone.Dest = filepath.Join(t.TempDir(), "dest")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := Clone(ctx, tt.clone)
			if err == nil {
				t.Fatalf("Clone(%+v) succeeded", tt.clone)
			}
			if c := pipeline.ClassOf(err); c != pipeline.ClassJob {
				t.Errorf("class %s, want %s (%v)", c, pipeline.ClassJob, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if tt.clone.Branch == "" && tt.clone.Revision == "" && !strings.Contains(err.Error(), strconv.Quote(tt.clone.URL)) {
				t.Errorf("error %q does not name the URL", err)
			}
			if _, err := os.Stat(tt.clone.Dest); err == nil {
				t.Errorf("git ran: %s exists", tt.clone.Dest)
			}
		})
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("%s exists: a job string ran a command", marker)
	}
	// What CheckGitURL lets through.
	for _, ok := range []string{r.dir, "file://" + r.dir, "https://git.example.org/a/b.git", "http://h:8080/x",
		"git://h/x", "ssh://git@h/x", "git+ssh://h/x", "git@github.com:o/r.git", "relative/path"} {
		if err := CheckGitURL(ok); err != nil {
			t.Errorf("CheckGitURL(%q) = %v", ok, err)
		}
	}
}

// TestGitPolicy: git itself refuses any transport but the allowed ones
// (GIT_ALLOW_PROTOCOL), should a URL get past CheckGitURL.
func TestGitPolicy(t *testing.T) {
	newGitRepo(t) // skips without git
	for _, url := range []string{"fd::0", "ext::sh -c true", "testgit::/x"} {
		dest := filepath.Join(t.TempDir(), "d")
		// Bounded: git used to wait forever on fd::0.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := runGit(ctx, "", "clone", "--quiet", "--", url, dest)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "not allowed") {
			t.Errorf("git clone %s: %v, want git's refusal", url, err)
		}
	}
}

// TestCloneNeverAsks: a server that wants a password gets an error at
// once, never a prompt, an askpass program or the host's credential
// helper, whatever Basalt's own environment sets.
func TestCloneNeverAsks(t *testing.T) {
	newGitRepo(t) // skips without git
	dir := t.TempDir()
	marker := filepath.Join(dir, "asked")
	script := filepath.Join(dir, "ask.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$0 $*\" >> "+marker+"\necho secret\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GIT_ASKPASS", script)
	t.Setenv("SSH_ASKPASS", script)
	t.Setenv("GIT_CONFIG_PARAMETERS", "'credential.helper'='!"+script+"'")
	t.Setenv("GIT_CONFIG_COUNT", "1")
	t.Setenv("GIT_CONFIG_KEY_0", "core.askPass")
	t.Setenv("GIT_CONFIG_VALUE_0", script)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="x"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := Clone(ctx, GitClone{URL: srv.URL + "/r.git", Dest: filepath.Join(dir, "dest")})
	if err == nil || ctx.Err() != nil {
		t.Fatalf("Clone = %v (context: %v), want git's failure", err, ctx.Err())
	}
	t.Logf("error: %v", err)
	if b, err := os.ReadFile(marker); err == nil {
		t.Errorf("git asked for credentials: %s", b)
	}
}

// TestCloneStalledServerTimesOut: the context (the action's timeout)
// bounds a clone from a server that never answers.
func TestCloneStalledServerTimesOut(t *testing.T) {
	newGitRepo(t) // skips without git
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = Clone(ctx, GitClone{URL: "http://" + ln.Addr().String() + "/r.git", Dest: filepath.Join(t.TempDir(), "d")})
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Errorf("Clone from a stalled server = %v, want the context's deadline", err)
	}
}
