package xmlrpc

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// peerServer registers the methods peer.py calls.
func peerServer() *Server {
	s := NewServer()
	s.Register("echo", func(_ context.Context, params []any) (any, error) { return params, nil })
	s.Register("sample", func(context.Context, []any) (any, error) {
		return Struct{
			{"id", 12},
			{"big", int64(1) << 40},
			{"health_check", false},
			{"description", "café ☕ 𝄞 & <b>"},
			{"ratio", 0.5},
			{"submit_time", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
			{"end_time", nil},
			{"log", []byte("- {lvl: info}\n")},
			{"tags", []string{"qemu", "x86"}},
			{"nested", map[string]any{"b": []any{1, "two", nil}, "a": Struct{}}},
		}, nil
	})
	s.Register("crlf", func(context.Context, []any) (any, error) { return "a\r\nb", nil })
	s.Register("big", func(context.Context, []any) (any, error) {
		return []int64{1 << 31, 1 << 40, -1 << 63}, nil
	})
	s.Register("whoami", func(ctx context.Context, _ []any) (any, error) {
		c, ok := CredentialsFrom(ctx)
		if !ok {
			return nil, nil
		}
		return c.User + ":" + c.Token, nil
	})
	s.RegisterMethod("fault", Method{
		Func: func(context.Context, []any) (any, error) {
			return nil, Faultf(CodeNotFound, "Job '%d' was not found.", 999)
		},
		Help:      "Always fails with a 404 fault.",
		Signature: [][]string{{"nil"}},
	})
	s.Register("boom", func(context.Context, []any) (any, error) { return nil, errors.New("disk full") })
	s.Register("panic", func(context.Context, []any) (any, error) { panic("index out of range") })
	return s
}

// TestPythonPeer runs Python's own xmlrpc.client (standard library) against
// the Server over HTTP on 127.0.0.1: the client every LAVA tool is built on.
func TestPythonPeer(t *testing.T) {
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skipf("skipping the Python xmlrpc.client peer: %s is absent (%v)", python, err)
	}
	srv := httptest.NewServer(peerServer())
	defer srv.Close()
	// A token with characters lavacli users have: the URL escapes them and
	// Python unescapes before building the Basic header.
	url := strings.Replace(srv.URL, "http://", "http://alice:s3cr%40t%3Ax@", 1) + "/RPC2"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "testdata/peer.py", url)
	cmd.Env = append(os.Environ(), "PYTHONIOENCODING=utf-8", "PYTHONPATH=")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s testdata/peer.py %s: %v\nstdout:\n%s\nstderr:\n%s", python, url, err, got, stderr.String())
	}
	golden(t, "testdata/python-peer.golden", got)
}

func TestServeHTTP(t *testing.T) {
	s := peerServer()
	s.Register("nul", func(context.Context, []any) (any, error) { return "a\x00b", nil })
	srv := httptest.NewServer(s)
	defer srv.Close()
	post := func(body string) (int, string, string) {
		t.Helper()
		resp, err := http.Post(srv.URL+"/RPC2", "text/xml", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		if _, err := io.Copy(&b, resp.Body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get("Content-Type"), b.String()
	}
	for _, tc := range []struct {
		name, body, want string
	}{
		{"malformed", "<methodCall>", "<int>-32600</int></value>\n</member>\n<member>\n<name>faultString</name>\n<value><string>Unable to decode request: at byte 12: XML syntax error on line 1: unexpected EOF"},
		{"too big", call("<string>" + strings.Repeat("x", DefaultMaxBodyBytes) + "</string>"), "larger than MaxBodyBytes (16777216 bytes)"},
		{"base64 echo", "<methodCall><methodName>echo</methodName><params><param><value><base64>AA==</base64></value></param></params></methodCall>", "<base64>AA==</base64>"},
		{"unencodable reply", "<methodCall><methodName>nul</methodName></methodCall>", "<int>-32603</int></value>\n</member>\n<member>\n<name>faultString</name>\n<value><string>Internal Server Error (contact server administrator for details): encoding the reply: string holds U+0000 at byte 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, ctype, body := post(tc.body)
			if code != http.StatusOK || ctype != "application/xml; charset=utf-8" || !strings.Contains(body, tc.want) {
				t.Errorf("POST %.60q = %d %q\n%s\nwant 200 application/xml; charset=utf-8 with %q", tc.body, code, ctype, body, tc.want)
			}
		})
	}
	resp, err := http.Get(srv.URL + "/RPC2")
	if err != nil {
		t.Fatal(err)
	}
	help, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(help), "  system.listMethods\n") || !strings.Contains(string(help), "  echo\n") {
		t.Errorf("GET /RPC2 = %d %q, want 200 and the method list", resp.StatusCode, help)
	}
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/RPC2", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PUT /RPC2 = %d, want 405", resp.StatusCode)
	}
}

// TestGzipAndClose: a large reply is gzipped when the client accepts it (and
// only then), a gzipped request is inflated, "close" answers nil, and a
// wrong argument count is LAVA's -32603.
func TestGzipAndClose(t *testing.T) {
	s := peerServer()
	srv := httptest.NewServer(s)
	defer srv.Close()
	big := strings.Repeat("x", 4000)
	do := func(body []byte, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/RPC2", bytes.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		// A Transport that does not add (and strip) gzip by itself.
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r io.Reader = resp.Body
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			r = zr
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}
	echo, _ := MarshalCall("echo", big)
	resp, body := do(echo, map[string]string{"Accept-Encoding": "gzip"})
	if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(body, big) {
		t.Errorf("gzip accepted: Content-Encoding %q, body has the string: %v", resp.Header.Get("Content-Encoding"), strings.Contains(body, big))
	}
	resp, body = do(echo, map[string]string{"Accept-Encoding": "gzip;q=0"})
	if resp.Header.Get("Content-Encoding") != "" || !strings.Contains(body, big) {
		t.Errorf("gzip;q=0: Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	var zbuf bytes.Buffer
	zw := gzip.NewWriter(&zbuf)
	_, _ = zw.Write(echo)
	_ = zw.Close()
	if _, body = do(zbuf.Bytes(), map[string]string{"Content-Encoding": "gzip"}); !strings.Contains(body, big) {
		t.Errorf("gzipped request: %.200s", body)
	}
	if _, body = do([]byte("<methodCall><methodName>close</methodName></methodCall>"), nil); !strings.Contains(body, "<nil/>") {
		t.Errorf("close: %s", body)
	}
	listArgs, _ := MarshalCall("system.listMethods", "x")
	if _, body = do(listArgs, nil); !strings.Contains(body, "<int>-32603</int>") || !strings.Contains(body, "system.listMethods() takes 0 positional arguments but 1 was given") {
		t.Errorf("listMethods with an argument: %s", body)
	}
}

func TestCheckArgs(t *testing.T) {
	for _, tc := range []struct {
		n, min, max int
		want        string
	}{
		{1, 1, 1, ""},
		{0, 1, 1, "f() missing 1 required positional argument"},
		{0, 2, 3, "f() missing 2 required positional arguments"},
		{2, 1, 1, "f() takes 1 positional argument but 2 were given"},
		{4, 1, 3, "f() takes from 1 to 3 positional arguments but 4 were given"},
	} {
		err := CheckArgs("f", make([]any, tc.n), tc.min, tc.max)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%d in [%d,%d]: %v", tc.n, tc.min, tc.max, err)
			}
			continue
		}
		var f *Fault
		if !errors.As(err, &f) || f.Code != CodeInternalError || !strings.HasSuffix(f.String, ": "+tc.want) {
			t.Errorf("%d in [%d,%d] = %v, want -32603 ending %q", tc.n, tc.min, tc.max, err, tc.want)
		}
	}
}

// TestCredentials pins what methods see of the Authorization header: a
// valid Basic pair, or nothing (a malformed header is not judged here; LAVA
// answers it with HTTP 400 and a server wrapping this Handler decides).
func TestCredentials(t *testing.T) {
	s := NewServer()
	s.Register("who", func(ctx context.Context, _ []any) (any, error) {
		c, ok := CredentialsFrom(ctx)
		r := RequestFrom(ctx)
		return []any{ok, c.User, c.Token, r != nil && r.URL.Path == "/RPC2"}, nil
	})
	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, tc := range []struct {
		name, header, want string
	}{
		{"none", "", "<boolean>0</boolean></value>\n<value><string></string></value>\n<value><string></string></value>\n<value><boolean>1</boolean>"},
		{"basic", "Basic YWxpY2U6czNjcjpldA==", "<boolean>1</boolean></value>\n<value><string>alice</string></value>\n<value><string>s3cr:et</string></value>\n<value><boolean>1</boolean>"},
		{"bad base64", "Basic !!!", "<boolean>0</boolean>"},
		{"bearer", "Bearer abc", "<boolean>0</boolean>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, _ := MarshalCall("who")
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/RPC2", strings.NewReader(string(body)))
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b strings.Builder
			_, _ = io.Copy(&b, resp.Body)
			if !strings.Contains(b.String(), tc.want) {
				t.Errorf("Authorization %q: reply\n%s\nwant it to contain %q", tc.header, b.String(), tc.want)
			}
		})
	}
}
