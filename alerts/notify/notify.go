// Package notify delivers alert notifications (alerts.Notification): signed
// JSON webhooks (nurse call, paging middleware) and e-mail over SMTP, with
// retries, timeouts and metrics, and a Dispatcher that runs deliveries off
// the caller's path. Notifications carry no patient data: titles and texts
// come from rule and equipment names.
//
// This is an adapter: it does network I/O and owns goroutines (the
// Dispatcher's workers), each stopped by the context given to Run.
package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/wardwatch/wardwatch/alerts"
)

// Sender delivers one notification. It retries transient failures itself
// and returns nil once the receiver has the notification.
type Sender interface {
	Send(ctx context.Context, n alerts.Notification) error
}

// SenderFunc adapts a function to Sender (the web hub's in-app delivery).
type SenderFunc func(ctx context.Context, n alerts.Notification) error

// Send calls f.
func (f SenderFunc) Send(ctx context.Context, n alerts.Notification) error { return f(ctx, n) }

// permanentError marks a failure that retrying cannot fix (a 4xx answer, a
// rejected recipient, a refused redirect, bad credentials).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(format string, args ...any) error {
	return &permanentError{err: fmt.Errorf(format, args...)}
}

// IsPermanent reports whether err is a delivery failure retrying cannot fix.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// Retry says how a sender retries: Attempts tries in all, waiting Backoff
// before the second, doubling up to MaxBackoff.
type Retry struct {
	Attempts   int           // default 5
	Backoff    time.Duration // default 1 s
	MaxBackoff time.Duration // default 1 min
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 5
	}
	if r.Backoff <= 0 {
		r.Backoff = time.Second
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = time.Minute
	}
	if r.MaxBackoff < r.Backoff {
		r.MaxBackoff = r.Backoff
	}
	return r
}

// delay is the wait before attempt i+1 (i ≥ 1).
func (r Retry) delay(i int) time.Duration {
	d := r.Backoff
	for ; i > 1 && d < r.MaxBackoff; i-- {
		d *= 2
	}
	return min(d, r.MaxBackoff)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Metrics counts deliveries; the zero of a *Metrics (nil) counts nothing.
type Metrics struct {
	attempts   *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	dropped    *prometheus.CounterVec
}

// NewMetrics registers the notification metrics on reg:
// wardwatch_notify_attempts_total{channel,result} (result: ok, retry,
// failed), wardwatch_notify_deliveries_total{channel,result} (delivered,
// failed), wardwatch_notify_delivery_seconds{channel} and
// wardwatch_notify_dropped_total{channel} (queue full or no sender).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardwatch_notify_attempts_total",
			Help: "Notification delivery attempts by channel and result (ok, retry, failed).",
		}, []string{"channel", "result"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardwatch_notify_deliveries_total",
			Help: "Notifications delivered or given up on, by channel.",
		}, []string{"channel", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wardwatch_notify_delivery_seconds",
			Help:    "Time from the first attempt to delivery or giving up, by channel.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}, []string{"channel"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardwatch_notify_dropped_total",
			Help: "Notifications not queued: the queue was full or the channel has no sender.",
		}, []string{"channel"}),
	}
	for _, c := range []prometheus.Collector{m.attempts, m.deliveries, m.duration, m.dropped} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register notify metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) attempt(ch alerts.Channel, result string) {
	if m != nil {
		m.attempts.WithLabelValues(string(ch), result).Inc()
	}
}

func (m *Metrics) delivery(ch alerts.Channel, err error, d time.Duration) {
	if m == nil {
		return
	}
	result := "delivered"
	if err != nil {
		result = "failed"
	}
	m.deliveries.WithLabelValues(string(ch), result).Inc()
	m.duration.WithLabelValues(string(ch)).Observe(d.Seconds())
}

func (m *Metrics) drop(ch alerts.Channel) {
	if m != nil {
		m.dropped.WithLabelValues(string(ch)).Inc()
	}
}

// knownChannel bounds the channel label.
func knownChannel(c alerts.Channel) alerts.Channel {
	if c.Valid() {
		return c
	}
	return "other"
}
