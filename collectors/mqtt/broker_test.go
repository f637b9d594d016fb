package mqtt

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// mosquittoBinary finds the Mosquitto broker: $WARDWATCH_TEST_MOSQUITTO,
// then PATH, then /usr/sbin. When there is none the test fails under
// CI=true and is skipped otherwise.
func mosquittoBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("WARDWATCH_TEST_MOSQUITTO"); p != "" {
		return p
	}
	return findTool(t, "mosquitto", "/usr/sbin/mosquitto")
}

// findTool looks name up in PATH, then at the fallback paths.
func findTool(t *testing.T, name string, fallback ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, p := range fallback {
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("%s not found (set WARDWATCH_TEST_MOSQUITTO or run scripts/ensure-mosquitto.sh)", name)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// brokerOptions configures a test broker.
type brokerOptions struct {
	port  int               // 0 picks a free loopback port
	users map[string]string // non-empty: password file, no anonymous access
	tls   *tlsFiles         // non-nil: a TLS listener requiring a client certificate
}

// testBroker is a private Mosquitto on a loopback port, with persistence in
// a temporary directory so that sessions survive a restart.
type testBroker struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	conf string
	log  string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// newBroker writes the configuration of a broker without starting it.
func newBroker(t *testing.T, opts brokerOptions) *testBroker {
	t.Helper()
	b := &testBroker{t: t, bin: mosquittoBinary(t), dir: t.TempDir(), port: opts.port}
	if b.port == 0 {
		b.port = freePort(t)
	}
	b.conf = filepath.Join(b.dir, "mosquitto.conf")
	b.log = filepath.Join(b.dir, "mosquitto.log")
	var c strings.Builder
	fmt.Fprintf(&c, "listener %d 127.0.0.1\n", b.port)
	if opts.tls != nil {
		fmt.Fprintf(&c, "cafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate true\n",
			opts.tls.ca, opts.tls.serverCert, opts.tls.serverKey)
	}
	if len(opts.users) > 0 {
		passwd := filepath.Join(b.dir, "passwd")
		tool := findTool(t, "mosquitto_passwd", "/usr/bin/mosquitto_passwd")
		create := "-c"
		for user, pass := range opts.users {
			args := []string{"-b", passwd, user, pass}
			if create != "" {
				args = append([]string{create}, args...)
				create = ""
			}
			if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
				t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
			}
		}
		fmt.Fprintf(&c, "allow_anonymous false\npassword_file %s\n", passwd)
	} else {
		c.WriteString("allow_anonymous true\n")
	}
	fmt.Fprintf(&c, "persistence true\npersistence_location %s/\nautosave_interval 1\n", b.dir)
	c.WriteString("max_queued_messages 10000\n")
	c.WriteString("log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n")
	if os.Geteuid() == 0 {
		c.WriteString("user root\n") // else it switches to user mosquitto and cannot read our temporary files
	}
	if err := os.WriteFile(b.conf, []byte(c.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.stop()
		if t.Failed() {
			if out, err := os.ReadFile(b.log); err == nil {
				t.Logf("mosquitto log:\n%s", out)
			}
		}
	})
	return b
}

// startBroker starts a new test broker and waits until it accepts
// connections.
func startBroker(t *testing.T, opts brokerOptions) *testBroker {
	t.Helper()
	b := newBroker(t, opts)
	b.start()
	return b
}

// url is the broker's URL with the given scheme ("tcp" or "ssl").
func (b *testBroker) url(scheme string) string {
	return fmt.Sprintf("%s://127.0.0.1:%d", scheme, b.port)
}

// start starts the broker process and waits until it accepts connections.
func (b *testBroker) start() {
	b.t.Helper()
	logf, err := os.OpenFile(b.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(b.bin, "-c", b.conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("start mosquitto: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	b.mu.Lock()
	b.cmd, b.exited = cmd, exited
	b.mu.Unlock()

	for deadline := time.Now().Add(15 * time.Second); ; {
		select {
		case <-exited:
			out, _ := os.ReadFile(b.log)
			b.t.Fatalf("mosquitto exited at start:\n%s", out)
		default:
		}
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b.stop()
			b.t.Fatalf("mosquitto does not accept connections on port %d: %v", b.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop stops the broker with SIGTERM (so it saves its persistence file) and
// waits for it to exit, killing it if it takes too long.
func (b *testBroker) stop() {
	b.mu.Lock()
	cmd, exited := b.cmd, b.exited
	b.cmd = nil
	b.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// restart stops the broker and starts it again on the same port with the
// same persistence directory.
func (b *testBroker) restart() {
	b.t.Helper()
	b.stop()
	b.start()
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// tlsFiles are PEM files of a test CA, a server certificate for 127.0.0.1
// and a client certificate, all signed by that CA.
type tlsFiles struct {
	ca, serverCert, serverKey, clientCert, clientKey string
}

// makeTLSFiles generates a CA, a server certificate (IP SAN 127.0.0.1) and
// a client certificate into dir.
func makeTLSFiles(t *testing.T, dir string) *tlsFiles {
	t.Helper()
	f := &tlsFiles{
		ca:         filepath.Join(dir, "ca.pem"),
		serverCert: filepath.Join(dir, "server.pem"),
		serverKey:  filepath.Join(dir, "server-key.pem"),
		clientCert: filepath.Join(dir, "client.pem"),
		clientKey:  filepath.Join(dir, "client-key.pem"),
	}
	now := time.Now()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "WardWatch test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, f.ca, "CERTIFICATE", caDER)

	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, certPath, keyPath string) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		if usage == x509.ExtKeyUsageServerAuth {
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
			tmpl.DNSNames = []string{"localhost"}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		writePEM(t, certPath, "CERTIFICATE", der)
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		writePEM(t, keyPath, "PRIVATE KEY", keyDER)
	}
	leaf(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, f.serverCert, f.serverKey)
	leaf(3, "wardwatch-test-client", x509.ExtKeyUsageClientAuth, f.clientCert, f.clientKey)
	return f
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use (a log sink).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls cond every 10 ms until it holds, failing the test with
// what after the (generous) limit; the limit only guards against hangs.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var errTimeout = errors.New("timeout")
