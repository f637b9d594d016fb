package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/collectors/ble"
	"github.com/wardwatch/wardwatch/collectors/httppoll"
	"github.com/wardwatch/wardwatch/collectors/rfid"
	"github.com/wardwatch/wardwatch/health"
	"github.com/wardwatch/wardwatch/sql"
	"github.com/wardwatch/wardwatch/tracker"
	"github.com/wardwatch/wardwatch/web"
)

// readerLookup resolves RFID readers from the config store for the rfid
// collector, converting the stored configuration to its types. A push is
// resolved three times (authentication, health, routing), so readers are
// kept for readerCacheTTL; clear drops them after an admin change.
type readerLookup struct {
	store *sql.Store

	mu     sync.Mutex
	cached map[string]cachedReader
}

type cachedReader struct {
	r       rfid.Reader
	expires time.Time
}

const readerCacheTTL = 10 * time.Second

func newReaderLookup(store *sql.Store) *readerLookup {
	return &readerLookup{store: store, cached: make(map[string]cachedReader)}
}

// clear forgets every cached reader.
func (l *readerLookup) clear() {
	l.mu.Lock()
	clear(l.cached)
	l.mu.Unlock()
}

func (l *readerLookup) ReaderByKey(ctx context.Context, key string) (rfid.Reader, error) {
	now := time.Now()
	l.mu.Lock()
	c, ok := l.cached[key]
	l.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.r, nil
	}
	r, err := l.load(ctx, key)
	if err != nil {
		return r, err // unknown readers are not cached: a new one works at once
	}
	l.mu.Lock()
	if len(l.cached) >= 1024 {
		clear(l.cached)
	}
	l.cached[key] = cachedReader{r: r, expires: now.Add(readerCacheTTL)}
	l.mu.Unlock()
	return r, nil
}

func (l *readerLookup) load(ctx context.Context, key string) (rfid.Reader, error) {
	r, err := l.store.RFIDReaderByKey(ctx, key)
	if err != nil {
		return rfid.Reader{}, err
	}
	out := rfid.Reader{Key: r.Key, TokenHash: r.TokenHash, Format: rfid.Format(r.Format), Antennas: make(map[int]rfid.Antenna, len(r.Antennas))}
	for _, a := range r.Antennas {
		out.Antennas[a.Port] = rfid.Antenna{GatewayID: a.GatewayID, ZoneID: a.ZoneID}
	}
	if p := r.Portal; p != nil {
		out.Portal = &rfid.Portal{Inside: p.Inside, Outside: p.Outside, InsideZone: p.InsideZoneID, OutsideZone: p.OutsideZoneID}
	}
	return out, nil
}

// readHealth tells the gateway health board about RFID reads: each
// antenna is a gateway.
type readHealth struct {
	next    rfid.Sink
	readers rfid.ReaderLookup
	board   *health.Board
	now     func() time.Time
}

func (h readHealth) SubmitReads(ctx context.Context, reads []rfid.Read) error {
	counts := map[string]map[int]int{}
	for _, r := range reads {
		if counts[r.Reader] == nil {
			counts[r.Reader] = map[int]int{}
		}
		counts[r.Reader][r.Antenna]++
	}
	now := h.now()
	for key, ports := range counts {
		rd, err := h.readers.ReaderByKey(ctx, key)
		if err != nil {
			continue
		}
		for port, n := range ports {
			if a, ok := rd.Antennas[port]; ok {
				h.board.GatewayMessage(a.GatewayID, now, n, 0, 0)
			}
		}
	}
	return h.next.SubmitReads(ctx, reads)
}

// crossings fills in door crossings' assets and floors and records them.
type crossings struct {
	site   *atomic.Pointer[tracker.Site]
	logger *slog.Logger
	count  prometheus.Counter
}

func (c *crossings) SubmitZoneChanges(_ context.Context, zcs []wardwatch.ZoneChange) error {
	site := c.site.Load()
	assets := make(map[string]int64, len(site.Tags))
	for _, t := range site.Tags {
		assets[t.ID] = t.AssetID
	}
	floors := make(map[int64]int64, len(site.Zones))
	for _, z := range site.Zones {
		floors[z.ID] = z.FloorID
	}
	for _, zc := range zcs {
		zc.AssetID, zc.FloorID = assets[zc.TagID], floors[zc.ToZone]
		c.count.Inc()
		c.logger.Info("door crossing", "asset", zc.AssetID, "from_zone", zc.FromZone, "to_zone", zc.ToZone, "at", zc.Time)
	}
	return nil
}

// rssiAt1m is the RSSI the engine expects 1 m from a gateway, as the rfid
// collector needs it (before the gateway's receive offset).
func rssiAt1m(site *atomic.Pointer[tracker.Site]) func(int64) float64 {
	return func(id int64) float64 {
		for _, g := range site.Load().Gateways {
			if g.ID == id {
				v := g.RSSIAt1m
				if v == 0 {
					v = rfid.DefaultRSSIAt1m
				}
				return v - g.RxOffset
			}
		}
		return rfid.DefaultRSSIAt1m
	}
}

// newPoller polls the configured gateways and readers and hands each body
// to the BLE or RFID ingestion path.
func newPoller(store *sql.Store, router *ble.Router, rfidPoll func(ctx context.Context, reader, format string, body []byte, ct string) error,
	board *health.Board, logger *slog.Logger, reg prometheus.Registerer, now func() time.Time) *pollerWithTargets {
	var targets atomic.Pointer[map[string]wardwatch.PollTarget]
	empty := map[string]wardwatch.PollTarget{}
	targets.Store(&empty)
	p := httppoll.New(httppoll.Options{
		Logger: logger, Registerer: reg, Now: now,
		Handle: func(ctx context.Context, t httppoll.Target, body []byte, ct string) error {
			pt, ok := (*targets.Load())[t.Name]
			if !ok {
				return errors.New("poll target no longer configured")
			}
			if pt.Source == "rfid" {
				return rfidPoll(ctx, pt.Key, pt.Format, body, ct)
			}
			return pollGateway(ctx, store, router, board, pt, body, ct, now())
		},
	})
	return &pollerWithTargets{Poller: p, targets: &targets, logger: logger}
}

// pollGateway reads a polled BLE gateway's body in its format and routes
// it as if the gateway had pushed it.
func pollGateway(ctx context.Context, store *sql.Store, router *ble.Router, board *health.Board, pt wardwatch.PollTarget, body []byte, ct string, now time.Time) error {
	gw, err := store.GatewayByKey(ctx, pt.Key)
	if err != nil {
		return fmt.Errorf("gateway %q: %w", pt.Key, err)
	}
	var p ble.Parsed
	switch ble.Format(pt.Format) {
	case ble.FormatMinewJSONLong:
		p, err = ble.ParseMinewJSONLong(body, now)
	case ble.FormatIngics:
		p, err = ble.ParseIngics(body, now)
	case ble.FormatWardWatch, "":
		var ss []wardwatch.Sighting
		var bad []ble.ItemError
		ss, bad, err = ble.ParseBatch(body, ct, gw, now)
		for _, s := range ss {
			p.Observations = append(p.Observations, ble.Observation{GatewayKey: gw.Key, Sighting: s})
		}
		p.Errors = bad
		p.Format = ble.FormatWardWatch
	default:
		return fmt.Errorf("format %q cannot be polled", pt.Format)
	}
	if err != nil {
		board.GatewayMessage(gw.ID, now, 0, 1, 0)
		return fmt.Errorf("parse %s body: %w", pt.Format, err)
	}
	res, err := router.RouteFrom(ctx, gw, p, now)
	board.GatewayMessage(gw.ID, now, res.Sightings, len(p.Errors), len(p.Skipped))
	return err
}

// pollerWithTargets is the HTTP poller and the stored targets it polls.
type pollerWithTargets struct {
	*httppoll.Poller
	targets *atomic.Pointer[map[string]wardwatch.PollTarget]
	logger  *slog.Logger
}

// apply polls the enabled stored targets from now on.
func (p *pollerWithTargets) apply(ts []wardwatch.PollTarget) {
	byName := make(map[string]wardwatch.PollTarget, len(ts))
	var run []httppoll.Target
	for _, t := range ts {
		byName[t.Name] = t
		if !t.Enabled {
			continue
		}
		ht := httppoll.Target{Name: t.Name, URL: t.URL, Format: t.Format, Interval: t.Interval, Timeout: t.Timeout}
		if t.AuthHeader != "" {
			ht.Header = map[string]string{"Authorization": t.AuthHeader}
		}
		run = append(run, ht)
	}
	p.targets.Store(&byName)
	if err := p.SetTargets(run); err != nil && p.logger != nil {
		p.logger.Warn("some poll targets were not started", "err", err)
	}
}

// status is the poll targets' state for the admin page, by name.
func (p *pollerWithTargets) status() map[string]web.CollectorStatus {
	out := map[string]web.CollectorStatus{}
	for _, s := range p.Status() {
		out[s.Name] = web.CollectorStatus{Online: !s.LastOK.IsZero() && s.ConsecutiveFailures == 0, LastOK: s.LastOK,
			LastError: s.LastError, Failures: s.ConsecutiveFailures}
	}
	return out
}
