package snmp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gosnmp/gosnmp"

	"github.com/wardwatch/wardwatch"
)

// Defaults applied to a Target's zero fields.
const (
	DefaultPort              = 161
	DefaultVersion           = "v3"
	DefaultInterval          = 60 * time.Second
	DefaultTimeout           = 3 * time.Second
	DefaultRetries           = 2
	DefaultMaxRepetitions    = 10
	DefaultMaxOIDsPerRequest = 30
)

// minInterval is the shortest polling interval accepted (a variable so
// tests can poll faster).
var minInterval = time.Second

// Bounds on a Target's settings.
const (
	maxInterval          = 24 * time.Hour
	maxTimeout           = time.Minute
	maxRetries           = 10
	maxMaxRepetitions    = 100
	maxMaxOIDsPerRequest = gosnmp.MaxOids
	minPasswordLen       = 8 // net-snmp refuses shorter USM passwords
	maxSecretLen         = 255
)

// Target is one SNMP agent to poll: a pump's own agent or a pump server.
//
// SNMPv3 with authentication and privacy (authPriv) is the default and the
// only v3 level accepted. v1 and v2c send the community in clear text:
// they are accepted only because some equipment speaks nothing else, and
// Insecure reports them so the UI can flag the target.
type Target struct {
	ID      int64
	Name    string
	Address string // host:port; the port defaults to 161

	Version   string // "v3" (default), "v2c" or "v1"
	Community string // v1 and v2c

	User         string // v3
	AuthProtocol string // v3: SHA, SHA224, SHA256, SHA384 or SHA512
	AuthPassword string
	PrivProtocol string // v3: AES, AES192, AES256, AES192C or AES256C
	PrivPassword string

	Profile string // the name of the profile that maps the agent's OIDs

	Interval          time.Duration // between polls; default 60s
	Timeout           time.Duration // per request; default 3s
	Retries           int           // after a request's first try; 0 means the default, 2
	MaxRepetitions    uint32        // GETBULK max-repetitions; default 10
	MaxOIDsPerRequest int           // varbinds per GET; default 30
	Enabled           bool
}

// Insecure reports whether t uses SNMP v1 or v2c, whose community string
// travels in clear text and whose replies are neither authenticated nor
// encrypted.
func (t Target) Insecure() bool {
	v := strings.ToLower(strings.TrimSpace(t.Version))
	return v == "v1" || v == "v2c"
}

// LogValue keeps secrets (community, passwords) out of logs.
func (t Target) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int64("id", t.ID),
		slog.String("name", t.Name),
		slog.String("address", t.Address),
		slog.String("version", t.Version),
		slog.String("profile", t.Profile),
	)
}

// Validate checks t and returns a *wardwatch.Error (EINVALID) saying what
// to fix. It does not look the profile up.
func (t Target) Validate() error {
	_, err := t.settings()
	return err
}

// settings is a validated target with defaults applied.
type settings struct {
	Target
	host     string
	port     uint16
	version  gosnmp.SnmpVersion
	auth     gosnmp.SnmpV3AuthProtocol
	priv     gosnmp.SnmpV3PrivProtocol
	endpoint string // host:port, for messages
}

// tries is how many times one request is sent before giving up.
func (s *settings) tries() int { return s.Retries + 1 }

// settings validates t and fills in its defaults.
func (t Target) settings() (*settings, error) {
	name := strings.TrimSpace(t.Name)
	if name == "" {
		name = strings.TrimSpace(t.Address)
	}
	invalid := func(format string, args ...any) error {
		return wardwatch.Errorf(wardwatch.EINVALID, "SNMP target %s: "+format, append([]any{quoteName(name)}, args...)...)
	}
	s := &settings{Target: t}
	switch {
	case strings.TrimSpace(t.Name) == "":
		return nil, invalid("a name is required.")
	case utf8.RuneCountInString(t.Name) > 100 || !validText(t.Name):
		return nil, invalid("the name must be text of at most 100 characters.")
	case strings.TrimSpace(t.Profile) == "":
		return nil, invalid("choose a profile.")
	}
	host, port, err := splitAddress(t.Address)
	if err != nil {
		return nil, invalid("%v.", err)
	}
	s.host, s.port = host, port
	s.endpoint = net.JoinHostPort(host, strconv.Itoa(int(port)))

	switch v := strings.ToLower(strings.TrimSpace(t.Version)); v {
	case "", "v3", "3":
		s.Version, s.version = "v3", gosnmp.Version3
	case "v2c", "2c", "2":
		s.Version, s.version = "v2c", gosnmp.Version2c
	case "v1", "1":
		s.Version, s.version = "v1", gosnmp.Version1
	default:
		return nil, invalid("version %q is not v3, v2c or v1.", t.Version)
	}
	if s.version == gosnmp.Version3 {
		if err := s.validateV3(invalid); err != nil {
			return nil, err
		}
	} else {
		switch {
		case t.Community == "":
			return nil, invalid("%s needs a community.", s.Version)
		case len(t.Community) > 127:
			return nil, invalid("the community is longer than 127 bytes.")
		case t.User != "" || t.AuthPassword != "" || t.PrivPassword != "":
			return nil, invalid("user and passwords apply to v3 only; %s uses the community.", s.Version)
		}
	}

	switch {
	case t.Interval == 0:
		s.Interval = DefaultInterval
	case t.Interval < minInterval || t.Interval > maxInterval:
		return nil, invalid("the interval must be between %v and %v.", minInterval, maxInterval)
	}
	switch {
	case t.Timeout == 0:
		s.Timeout = DefaultTimeout
	case t.Timeout < 10*time.Millisecond || t.Timeout > maxTimeout:
		return nil, invalid("the timeout must be between 10ms and %v.", maxTimeout)
	}
	switch {
	case t.Retries == 0:
		s.Retries = DefaultRetries
	case t.Retries < 0 || t.Retries > maxRetries:
		return nil, invalid("retries must be between 0 and %d.", maxRetries)
	}
	if s.Timeout*time.Duration(s.tries()) > s.Interval {
		return nil, invalid("%d tries of %v each take longer than the %v interval: shorten the timeout or lengthen the interval.", s.tries(), s.Timeout, s.Interval)
	}
	switch {
	case t.MaxRepetitions == 0:
		s.MaxRepetitions = DefaultMaxRepetitions
	case t.MaxRepetitions > maxMaxRepetitions:
		return nil, invalid("max repetitions must be between 1 and %d.", maxMaxRepetitions)
	}
	switch {
	case t.MaxOIDsPerRequest == 0:
		s.MaxOIDsPerRequest = DefaultMaxOIDsPerRequest
	case t.MaxOIDsPerRequest < 1 || t.MaxOIDsPerRequest > maxMaxOIDsPerRequest:
		return nil, invalid("OIDs per request must be between 1 and %d.", maxMaxOIDsPerRequest)
	}
	return s, nil
}

func (s *settings) validateV3(invalid func(string, ...any) error) error {
	t := s.Target
	switch {
	case t.Community != "":
		return invalid("v3 uses a user, not a community.")
	case strings.TrimSpace(t.User) == "":
		return invalid("v3 needs a user name.")
	case len(t.User) > 32 || !validText(t.User):
		return invalid("the v3 user name must be text of at most 32 bytes.")
	}
	switch strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(t.AuthProtocol), "-", "")) {
	case "SHA", "SHA1":
		s.auth, s.AuthProtocol = gosnmp.SHA, "SHA"
	case "SHA224":
		s.auth, s.AuthProtocol = gosnmp.SHA224, "SHA224"
	case "SHA256":
		s.auth, s.AuthProtocol = gosnmp.SHA256, "SHA256"
	case "SHA384":
		s.auth, s.AuthProtocol = gosnmp.SHA384, "SHA384"
	case "SHA512":
		s.auth, s.AuthProtocol = gosnmp.SHA512, "SHA512"
	case "":
		return invalid("v3 needs an authentication protocol (SHA, SHA224, SHA256, SHA384 or SHA512).")
	case "MD5":
		return invalid("MD5 authentication is not accepted: use SHA or a SHA-2 protocol.")
	default:
		return invalid("authentication protocol %q is not SHA, SHA224, SHA256, SHA384 or SHA512.", t.AuthProtocol)
	}
	switch strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(t.PrivProtocol), "-", "")) {
	case "AES", "AES128":
		s.priv, s.PrivProtocol = gosnmp.AES, "AES"
	case "AES192":
		s.priv, s.PrivProtocol = gosnmp.AES192, "AES192"
	case "AES256":
		s.priv, s.PrivProtocol = gosnmp.AES256, "AES256"
	case "AES192C":
		s.priv, s.PrivProtocol = gosnmp.AES192C, "AES192C"
	case "AES256C":
		s.priv, s.PrivProtocol = gosnmp.AES256C, "AES256C"
	case "":
		return invalid("v3 needs a privacy protocol (AES, AES192, AES256, AES192C or AES256C): WardWatch polls with authentication and encryption only.")
	case "DES", "3DES":
		return invalid("DES privacy is not accepted: use AES.")
	default:
		return invalid("privacy protocol %q is not AES, AES192, AES256, AES192C or AES256C.", t.PrivProtocol)
	}
	switch {
	case len(t.AuthPassword) < minPasswordLen || len(t.AuthPassword) > maxSecretLen:
		return invalid("the authentication password must have between %d and %d characters.", minPasswordLen, maxSecretLen)
	case len(t.PrivPassword) < minPasswordLen || len(t.PrivPassword) > maxSecretLen:
		return invalid("the privacy password must have between %d and %d characters.", minPasswordLen, maxSecretLen)
	}
	return nil
}

// splitAddress parses "host", "host:port", "[v6]:port" or a bare IPv6
// address.
func splitAddress(addr string) (string, uint16, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return "", 0, fmt.Errorf("an address is required")
	}
	if strings.Contains(addr, "://") || strings.ContainsAny(addr, " /@") {
		return "", 0, fmt.Errorf("address %q must be host or host:port", addr)
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		// No port: a host name, an IPv4 address or a bare IPv6 address.
		if ip := net.ParseIP(strings.Trim(addr, "[]")); ip != nil {
			return ip.String(), DefaultPort, nil
		}
		if strings.ContainsAny(addr, ":[]") {
			return "", 0, fmt.Errorf("address %q must be host or host:port", addr)
		}
		return addr, DefaultPort, nil
	}
	if host == "" {
		return "", 0, fmt.Errorf("address %q has no host", addr)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil || port == 0 {
		return "", 0, fmt.Errorf("address %q: the port must be between 1 and 65535", addr)
	}
	return host, uint16(port), nil
}

func quoteName(s string) string {
	if s == "" {
		return "(unnamed)"
	}
	return strconv.Quote(s)
}

// dial makes a GoSNMP for one poll of s and opens its socket. Each poll
// has its own (a GoSNMP is not safe to share between goroutines, and a
// socket per idle target would exhaust file descriptors). Cancelling ctx
// closes the socket so a waiting request returns at once.
func dial(ctx context.Context, s *settings) (*gosnmp.GoSNMP, func(), error) {
	g := &gosnmp.GoSNMP{
		Target:         s.host,
		Port:           s.port,
		Transport:      "udp",
		Version:        s.version,
		Community:      s.Community,
		Context:        ctx,
		Timeout:        s.Timeout,
		Retries:        s.Retries,
		MaxOids:        s.MaxOIDsPerRequest,
		MaxRepetitions: s.MaxRepetitions,
	}
	if s.version == gosnmp.Version3 {
		g.SecurityModel = gosnmp.UserSecurityModel
		g.MsgFlags = gosnmp.AuthPriv
		g.SecurityParameters = &gosnmp.UsmSecurityParameters{
			UserName:                 s.User,
			AuthenticationProtocol:   s.auth,
			AuthenticationPassphrase: s.AuthPassword,
			PrivacyProtocol:          s.priv,
			PrivacyPassphrase:        s.PrivPassword,
		}
	}
	if err := g.Connect(); err != nil {
		return nil, nil, err
	}
	conn := g.Conn
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	return g, func() { stop(); _ = g.Close() }, nil
}

// session is one poll's connection to an agent.
type session struct {
	r        reader
	diagnose func(error) v3Hint // nil: no SNMPv3 diagnosis
	close    func()
}

// openSession dials s for one poll.
func openSession(ctx context.Context, s *settings) (session, error) {
	g, closeFn, err := dial(ctx, s)
	if err != nil {
		return session{}, err
	}
	return session{r: g, diagnose: diagnoser(ctx, s, g), close: closeFn}, nil
}
