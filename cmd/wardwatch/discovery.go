package main

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/collectors/ble"
)

// discoveredTagStore is where discovered tags are kept (the config store).
type discoveredTagStore interface {
	RecordDiscoveredTags(ctx context.Context, ds []wardwatch.DiscoveredTag) (int, error)
	PruneDiscoveredTags(ctx context.Context, before time.Time) (int64, error)
}

// Discovery defaults.
const (
	discoveryFlushEvery = 10 * time.Second
	discoveryMaxPending = 10000              // distinct unknown tags held between flushes
	discoveryKeep       = 7 * 24 * time.Hour // unheard this long: dropped from the list
)

// discovery passes sightings on to the engine and notes those of tags
// that belong to no asset, flushing them to the discovered-tags list every
// few seconds so an admin can assign them.
type discovery struct {
	next   ble.Sink
	store  discoveredTagStore
	logger *slog.Logger
	known  atomic.Pointer[map[string]bool]

	mu      sync.Mutex
	pending map[string]*wardwatch.DiscoveredTag

	noted, overflow prometheus.Counter
}

func newDiscovery(next ble.Sink, store discoveredTagStore, tags []wardwatch.Tag, logger *slog.Logger, reg prometheus.Registerer) *discovery {
	d := &discovery{
		next: next, store: store, logger: logger,
		pending: make(map[string]*wardwatch.DiscoveredTag),
		noted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_discovery_sightings_total",
			Help: "Sightings of tags that belong to no asset, noted for the discovered-tags list.",
		}),
		overflow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_discovery_dropped_total",
			Help: "Unknown tags not noted because the discovered-tags list or its buffer was full.",
		}),
	}
	reg.MustRegister(d.noted, d.overflow)
	d.setTags(tags)
	return d
}

// setTags replaces the set of tags that belong to assets.
func (d *discovery) setTags(tags []wardwatch.Tag) {
	known := make(map[string]bool, len(tags))
	for _, t := range tags {
		known[t.ID] = true
	}
	d.known.Store(&known)
}

// Submit notes unknown tags and hands every sighting on.
func (d *discovery) Submit(ctx context.Context, ss []wardwatch.Sighting) error {
	known := *d.known.Load()
	var locked bool
	for _, s := range ss {
		if known[s.TagID] {
			continue
		}
		if !locked {
			d.mu.Lock()
			locked = true
		}
		d.note(s)
	}
	if locked {
		d.mu.Unlock()
	}
	return d.next.Submit(ctx, ss)
}

// note records one sighting of an unknown tag; d.mu is held.
func (d *discovery) note(s wardwatch.Sighting) {
	p, ok := d.pending[s.TagID]
	if !ok {
		if len(d.pending) >= discoveryMaxPending {
			d.overflow.Inc()
			return
		}
		p = &wardwatch.DiscoveredTag{TagID: s.TagID, FirstSeen: s.Time, LastSeen: s.Time, GatewayID: s.GatewayID, RSSI: s.RSSI}
		d.pending[s.TagID] = p
	}
	d.noted.Inc()
	p.Sightings++
	if s.Time.Before(p.FirstSeen) {
		p.FirstSeen = s.Time
	}
	switch {
	case s.Time.After(p.LastSeen):
		p.LastSeen, p.GatewayID, p.RSSI = s.Time, s.GatewayID, s.RSSI
	case s.Time.Equal(p.LastSeen) && s.RSSI > p.RSSI:
		p.GatewayID, p.RSSI = s.GatewayID, s.RSSI
	}
}

// flush writes the noted tags to the store. On failure they are kept for
// the next flush.
func (d *discovery) flush(ctx context.Context) {
	d.mu.Lock()
	if len(d.pending) == 0 {
		d.mu.Unlock()
		return
	}
	batch := make([]wardwatch.DiscoveredTag, 0, len(d.pending))
	for _, p := range d.pending {
		batch = append(batch, *p)
	}
	d.pending = make(map[string]*wardwatch.DiscoveredTag)
	d.mu.Unlock()

	dropped, err := d.store.RecordDiscoveredTags(ctx, batch)
	if err != nil {
		d.logger.Warn("record discovered tags", "tags", len(batch), "err", err)
		d.mu.Lock()
		for i := range batch {
			if _, ok := d.pending[batch[i].TagID]; !ok && len(d.pending) < discoveryMaxPending {
				d.pending[batch[i].TagID] = &batch[i]
			}
		}
		d.mu.Unlock()
		return
	}
	if dropped > 0 {
		d.overflow.Add(float64(dropped))
		d.logger.Warn("discovered-tags list is full; new tags are not listed", "dropped", dropped)
	}
}

// Run flushes every few seconds and once more when ctx ends; it prunes
// tags not heard for a week once an hour.
func (d *discovery) Run(ctx context.Context) error {
	tick := time.NewTicker(discoveryFlushEvery)
	defer tick.Stop()
	var lastPrune time.Time
	for {
		select {
		case <-ctx.Done():
			flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			d.flush(flushCtx)
			cancel()
			return nil
		case now := <-tick.C:
			d.flush(ctx)
			if now.Sub(lastPrune) > time.Hour {
				lastPrune = now
				if _, err := d.store.PruneDiscoveredTags(ctx, now.Add(-discoveryKeep)); err != nil && ctx.Err() == nil {
					d.logger.Warn("prune discovered tags", "err", err)
				}
			}
		}
	}
}
