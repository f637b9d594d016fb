package mqtt

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/wardwatch/wardwatch"
)

func validConfig() Config {
	return Config{Broker: "tcp://127.0.0.1:1883", ClientID: "wardwatch", Topics: []string{"espresense/devices/+/+"}}
}

func TestValidateDefaults(t *testing.T) {
	s, err := validate(validConfig())
	if err != nil {
		t.Fatal(err)
	}
	if s.QoS != 1 || s.KeepAlive != 30*time.Second || s.keepSecs != 30 || s.ConnectTimeout != 10*time.Second ||
		s.MinBackoff != time.Second || s.MaxBackoff != 30*time.Second || s.CleanSession || s.tls != nil {
		t.Errorf("defaults not applied: %+v", s)
	}
}

func TestParseBroker(t *testing.T) {
	cases := []struct{ in, want string }{
		{"tcp://127.0.0.1:1883", "tcp://127.0.0.1:1883"},
		{"tcp://broker.example", "tcp://broker.example:1883"},
		{"mqtt://broker.example/", "mqtt://broker.example:1883"},
		{"SSL://broker.example", "ssl://broker.example:8883"},
		{"mqtts://broker.example:8884", "mqtts://broker.example:8884"},
		{"tls://[::1]", "tls://[::1]:8883"},
	}
	for _, c := range cases {
		u, err := parseBroker(c.in)
		if err != nil {
			t.Errorf("parseBroker(%q): %v", c.in, err)
			continue
		}
		if u.String() != c.want {
			t.Errorf("parseBroker(%q) = %q, want %q", c.in, u, c.want)
		}
	}
}

func TestValidateErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string // in the message; it names the field
	}{
		{"no broker", func(c *Config) { c.Broker = "" }, "Broker: is required"},
		{"bad scheme", func(c *Config) { c.Broker = "http://x:1883" }, "Broker: \"http://x:1883\": scheme must be"},
		{"websocket", func(c *Config) { c.Broker = "ws://x:80" }, "scheme must be"},
		{"no scheme", func(c *Config) { c.Broker = "127.0.0.1:1883" }, "Broker"},
		{"credentials in URL", func(c *Config) { c.Broker = "tcp://u:secret@x:1883" }, "Broker: must not contain credentials"},
		{"path", func(c *Config) { c.Broker = "tcp://x:1883/mqtt" }, "want scheme://host[:port]"},
		{"query", func(c *Config) { c.Broker = "tcp://x:1883?a=b" }, "want scheme://host[:port]"},
		{"no host", func(c *Config) { c.Broker = "tcp://:1883" }, "host is missing"},
		{"empty port", func(c *Config) { c.Broker = "tcp://x:" }, "port is empty"},
		{"bad port", func(c *Config) { c.Broker = "tcp://x:port" }, "Broker"},
		{"port out of range", func(c *Config) { c.Broker = "tcp://x:65536" }, "port must be 1-65535"},
		{"port zero", func(c *Config) { c.Broker = "tcp://x:0" }, "port must be 1-65535"},
		{"no client ID", func(c *Config) { c.ClientID = "" }, "ClientID: is required"},
		{"NUL in client ID", func(c *Config) { c.ClientID = "a\x00b" }, "ClientID"},
		{"password without user", func(c *Config) { c.Password = "x" }, "Password: is set but Username is empty"},
		{"bad UTF-8 user", func(c *Config) { c.Username = "\xff" }, "Username"},
		{"no topics", func(c *Config) { c.Topics = nil }, "Topics: at least one"},
		{"empty topic", func(c *Config) { c.Topics = []string{"a/b", ""} }, "Topics[1]"},
		{"hash not last", func(c *Config) { c.Topics = []string{"a/#/b"} }, "'#' must be a whole level and the last one"},
		{"hash in level", func(c *Config) { c.Topics = []string{"a/b#"} }, "'#'"},
		{"plus in level", func(c *Config) { c.Topics = []string{"a/b+/c"} }, "'+' must be a whole level"},
		{"duplicate topic", func(c *Config) { c.Topics = []string{"a/+", "a/+"} }, "listed twice"},
		{"QoS 3", func(c *Config) { c.QoS = 3 }, "QoS: must be 1 or 2"},
		{"negative keepalive", func(c *Config) { c.KeepAlive = -time.Second }, "KeepAlive: must not be negative"},
		{"huge keepalive", func(c *Config) { c.KeepAlive = 100000 * time.Second }, "KeepAlive: must be at most"},
		{"negative timeout", func(c *Config) { c.ConnectTimeout = -1 }, "ConnectTimeout"},
		{"min above max", func(c *Config) { c.MinBackoff, c.MaxBackoff = time.Minute, time.Second }, "MinBackoff: (1m0s) is greater than MaxBackoff (1s)"},
		{"min above default max", func(c *Config) { c.MinBackoff = time.Hour }, "MinBackoff"},
		{"TLS on tcp", func(c *Config) { c.TLS = &tls.Config{} }, "TLS: is set but Broker"},
		{"CA on tcp", func(c *Config) { c.CAFile = notPEM }, "CAFile"},
		{"TLS and files", func(c *Config) { c.Broker = "ssl://x"; c.TLS = &tls.Config{}; c.CAFile = notPEM }, "not both"},
		{"cert without key", func(c *Config) { c.Broker = "ssl://x"; c.CertFile = notPEM }, "CertFile and KeyFile go together"},
		{"missing CA file", func(c *Config) { c.Broker = "ssl://x"; c.CAFile = filepath.Join(dir, "nope.pem") }, "CAFile: open"},
		{"CA not PEM", func(c *Config) { c.Broker = "ssl://x"; c.CAFile = notPEM }, "holds no PEM certificate"},
		{"bad key pair", func(c *Config) { c.Broker = "ssl://x"; c.CertFile, c.KeyFile = notPEM, notPEM }, "CertFile: load client certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mutate(&c)
			_, err := NewSubscriber(c, (&recorder{}).handle, nil, nil)
			if err == nil {
				t.Fatal("no error")
			}
			if wardwatch.ErrorCode(err) != wardwatch.EINVALID {
				t.Errorf("code %q, want %q (%v)", wardwatch.ErrorCode(err), wardwatch.EINVALID, err)
			}
			if msg := wardwatch.ErrorMessage(err); !strings.Contains(msg, tc.want) {
				t.Errorf("message %q does not contain %q", msg, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

func TestValidateTLSFiles(t *testing.T) {
	files := makeTLSFiles(t, t.TempDir())
	c := validConfig()
	c.Broker, c.CAFile, c.CertFile, c.KeyFile = "mqtts://127.0.0.1", files.ca, files.clientCert, files.clientKey
	s, err := validate(c)
	if err != nil {
		t.Fatal(err)
	}
	if s.tls == nil || s.tls.RootCAs == nil || len(s.tls.Certificates) != 1 || s.tls.MinVersion != tls.VersionTLS12 {
		t.Errorf("TLS config not built from the files: %+v", s.tls)
	}
	c = validConfig()
	c.Broker = "ssl://broker.example"
	if s, err = validate(c); err != nil || s.tls == nil || s.tls.RootCAs != nil {
		t.Errorf("ssl:// without TLS settings should use the system roots: %v %+v", err, s)
	}
}

func TestNewSubscriberErrors(t *testing.T) {
	if _, err := NewSubscriber(validConfig(), nil, nil, nil); err == nil {
		t.Error("nil handler accepted")
	}
	reg := prometheus.NewRegistry()
	if _, err := NewSubscriber(validConfig(), (&recorder{}).handle, nil, reg); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSubscriber(validConfig(), (&recorder{}).handle, nil, reg); err == nil {
		t.Error("second registration on the same registry accepted")
	}
}

func TestBackoff(t *testing.T) {
	s, err := NewSubscriber(validConfig(), (&recorder{}).handle, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		attempt int
		max     time.Duration
	}{
		{0, time.Second}, {1, 2 * time.Second}, {2, 4 * time.Second}, {4, 16 * time.Second},
		{5, 30 * time.Second}, {6, 30 * time.Second}, {1000, 30 * time.Second},
	}
	for _, c := range cases {
		for range 100 {
			d := s.backoff(c.attempt)
			if d < c.max/2 || d > c.max {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", c.attempt, d, c.max/2, c.max)
			}
		}
	}
}

func FuzzValidate(f *testing.F) {
	f.Add("tcp://127.0.0.1:1883", "espresense/devices/+/+", "wardwatch")
	f.Add("mqtts://[::1]", "home/+/BTtoMQTT/#", "c")
	f.Add("ssl://u:p@x:1/", "#", "")
	f.Add("tcp://x:99999", "a/+b/#/", "\x00")
	f.Add("%zz", "+/+/+", "id")
	f.Fuzz(func(t *testing.T, broker, topic, clientID string) {
		c := Config{Broker: broker, ClientID: clientID, Topics: []string{topic}}
		if strings.HasPrefix(strings.ToLower(broker), "ssl") || strings.HasPrefix(strings.ToLower(broker), "tls") || strings.HasPrefix(strings.ToLower(broker), "mqtts") {
			c.TLS = &tls.Config{} // never touch the system roots from a fuzz run
		}
		s, err := validate(c)
		if err != nil {
			if wardwatch.ErrorCode(err) != wardwatch.EINVALID {
				t.Fatalf("error without EINVALID: %v", err)
			}
			return
		}
		if s.broker.User != nil || s.broker.Port() == "" {
			t.Fatalf("accepted broker %q as %q", broker, s.broker)
		}
		if _, err := parseBroker(s.broker.String()); err != nil {
			t.Fatalf("normalised broker %q does not parse again: %v", s.broker, err)
		}
	})
}
