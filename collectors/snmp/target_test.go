package snmp

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/wardwatch/wardwatch"
)

func v3Target() Target {
	return Target{
		ID: 1, Name: "Pump server 4B", Address: "10.0.0.5", Profile: ExamplePumpServerProfile,
		User: "wardwatch", AuthProtocol: "SHA256", AuthPassword: "auth-secret-1", PrivProtocol: "AES", PrivPassword: "priv-secret-1",
		Enabled: true,
	}
}

func TestTargetDefaults(t *testing.T) {
	s, err := v3Target().settings()
	if err != nil {
		t.Fatal(err)
	}
	if s.endpoint != "10.0.0.5:161" || s.Version != "v3" || s.version != gosnmp.Version3 || s.auth != gosnmp.SHA256 || s.priv != gosnmp.AES {
		t.Errorf("settings %+v", s)
	}
	if s.Interval != DefaultInterval || s.Timeout != DefaultTimeout || s.Retries != DefaultRetries ||
		s.MaxRepetitions != DefaultMaxRepetitions || s.MaxOIDsPerRequest != DefaultMaxOIDsPerRequest {
		t.Errorf("defaults not applied: %+v", s.Target)
	}
}

func TestTargetValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Target)
		want   string // "" means valid
	}{
		{"v3 authPriv", func(*Target) {}, ""},
		{"v3 spelled SHA-512 and AES256C", func(t *Target) { t.AuthProtocol, t.PrivProtocol = "sha-512", "aes256c" }, ""},
		{"v2c", func(t *Target) {
			*t = Target{Name: "old", Address: "10.0.0.6:1161", Version: "v2c", Community: "ro", Profile: "p"}
		}, ""},
		{"v1", func(t *Target) {
			*t = Target{Name: "old", Address: "[fe80::1]:161", Version: "v1", Community: "ro", Profile: "p"}
		}, ""},
		{"bare IPv6", func(t *Target) { t.Address = "2001:db8::5" }, ""},
		{"host name", func(t *Target) { t.Address = "pumps.ward4b.example:10161" }, ""},
		{"no name", func(t *Target) { t.Name = " " }, "a name is required"},
		{"no profile", func(t *Target) { t.Profile = "" }, "choose a profile"},
		{"no address", func(t *Target) { t.Address = "" }, "an address is required"},
		{"URL", func(t *Target) { t.Address = "udp://10.0.0.5" }, "must be host or host:port"},
		{"port 0", func(t *Target) { t.Address = "10.0.0.5:0" }, "port must be between 1 and 65535"},
		{"port too big", func(t *Target) { t.Address = "10.0.0.5:70000" }, "port must be between 1 and 65535"},
		{"bad version", func(t *Target) { t.Version = "v2" + "x" }, "is not v3, v2c or v1"},
		{"v2c without community", func(t *Target) { *t = Target{Name: "x", Address: "h", Version: "v2c", Profile: "p"} }, "v2c needs a community"},
		{"v2c with user", func(t *Target) { t.Version, t.Community = "v2c", "ro" }, "apply to v3 only"},
		{"v3 with community", func(t *Target) { t.Community = "public" }, "v3 uses a user"},
		{"v3 without user", func(t *Target) { t.User = "" }, "needs a user name"},
		{"MD5", func(t *Target) { t.AuthProtocol = "MD5" }, "MD5 authentication is not accepted"},
		{"DES", func(t *Target) { t.PrivProtocol = "DES" }, "DES privacy is not accepted"},
		{"no auth protocol", func(t *Target) { t.AuthProtocol = "" }, "needs an authentication protocol"},
		{"no priv protocol (authNoPriv)", func(t *Target) { t.PrivProtocol, t.PrivPassword = "", "" }, "needs a privacy protocol"},
		{"unknown auth protocol", func(t *Target) { t.AuthProtocol = "SHA3" }, "is not SHA, SHA224"},
		{"short auth password", func(t *Target) { t.AuthPassword = "short" }, "authentication password must have between 8"},
		{"short priv password", func(t *Target) { t.PrivPassword = "" }, "privacy password must have between 8"},
		{"interval too short", func(t *Target) { t.Interval = time.Millisecond }, "interval must be between"},
		{"timeout too long", func(t *Target) { t.Timeout = 2 * time.Minute }, "timeout must be between"},
		{"negative retries", func(t *Target) { t.Retries = -1 }, "retries must be between 0 and 10"},
		{"tries exceed interval", func(t *Target) { t.Interval, t.Timeout, t.Retries = 10*time.Second, 5*time.Second, 2 }, "3 tries of 5s each take longer than the 10s interval"},
		{"too many repetitions", func(t *Target) { t.MaxRepetitions = 1000 }, "max repetitions"},
		{"too many OIDs", func(t *Target) { t.MaxOIDsPerRequest = 61 }, "OIDs per request must be between 1 and 60"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := v3Target()
			tc.change(&target)
			err := target.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if wardwatch.ErrorCode(err) != wardwatch.EINVALID {
				t.Fatalf("err = %v, want an EINVALID error", err)
			}
			if msg := wardwatch.ErrorMessage(err); !strings.Contains(msg, tc.want) {
				t.Errorf("message %q, want it to contain %q", msg, tc.want)
			}
		})
	}
}

func TestTargetInsecure(t *testing.T) {
	for version, want := range map[string]bool{"": false, "v3": false, "v2c": true, "V1": true} {
		if got := (Target{Version: version}).Insecure(); got != want {
			t.Errorf("Insecure(%q) = %v, want %v", version, got, want)
		}
	}
}

// TestTargetLogValue checks that logging a target never writes its
// secrets.
func TestTargetLogValue(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	target := v3Target()
	target.Community = "community-secret"
	log.Info("poll", "target", target)
	for _, secret := range []string{target.AuthPassword, target.PrivPassword, target.Community} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("log contains a secret: %s", buf.String())
		}
	}
	if !strings.Contains(buf.String(), "Pump server 4B") {
		t.Errorf("log lacks the target's name: %s", buf.String())
	}
}
