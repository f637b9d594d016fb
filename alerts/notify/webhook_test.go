package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/wardwatch/wardwatch/alerts"
)

var secret = []byte("0123456789abcdef-test-secret")

func note() alerts.Notification {
	return alerts.Notification{
		ID: "7-1-1772438400000-webhook-team", AlertID: 7,
		Key:  alerts.Key{Rule: "temperature_high", Subject: alerts.Subject{Kind: alerts.SubjectSensor, ID: "ctl1/probe"}},
		Tier: 1, Channel: alerts.ChannelWebhook, Group: alerts.GroupTeam, Address: "nursecall",
		Team: alerts.TeamPharmacy, UnitID: 3, Priority: alerts.PriorityHigh, State: alerts.StateUnack,
		Due:   time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC),
		Title: "[HIGH] Temperature above 8.0 °C — Pharmacy vaccine fridge 2",
		Text:  "Pharmacy vaccine fridge 2 — probe: Temperature above 8.0 °C for 15 min (now 8.6 °C)\nState: Unacknowledged.",
	}
}

// receiver is a real HTTP server on loopback that checks signatures and
// answers from a script of status codes (then 200).
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	script []int
	got    []Payload
	hits   atomic.Int32
	header http.Header
	block  bool // hang until the request is cancelled
	stop   chan struct{}
}

func newReceiver(t *testing.T, script ...int) *receiver {
	r := &receiver{t: t, script: script, stop: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	t.Cleanup(func() { close(r.stop) }) // runs first: releases hung handlers
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	r.hits.Add(1)
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	if r.block {
		select {
		case <-req.Context().Done():
		case <-r.stop:
		}
		return
	}
	if req.Method != http.MethodPost || !VerifySignature(secret, body, req.Header.Get(SignatureHeader)) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var p Payload
	if err := json.Unmarshal(body, &p); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	if ts, _ := strconv.ParseInt(req.Header.Get(TimestampHeader), 10, 64); ts != p.SentAt.Unix() {
		http.Error(w, "timestamp mismatch", 400)
		return
	}
	r.mu.Lock()
	r.got = append(r.got, p)
	r.header = req.Header.Clone()
	code := 200
	if len(r.script) > 0 {
		code, r.script = r.script[0], r.script[1:]
	}
	r.mu.Unlock()
	if code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "0")
	}
	w.WriteHeader(code)
}

func webhook(t *testing.T, url string, reg prometheus.Registerer) *Webhook {
	t.Helper()
	var m *Metrics
	if reg != nil {
		var err error
		if m, err = NewMetrics(reg); err != nil {
			t.Fatal(err)
		}
	}
	w, err := NewWebhook(WebhookConfig{URL: url, Secret: secret, Timeout: 5 * time.Second,
		Retry: Retry{Attempts: 4, Backoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestWebhookDelivers retries 5xx and 429 until the receiver accepts, with
// a valid signature on every attempt.
func TestWebhookDelivers(t *testing.T) {
	rcv := newReceiver(t, 500, 429, 503)
	reg := prometheus.NewRegistry()
	w := webhook(t, rcv.srv.URL+"/hooks/wardwatch", reg)
	if err := w.Send(context.Background(), note()); err != nil {
		t.Fatal(err)
	}
	if n := rcv.hits.Load(); n != 4 {
		t.Errorf("%d attempts, want 4", n)
	}
	p := rcv.got[3]
	if p.ID != note().ID || p.AlertID != 7 || p.Rule != "temperature_high" || p.Priority != "high" || p.DevicePriority != "high" ||
		p.Team != "pharmacy" || p.Attempt != 4 || p.Title != note().Title || !p.DueAt.Equal(note().Due) {
		t.Errorf("payload %+v", p)
	}
	if rcv.header.Get(DeliveryHeader) != note().ID || rcv.header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", rcv.header)
	}
	if got := testutil.ToFloat64(w.metrics.attempts.WithLabelValues("webhook", "retry")); got != 3 {
		t.Errorf("retry attempts %v", got)
	}
	if got := testutil.ToFloat64(w.metrics.deliveries.WithLabelValues("webhook", "delivered")); got != 1 {
		t.Errorf("deliveries %v", got)
	}
}

// TestWebhookFailures: a 4xx is permanent at once; 5xx until attempts run
// out; a redirect to another host is never followed; a same-host 307 is; a
// 302 (which would become a GET) is not; a hung receiver times out.
func TestWebhookFailures(t *testing.T) {
	t.Run("4xx is permanent", func(t *testing.T) {
		rcv := newReceiver(t, 400)
		err := webhook(t, rcv.srv.URL, nil).Send(context.Background(), note())
		if err == nil || !IsPermanent(err) || rcv.hits.Load() != 1 {
			t.Errorf("err %v, %d attempts", err, rcv.hits.Load())
		}
	})
	t.Run("5xx until attempts run out", func(t *testing.T) {
		rcv := newReceiver(t, 500, 500, 500, 500, 500)
		err := webhook(t, rcv.srv.URL, nil).Send(context.Background(), note())
		if err == nil || IsPermanent(err) || rcv.hits.Load() != 4 {
			t.Errorf("err %v, %d attempts", err, rcv.hits.Load())
		}
	})
	t.Run("wrong secret is refused by the receiver", func(t *testing.T) {
		rcv := newReceiver(t)
		w, _ := NewWebhook(WebhookConfig{URL: rcv.srv.URL, Secret: []byte("another-secret-of-16+"), Retry: Retry{Attempts: 1}})
		if err := w.Send(context.Background(), note()); err == nil || !IsPermanent(err) {
			t.Errorf("err %v", err)
		}
	})
	t.Run("redirect to another host is refused", func(t *testing.T) {
		other := newReceiver(t)
		redirector := httptest.NewServer(http.RedirectHandler(other.srv.URL, http.StatusTemporaryRedirect))
		t.Cleanup(redirector.Close)
		err := webhook(t, redirector.URL, nil).Send(context.Background(), note())
		if err == nil || !IsPermanent(err) || other.hits.Load() != 0 {
			t.Errorf("err %v, other host hit %d times", err, other.hits.Load())
		}
	})
	t.Run("same-host 307 is followed with the body", func(t *testing.T) {
		rcv := newReceiver(t)
		mux := http.NewServeMux()
		mux.Handle("/old", http.RedirectHandler("/new", http.StatusTemporaryRedirect))
		mux.HandleFunc("/new", rcv.serve)
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		if err := webhook(t, srv.URL+"/old", nil).Send(context.Background(), note()); err != nil || len(rcv.got) != 1 {
			t.Errorf("err %v, %d received", err, len(rcv.got))
		}
	})
	t.Run("302 would drop the body and is refused", func(t *testing.T) {
		rcv := newReceiver(t)
		mux := http.NewServeMux()
		mux.Handle("/old", http.RedirectHandler("/new", http.StatusFound))
		mux.HandleFunc("/new", rcv.serve)
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		if err := webhook(t, srv.URL+"/old", nil).Send(context.Background(), note()); err == nil || !IsPermanent(err) || rcv.hits.Load() != 0 {
			t.Errorf("err %v, %d hits", err, rcv.hits.Load())
		}
	})
	t.Run("a hung receiver times out each attempt", func(t *testing.T) {
		rcv := newReceiver(t)
		rcv.block = true
		w, _ := NewWebhook(WebhookConfig{URL: rcv.srv.URL, Secret: secret, Timeout: 50 * time.Millisecond,
			Retry: Retry{Attempts: 2, Backoff: time.Millisecond}})
		err := w.Send(context.Background(), note())
		if err == nil || IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) || rcv.hits.Load() != 2 {
			t.Errorf("err %v, %d attempts", err, rcv.hits.Load())
		}
	})
	t.Run("a cancelled context stops the retries", func(t *testing.T) {
		rcv := newReceiver(t, 500, 500, 500, 500)
		w, _ := NewWebhook(WebhookConfig{URL: rcv.srv.URL, Secret: secret, Retry: Retry{Attempts: 4, Backoff: time.Hour}})
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			for rcv.hits.Load() == 0 {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		if err := w.Send(ctx, note()); !errors.Is(err, context.Canceled) {
			t.Errorf("err %v", err)
		}
	})
}

// TestWebhookConfig refuses bad configurations, and the set routes by
// address or group.
func TestWebhookConfig(t *testing.T) {
	for _, c := range []WebhookConfig{
		{URL: "ftp://x", Secret: secret},
		{URL: "http://", Secret: secret},
		{URL: "http://x", Secret: []byte("short")},
	} {
		if _, err := NewWebhook(c); err == nil {
			t.Errorf("NewWebhook(%+v) accepted", c)
		}
	}
	rcv := newReceiver(t)
	set := WebhookSet{"nursecall": webhook(t, rcv.srv.URL, nil)}
	if err := set.Send(context.Background(), note()); err != nil {
		t.Fatal(err)
	}
	n := note()
	n.Address, n.Group = "pager", "on_call"
	if err := set.Send(context.Background(), n); !IsPermanent(err) {
		t.Errorf("unknown endpoint: %v", err)
	}
	if !VerifySignature(secret, []byte("{}"), Sign(secret, []byte("{}"))) || VerifySignature(secret, []byte("{}"), Sign(secret, []byte("{ }"))) {
		t.Error("signature check")
	}
}
