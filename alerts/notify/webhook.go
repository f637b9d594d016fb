package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/wardwatch/wardwatch/alerts"
)

// Webhook headers.
const (
	// SignatureHeader carries "sha256=<hex HMAC-SHA256 of the raw body>"
	// keyed with the endpoint's secret.
	SignatureHeader = "X-WardWatch-Signature"
	// TimestampHeader carries the Unix time (seconds) the attempt was sent;
	// the body's sent_at, which the signature covers, says the same.
	TimestampHeader = "X-WardWatch-Timestamp"
	// DeliveryHeader carries the notification's ID: the same on every
	// retry, so receivers can drop duplicates.
	DeliveryHeader = "X-WardWatch-Delivery"
)

// Payload is a webhook's JSON body. It names equipment and places, never
// patients.
type Payload struct {
	ID             string    `json:"id"`
	AlertID        int64     `json:"alert_id"`
	Rule           string    `json:"rule"`
	SubjectKind    string    `json:"subject_kind"`
	SubjectID      string    `json:"subject_id"`
	UnitID         int64     `json:"unit_id,omitempty"`
	Team           string    `json:"team"`
	Priority       string    `json:"priority"`
	DevicePriority string    `json:"device_priority"` // IEC 60601-1-8: high, medium, low
	State          string    `json:"state"`
	Tier           int       `json:"tier"`
	Reminder       bool      `json:"reminder"`
	Group          string    `json:"group,omitempty"`
	Title          string    `json:"title"`
	Text           string    `json:"text"`
	DueAt          time.Time `json:"due_at"`
	SentAt         time.Time `json:"sent_at"`
	Attempt        int       `json:"attempt"`
}

// NewPayload builds the body for n's attempt sent at sentAt.
func NewPayload(n alerts.Notification, sentAt time.Time, attempt int) Payload {
	return Payload{ID: n.ID, AlertID: n.AlertID, Rule: n.Key.Rule, SubjectKind: string(n.Key.Subject.Kind),
		SubjectID: n.Key.Subject.ID, UnitID: n.UnitID, Team: string(n.Team), Priority: string(n.Priority),
		DevicePriority: string(n.Priority.Device()), State: string(n.State), Tier: n.Tier, Reminder: n.Reminder,
		Group: n.Group, Title: n.Title, Text: n.Text, DueAt: n.Due.UTC(), SentAt: sentAt.UTC(), Attempt: attempt}
}

// Sign returns the SignatureHeader value for body.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature reports whether signature (a SignatureHeader value) is
// body's HMAC under secret, in constant time. Receivers should also reject
// a sent_at far from their clock.
func VerifySignature(secret, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(signature))
}

// WebhookConfig configures one webhook endpoint.
type WebhookConfig struct {
	URL     string        // http or https
	Secret  []byte        // HMAC key, at least 16 bytes
	Timeout time.Duration // per attempt, default 10 s
	Retry   Retry
	// Client, when set, is used with its redirect policy replaced: only
	// same-host, same-scheme, method-preserving redirects are followed.
	Client  *http.Client
	Metrics *Metrics
	Logger  *slog.Logger
	Now     func() time.Time
}

// Webhook posts notifications to one endpoint as signed JSON. 5xx answers,
// 408, 429 and network errors are retried with backoff; other answers
// outside 2xx are permanent failures. Redirects to another host or scheme,
// or that would change the POST into a GET, are refused.
type Webhook struct {
	url     *url.URL
	secret  []byte
	timeout time.Duration
	retry   Retry
	client  *http.Client
	metrics *Metrics
	log     *slog.Logger
	now     func() time.Time
}

// NewWebhook checks cfg and returns the endpoint's sender.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook: %q is not an http(s) URL", cfg.URL)
	}
	if len(cfg.Secret) < 16 {
		return nil, errors.New("webhook: the signing secret must be at least 16 bytes")
	}
	w := &Webhook{url: u, secret: bytes.Clone(cfg.Secret), timeout: cfg.Timeout, retry: cfg.Retry.withDefaults(),
		metrics: cfg.Metrics, log: cfg.Logger, now: cfg.Now}
	if w.timeout <= 0 {
		w.timeout = 10 * time.Second
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.now == nil {
		w.now = time.Now
	}
	c := http.Client{}
	if cfg.Client != nil {
		c = *cfg.Client
	}
	c.CheckRedirect = sameHostRedirect
	w.client = &c
	return w, nil
}

// errRedirect is why a redirect was not followed.
var errRedirect = errors.New("redirect refused")

// sameHostRedirect follows at most 3 redirects that keep the scheme, host
// and method.
func sameHostRedirect(req *http.Request, via []*http.Request) error {
	first := via[0]
	switch {
	case len(via) >= 3:
		return fmt.Errorf("%w: too many redirects", errRedirect)
	case req.URL.Host != first.URL.Host || req.URL.Scheme != first.URL.Scheme:
		return fmt.Errorf("%w: webhooks never follow redirects to another host (%s://%s)", errRedirect, req.URL.Scheme, req.URL.Host)
	case req.Method != first.Method:
		return fmt.Errorf("%w: it would turn the %s into a %s", errRedirect, first.Method, req.Method)
	}
	return nil
}

// Host is the endpoint's host, for logs.
func (w *Webhook) Host() string { return w.url.Host }

// Send posts n, retrying transient failures.
func (w *Webhook) Send(ctx context.Context, n alerts.Notification) error {
	start := w.now()
	var err error
	for i := 1; i <= w.retry.Attempts; i++ {
		if i > 1 {
			if serr := sleep(ctx, w.wait(i-1, err)); serr != nil {
				err = fmt.Errorf("%w (after: %w)", serr, err)
				break
			}
		}
		err = w.attempt(ctx, n, i)
		if err == nil {
			w.metrics.attempt(alerts.ChannelWebhook, "ok")
			w.metrics.delivery(alerts.ChannelWebhook, nil, w.now().Sub(start))
			return nil
		}
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (after: %w)", cerr, err)
		}
		final := IsPermanent(err) || i == w.retry.Attempts || ctx.Err() != nil
		result := "retry"
		if final {
			result = "failed"
		}
		w.metrics.attempt(alerts.ChannelWebhook, result)
		w.log.Warn("webhook delivery failed", "host", w.url.Host, "notification", n.ID, "attempt", i, "final", final, "err", err)
		if final {
			break
		}
	}
	w.metrics.delivery(alerts.ChannelWebhook, err, w.now().Sub(start))
	return fmt.Errorf("webhook %s: %w", w.url.Host, err)
}

// retryAfter is a 429/503 answer's Retry-After, when it gave one.
type retryAfter struct {
	err   error
	after time.Duration
}

func (e *retryAfter) Error() string { return e.err.Error() }
func (e *retryAfter) Unwrap() error { return e.err }

// wait is the pause before the next attempt: the backoff, or the server's
// Retry-After when longer (capped at MaxBackoff).
func (w *Webhook) wait(i int, last error) time.Duration {
	d := w.retry.delay(i)
	var ra *retryAfter
	if errors.As(last, &ra) && ra.after > d {
		d = min(ra.after, w.retry.MaxBackoff)
	}
	return d
}

func (w *Webhook) attempt(ctx context.Context, n alerts.Notification, i int) error {
	sent := w.now()
	body, err := json.Marshal(NewPayload(n, sent, i))
	if err != nil {
		return permanent("encode payload: %w", err)
	}
	actx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, w.url.String(), bytes.NewReader(body))
	if err != nil {
		return permanent("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "WardWatch")
	req.Header.Set(SignatureHeader, Sign(w.secret, body))
	req.Header.Set(TimestampHeader, strconv.FormatInt(sent.Unix(), 10))
	req.Header.Set(DeliveryHeader, n.ID)
	resp, err := w.client.Do(req)
	if err != nil {
		if errors.Is(err, errRedirect) {
			return permanent("%w", err)
		}
		return err // network error or timeout: transient
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c == http.StatusTooManyRequests || c == http.StatusServiceUnavailable:
		err := fmt.Errorf("answered %s", resp.Status)
		if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s >= 0 {
			return &retryAfter{err: err, after: time.Duration(s) * time.Second}
		}
		return err
	case c >= 500 || c == http.StatusRequestTimeout:
		return fmt.Errorf("answered %s", resp.Status)
	case c >= 300 && c < 400:
		return permanent("answered %s (redirect not followed)", resp.Status)
	}
	return permanent("answered %s", resp.Status)
}

// WebhookSet sends to one of several endpoints by the notification's
// Address (an endpoint name), falling back to its Group.
type WebhookSet map[string]*Webhook

// Send picks the endpoint for n and sends.
func (s WebhookSet) Send(ctx context.Context, n alerts.Notification) error {
	w := s[n.Address]
	if w == nil {
		w = s[n.Group]
	}
	if w == nil {
		return permanent("no webhook endpoint named %q or %q", n.Address, n.Group)
	}
	return w.Send(ctx, n)
}
