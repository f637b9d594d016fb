package notify

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/wardwatch/wardwatch/alerts"
)

// DispatcherConfig configures a Dispatcher.
type DispatcherConfig struct {
	// Senders deliver each channel: the web hub for in-app, a WebhookSet,
	// a Mailer.
	Senders map[alerts.Channel]Sender
	Queue   int // queued notifications at most; default 1000
	Workers int // concurrent deliveries; default 4
	// OnResult, when set, is called after each delivery (err nil) or
	// failure, from a worker goroutine: store the outcome with the
	// notification.
	OnResult func(n alerts.Notification, err error, at time.Time)
	Metrics  *Metrics
	Logger   *slog.Logger
	Now      func() time.Time
}

// Dispatcher delivers notifications off the caller's path: Enqueue never
// blocks, and Run's workers send them. A full queue drops the notification
// (counted and logged) rather than stall alert processing.
type Dispatcher struct {
	cfg   DispatcherConfig
	queue chan alerts.Notification

	mu      sync.Mutex
	running bool
}

// NewDispatcher checks cfg and returns a dispatcher.
func NewDispatcher(cfg DispatcherConfig) (*Dispatcher, error) {
	if len(cfg.Senders) == 0 {
		return nil, errors.New("dispatcher: no senders")
	}
	for ch, s := range cfg.Senders {
		if !ch.Valid() || s == nil {
			return nil, errors.New("dispatcher: every sender needs a known channel")
		}
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 1000
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Dispatcher{cfg: cfg, queue: make(chan alerts.Notification, cfg.Queue)}, nil
}

// Enqueue queues n for delivery and reports whether it was queued: false
// when its channel has no sender or the queue is full.
func (d *Dispatcher) Enqueue(n alerts.Notification) bool {
	ch := knownChannel(n.Channel)
	if d.cfg.Senders[n.Channel] == nil {
		d.cfg.Metrics.drop(ch)
		d.cfg.Logger.Error("notification dropped: no sender for its channel", "channel", ch, "notification", n.ID)
		return false
	}
	select {
	case d.queue <- n:
		return true
	default:
		d.cfg.Metrics.drop(ch)
		d.cfg.Logger.Error("notification dropped: delivery queue full", "channel", ch, "notification", n.ID, "queue", cap(d.queue))
		return false
	}
}

// Queued is how many notifications wait.
func (d *Dispatcher) Queued() int { return len(d.queue) }

// Run delivers queued notifications with the configured number of workers
// until ctx is done; deliveries in flight are cancelled with it. It returns
// ctx's error once every worker has stopped. Notifications still queued
// then stay queued for the next Run.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.mu.Lock()
	if d.running {
		d.mu.Unlock()
		return errors.New("dispatcher: already running")
	}
	d.running = true
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.running = false
		d.mu.Unlock()
	}()
	var wg sync.WaitGroup
	for range d.cfg.Workers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case n := <-d.queue:
					d.deliver(ctx, n)
				}
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

func (d *Dispatcher) deliver(ctx context.Context, n alerts.Notification) {
	err := d.cfg.Senders[n.Channel].Send(ctx, n)
	if err != nil {
		d.cfg.Logger.Warn("notification not delivered", "channel", n.Channel, "notification", n.ID,
			"alert", n.AlertID, "permanent", IsPermanent(err), "err", err)
	}
	if d.cfg.OnResult != nil {
		d.cfg.OnResult(n, err, d.cfg.Now())
	}
}
