package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"strings"
	"time"

	"github.com/basalt-lava/basalt/internal/store"
)

// The TLS modes of MailConfig.TLS.
const (
	TLSAuto     = "auto"     // STARTTLS when the server offers it
	TLSStartTLS = "starttls" // STARTTLS required (Django's EMAIL_USE_TLS)
	TLSImplicit = "tls"      // TLS from the first byte, port 465 (EMAIL_USE_SSL)
)

// Recorder keeps which recipients were sent their e-mail (store.Store
// does): each recipient of a job gets one e-mail however many
// transitions match, as LAVA's NotificationRecipient status.
type Recorder interface {
	ClaimNotification(ctx context.Context, job int64, recipient string) (bool, error)
	ReleaseNotification(ctx context.Context, job int64, recipient string) error
}

// MailConfig is the SMTP server e-mail notifications go through (LAVA's
// Django EMAIL_* settings).
type MailConfig struct {
	Server   string // host:port
	From     string // envelope sender and From: (LAVA's SERVER_EMAIL)
	User     string // AUTH PLAIN when set: only over TLS or to a loopback server
	Password string
	TLS      string // TLSAuto (default), TLSStartTLS or TLSImplicit
	// TLSConfig, when set, is cloned for the TLS handshake (ServerName
	// filled in); nil verifies the server against the system's roots.
	TLSConfig *tls.Config
	// Hello is the name given in EHLO (default "localhost", as Go's
	// net/smtp).
	Hello string
	// Sent records what was sent; nil sends on every matching transition.
	Sent Recorder
}

// Check reports a configuration mistake, naming the setting.
func (m *MailConfig) Check() error {
	host, port, err := net.SplitHostPort(m.Server)
	if err != nil || host == "" || port == "" {
		return fmt.Errorf("SMTP server %q: want HOST:PORT", m.Server)
	}
	if err := store.CheckEmail(m.From); err != nil {
		return fmt.Errorf("SMTP sender: %v", err)
	}
	switch m.TLS {
	case "", TLSAuto, TLSStartTLS, TLSImplicit:
	default:
		return fmt.Errorf("SMTP TLS mode %q: want %s, %s or %s", m.TLS, TLSAuto, TLSStartTLS, TLSImplicit)
	}
	if m.Password != "" && m.User == "" {
		return errors.New("an SMTP password needs a user")
	}
	return nil
}

// Mail is one e-mail of a notification.
type Mail struct {
	To      string // a bare address
	Key     string // what Recorder keeps ("email:" + To)
	Subject string
	Body    string
}

// sendMail sends one message through the server, the whole session
// bounded by timeout and ended when ctx is.
func (m *MailConfig) sendMail(ctx context.Context, timeout time.Duration, mail Mail) error {
	host, _, err := net.SplitHostPort(m.Server)
	if err != nil {
		return err
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", m.Server)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	tc := &tls.Config{}
	if m.TLSConfig != nil {
		tc = m.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	if m.TLS == TLSImplicit {
		conn = tls.Client(conn, tc)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return err
	}
	defer c.Close()
	hello := m.Hello
	if hello == "" {
		hello = "localhost"
	}
	if err := c.Hello(hello); err != nil {
		return err
	}
	if m.TLS != TLSImplicit {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tc); err != nil {
				return fmt.Errorf("STARTTLS: %w", err)
			}
		} else if m.TLS == TLSStartTLS {
			return errors.New("the server does not offer STARTTLS, which --smtp-tls starttls requires")
		}
	}
	if m.User != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return errors.New("the server does not offer AUTH, and a user is set")
		}
		if err := c.Auth(smtp.PlainAuth("", m.User, m.Password, host)); err != nil {
			return fmt.Errorf("AUTH: %w", err)
		}
	}
	if err := c.Mail(m.From); err != nil {
		return err
	}
	if err := c.Rcpt(mail.To); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(message(m.From, mail, time.Now())); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// message is the RFC 5322 text of a mail: a UTF-8 plain-text body,
// quoted-printable (no line too long whatever the job's text), the
// subject encoded when it is not plain ASCII (so a description's line
// break cannot add a header).
func message(from string, m Mail, now time.Time) []byte {
	var b bytes.Buffer
	subject := m.Subject
	if enc := mime.QEncoding.Encode("utf-8", subject); enc != subject {
		subject = strings.ReplaceAll(enc, "?= =?", "?=\r\n =?") // fold between encoded words
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%x@basalt>\r\n", from, m.To, subject, now.Format(time.RFC1123Z), id)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(m.Body))
	_ = qp.Close()
	return b.Bytes()
}
