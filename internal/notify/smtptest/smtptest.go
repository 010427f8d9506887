// Package smtptest runs a real SMTP server for tests: Debian's aiosmtpd
// (python3-aiosmtpd, `python3 -m aiosmtpd`) on 127.0.0.1 with its Mailbox
// handler, each message it accepts written to a Maildir the test reads
// back. Tests skip when aiosmtpd is not installed, except under
// BASALT_E2E=1 (make test, so CI), where that fails them.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// Python is Debian's interpreter, which has aiosmtpd when
// python3-aiosmtpd is installed (a pyenv python3 on PATH may not).
const Python = "/usr/bin/python3"

// Sink is a running aiosmtpd.
type Sink struct {
	Addr string // 127.0.0.1:port
	Dir  string // its Maildir
	// TLS is a client configuration trusting the sink's certificate (set
	// when started WithSTARTTLS).
	TLS *tls.Config
}

// Options of Start.
type Options struct {
	// STARTTLS makes the sink offer STARTTLS with a self-signed
	// certificate for 127.0.0.1 and refuse mail before it (aiosmtpd's
	// require_starttls).
	STARTTLS bool
}

// Start runs aiosmtpd until the test ends.
func Start(t *testing.T, o Options) *Sink {
	t.Helper()
	if err := exec.Command(Python, "-c", "import aiosmtpd").Run(); err != nil {
		if os.Getenv("BASALT_E2E") == "1" {
			t.Fatal("aiosmtpd is not installed (apt-get install python3-aiosmtpd, or make deps) (BASALT_E2E=1: required)")
		}
		t.Skip("aiosmtpd is not installed (apt-get install python3-aiosmtpd, or make deps)")
	}
	dir := t.TempDir()
	s := &Sink{Dir: filepath.Join(dir, "maildir")}
	args := []string{"-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Mailbox"}
	if o.STARTTLS {
		cert, key, pool := selfSigned(t, dir)
		args = append(args, "--tlscert", cert, "--tlskey", key)
		s.TLS = &tls.Config{RootCAs: pool}
	}
	for attempt := 0; ; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s.Addr = l.Addr().String()
		l.Close()
		var stderr bytes.Buffer
		cmd := exec.Command(Python, append(args, "-l", s.Addr, s.Dir)...)
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		if waitListening(s.Addr, exited) {
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
			})
			return s
		}
		_ = cmd.Process.Kill()
		<-exited
		if attempt == 2 {
			t.Fatalf("aiosmtpd on %s did not start: %s", s.Addr, stderr.String())
		}
	}
}

// waitListening waits until addr accepts connections, or the process
// exits, or a minute passes.
func waitListening(addr string, exited chan struct{}) bool {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// Message is one mail the sink accepted.
type Message struct {
	Header  mail.Header
	Subject string // decoded
	RcptTo  string // the envelope recipients (aiosmtpd's X-RcptTo)
	Body    string // decoded from quoted-printable
	Raw     []byte
}

// Messages returns the mails accepted so far, by file name (delivery
// order within a second is not kept by Maildir names).
func (s *Sink) Messages(t *testing.T) []Message {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.Dir, "new"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	var out []Message
	for _, n := range names {
		raw, err := os.ReadFile(filepath.Join(s.Dir, "new", n))
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		var body []byte
		if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body, err = io.ReadAll(quotedprintable.NewReader(m.Body))
		} else {
			body, err = io.ReadAll(m.Body)
		}
		if err != nil {
			t.Fatalf("%s: body: %v", n, err)
		}
		subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		if err != nil {
			t.Fatalf("%s: subject: %v", n, err)
		}
		out = append(out, Message{Header: m.Header, Subject: subject, RcptTo: m.Header.Get("X-RcptTo"),
			Body: strings.ReplaceAll(string(body), "\r\n", "\n"), Raw: raw})
	}
	return out
}

// Wait returns the mails once there are at least n, failing the test
// after a minute.
func (s *Sink) Wait(t *testing.T, n int) []Message {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ms := s.Messages(t)
		if len(ms) >= n {
			return ms
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mails after a minute, want %d", len(ms), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// selfSigned writes a certificate and key for 127.0.0.1 into dir.
func selfSigned(t *testing.T, dir string) (cert, key string, pool *x509.CertPool) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return cert, key, pool
}
