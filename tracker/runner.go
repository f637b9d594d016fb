package tracker

import (
	"context"
	"sync"
	"time"

	"github.com/wardwatch/wardwatch"
)

// Runner defaults.
const (
	defaultInterval = 500 * time.Millisecond
	defaultQueue    = 4096
)

// Runner owns an Engine and the one goroutine that drives it: Run feeds it
// the submitted batches, applies site changes, and calls Update on a ticker.
// Submit, SetSite and Stats are safe from any goroutine.
type Runner struct {
	engine   *Engine
	interval time.Duration
	batches  chan []wardwatch.Sighting
	out      func(Output)
	siteSet  chan struct{} // signalled (capacity 1) when site holds a new Site

	mu    sync.Mutex
	site  *Site // waiting to be applied by the loop
	stats Stats // snapshot taken by the loop
}

// NewRunner returns a runner around e, which it owns from now on: nothing
// else may use e. It calls Update every interval (default 500 ms) and hands
// every non-empty Output to out, on the loop's goroutine; out should return
// quickly. queue is how many submitted batches may wait (default 4096).
func NewRunner(e *Engine, interval time.Duration, queue int, out func(Output)) *Runner {
	if interval <= 0 {
		interval = defaultInterval
	}
	if queue <= 0 {
		queue = defaultQueue
	}
	if out == nil {
		out = func(Output) {}
	}
	return &Runner{
		engine:   e,
		interval: interval,
		batches:  make(chan []wardwatch.Sighting, queue),
		out:      out,
		siteSet:  make(chan struct{}, 1),
		stats:    e.Stats(),
	}
}

// Submit queues a batch of sightings without blocking. The runner takes
// ownership of ss: the caller must not change it afterwards. When the queue
// is full it returns an EUNAVAILABLE error (the ingest endpoint answers 503
// and the gateway retries); when ctx is done, ctx's error.
func (r *Runner) Submit(ctx context.Context, ss []wardwatch.Sighting) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(ss) == 0 {
		return nil
	}
	select {
	case r.batches <- ss:
		return nil
	default:
		return wardwatch.Errorf(wardwatch.EUNAVAILABLE, "location engine busy")
	}
}

// SetSite hands the loop a new Site; it is applied before the next batch
// or tick. If several arrive in between, the last one wins.
func (r *Runner) SetSite(site Site) {
	r.mu.Lock()
	r.site = &site
	r.mu.Unlock()
	select {
	case r.siteSet <- struct{}{}:
	default: // already signalled; the loop will pick up the newest site
	}
}

// Stats returns the engine's counters as of the loop's last batch or tick.
func (r *Runner) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Run drives the engine until ctx is done, then returns nil. Call it once.
// Batches still queued when ctx ends are dropped.
func (r *Runner) Run(ctx context.Context) error {
	ticker := time.NewTicker(r.interval)
	defer ticker.Stop()
	r.applySite()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.siteSet:
			r.applySite()
			r.snapshot()
		case ss := <-r.batches:
			r.applySite()
			for _, s := range ss {
				r.engine.Observe(s)
			}
			r.snapshot()
		case <-ticker.C:
			r.applySite()
			out := r.engine.Update(time.Now().UTC())
			r.snapshot()
			if len(out.Positions) > 0 || len(out.ZoneChanges) > 0 {
				r.out(out)
			}
		}
	}
}

// applySite applies a waiting Site, if any.
func (r *Runner) applySite() {
	r.mu.Lock()
	site := r.site
	r.site = nil
	r.mu.Unlock()
	if site != nil {
		r.engine.SetSite(*site)
	}
}

// snapshot publishes the engine's counters for Stats.
func (r *Runner) snapshot() {
	s := r.engine.Stats()
	r.mu.Lock()
	r.stats = s
	r.mu.Unlock()
}
