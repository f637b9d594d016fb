package mqtt

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardwatch/wardwatch"
)

// Defaults applied by NewSubscriber to zero fields of Config.
const (
	DefaultQoS            = 1
	DefaultKeepAlive      = 30 * time.Second
	DefaultConnectTimeout = 10 * time.Second
	DefaultMinBackoff     = time.Second
	DefaultMaxBackoff     = 30 * time.Second
)

// maxStringLen is the longest string MQTT can carry (a 16-bit length prefix).
const maxStringLen = 65535

// Config says which broker to connect to, as whom, and what to subscribe to.
type Config struct {
	// Broker is the broker URL: "tcp://host:1883" (or "mqtt://") for plain
	// TCP, "ssl://host:8883" (or "tls://", "mqtts://") for TLS. A missing
	// port defaults to 1883 or 8883. Credentials in the URL are not
	// accepted: use Username and Password.
	Broker string
	// ClientID identifies the session on the broker. Required and stable:
	// with CleanSession false the broker keeps our subscriptions and queues
	// QoS 1 messages under this ID while we are away. Two processes with the
	// same ClientID knock each other off the broker.
	ClientID string
	// Username and Password authenticate to the broker; both empty means
	// anonymous. The password is never logged.
	Username, Password string
	// TLS is the TLS configuration for an ssl:// broker. Nil uses the system
	// roots (or CAFile, CertFile and KeyFile when set). It must be nil for a
	// tcp:// broker.
	TLS *tls.Config
	// CAFile is a PEM bundle of CAs to trust instead of the system roots;
	// CertFile and KeyFile a PEM client certificate and key, both or
	// neither. They are an alternative to TLS (for config files) and are
	// read once, by NewSubscriber.
	CAFile, CertFile, KeyFile string
	// Topics are the subscription filters, e.g. "espresense/devices/+/+".
	// At least one.
	Topics []string
	// QoS is the subscription QoS, 1 (the default, also used for 0) or 2.
	// QoS 0 is not offered: the broker would neither queue messages for us
	// while we are away nor redeliver the ones in flight when a connection
	// drops.
	QoS byte
	// CleanSession, when true, asks the broker to forget our session at each
	// connect. The default (false) keeps subscriptions and queued QoS 1
	// messages across disconnects and, with broker persistence, restarts.
	CleanSession bool
	// KeepAlive is the MQTT keep-alive interval, default 30s; whole seconds
	// (it is rounded up).
	KeepAlive time.Duration
	// ConnectTimeout bounds one connection attempt (dial, TLS and the MQTT
	// handshake) and waiting for the broker to acknowledge a subscription.
	// Default 10s.
	ConnectTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between connection attempts,
	// which doubles from MinBackoff up to MaxBackoff; each wait is picked at
	// random between half and all of that (jitter). Defaults 1s and 30s.
	MinBackoff, MaxBackoff time.Duration
}

// settings is a validated Config with defaults applied and files loaded.
type settings struct {
	Config
	broker   *url.URL // normalised: explicit port, no credentials
	tls      *tls.Config
	keepSecs int64
}

// invalid returns the error NewSubscriber reports for a bad Config field.
func invalid(field, format string, args ...any) error {
	return wardwatch.Errorf(wardwatch.EINVALID, "mqtt %s: %s", field, fmt.Sprintf(format, args...))
}

// validate checks cfg, applies defaults and loads the TLS files.
func validate(cfg Config) (*settings, error) {
	s := &settings{Config: cfg}
	s.Topics = append([]string(nil), cfg.Topics...)

	u, err := parseBroker(cfg.Broker)
	if err != nil {
		return nil, err
	}
	s.broker = u
	secure := u.Scheme == "ssl" || u.Scheme == "tls" || u.Scheme == "mqtts"

	switch {
	case cfg.ClientID == "":
		return nil, invalid("ClientID", "is required (a stable ID, so the broker keeps our session)")
	case len(cfg.ClientID) > maxStringLen || !utf8.ValidString(cfg.ClientID) || strings.ContainsRune(cfg.ClientID, 0):
		return nil, invalid("ClientID", "must be valid UTF-8 without NUL, at most %d bytes", maxStringLen)
	case len(cfg.Username) > maxStringLen || !utf8.ValidString(cfg.Username) || strings.ContainsRune(cfg.Username, 0):
		return nil, invalid("Username", "must be valid UTF-8 without NUL, at most %d bytes", maxStringLen)
	case len(cfg.Password) > maxStringLen:
		return nil, invalid("Password", "is longer than %d bytes", maxStringLen)
	case cfg.Password != "" && cfg.Username == "":
		return nil, invalid("Password", "is set but Username is empty")
	}

	if len(cfg.Topics) == 0 {
		return nil, invalid("Topics", "at least one subscription filter is required")
	}
	seen := make(map[string]bool, len(cfg.Topics))
	for i, f := range cfg.Topics {
		if err := validFilter(f); err != nil {
			return nil, invalid(fmt.Sprintf("Topics[%d]", i), "%q: %v", f, err)
		}
		if seen[f] {
			return nil, invalid(fmt.Sprintf("Topics[%d]", i), "%q is listed twice", f)
		}
		seen[f] = true
	}

	switch cfg.QoS {
	case 0:
		s.QoS = DefaultQoS
	case 1, 2:
	default:
		return nil, invalid("QoS", "must be 1 or 2, not %d", cfg.QoS)
	}

	durations := []struct {
		field string
		v     *time.Duration
		def   time.Duration
	}{
		{"KeepAlive", &s.KeepAlive, DefaultKeepAlive},
		{"ConnectTimeout", &s.ConnectTimeout, DefaultConnectTimeout},
		{"MinBackoff", &s.MinBackoff, DefaultMinBackoff},
		{"MaxBackoff", &s.MaxBackoff, DefaultMaxBackoff},
	}
	for _, d := range durations {
		if *d.v < 0 {
			return nil, invalid(d.field, "must not be negative, got %v", *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if s.KeepAlive > maxStringLen*time.Second {
		return nil, invalid("KeepAlive", "must be at most %v, got %v", maxStringLen*time.Second, s.KeepAlive)
	}
	s.keepSecs = int64((s.KeepAlive + time.Second - 1) / time.Second)
	if s.MinBackoff > s.MaxBackoff {
		return nil, invalid("MinBackoff", "(%v) is greater than MaxBackoff (%v)", s.MinBackoff, s.MaxBackoff)
	}

	files := cfg.CAFile != "" || cfg.CertFile != "" || cfg.KeyFile != ""
	switch {
	case !secure && cfg.TLS != nil:
		return nil, invalid("TLS", "is set but Broker %q is not an ssl://, tls:// or mqtts:// URL", u.Redacted())
	case !secure && files:
		return nil, invalid("CAFile", "CAFile, CertFile and KeyFile need an ssl://, tls:// or mqtts:// Broker, not %q", u.Redacted())
	case cfg.TLS != nil && files:
		return nil, invalid("TLS", "set either TLS or CAFile/CertFile/KeyFile, not both")
	case (cfg.CertFile == "") != (cfg.KeyFile == ""):
		return nil, invalid("CertFile", "CertFile and KeyFile go together: set both or neither")
	case cfg.TLS != nil:
		s.tls = cfg.TLS.Clone()
	case secure:
		t, err := loadTLS(cfg.CAFile, cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, err
		}
		s.tls = t
	}
	return s, nil
}

// parseBroker parses and normalises a broker URL.
func parseBroker(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, invalid("Broker", "is required, e.g. tcp://127.0.0.1:1883 or ssl://broker.example:8883")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the URL, which may hold a password: say less.
		return nil, invalid("Broker", "is not a URL (want e.g. tcp://127.0.0.1:1883)")
	}
	if u.User != nil {
		return nil, invalid("Broker", "must not contain credentials: use Username and Password")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	var defPort string
	switch u.Scheme {
	case "tcp", "mqtt":
		defPort = "1883"
	case "ssl", "tls", "mqtts":
		defPort = "8883"
	default:
		return nil, invalid("Broker", "%q: scheme must be tcp, mqtt, ssl, tls or mqtts", raw)
	}
	if u.Opaque != "" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, invalid("Broker", "%q: want scheme://host[:port] and nothing else", raw)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return nil, invalid("Broker", "%q: host is missing", raw)
	}
	if port == "" {
		if strings.HasSuffix(u.Host, ":") {
			return nil, invalid("Broker", "%q: port is empty", raw)
		}
		port = defPort
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, invalid("Broker", "%q: port must be 1-65535", raw)
	}
	return &url.URL{Scheme: u.Scheme, Host: net.JoinHostPort(host, port)}, nil
}

// validFilter reports what is wrong with an MQTT subscription filter.
func validFilter(f string) error {
	switch {
	case f == "":
		return fmt.Errorf("empty filter")
	case len(f) > maxStringLen:
		return fmt.Errorf("longer than %d bytes", maxStringLen)
	case !utf8.ValidString(f):
		return fmt.Errorf("not valid UTF-8")
	case strings.ContainsRune(f, 0):
		return fmt.Errorf("contains NUL")
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return fmt.Errorf("'#' must be a whole level and the last one")
		}
		if strings.Contains(l, "+") && l != "+" {
			return fmt.Errorf("'+' must be a whole level")
		}
	}
	return nil
}

// loadTLS builds a TLS configuration from PEM files; empty names are skipped.
func loadTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, invalid("CAFile", "%v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, invalid("CAFile", "%s holds no PEM certificate", caFile)
		}
		t.RootCAs = pool
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, invalid("CertFile", "load client certificate %s with key %s: %v", certFile, keyFile, err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}
