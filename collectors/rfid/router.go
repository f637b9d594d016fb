package rfid

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
)

// Defaults of RouterOptions.
const (
	DefaultAdvanceEvery = time.Second
	DefaultMaxPending   = 10000
)

// RouterOptions configures NewRouter.
type RouterOptions struct {
	// Readers resolves the reads' reader keys (required).
	Readers ReaderLookup
	// Sightings receives the sightings (required): the location engine's
	// runner.
	Sightings SightingSink
	// ZoneChanges receives portal crossings; nil: portals are not
	// tracked.
	ZoneChanges ZoneChangeSink
	// RSSIAt1m is passed to ToSightings.
	RSSIAt1m func(gatewayID int64) float64
	// Logger, nil: discard.
	Logger *slog.Logger
	// Registerer for the metrics; nil: not registered.
	Registerer prometheus.Registerer
	// Now is Run's clock; nil: time.Now.
	Now func() time.Time
	// AdvanceEvery is how often Run closes quiet portal passes
	// (DefaultAdvanceEvery).
	AdvanceEvery time.Duration
	// MaxPending caps the crossings kept while the ZoneChanges sink
	// fails; beyond it the oldest are dropped and counted
	// (DefaultMaxPending).
	MaxPending int
}

// Router is the Sink that turns accepted reads into location-engine
// sightings (ToSightings) and, for portal readers, door crossings
// (PortalTracker). It is safe for concurrent use. Its only goroutine is
// Run's, which closes portal passes that went quiet.
//
// Metrics:
//
//	wardwatch_rfid_sightings_total                 sightings handed to the location engine
//	wardwatch_rfid_dropped_reads_total{reason}     reads not turned into sightings; reason: unconfigured_antenna, unknown_reader
//	wardwatch_rfid_portal_events_total{event}      event: crossing, suppressed, undecided, one_sided, late_read, untracked_read
//	wardwatch_rfid_zone_changes_pending            crossings waiting for the ZoneChanges sink
//	wardwatch_rfid_zone_changes_dropped_total      crossings dropped because too many were pending
type Router struct {
	opt RouterOptions
	log *slog.Logger

	mu      sync.Mutex
	portals map[string]*portalEntry // by reader key

	flushMu sync.Mutex // one flush at a time, so crossings keep their order
	pendMu  sync.Mutex
	pending []wardwatch.ZoneChange

	sightings    prometheus.Counter
	dropped      *prometheus.CounterVec
	portalEvents *prometheus.CounterVec
	pendingGauge prometheus.Gauge
	pendDropped  prometheus.Counter
}

type portalEntry struct {
	cfg     Portal
	tracker *PortalTracker // nil: the configuration is invalid
}

// Reasons of wardwatch_rfid_dropped_reads_total.
const (
	dropUnconfiguredAntenna = "unconfigured_antenna"
	dropUnknownReader       = "unknown_reader"
)

// NewRouter returns a Router. Readers and Sightings are required.
func NewRouter(opt RouterOptions) (*Router, error) {
	if opt.Readers == nil || opt.Sightings == nil {
		return nil, errors.New("rfid: NewRouter needs Readers and Sightings")
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.AdvanceEvery <= 0 {
		opt.AdvanceEvery = DefaultAdvanceEvery
	}
	if opt.MaxPending <= 0 {
		opt.MaxPending = DefaultMaxPending
	}
	r := &Router{
		opt:     opt,
		log:     opt.Logger,
		portals: make(map[string]*portalEntry),
		sightings: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_rfid_sightings_total",
			Help: "Sightings made of RFID reads and handed to the location engine.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardwatch_rfid_dropped_reads_total",
			Help: "RFID reads not turned into sightings, by reason.",
		}, []string{"reason"}),
		portalEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardwatch_rfid_portal_events_total",
			Help: "What RFID door portals made of tag passes and reads, by event.",
		}, []string{"event"}),
		pendingGauge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wardwatch_rfid_zone_changes_pending",
			Help: "Portal crossings waiting to be delivered.",
		}),
		pendDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_rfid_zone_changes_dropped_total",
			Help: "Portal crossings dropped because too many were waiting to be delivered.",
		}),
	}
	for _, reason := range []string{dropUnconfiguredAntenna, dropUnknownReader} {
		r.dropped.WithLabelValues(reason)
	}
	for _, ev := range []string{"crossing", "suppressed", "undecided", "one_sided", "late_read", "untracked_read"} {
		r.portalEvents.WithLabelValues(ev)
	}
	r.sightings = register(opt.Registerer, r.sightings)
	r.dropped = register(opt.Registerer, r.dropped)
	r.portalEvents = register(opt.Registerer, r.portalEvents)
	r.pendingGauge = register(opt.Registerer, r.pendingGauge)
	r.pendDropped = register(opt.Registerer, r.pendDropped)
	return r, nil
}

// register registers c on reg, reusing an identical collector registered
// before (two components sharing a registry count together). With a nil
// registry, or a conflicting collector, c counts unregistered.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}

// SubmitReads turns reads into sightings for the Sightings sink and feeds
// portal readers' reads to their trackers. Reads of unknown readers and
// from unconfigured antennas are dropped and counted. It fails when a
// reader cannot be looked up (other than "not found") or the Sightings
// sink fails (its error is wrapped, so an EUNAVAILABLE code shows
// through): then no portal saw the reads, and the caller may retry the
// whole batch.
func (r *Router) SubmitReads(ctx context.Context, reads []Read) error {
	if len(reads) == 0 {
		return nil
	}
	type group struct {
		reader Reader
		reads  []Read
	}
	var groups []group
	for i := 0; i < len(reads); {
		key := reads[i].Reader
		j := i + 1
		for j < len(reads) && reads[j].Reader == key {
			j++
		}
		// Batches from one push name one reader: one lookup. Mixed
		// batches cost a lookup per run of reads.
		rd, err := r.opt.Readers.ReaderByKey(ctx, key)
		switch wardwatch.ErrorCode(err) {
		case "":
			rs := reads[i:j]
			if rd.Key != key { // the lookup matched loosely: stamp the reader's own key
				rs = slices.Clone(rs)
				for k := range rs {
					rs[k].Reader = rd.Key
				}
			}
			groups = append(groups, group{rd, rs})
		case wardwatch.ENOTFOUND:
			r.dropped.WithLabelValues(dropUnknownReader).Add(float64(j - i))
			r.log.Warn("rfid: reads from an unknown reader dropped", "reader", shorten(key, 64), "reads", j-i)
		default:
			return fmt.Errorf("rfid: look up reader %s: %w", quoteShort(key), err)
		}
		i = j
	}

	var ss []wardwatch.Sighting
	for _, g := range groups {
		s, dropped := ToSightings(g.reader, g.reads, r.opt.RSSIAt1m)
		if dropped > 0 {
			r.dropped.WithLabelValues(dropUnconfiguredAntenna).Add(float64(dropped))
		}
		ss = append(ss, s...)
	}
	if len(ss) > 0 {
		if err := r.opt.Sightings.Submit(ctx, ss); err != nil {
			return fmt.Errorf("rfid: submit %d sightings: %w", len(ss), err)
		}
		r.sightings.Add(float64(len(ss)))
	}

	if r.opt.ZoneChanges == nil {
		return nil
	}
	var zcs []wardwatch.ZoneChange
	r.mu.Lock()
	for _, g := range groups {
		pt := r.trackerLocked(g.reader)
		if pt == nil {
			continue
		}
		before := pt.Stats()
		zcs = append(zcs, pt.Observe(g.reads...)...)
		r.countPortal(before, pt.Stats())
	}
	r.mu.Unlock()
	r.deliver(ctx, zcs)
	return nil
}

// trackerLocked returns the reader's portal tracker, made anew when its
// portal configuration changed; nil for a reader that is no portal or
// whose portal is misconfigured (logged once per configuration).
func (r *Router) trackerLocked(rd Reader) *PortalTracker {
	e := r.portals[rd.Key]
	if rd.Portal == nil {
		if e != nil {
			delete(r.portals, rd.Key)
		}
		return nil
	}
	if e != nil && samePortal(e.cfg, *rd.Portal) {
		return e.tracker
	}
	cfg := clonePortal(*rd.Portal)
	pt, err := NewPortalTracker(cfg)
	if err != nil {
		r.log.Error("rfid: reader's portal is misconfigured; crossings are not tracked", "reader", shorten(rd.Key, 64), "err", err)
	}
	r.portals[rd.Key] = &portalEntry{cfg: cfg, tracker: pt}
	return pt
}

func samePortal(a, b Portal) bool {
	return slices.Equal(a.Inside, b.Inside) && slices.Equal(a.Outside, b.Outside) &&
		a.InsideZone == b.InsideZone && a.OutsideZone == b.OutsideZone &&
		a.Window == b.Window && a.MinInterval == b.MinInterval
}

func clonePortal(p Portal) Portal {
	p.Inside = slices.Clone(p.Inside)
	p.Outside = slices.Clone(p.Outside)
	return p
}

// countPortal adds the difference of two tracker stats to the metrics.
func (r *Router) countPortal(before, after PortalStats) {
	add := func(ev string, a, b uint64) {
		if b > a {
			r.portalEvents.WithLabelValues(ev).Add(float64(b - a))
		}
	}
	add("crossing", before.Crossings, after.Crossings)
	add("suppressed", before.Suppressed, after.Suppressed)
	add("undecided", before.Undecided, after.Undecided)
	add("one_sided", before.OneSided, after.OneSided)
	add("late_read", before.Late, after.Late)
	add("untracked_read", before.Dropped, after.Dropped)
}

// Advance closes the portal passes that went quiet by now and delivers
// their crossings, with any crossings still pending.
func (r *Router) Advance(ctx context.Context, now time.Time) {
	if r.opt.ZoneChanges == nil {
		return
	}
	var zcs []wardwatch.ZoneChange
	r.mu.Lock()
	for _, e := range r.portals {
		if e.tracker == nil {
			continue
		}
		before := e.tracker.Stats()
		zcs = append(zcs, e.tracker.Advance(now)...)
		r.countPortal(before, e.tracker.Stats())
	}
	r.mu.Unlock()
	slices.SortStableFunc(zcs, func(a, b wardwatch.ZoneChange) int { return a.Time.Compare(b.Time) })
	r.deliver(ctx, zcs)
}

// deliver queues crossings and hands everything queued to the sink. What
// the sink refuses stays queued (up to MaxPending) for the next delivery.
func (r *Router) deliver(ctx context.Context, zcs []wardwatch.ZoneChange) {
	r.pendMu.Lock()
	r.pending = append(r.pending, zcs...)
	if over := len(r.pending) - r.opt.MaxPending; over > 0 {
		r.pending = slices.Delete(r.pending, 0, over)
		r.pendDropped.Add(float64(over))
		r.log.Error("rfid: portal crossings dropped: too many waiting for delivery", "dropped", over)
	}
	empty := len(r.pending) == 0
	r.pendingGauge.Set(float64(len(r.pending)))
	r.pendMu.Unlock()
	if empty {
		return
	}

	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.pendMu.Lock()
	batch := r.pending
	r.pending = nil
	r.pendMu.Unlock()
	if len(batch) == 0 {
		return
	}
	if err := r.opt.ZoneChanges.SubmitZoneChanges(ctx, batch); err != nil {
		r.log.Warn("rfid: delivering portal crossings failed; will retry", "crossings", len(batch), "err", err)
		r.pendMu.Lock()
		r.pending = append(batch, r.pending...)
		if over := len(r.pending) - r.opt.MaxPending; over > 0 {
			r.pending = slices.Delete(r.pending, 0, over)
			r.pendDropped.Add(float64(over))
		}
		r.pendingGauge.Set(float64(len(r.pending)))
		r.pendMu.Unlock()
		return
	}
	r.pendMu.Lock()
	r.pendingGauge.Set(float64(len(r.pending)))
	r.pendMu.Unlock()
}

// Run calls Advance every AdvanceEvery with the Now clock until ctx ends,
// then returns nil.
func (r *Router) Run(ctx context.Context) error {
	t := time.NewTicker(r.opt.AdvanceEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			r.Advance(ctx, r.opt.Now())
		}
	}
}
