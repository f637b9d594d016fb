package notify

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/wardwatch/wardwatch/alerts"
)

// TestDispatcher queues notifications, delivers them on workers, reports
// each outcome, drops what it cannot queue, and stops when its context
// ends.
func TestDispatcher(t *testing.T) {
	var mu sync.Mutex
	var results []string
	done := make(chan struct{}, 10)
	inApp := SenderFunc(func(ctx context.Context, n alerts.Notification) error {
		if n.AlertID == 2 {
			return permanent("no such user")
		}
		return nil
	})
	reg := prometheus.NewRegistry()
	metrics, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDispatcher(DispatcherConfig{
		Senders: map[alerts.Channel]Sender{alerts.ChannelInApp: inApp},
		Queue:   2, Workers: 2, Metrics: metrics,
		OnResult: func(n alerts.Notification, err error, at time.Time) {
			mu.Lock()
			defer mu.Unlock()
			r := n.ID + " ok"
			if err != nil {
				r = n.ID + " failed"
			}
			results = append(results, r)
			done <- struct{}{}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	n1 := alerts.Notification{ID: "n1", AlertID: 1, Channel: alerts.ChannelInApp}
	n2 := alerts.Notification{ID: "n2", AlertID: 2, Channel: alerts.ChannelInApp}
	n3 := alerts.Notification{ID: "n3", AlertID: 3, Channel: alerts.ChannelInApp}
	if !d.Enqueue(n1) || !d.Enqueue(n2) {
		t.Fatal("not queued")
	}
	if d.Enqueue(n3) {
		t.Error("a full queue took a third notification")
	}
	if d.Enqueue(alerts.Notification{ID: "e", Channel: alerts.ChannelEmail}) {
		t.Error("queued for a channel without a sender")
	}
	if v := testutil.ToFloat64(metrics.dropped.WithLabelValues("in_app")); v != 1 {
		t.Errorf("dropped in_app %v", v)
	}

	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error)
	go func() { stopped <- d.Run(ctx) }()
	<-done
	<-done
	mu.Lock()
	got := map[string]bool{}
	for _, r := range results {
		got[r] = true
	}
	mu.Unlock()
	if !got["n1 ok"] || !got["n2 failed"] {
		t.Errorf("results %v", results)
	}
	cancel()
	if err := <-stopped; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v", err)
	}
	// Queued while stopped, delivered by the next Run.
	if !d.Enqueue(n3) || d.Queued() != 1 {
		t.Fatal("not queued after stop")
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { stopped <- d.Run(ctx2) }()
	<-done
	cancel2()
	<-stopped
	if _, err := NewDispatcher(DispatcherConfig{}); err == nil {
		t.Error("no senders accepted")
	}
	if _, err := NewDispatcher(DispatcherConfig{Senders: map[alerts.Channel]Sender{"sms": inApp}}); err == nil {
		t.Error("unknown channel accepted")
	}
}
