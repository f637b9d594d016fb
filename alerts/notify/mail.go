package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch/alerts"
)

// TLSMode says how the Mailer secures its SMTP connection.
type TLSMode string

// TLS modes.
const (
	// TLSOpportunistic upgrades with STARTTLS when the server offers it
	// (the default). Credentials are never sent in clear text except to a
	// loopback server (net/smtp's rule).
	TLSOpportunistic TLSMode = "starttls"
	// TLSRequired fails when the server does not offer STARTTLS.
	TLSRequired TLSMode = "require_starttls"
	// TLSImplicit speaks TLS from the first byte (SMTPS, port 465).
	TLSImplicit TLSMode = "implicit"
)

// MailConfig configures the Mailer.
type MailConfig struct {
	Addr string // the SMTP server, host:port
	From string // "WardWatch <wardwatch@hospital.example>"
	// Username and Password, when set, authenticate with AUTH PLAIN.
	Username, Password string
	TLS                TLSMode     // "" means TLSOpportunistic
	TLSConfig          *tls.Config // nil: system roots, server name from Addr
	HelloName          string      // EHLO name; default "localhost"
	Timeout            time.Duration
	Retry              Retry
	Metrics            *Metrics
	Logger             *slog.Logger
	Now                func() time.Time
}

// Mailer sends notifications as plain-text e-mail over SMTP, one message
// per notification to its Address. 4xx replies and network errors are
// retried with backoff; 5xx replies (a rejected recipient, bad
// credentials) and certificate errors are permanent.
type Mailer struct {
	addr, host string
	from       *mail.Address
	user, pass string
	mode       TLSMode
	tls        *tls.Config
	hello      string
	timeout    time.Duration
	retry      Retry
	metrics    *Metrics
	log        *slog.Logger
	now        func() time.Time
}

// NewMailer checks cfg and returns the mailer.
func NewMailer(cfg MailConfig) (*Mailer, error) {
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil || host == "" {
		return nil, fmt.Errorf("mailer: %q is not host:port", cfg.Addr)
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("mailer: from address %q: %w", cfg.From, err)
	}
	m := &Mailer{addr: cfg.Addr, host: host, from: from, user: cfg.Username, pass: cfg.Password, mode: cfg.TLS,
		hello: cfg.HelloName, timeout: cfg.Timeout, retry: cfg.Retry.withDefaults(), metrics: cfg.Metrics,
		log: cfg.Logger, now: cfg.Now}
	switch m.mode {
	case "":
		m.mode = TLSOpportunistic
	case TLSOpportunistic, TLSRequired, TLSImplicit:
	default:
		return nil, fmt.Errorf("mailer: unknown TLS mode %q", cfg.TLS)
	}
	if (cfg.Username == "") != (cfg.Password == "") {
		return nil, errors.New("mailer: give both a username and a password, or neither")
	}
	m.tls = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		m.tls = cfg.TLSConfig.Clone()
		if m.tls.ServerName == "" {
			m.tls.ServerName = host
		}
	}
	if m.hello == "" {
		m.hello = "localhost"
	}
	if m.timeout <= 0 {
		m.timeout = 30 * time.Second
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = time.Now
	}
	return m, nil
}

// Send mails n to n.Address, retrying transient failures.
func (m *Mailer) Send(ctx context.Context, n alerts.Notification) error {
	to, err := mail.ParseAddress(n.Address)
	if err != nil {
		err = permanent("recipient %q is not an e-mail address (expand groups before sending)", n.Address)
		m.metrics.attempt(alerts.ChannelEmail, "failed")
		m.metrics.delivery(alerts.ChannelEmail, err, 0)
		return fmt.Errorf("mail: %w", err)
	}
	start := m.now()
	for i := 1; i <= m.retry.Attempts; i++ {
		if i > 1 {
			if serr := sleep(ctx, m.retry.delay(i-1)); serr != nil {
				err = fmt.Errorf("%w (after: %w)", serr, err)
				break
			}
		}
		err = m.attempt(ctx, n, to)
		if err == nil {
			m.metrics.attempt(alerts.ChannelEmail, "ok")
			m.metrics.delivery(alerts.ChannelEmail, nil, m.now().Sub(start))
			return nil
		}
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (after: %w)", cerr, err)
		}
		final := IsPermanent(err) || i == m.retry.Attempts || ctx.Err() != nil
		result := "retry"
		if final {
			result = "failed"
		}
		m.metrics.attempt(alerts.ChannelEmail, result)
		m.log.Warn("mail delivery failed", "server", m.addr, "notification", n.ID, "attempt", i, "final", final, "err", err)
		if final {
			break
		}
	}
	m.metrics.delivery(alerts.ChannelEmail, err, m.now().Sub(start))
	return fmt.Errorf("mail via %s: %w", m.addr, err)
}

// classify marks SMTP 5xx replies and certificate failures permanent.
func classify(step string, err error) error {
	var tp *textproto.Error
	var cert *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	switch {
	case errors.As(err, &tp) && tp.Code >= 500:
		return permanent("%s: %w", step, err)
	case errors.As(err, &cert), errors.As(err, &unknown), errors.As(err, &host):
		return permanent("%s: %w", step, err)
	}
	return fmt.Errorf("%s: %w", step, err)
}

// attempt runs one SMTP session.
func (m *Mailer) attempt(ctx context.Context, n alerts.Notification, to *mail.Address) error {
	d := net.Dialer{Timeout: m.timeout}
	conn, err := d.DialContext(ctx, "tcp", m.addr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	deadline := time.Now().Add(m.timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	// A cancelled context ends the session at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if m.mode == TLSImplicit {
		conn = tls.Client(conn, m.tls)
	}
	c, err := smtp.NewClient(conn, m.host)
	if err != nil {
		conn.Close()
		return classify("greeting", err)
	}
	defer c.Close()
	if err := c.Hello(m.hello); err != nil {
		return classify("EHLO", err)
	}
	if m.mode != TLSImplicit {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(m.tls); err != nil {
				return classify("STARTTLS", err)
			}
		} else if m.mode == TLSRequired {
			return permanent("the server does not offer STARTTLS and TLS is required")
		}
	}
	if m.user != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return permanent("the server offers no AUTH (over this connection) and credentials are configured")
		}
		if err := c.Auth(smtp.PlainAuth("", m.user, m.pass, m.host)); err != nil {
			var tp *textproto.Error
			if errors.As(err, &tp) {
				return classify("AUTH", err)
			}
			return permanent("AUTH: %w", err) // net/smtp refusing clear-text credentials
		}
	}
	if err := c.Mail(m.from.Address); err != nil {
		return classify("MAIL FROM", err)
	}
	if err := c.Rcpt(to.Address); err != nil {
		return classify("RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return classify("DATA", err)
	}
	if _, err := w.Write(m.message(n, to)); err != nil {
		return classify("DATA", err)
	}
	if err := w.Close(); err != nil {
		return classify("DATA", err)
	}
	if err := c.Quit(); err != nil {
		// The message was accepted at the end of DATA.
		m.log.Debug("mail QUIT failed after delivery", "server", m.addr, "err", err)
	}
	return nil
}

// oneLine folds a header value onto one line (no header injection).
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' }), " ")
}

// message renders n as an RFC 5322 message: UTF-8 plain text,
// quoted-printable, auto-generated (RFC 3834, so no auto-replies).
func (m *Mailer) message(n alerts.Notification, to *mail.Address) []byte {
	var b bytes.Buffer
	now := m.now()
	domain := "wardwatch.invalid"
	if i := strings.LastIndexByte(m.from.Address, '@'); i >= 0 {
		domain = m.from.Address[i+1:]
	}
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", m.from.String())
	h("To", to.String())
	h("Subject", mime.QEncoding.Encode("utf-8", oneLine(n.Title)))
	h("Date", now.Format(time.RFC1123Z))
	h("Message-ID", fmt.Sprintf("<%s.%d@%s>", strings.NewReplacer(" ", "", "<", "", ">", "", "@", "").Replace(oneLine(n.ID)), now.UnixNano(), domain))
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	h("Auto-Submitted", "auto-generated")
	h("X-WardWatch-Alert", fmt.Sprint(n.AlertID))
	h("X-WardWatch-Priority", string(n.Priority))
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	body := strings.ReplaceAll(n.Text, "\r\n", "\n")
	_, _ = qp.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n") + "\r\n"))
	_ = qp.Close()
	return b.Bytes()
}
