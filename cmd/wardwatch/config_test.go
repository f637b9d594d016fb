package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wardwatch/wardwatch/collectors/ble"
)

const examplePath = "../../config.example.yaml"

func noEnv(string) string { return "" }

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// TestExampleConfigIsTheDefault keeps config.example.yaml honest: it loads,
// its values are the defaults, it has every key, and it names every key's
// environment variable.
func TestExampleConfigIsTheDefault(t *testing.T) {
	cfg, err := LoadConfig(examplePath, noEnv)
	if err != nil {
		t.Fatalf("load example: %v", err)
	}
	if want := DefaultConfig(); !reflect.DeepEqual(cfg, want) {
		t.Errorf("example config differs from DefaultConfig:\n got %+v\nwant %+v", cfg, want)
	}

	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	var inFile []string
	collectYAMLKeys(root.Content[0], "", &inFile)
	var inStruct []string
	collectStructKeys(reflect.TypeOf(Config{}), "", &inStruct)
	sort.Strings(inFile)
	sort.Strings(inStruct)
	if !reflect.DeepEqual(inFile, inStruct) {
		t.Errorf("keys in config.example.yaml %v\n  differ from Config's keys %v", inFile, inStruct)
	}
	for _, key := range inStruct {
		env := envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
		if !strings.Contains(string(data), "Env: "+env) {
			t.Errorf("config.example.yaml does not document %s's environment variable %s", key, env)
		}
	}
}

func collectYAMLKeys(n *yaml.Node, prefix string, out *[]string) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		if v.Kind == yaml.MappingNode {
			collectYAMLKeys(v, prefix+k+".", out)
		} else {
			*out = append(*out, prefix+k)
		}
	}
}

func collectStructKeys(t reflect.Type, prefix string, out *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type.Kind() == reflect.Struct {
			collectStructKeys(f.Type, prefix+yamlKey(f)+".", out)
		} else {
			*out = append(*out, prefix+yamlKey(f))
		}
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfigUnknownKeyNamesIt(t *testing.T) {
	p := writeConfig(t, "http:\n  adress: \"127.0.0.1:9000\"\n")
	_, err := LoadConfig(p, noEnv)
	if err == nil || !strings.Contains(err.Error(), "adress") {
		t.Fatalf("want an error naming the unknown key, got %v", err)
	}
}

func TestLoadConfigLayers(t *testing.T) {
	p := writeConfig(t, "http:\n  addr: \"127.0.0.1:9000\"\ntracker:\n  window: 6s\n")
	cfg, err := LoadConfig(p, envMap(map[string]string{
		"WARDWATCH_TRACKER_WINDOW":        "8s",
		"WARDWATCH_HTTP_SECURE_COOKIES":   "true",
		"WARDWATCH_TRACKER_ZONE_MARGIN":   "0.75",
		"WARDWATCH_INGEST_MAX_BODY_BYTES": "2048",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Addr != "127.0.0.1:9000" {
		t.Errorf("file did not override default: addr %q", cfg.HTTP.Addr)
	}
	if cfg.Tracker.Window != 8*time.Second {
		t.Errorf("env did not override file: window %s", cfg.Tracker.Window)
	}
	if !cfg.HTTP.SecureCookies || cfg.Tracker.ZoneMargin != 0.75 || cfg.Ingest.MaxBodyBytes != 2048 {
		t.Errorf("env overrides not applied: %+v", cfg)
	}
	if cfg.Session.IdleTimeout != 15*time.Minute {
		t.Errorf("untouched key lost its default: %s", cfg.Session.IdleTimeout)
	}
}

func TestLoadConfigRejects(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bad duration", map[string]string{"WARDWATCH_TRACKER_WINDOW": "soon"}, "WARDWATCH_TRACKER_WINDOW"},
		{"bad bool", map[string]string{"WARDWATCH_HTTP_SECURE_COOKIES": "perhaps"}, "WARDWATCH_HTTP_SECURE_COOKIES"},
		{"bad driver", map[string]string{"WARDWATCH_DATABASE_DRIVER": "oracle"}, "database.driver"},
		{"idle beyond max", map[string]string{"WARDWATCH_SESSION_IDLE_TIMEOUT": "24h"}, "session.idle_timeout"},
		{"tiny body limit", map[string]string{"WARDWATCH_INGEST_MAX_BODY_BYTES": "10"}, "ingest.max_body_bytes"},
		{"NaN zone margin", map[string]string{"WARDWATCH_TRACKER_ZONE_MARGIN": "NaN"}, "tracker.zone_margin"},
		{"bad log level", map[string]string{"WARDWATCH_LOG_LEVEL": "loud"}, "log.level"},
	}
	for _, tt := range tests {
		_, err := LoadConfig("", envMap(tt.env))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: want error mentioning %q, got %v", tt.name, tt.want, err)
		}
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "nope.yaml"), noEnv); err == nil {
		t.Fatal("want an error for a missing file")
	}
}

// FuzzDecodeConfig feeds arbitrary YAML to the configuration parser and
// validation: they must return an error or a config, never panic.
func FuzzDecodeConfig(f *testing.F) {
	example, err := os.ReadFile(examplePath)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte("http:\n  addr: 1\n"))
	f.Add([]byte("tracker: [1, 2]\n"))
	f.Add([]byte("session:\n  idle_timeout: -5m\n"))
	f.Add([]byte("&a [*a]"))
	f.Add([]byte("ingest: {max_body_bytes: 99999999999999999999999}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := DefaultConfig()
		if err := decodeConfig(bytes.NewReader(data), &cfg); err != nil {
			return
		}
		_ = cfg.validate()
	})
}

// FuzzEnvOverride feeds arbitrary values to every environment override.
func FuzzEnvOverride(f *testing.F) {
	f.Add("WARDWATCH_TRACKER_WINDOW", "5s")
	f.Add("WARDWATCH_HTTP_SECURE_COOKIES", "yes")
	f.Add("WARDWATCH_INGEST_MAX_BODY_BYTES", "1e9")
	f.Add("WARDWATCH_TRACKER_ZONE_MARGIN", "NaN")
	f.Fuzz(func(t *testing.T, key, value string) {
		_, _ = LoadConfig("", envMap(map[string]string{key: value}))
	})
}

func TestTopicMatches(t *testing.T) {
	for _, c := range []struct {
		filter, topic string
		want          bool
	}{
		{"room_presence/+", "room_presence/bay-2", true},
		{"room_presence/+", "room_presence/bay-2/x", false},
		{"room_presence/+", "room_presence", false},
		{"espresense/devices/+/+", "espresense/devices/iBeacon:x/f1-gw-01", true},
		{"home/+/BTtoMQTT/+", "home/gw1/BTtoMQTT/C0FFEE000002", true},
		{"home/#", "home/gw1/BTtoMQTT/x", true},
		{"home/#", "home", true},
		{"#", "anything/at/all", true},
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/+/c", "a//c", true},
	} {
		if got := topicMatches(c.filter, c.topic); got != c.want {
			t.Errorf("topicMatches(%q, %q) = %v, want %v", c.filter, c.topic, got, c.want)
		}
	}
}

func TestMessageFormat(t *testing.T) {
	cfg := MQTTConfig{Topics: " espresense/devices/+/+ , room_presence/+ = mqtt_room,home/+/BTtoMQTT/+,"}
	filters := cfg.TopicFilters()
	if got := cfg.TopicList(); strings.Join(got, ",") != "espresense/devices/+/+,room_presence/+,home/+/BTtoMQTT/+" {
		t.Fatalf("TopicList = %q", got)
	}
	for _, c := range []struct {
		configured ble.Format
		topic      string
		want       ble.Format
		ok         bool
	}{
		{"auto", "room_presence/bay-2", ble.FormatMQTTRoom, true},
		{"auto", "espresense/devices/iBeacon:x/bay-2", ble.FormatESPresense, true},
		{"auto", "home/gw/BTtoMQTT/C0FFEE000002", ble.FormatTheengs, true},
		{"auto", "somewhere/else", "", false},
		{ble.FormatTheengs, "somewhere/else", ble.FormatTheengs, true},
		{ble.FormatTheengs, "room_presence/bay-2", ble.FormatMQTTRoom, true},
	} {
		got, ok := messageFormat(filters, c.configured, c.topic)
		if got != c.want || ok != c.ok {
			t.Errorf("messageFormat(%s, %q) = %q, %v; want %q, %v", c.configured, c.topic, got, ok, c.want, c.ok)
		}
	}
	bad := DefaultConfig()
	bad.MQTT.Broker = "tcp://127.0.0.1:1883"
	bad.MQTT.Topics = "room_presence/+=bluetooth"
	if err := bad.validate(); err == nil || !strings.Contains(err.Error(), `format "bluetooth"`) {
		t.Errorf("validate with an unknown topic format: %v", err)
	}
}
