package influx

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// influxdEnv names the influxd binary the tests run (scripts/ensure-influxdb.sh
// prints one).
const influxdEnv = "WARDWATCH_TEST_INFLUXD"

// influxdBinary returns the InfluxDB 1.8 binary, skipping the test without
// one, or failing it when CI=true.
func influxdBinary(tb testing.TB) string {
	tb.Helper()
	bin := os.Getenv(influxdEnv)
	if bin == "" {
		const msg = influxdEnv + " is not set: run scripts/ensure-influxdb.sh and set it to the influxd it prints"
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	if _, err := os.Stat(bin); err != nil {
		tb.Fatalf("%s=%s: %v", influxdEnv, bin, err)
	}
	return bin
}

// influxd is a private InfluxDB 1.8 server on loopback ports, its data in
// a test's temporary directory. It can be stopped and started again on the
// same data and ports.
type influxd struct {
	bin      string
	dir      string
	conf     string
	httpPort int
	auth     bool
	cmd      *exec.Cmd
	exited   chan struct{}
	log      *os.File
}

// freePort returns a loopback TCP port nobody listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startInfluxd starts a server of the test's own (with authentication
// when auth is true: the tests' admin is "admin"/"s3cret") and stops it when
// the test ends.
func startInfluxd(tb testing.TB, auth bool) *influxd {
	tb.Helper()
	bin := influxdBinary(tb)
	d, err := launchInfluxd(bin, tb.TempDir(), auth)
	if d != nil {
		tb.Cleanup(d.close)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

var (
	sharedOnce sync.Once
	shared     *influxd
	sharedErr  error
)

// sharedInfluxd returns the package's shared server, with authentication
// on, started on first use and stopped by TestMain. Tests on it use
// databases of their own.
func sharedInfluxd(tb testing.TB) *influxd {
	tb.Helper()
	bin := influxdBinary(tb)
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wardwatch-influxd-")
		if err != nil {
			sharedErr = err
			return
		}
		shared, sharedErr = launchInfluxd(bin, dir, true)
	})
	if sharedErr != nil {
		tb.Fatal(sharedErr)
	}
	return shared
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.close()
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// launchInfluxd writes a configuration for a server on free loopback ports
// with its data in dir, and starts it. On error, the returned server (if
// any) must still be closed.
func launchInfluxd(bin, dir string, auth bool) (*influxd, error) {
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	rpcPort, err := freePort()
	if err != nil {
		return nil, err
	}
	d := &influxd{bin: bin, dir: dir, httpPort: httpPort, auth: auth}
	d.conf = filepath.Join(d.dir, "influxd.conf")
	conf := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = %q
[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:%d"
  flux-enabled = true
  auth-enabled = %v
  log-enabled = false
  max-body-size = 0
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
[logging]
  level = "warn"
`, rpcPort, filepath.Join(d.dir, "meta"), filepath.Join(d.dir, "data"), filepath.Join(d.dir, "wal"), d.httpPort, auth)
	if err := os.WriteFile(d.conf, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	if d.log, err = os.Create(filepath.Join(d.dir, "influxd.log")); err != nil {
		return nil, err
	}
	if err := d.launch(); err != nil {
		return d, err
	}
	if auth {
		// With no user yet, InfluxDB lets the first admin be created.
		if _, err := d.query(`CREATE USER admin WITH PASSWORD 's3cret' WITH ALL PRIVILEGES`); err != nil {
			return d, err
		}
	}
	return d, nil
}

// close stops the server and closes its log.
func (d *influxd) close() {
	d.halt()
	d.log.Close()
}

func (d *influxd) url() string { return fmt.Sprintf("http://127.0.0.1:%d", d.httpPort) }

// token is the 1.8 compatibility token for the server.
func (d *influxd) token() string {
	if d.auth {
		return "admin:s3cret"
	}
	return ""
}

// start starts the server again (same data, same ports), failing the test
// if it does not come up.
func (d *influxd) start(tb testing.TB) {
	tb.Helper()
	if err := d.launch(); err != nil {
		tb.Fatal(err)
	}
}

// stop stops the server.
func (d *influxd) stop(tb testing.TB) { d.halt() }

// launch runs influxd and waits until it answers /ping.
func (d *influxd) launch() error {
	cmd := exec.Command(d.bin, "run", "-config", d.conf)
	cmd.Stdout, cmd.Stderr = d.log, d.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start influxd: %w", err)
	}
	d.cmd, d.exited = cmd, make(chan struct{})
	exited := d.exited
	go func() { cmd.Wait(); close(exited) }() // ends when influxd does; halt waits for it
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(d.url() + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return nil
			}
		}
		select {
		case <-exited:
			d.cmd = nil
			return fmt.Errorf("influxd exited at start:\n%s", d.logTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("influxd did not answer /ping within 90 s:\n%s", d.logTail())
		}
	}
}

// halt stops influxd (SIGTERM, then SIGKILL after 30 s) and waits for it.
func (d *influxd) halt() {
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
	}
	d.cmd = nil
}

func (d *influxd) logTail() string {
	b, _ := os.ReadFile(d.log.Name())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// exec runs an InfluxQL statement through /query, failing the test on an
// error.
func (d *influxd) exec(tb testing.TB, stmt string) string {
	tb.Helper()
	body, err := d.query(stmt)
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

// query runs an InfluxQL statement through /query.
func (d *influxd) query(stmt string) (string, error) {
	form := url.Values{"q": {stmt}}
	req, _ := http.NewRequest(http.MethodPost, d.url()+"/query", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if d.auth {
		req.SetBasicAuth("admin", "s3cret")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("influxd %q: %w", stmt, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || bytes.Contains(body, []byte(`"error"`)) {
		return "", fmt.Errorf("influxd %q: %s: %s", stmt, resp.Status, body)
	}
	return string(body), nil
}

var dbSeq atomic.Int64

// newDatabase creates a fresh database and returns its 1.8 bucket name
// ("db/autogen").
func (d *influxd) newDatabase(tb testing.TB) string {
	tb.Helper()
	db := fmt.Sprintf("ww%d", dbSeq.Add(1))
	d.exec(tb, "CREATE DATABASE "+db)
	return db + "/autogen"
}

// testConfig is a store configuration for d's bucket with short waits.
func testConfig(tb testing.TB, d *influxd, bucket string) Config {
	return Config{
		URL: d.url(), Token: d.token(), Bucket: bucket,
		SpoolDir:         filepath.Join(tb.TempDir(), "spool"),
		FlushInterval:    20 * time.Millisecond,
		MinRetryInterval: 20 * time.Millisecond,
		MaxRetryInterval: 200 * time.Millisecond,
		Timeout:          10 * time.Second,
	}
}

// runStore runs s's sender until the test ends, then checks that Run
// returned and closes s.
func runStore(tb testing.TB, s *Store) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			tb.Errorf("Run did not return 30 s after its context was cancelled")
		}
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
}
