package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wardwatch/wardwatch/collectors/ble"
)

// Config is WardWatch's whole configuration. Every key is documented, with
// its default and its environment override, in config.example.yaml; a test
// keeps the two in step.
type Config struct {
	HTTP      HTTPConfig      `yaml:"http"`
	Database  DatabaseConfig  `yaml:"database"`
	Telemetry TelemetryConfig `yaml:"telemetry"`
	Session   SessionConfig   `yaml:"session"`
	Tracker   TrackerConfig   `yaml:"tracker"`
	Ingest    IngestConfig    `yaml:"ingest"`
	MQTT      MQTTConfig      `yaml:"mqtt"`
	Pumps     PumpsConfig     `yaml:"pumps"`
	Alerts    AlertsConfig    `yaml:"alerts"`
	Provision ProvisionConfig `yaml:"provision"`
	Demo      DemoConfig      `yaml:"demo"`
	Log       LogConfig       `yaml:"log"`
}

// HTTPConfig configures the web server.
type HTTPConfig struct {
	Addr          string `yaml:"addr"`
	SecureCookies bool   `yaml:"secure_cookies"`
	TimeZone      string `yaml:"time_zone"`
	TLSCertFile   string `yaml:"tls_cert_file"`
	TLSKeyFile    string `yaml:"tls_key_file"`
}

// DatabaseConfig selects the configuration store.
type DatabaseConfig struct {
	Driver         string `yaml:"driver"`
	DSN            string `yaml:"dsn"`
	MigrateOnStart bool   `yaml:"migrate_on_start"`
	SecretKeyFile  string `yaml:"secret_key_file"`
}

// TelemetryConfig selects where time series go.
type TelemetryConfig struct {
	Driver             string        `yaml:"driver"`
	Path               string        `yaml:"path"`
	Retention          time.Duration `yaml:"retention"`
	ReadingsRetention  time.Duration `yaml:"readings_retention"`
	PumpRetention      time.Duration `yaml:"pump_retention"`
	DownsampleAfter    time.Duration `yaml:"downsample_after"`
	DownsampleInterval time.Duration `yaml:"downsample_interval"`
	Influx             InfluxConfig  `yaml:"influx"`
}

// InfluxConfig connects the telemetry store to InfluxDB 2.x/Cloud, or to
// 1.8+ in compatibility mode (token "user:pass", bucket "db/rp").
type InfluxConfig struct {
	URL           string        `yaml:"url"`
	Token         string        `yaml:"token"`
	Org           string        `yaml:"org"`
	Bucket        string        `yaml:"bucket"`
	SpoolDir      string        `yaml:"spool_dir"`
	SpoolMaxBytes int64         `yaml:"spool_max_bytes"`
	Gzip          bool          `yaml:"gzip"`
	BatchSize     int           `yaml:"batch_size"`
	FlushInterval time.Duration `yaml:"flush_interval"`
	Timeout       time.Duration `yaml:"timeout"`
}

// SessionConfig sets web session lifetimes.
type SessionConfig struct {
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	MaxLifetime time.Duration `yaml:"max_lifetime"`
}

// TrackerConfig tunes the location engine.
type TrackerConfig struct {
	Interval   time.Duration `yaml:"interval"`
	Window     time.Duration `yaml:"window"`
	MinDwell   time.Duration `yaml:"min_dwell"`
	ZoneMargin float64       `yaml:"zone_margin"`
	StaleAfter time.Duration `yaml:"stale_after"`
	// SurveySightings and SurveyTruth, both set, turn on fingerprint mode:
	// a radio-map survey (a reference tag carried along a known path) in
	// the replay format, whose kNN fixes the engine blends with ranging.
	SurveySightings string `yaml:"survey_sightings"`
	SurveyTruth     string `yaml:"survey_truth"`
}

// IngestConfig limits gateway input.
type IngestConfig struct {
	MaxBodyBytes        int64         `yaml:"max_body_bytes"`
	RecordDir           string        `yaml:"record_dir"`
	GatewayOfflineAfter time.Duration `yaml:"gateway_offline_after"`
}

// PumpsConfig sets what WardWatch expects of infusion pumps.
type PumpsConfig struct {
	ApprovedDrugLibraries string `yaml:"approved_drug_libraries"`
}

// ApprovedLibraries parses ApprovedDrugLibraries: "name=version" entries
// separated by commas.
func (c PumpsConfig) ApprovedLibraries() map[string]string {
	m := map[string]string{}
	for _, e := range strings.Split(c.ApprovedDrugLibraries, ",") {
		name, version, ok := strings.Cut(e, "=")
		if name, version = strings.TrimSpace(name), strings.TrimSpace(version); ok && name != "" && version != "" {
			m[name] = version
		}
	}
	return m
}

// AlertsConfig sets how often alert rules are re-judged and how
// notifications leave WardWatch: e-mail over SMTP and signed webhooks.
// Without either, alerts reach people in the web inbox only.
type AlertsConfig struct {
	Interval          time.Duration `yaml:"interval"`
	SMTPAddr          string        `yaml:"smtp_addr"`
	SMTPFrom          string        `yaml:"smtp_from"`
	SMTPUsername      string        `yaml:"smtp_username"`
	SMTPPasswordFile  string        `yaml:"smtp_password_file"`
	SMTPTLS           string        `yaml:"smtp_tls"`
	Webhooks          string        `yaml:"webhooks"`
	WebhookSecretFile string        `yaml:"webhook_secret_file"`
}

// ProvisionConfig names a site file (provision/FORMAT.md) applied at
// start-up, as `wardwatch apply -f` would without -prune.
type ProvisionConfig struct {
	File string `yaml:"file"`
}

// WebhookEndpoint is a named webhook receiver (a paging gateway, nurse
// call middleware).
type WebhookEndpoint struct {
	Name string
	URL  string
}

// WebhookList parses Webhooks: "name=url" entries separated by commas.
func (c AlertsConfig) WebhookList() []WebhookEndpoint {
	var out []WebhookEndpoint
	for _, e := range strings.Split(c.Webhooks, ",") {
		name, url, ok := strings.Cut(strings.TrimSpace(e), "=")
		if name, url = strings.TrimSpace(name), strings.TrimSpace(url); ok && name != "" && url != "" {
			out = append(out, WebhookEndpoint{Name: name, URL: url})
		}
	}
	return out
}

// readSecretFile reads a secret kept in a file (never in the config file
// itself), without its trailing newline; "" reads as no secret.
func readSecretFile(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// MQTTConfig connects WardWatch to the site's MQTT broker, where gateways
// publish sightings. An empty Broker turns MQTT off.
type MQTTConfig struct {
	Broker   string `yaml:"broker"`
	ClientID string `yaml:"client_id"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	Topics   string `yaml:"topics"`
	Format   string `yaml:"format"`
}

// TopicFilter is one subscription: an MQTT topic filter and, when the
// entry says "filter=format", the format of every message it matches.
type TopicFilter struct {
	Filter string
	Format ble.Format // "" : mqtt.format decides
}

// Topics parses Topics: comma-separated filters, each optionally
// "filter=format"; blanks are dropped.
func (c MQTTConfig) TopicFilters() []TopicFilter {
	var out []TopicFilter
	for _, t := range strings.Split(c.Topics, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		filter, format, _ := strings.Cut(t, "=")
		out = append(out, TopicFilter{Filter: strings.TrimSpace(filter), Format: ble.Format(strings.TrimSpace(format))})
	}
	return out
}

// TopicList is the topic filters to subscribe to.
func (c MQTTConfig) TopicList() []string {
	var topics []string
	for _, f := range c.TopicFilters() {
		topics = append(topics, f.Filter)
	}
	return topics
}

// topicMatches reports whether an MQTT topic matches a filter with the +
// (one level) and # (the rest) wildcards.
func topicMatches(filter, topic string) bool {
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" {
			return true
		}
		tl, trest, tmore := strings.Cut(topic, "/")
		if fl != "+" && fl != tl {
			return false
		}
		if !fmore || !tmore {
			return fmore == tmore || (fmore && frest == "#")
		}
		filter, topic = frest, trest
	}
}

// DemoConfig tunes the simulated hospital of `wardwatch demo`.
type DemoConfig struct {
	Seed         int64         `yaml:"seed"`
	PushInterval time.Duration `yaml:"push_interval"`
}

// LogConfig sets logging.
type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// DefaultConfig is the embedded default: SQLite under ./var, loopback only.
func DefaultConfig() Config {
	return Config{
		HTTP:     HTTPConfig{Addr: "127.0.0.1:8080", TimeZone: "Local"},
		Database: DatabaseConfig{Driver: "sqlite", DSN: "var/wardwatch.db", MigrateOnStart: true, SecretKeyFile: "var/secret.key"},
		Telemetry: TelemetryConfig{Driver: "sqlite", Path: "var/telemetry.db", Retention: 30 * 24 * time.Hour,
			ReadingsRetention: 3 * 365 * 24 * time.Hour, PumpRetention: 3 * 365 * 24 * time.Hour,
			DownsampleAfter: 90 * 24 * time.Hour, DownsampleInterval: 15 * time.Minute,
			Influx: InfluxConfig{SpoolDir: "var/influx-spool", SpoolMaxBytes: 1 << 30, Gzip: true, BatchSize: 5000,
				FlushInterval: time.Second, Timeout: 20 * time.Second}},
		Session: SessionConfig{IdleTimeout: 15 * time.Minute, MaxLifetime: 12 * time.Hour},
		Tracker: TrackerConfig{
			Interval:   500 * time.Millisecond,
			Window:     4 * time.Second,
			MinDwell:   2 * time.Second,
			ZoneMargin: 0.3,
			StaleAfter: 2 * time.Minute,
		},
		Ingest: IngestConfig{MaxBodyBytes: 1 << 20, GatewayOfflineAfter: 2 * time.Minute},
		MQTT: MQTTConfig{
			ClientID: "wardwatch",
			Topics:   "espresense/devices/+/+,home/+/BTtoMQTT/+",
			Format:   "auto",
		},
		Alerts: AlertsConfig{Interval: 5 * time.Second, SMTPFrom: "WardWatch <wardwatch@localhost>", SMTPTLS: "starttls"},
		Demo:   DemoConfig{Seed: 1, PushInterval: time.Second},
		Log:    LogConfig{Level: "info", Format: "text"},
	}
}

// envPrefix starts every environment override: http.addr is WARDWATCH_HTTP_ADDR.
const envPrefix = "WARDWATCH_"

// LoadConfig returns the defaults, overlaid by the YAML file at path (when
// path is not empty), overlaid by WARDWATCH_* environment variables, then
// validated. Unknown keys in the file are an error naming the key.
func LoadConfig(path string, getenv func(string) string) (Config, error) {
	cfg := DefaultConfig()
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		defer f.Close()
		if err := decodeConfig(f, &cfg); err != nil {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := applyEnv(reflect.ValueOf(&cfg).Elem(), envPrefix, getenv); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	if err := cfg.validate(); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

func decodeConfig(r io.Reader, cfg *Config) error {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// applyEnv overrides every leaf field of v from the environment variable
// named by its YAML path.
func applyEnv(v reflect.Value, prefix string, getenv func(string) string) error {
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		name := prefix + strings.ToUpper(yamlKey(f))
		if f.Type.Kind() == reflect.Struct {
			if err := applyEnv(fv, name+"_", getenv); err != nil {
				return err
			}
			continue
		}
		s := getenv(name)
		if s == "" {
			continue
		}
		if err := setFromString(fv, s); err != nil {
			return fmt.Errorf("%s=%q: %w", name, s, err)
		}
	}
	return nil
}

func yamlKey(f reflect.StructField) string {
	key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return key
}

func setFromString(v reflect.Value, s string) error {
	switch {
	case v.Type() == reflect.TypeOf(time.Duration(0)):
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int64 || v.Kind() == reflect.Int:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return err
		}
		v.SetInt(n)
	case v.Kind() == reflect.Float64:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return err
		}
		v.SetFloat(x)
	default:
		return fmt.Errorf("unsupported type %s", v.Type())
	}
	return nil
}

func (c Config) validate() error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if c.HTTP.Addr == "" {
		bad("http.addr is empty")
	}
	if (c.HTTP.TLSCertFile == "") != (c.HTTP.TLSKeyFile == "") {
		bad("http.tls_cert_file and http.tls_key_file go together: set both or neither")
	}
	if _, err := time.LoadLocation(c.HTTP.TimeZone); err != nil {
		bad("http.time_zone %q: want an IANA zone such as Europe/London, UTC or Local", c.HTTP.TimeZone)
	}
	switch c.Database.Driver {
	case "sqlite", "postgres":
	default:
		bad("database.driver %q: want sqlite or postgres", c.Database.Driver)
	}
	if c.Database.DSN == "" {
		bad("database.dsn is empty")
	}
	if c.Database.SecretKeyFile == "" {
		bad("database.secret_key_file is empty")
	}
	switch c.Telemetry.Driver {
	case "sqlite":
	case "influx":
		if c.Telemetry.Influx.URL == "" || c.Telemetry.Influx.Bucket == "" {
			bad("telemetry.influx.url and telemetry.influx.bucket are needed with telemetry.driver influx")
		}
		if c.Telemetry.Influx.SpoolDir == "" {
			bad("telemetry.influx.spool_dir is empty")
		}
	default:
		bad("telemetry.driver %q: want sqlite or influx", c.Telemetry.Driver)
	}
	if c.Telemetry.ReadingsRetention < 3*365*24*time.Hour {
		bad("telemetry.readings_retention %s: compliance records are kept at least 3 years (26280h)", c.Telemetry.ReadingsRetention)
	}
	if c.Telemetry.DownsampleInterval <= 0 || c.Telemetry.DownsampleInterval > 15*time.Minute {
		bad("telemetry.downsample_interval %s: want more than 0 and at most 15m (compliance logs need a value every 15 minutes)", c.Telemetry.DownsampleInterval)
	}
	if c.Telemetry.Path == "" {
		bad("telemetry.path is empty")
	}
	if c.Telemetry.Retention < time.Hour {
		bad("telemetry.retention %s: want at least 1h", c.Telemetry.Retention)
	}
	if c.Session.IdleTimeout < time.Minute || c.Session.IdleTimeout > c.Session.MaxLifetime {
		bad("session.idle_timeout %s: want between 1m and session.max_lifetime (%s)", c.Session.IdleTimeout, c.Session.MaxLifetime)
	}
	if c.Tracker.Interval < 50*time.Millisecond || c.Tracker.Interval > 10*time.Second {
		bad("tracker.interval %s: want between 50ms and 10s", c.Tracker.Interval)
	}
	if c.Tracker.Window < time.Second {
		bad("tracker.window %s: want at least 1s", c.Tracker.Window)
	}
	if c.Tracker.MinDwell < 0 {
		bad("tracker.min_dwell %s: must not be negative", c.Tracker.MinDwell)
	}
	if !(c.Tracker.ZoneMargin >= 0 && c.Tracker.ZoneMargin <= 5) { // also rejects NaN
		bad("tracker.zone_margin %g: want 0 to 5 metres", c.Tracker.ZoneMargin)
	}
	if (c.Tracker.SurveySightings == "") != (c.Tracker.SurveyTruth == "") {
		bad("tracker.survey_sightings and tracker.survey_truth: fingerprint mode needs both files")
	}
	if c.Tracker.StaleAfter < 10*time.Second {
		bad("tracker.stale_after %s: want at least 10s", c.Tracker.StaleAfter)
	}
	if c.Ingest.MaxBodyBytes < 1024 || c.Ingest.MaxBodyBytes > 64<<20 {
		bad("ingest.max_body_bytes %d: want 1024 to 67108864", c.Ingest.MaxBodyBytes)
	}
	if c.Ingest.GatewayOfflineAfter < 10*time.Second {
		bad("ingest.gateway_offline_after %s: want at least 10s", c.Ingest.GatewayOfflineAfter)
	}
	if c.MQTT.Broker != "" {
		if c.MQTT.ClientID == "" {
			bad("mqtt.client_id is empty")
		}
		if len(c.MQTT.TopicList()) == 0 {
			bad("mqtt.topics is empty")
		}
	}
	for _, tf := range c.MQTT.TopicFilters() {
		if tf.Filter == "" || strings.ContainsAny(tf.Filter, "\x00") {
			bad("mqtt.topics: an empty topic filter")
		}
		if tf.Format != "" && !tf.Format.Valid() {
			bad("mqtt.topics: format %q of %q: want espresense, theengs, mqtt_room, minew_json_long, ingics or wardwatch", tf.Format, tf.Filter)
		}
	}
	for _, e := range strings.Split(c.Pumps.ApprovedDrugLibraries, ",") {
		if e = strings.TrimSpace(e); e != "" && !strings.Contains(e, "=") {
			bad("pumps.approved_drug_libraries: %q is not name=version", e)
		}
	}
	if c.Alerts.Interval < time.Second || c.Alerts.Interval > time.Minute {
		bad("alerts.interval %s: want 1s to 1m", c.Alerts.Interval)
	}
	switch c.Alerts.SMTPTLS {
	case "starttls", "require_starttls", "implicit":
	default:
		bad("alerts.smtp_tls %q: want starttls (when offered), require_starttls or implicit", c.Alerts.SMTPTLS)
	}
	if c.Alerts.SMTPAddr != "" && c.Alerts.SMTPFrom == "" {
		bad("alerts.smtp_from is empty")
	}
	for _, e := range strings.Split(c.Alerts.Webhooks, ",") {
		if e = strings.TrimSpace(e); e != "" && !strings.Contains(e, "=") {
			bad("alerts.webhooks: %q is not name=url", e)
		}
	}
	if c.Alerts.WebhookList() != nil && c.Alerts.WebhookSecretFile == "" {
		bad("alerts.webhook_secret_file is needed with alerts.webhooks: receivers check the HMAC signature")
	}
	if f := ble.Format(c.MQTT.Format); c.MQTT.Format != "auto" && !f.Valid() {
		bad("mqtt.format %q: want auto, espresense, theengs, mqtt_room, minew_json_long, ingics or wardwatch", c.MQTT.Format)
	}
	if c.Demo.PushInterval < 100*time.Millisecond {
		bad("demo.push_interval %s: want at least 100ms", c.Demo.PushInterval)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level %q: want debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format %q: want text or json", c.Log.Format)
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}
