package influx

import (
	"net/url"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// Config says which InfluxDB to write to and how.
//
// InfluxDB 2.x and Cloud: Token is an API token, Org the organization,
// Bucket the bucket. InfluxDB 1.8+ (its 2.x compatibility API): Token is
// "user:password" ("" without authentication), Org is ignored, Bucket is
// "database/retention-policy" or just "database" for the default policy.
type Config struct {
	URL    string // base URL, e.g. http://127.0.0.1:8086
	Token  string
	Org    string
	Bucket string

	// BatchSize is the most points one write request carries (default
	// 5000). FlushInterval is the longest a point waits in the spool for
	// its batch to fill while InfluxDB is up (default 1 s).
	BatchSize     int
	FlushInterval time.Duration

	// SpoolDir holds the points accepted and not yet written (required;
	// one Store per directory). SpoolMaxBytes bounds it on disk (default
	// 1 GiB, at least 1 MiB): when it is full, writes fail with
	// EUNAVAILABLE rather than dropping older points.
	SpoolDir      string
	SpoolMaxBytes int64

	// Gzip compresses write requests.
	Gzip bool
	// Timeout bounds each HTTP request (default 20 s).
	Timeout time.Duration

	// MinRetryInterval and MaxRetryInterval bound the exponential back-off
	// between failed write requests (defaults 1 s and 1 min).
	MinRetryInterval time.Duration
	MaxRetryInterval time.Duration
	// HealthInterval is how often an idle store checks that InfluxDB
	// answers (default 30 s).
	HealthInterval time.Duration

	// Now returns the current time for Health (default time.Now).
	Now func() time.Time
}

// Defaults and bounds of Config.
const (
	DefaultBatchSize        = 5000
	MaxBatchSize            = 100_000
	DefaultFlushInterval    = time.Second
	DefaultSpoolMaxBytes    = 1 << 30
	MinSpoolMaxBytes        = 1 << 20
	DefaultTimeout          = 20 * time.Second
	DefaultMinRetryInterval = time.Second
	DefaultMaxRetryInterval = time.Minute
	DefaultHealthInterval   = 30 * time.Second
)

// withDefaults returns c with its zero fields set to their defaults, or an
// EINVALID error saying what is wrong with it.
func (c Config) withDefaults() (Config, error) {
	bad := func(format string, args ...any) (Config, error) {
		return c, wardwatch.Errorf(wardwatch.EINVALID, "influx: "+format, args...)
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("URL %q: want http(s)://host:port", c.URL)
	}
	if u.User != nil {
		return bad("URL %q: put credentials in the token, not the URL", u.Redacted())
	}
	c.URL = strings.TrimSuffix(c.URL, "/")
	if strings.TrimSpace(c.Bucket) == "" {
		return bad("no bucket (for InfluxDB 1.8: database/retention-policy)")
	}
	if c.SpoolDir == "" {
		return bad("no spool directory")
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.BatchSize < 1 || c.BatchSize > MaxBatchSize {
		return bad("batch size %d: want 1 to %d", c.BatchSize, MaxBatchSize)
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.SpoolMaxBytes == 0 {
		c.SpoolMaxBytes = DefaultSpoolMaxBytes
	}
	if c.SpoolMaxBytes < MinSpoolMaxBytes {
		return bad("spool max bytes %d: want at least %d", c.SpoolMaxBytes, MinSpoolMaxBytes)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MinRetryInterval == 0 {
		c.MinRetryInterval = DefaultMinRetryInterval
	}
	if c.MaxRetryInterval == 0 {
		c.MaxRetryInterval = max(DefaultMaxRetryInterval, c.MinRetryInterval)
	}
	if c.HealthInterval == 0 {
		c.HealthInterval = DefaultHealthInterval
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"flush interval", c.FlushInterval}, {"timeout", c.Timeout}, {"min retry interval", c.MinRetryInterval},
		{"max retry interval", c.MaxRetryInterval}, {"health interval", c.HealthInterval}} {
		if d.d < 0 {
			return bad("%s %s: must not be negative", d.name, d.d)
		}
	}
	if c.MaxRetryInterval < c.MinRetryInterval {
		return bad("max retry interval %s is shorter than min retry interval %s", c.MaxRetryInterval, c.MinRetryInterval)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// writeURL is the URL write requests go to.
func (c Config) writeURL() string {
	q := url.Values{}
	if c.Org != "" {
		q.Set("org", c.Org)
	}
	q.Set("bucket", c.Bucket)
	q.Set("precision", "ms")
	return c.URL + "/api/v2/write?" + q.Encode()
}
