package notify

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
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
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/wardwatch/wardwatch/alerts"
)

// smtpdPython is the python3 that runs testdata/smtpd.py (aiosmtpd, an SMTP
// server none of us wrote): $WARDWATCH_TEST_SMTPD_PYTHON, as printed by
// scripts/ensure-smtpd.sh. Without it the test is skipped, or fails under
// CI=true.
func smtpdPython(t *testing.T) string {
	t.Helper()
	p := os.Getenv("WARDWATCH_TEST_SMTPD_PYTHON")
	if p == "" {
		const msg = "aiosmtpd required: run scripts/ensure-smtpd.sh and set WARDWATCH_TEST_SMTPD_PYTHON to the python3 it prints"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// testCert writes a self-signed certificate for 127.0.0.1 and localhost
// into dir and returns its files and a pool trusting it.
func testCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wardwatch-test-smtpd"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// smtpd is a private aiosmtpd on a loopback port.
type smtpd struct {
	addr    string
	maildir string
	pool    *x509.CertPool
}

// startSMTPD starts aiosmtpd, with STARTTLS and required AUTH when tlsAuth,
// and stops it at the end of the test.
func startSMTPD(t *testing.T, tlsAuth bool) *smtpd {
	t.Helper()
	py := smtpdPython(t)
	dir := t.TempDir()
	s := &smtpd{maildir: filepath.Join(dir, "mail")}
	if err := os.Mkdir(s.maildir, 0o700); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := []string{filepath.Join("testdata", "smtpd.py"), "--port", strconv.Itoa(port), "--maildir", s.maildir}
	if tlsAuth {
		cert, key, pool := testCert(t, dir)
		s.pool = pool
		args = append(args, "--cert", cert, "--key", key, "--user", "wardwatch", "--password", "s3cret-pass")
	}
	cmd := exec.Command(py, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start aiosmtpd: %v", err)
	}
	exited := make(chan struct{})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ok := false
		for sc.Scan() {
			if sc.Text() == "READY" {
				ok = true
				break
			}
		}
		ready <- ok
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("aiosmtpd stderr:\n%s", stderr.String())
		}
	})
	select {
	case ok := <-ready:
		if !ok {
			<-exited
			t.Fatalf("aiosmtpd exited before it was ready:\n%s", stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("aiosmtpd not ready after a minute:\n%s", stderr.String())
	}
	return s
}

type stored struct {
	MailFrom string   `json:"mail_from"`
	RcptTos  []string `json:"rcpt_tos"`
	TLS      bool     `json:"tls"`
	Auth     bool     `json:"auth"`
	msg      *mail.Message
	body     string
}

// messages reads what the server stored, oldest first.
func (s *smtpd) messages(t *testing.T) []stored {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(s.maildir, "*.eml"))
	slices.SortFunc(files, func(a, b string) int {
		na, _ := strconv.Atoi(strings.TrimSuffix(filepath.Base(a), ".eml"))
		nb, _ := strconv.Atoi(strings.TrimSuffix(filepath.Base(b), ".eml"))
		return na - nb
	})
	var out []stored
	for _, f := range files {
		var st stored
		meta, err := os.ReadFile(strings.TrimSuffix(f, ".eml") + ".json")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(meta, &st); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.msg, err = mail.ReadMessage(bytes.NewReader(raw)); err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(quotedprintable.NewReader(st.msg.Body))
		if err != nil {
			t.Fatal(err)
		}
		st.body = string(body)
		out = append(out, st)
	}
	return out
}

func mailer(t *testing.T, cfg MailConfig) *Mailer {
	t.Helper()
	if cfg.From == "" {
		cfg.From = "WardWatch <wardwatch@hospital.example>"
	}
	if cfg.Retry.Attempts == 0 {
		cfg.Retry = Retry{Attempts: 3, Backoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}
	}
	cfg.Timeout = 20 * time.Second
	m, err := NewMailer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func emailNote(to string) alerts.Notification {
	n := note()
	n.Channel, n.Address = alerts.ChannelEmail, to
	return n
}

// TestMailSTARTTLSAndAuth delivers through aiosmtpd with STARTTLS and AUTH
// PLAIN, and checks what a mail client would read.
func TestMailSTARTTLSAndAuth(t *testing.T) {
	srv := startSMTPD(t, true)
	reg := prometheus.NewRegistry()
	metrics, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m := mailer(t, MailConfig{Addr: srv.addr, Username: "wardwatch", Password: "s3cret-pass",
		TLSConfig: &tls.Config{RootCAs: srv.pool}, Metrics: metrics})
	n := emailNote("Pharmacy on call <pharmacy@hospital.example>")
	if err := m.Send(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	msgs := srv.messages(t)
	if len(msgs) != 1 {
		t.Fatalf("%d messages stored", len(msgs))
	}
	got := msgs[0]
	if !got.TLS || !got.Auth || got.MailFrom != "wardwatch@hospital.example" || !slices.Equal(got.RcptTos, []string{"pharmacy@hospital.example"}) {
		t.Errorf("envelope %+v", got)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(got.msg.Header.Get("Subject"))
	if err != nil || subject != n.Title {
		t.Errorf("subject %q (%v), want %q", subject, err, n.Title)
	}
	if got.msg.Header.Get("Auto-Submitted") != "auto-generated" || got.msg.Header.Get("X-WardWatch-Alert") != "7" ||
		!strings.Contains(got.msg.Header.Get("Content-Type"), "utf-8") {
		t.Errorf("headers %v", got.msg.Header)
	}
	if to, _ := got.msg.Header.AddressList("To"); len(to) != 1 || to[0].Address != "pharmacy@hospital.example" {
		t.Errorf("To %v", to)
	}
	if !strings.Contains(got.body, "Temperature above 8.0 °C for 15 min (now 8.6 °C)\r\nState: Unacknowledged.") {
		t.Errorf("body %q", got.body)
	}
	if v := testutil.ToFloat64(metrics.deliveries.WithLabelValues("email", "delivered")); v != 1 {
		t.Errorf("delivered metric %v", v)
	}

	t.Run("wrong password is permanent", func(t *testing.T) {
		m := mailer(t, MailConfig{Addr: srv.addr, Username: "wardwatch", Password: "wrong", TLSConfig: &tls.Config{RootCAs: srv.pool}})
		if err := m.Send(context.Background(), n); err == nil || !IsPermanent(err) {
			t.Errorf("err %v", err)
		}
	})
	t.Run("an untrusted certificate is permanent", func(t *testing.T) {
		m := mailer(t, MailConfig{Addr: srv.addr, Username: "wardwatch", Password: "s3cret-pass"})
		if err := m.Send(context.Background(), n); err == nil || !IsPermanent(err) {
			t.Errorf("err %v", err)
		}
	})
	t.Run("without credentials the server refuses", func(t *testing.T) {
		m := mailer(t, MailConfig{Addr: srv.addr, TLSConfig: &tls.Config{RootCAs: srv.pool}})
		if err := m.Send(context.Background(), n); err == nil || !IsPermanent(err) {
			t.Errorf("err %v", err)
		}
	})
	if n := len(srv.messages(t)); n != 1 {
		t.Errorf("%d messages stored after the refusals", n)
	}
}

// TestMailPlainServer: opportunistic TLS delivers in clear to a loopback
// server without STARTTLS, required TLS refuses, credentials are never
// offered to a server without AUTH, and recipient refusals are permanent
// (5xx) or retried (4xx).
func TestMailPlainServer(t *testing.T) {
	srv := startSMTPD(t, false)
	reg := prometheus.NewRegistry()
	metrics, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := mailer(t, MailConfig{Addr: srv.addr}).Send(context.Background(), emailNote("biomed@hospital.example")); err != nil {
		t.Fatal(err)
	}
	if msgs := srv.messages(t); len(msgs) != 1 || msgs[0].TLS || msgs[0].Auth {
		t.Fatalf("messages %+v", msgs)
	}
	if err := mailer(t, MailConfig{Addr: srv.addr, TLS: TLSRequired}).Send(context.Background(), emailNote("biomed@hospital.example")); err == nil || !IsPermanent(err) {
		t.Errorf("TLS required: %v", err)
	}
	if err := mailer(t, MailConfig{Addr: srv.addr, Username: "u", Password: "p"}).Send(context.Background(), emailNote("biomed@hospital.example")); err == nil || !IsPermanent(err) {
		t.Errorf("credentials without AUTH: %v", err)
	}
	m := mailer(t, MailConfig{Addr: srv.addr, Metrics: metrics})
	if err := m.Send(context.Background(), emailNote("nobody@reject.invalid")); err == nil || !IsPermanent(err) {
		t.Errorf("550: %v", err)
	}
	if err := m.Send(context.Background(), emailNote("someone@busy.invalid")); err == nil || IsPermanent(err) {
		t.Errorf("451: %v", err)
	}
	if v := testutil.ToFloat64(metrics.attempts.WithLabelValues("email", "retry")); v != 2 {
		t.Errorf("retries %v, want 2 (451 three times)", v)
	}
	if v := testutil.ToFloat64(metrics.attempts.WithLabelValues("email", "failed")); v != 2 {
		t.Errorf("failed attempts %v, want 2", v)
	}
	if err := m.Send(context.Background(), emailNote("team")); err == nil || !IsPermanent(err) {
		t.Errorf("group address: %v", err)
	}
	if n := len(srv.messages(t)); n != 1 {
		t.Errorf("%d messages stored", n)
	}
}

// TestMailerConfig refuses bad configurations and folds header injection.
func TestMailerConfig(t *testing.T) {
	for _, c := range []MailConfig{
		{Addr: "smtp.example.org", From: "a@b.c"},
		{Addr: "smtp.example.org:25", From: "not an address"},
		{Addr: "smtp.example.org:25", From: "a@b.c", TLS: "maybe"},
		{Addr: "smtp.example.org:25", From: "a@b.c", Username: "u"},
	} {
		if _, err := NewMailer(c); err == nil {
			t.Errorf("NewMailer(%+v) accepted", c)
		}
	}
	m := mailer(t, MailConfig{Addr: "127.0.0.1:25"})
	n := emailNote("x@hospital.example")
	n.Title = "Door ajar\r\nBcc: victim@example.org"
	msg, err := mail.ReadMessage(bytes.NewReader(m.message(n, &mail.Address{Address: "x@hospital.example"})))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("Bcc") != "" {
		t.Errorf("header injected: %v", msg.Header)
	}
}
