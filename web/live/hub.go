// Package live streams asset positions to browsers over websockets.
//
// A Hub keeps the latest position of every asset and fans the changes out
// to the clients watching a floor. Each client gets a snapshot of its floor
// when it connects and then coalesced updates: the newest position per
// asset, flushed at most once per Options.FlushInterval. The wire protocol
// (server → client, compact JSON text messages, times in Unix milliseconds,
// metres and confidence rounded to 2 decimals):
//
//	{"t":"snap","floor":F,"now":NOW_MS,"a":[[assetId,x,y,zoneId,tsMs,conf],…]}
//	{"t":"pos","now":NOW_MS,"a":[[assetId,x,y,zoneId,tsMs,conf],…]}
//	{"t":"gone","a":[assetId,…]}
//
// "gone" lists the assets that left the client's floor for another one.
// Clients send nothing meaningful; whatever they send is discarded.
//
// Every connection has exactly one writer goroutine (the one running
// ServeFloor, which does all writes: data, pings, pongs and close frames) and
// one reader goroutine. Publish never blocks on clients: each client has a
// pending map (asset → newest entry) bounded by the number of assets, and a
// client that cannot take a write within Options.WriteTimeout, or whose
// pending state stays unflushed for more than ten flush intervals, is
// dropped.
package live

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
)

// Defaults for the zero values of Options.
const (
	DefaultFlushInterval = 250 * time.Millisecond
	DefaultWriteTimeout  = 5 * time.Second
	DefaultPingInterval  = 20 * time.Second
	DefaultMaxClients    = 1000
)

const (
	// readLimit bounds a client message; clients have nothing to say.
	readLimit = 512
	// slowFlushes is how many flush intervals a client's pending state may
	// wait for its writer before the client is dropped as slow.
	slowFlushes = 10
	// pongWaitFactor times the ping interval is how long the reader waits
	// for a pong (or any frame) before it gives up on the peer.
	pongWaitFactor = 2.5
)

// Reasons a client is dropped, the values of the reason label of
// wardwatch_live_dropped_clients_total.
const (
	reasonWriteError = "write_error"
	reasonSlow       = "slow"
	reasonShutdown   = "shutdown"
)

// shutdownText is the reason in the close frame sent when the hub stops.
const (
	shutdownText     = "server shutting down"
	sessionEndedText = "session ended"
)

// Options tunes a Hub. Zero values take the defaults.
type Options struct {
	FlushInterval time.Duration    // coalesced updates are flushed to each client at most this often (default 250ms)
	WriteTimeout  time.Duration    // per write (default 5s); a client that cannot take a write in time is dropped
	PingInterval  time.Duration    // default 20s; pong wait = 2.5 × PingInterval
	MaxClients    int              // default 1000; beyond it ServeFloor answers 503
	Now           func() time.Time // clock for the "now" field of messages; default time.Now
}

func (o Options) withDefaults() Options {
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.PingInterval <= 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.MaxClients <= 0 {
		o.MaxClients = DefaultMaxClients
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Hub keeps the latest position of every asset and streams changes to the
// websocket clients of each floor. Create it with NewHub, start Run in its
// own goroutine, feed it with Publish and attach clients with ServeFloor.
// Clients attached before Run starts get their snapshot; updates flow while
// Run runs.
type Hub struct {
	log      *slog.Logger
	opt      Options
	pongWait time.Duration
	upgrader websocket.Upgrader
	m        metrics

	running atomic.Bool
	notify  chan struct{} // 1 slot: changed has entries for Run to fan out

	mu      sync.Mutex                   // guards the fields below
	latest  map[int64]wardwatch.Position // asset → latest position
	changed map[int64]wardwatch.Position // asset → newest position not yet fanned out
	spare   map[int64]wardwatch.Position // cleared map swapped in for changed

	// cmu guards the fields below. When both are needed, cmu is taken
	// before mu, so a client's snapshot and the batches fanned out to it
	// are ordered: every batch it gets is newer than its snapshot.
	cmu     sync.Mutex
	clients map[*client]struct{}
	slots   int  // registered clients plus upgrades in progress
	closed  bool // Run has shut the hub down; no new clients
	wg      sync.WaitGroup

	subs subscribers // in-process listeners (Subscribe)
}

// NewHub returns a Hub that logs to logger and registers its metrics on reg
// (either may be nil).
func NewHub(logger *slog.Logger, reg prometheus.Registerer, opt Options) *Hub {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opt = opt.withDefaults()
	h := &Hub{
		log:      logger,
		opt:      opt,
		pongWait: time.Duration(float64(opt.PingInterval) * pongWaitFactor),
		m:        newMetrics(logger, reg),
		notify:   make(chan struct{}, 1),
		latest:   make(map[int64]wardwatch.Position),
		changed:  make(map[int64]wardwatch.Position),
		spare:    make(map[int64]wardwatch.Position),
		clients:  make(map[*client]struct{}),
	}
	h.upgrader = websocket.Upgrader{
		// CheckOrigin is left nil: gorilla's same-origin check.
		HandshakeTimeout: opt.WriteTimeout,
		WriteBufferPool:  &sync.Pool{},
	}
	return h
}

// Run fans published positions out to the clients and drops clients that
// stay unflushed for too long. It returns nil when ctx is done, after
// closing every client with a close frame "server shutting down" and
// waiting for their goroutines to end. A Hub runs once; a second call
// returns an error.
func (h *Hub) Run(ctx context.Context) error {
	if !h.running.CompareAndSwap(false, true) {
		return errors.New("live: hub already running or shut down")
	}
	sweep := time.NewTicker(h.opt.FlushInterval)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			h.shutdown()
			return nil
		case <-h.notify:
			h.fanOut()
		case now := <-sweep.C:
			h.sweepSlow(now)
		}
	}
}

// Publish records positions as the latest of their assets and queues them
// for the clients. It never waits for clients. Positions without an asset
// (AssetID 0) or with non-finite coordinates or confidence are ignored.
func (h *Hub) Publish(ps []wardwatch.Position) {
	queued := false
	var accepted []wardwatch.Position // for subscribers, when there are any
	listening := h.subs.n.Load() > 0
	h.mu.Lock()
	for _, p := range ps {
		if !publishable(p) {
			continue
		}
		if old, ok := h.latest[p.AssetID]; ok && old == p {
			continue
		}
		h.latest[p.AssetID] = p
		h.changed[p.AssetID] = p
		queued = true
		if listening {
			accepted = append(accepted, p)
		}
	}
	h.mu.Unlock()
	if len(accepted) > 0 {
		h.subs.deliver(accepted)
	}
	if queued {
		select {
		case h.notify <- struct{}{}:
		default:
		}
	}
}

func publishable(p wardwatch.Position) bool {
	return p.AssetID != 0 && finite(p.At.X) && finite(p.At.Y) && finite(p.Confidence)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Snapshot returns the latest position of every asset currently on the
// floor, sorted by AssetID.
func (h *Hub) Snapshot(floorID int64) []wardwatch.Position {
	h.mu.Lock()
	ps := h.floorLocked(floorID)
	h.mu.Unlock()
	return ps
}

// floorLocked returns the sorted latest positions on a floor; h.mu is held.
func (h *Hub) floorLocked(floorID int64) []wardwatch.Position {
	ps := []wardwatch.Position{}
	for _, p := range h.latest {
		if p.FloorID == floorID {
			ps = append(ps, p)
		}
	}
	slices.SortFunc(ps, func(a, b wardwatch.Position) int { return cmp.Compare(a.AssetID, b.AssetID) })
	return ps
}

// Clients returns the number of connected clients.
func (h *Hub) Clients() int {
	h.cmu.Lock()
	defer h.cmu.Unlock()
	return len(h.clients)
}

// change is one asset's newest position, encoded once for every client.
type change struct {
	asset int64
	floor int64
	entry []byte
}

// fanOut hands the positions published since the last call to the clients.
func (h *Hub) fanOut() {
	h.cmu.Lock()
	defer h.cmu.Unlock()

	h.mu.Lock()
	batch := h.changed
	h.changed, h.spare = h.spare, nil
	h.mu.Unlock()

	changes := make([]change, 0, len(batch))
	buf := make([]byte, 0, len(batch)*entrySizeHint)
	for id, p := range batch {
		start := len(buf)
		buf = appendEntry(buf, p)
		// A full slice expression: later appends never touch this entry,
		// and when buf grows the entry keeps its old backing array.
		changes = append(changes, change{asset: id, floor: p.FloorID, entry: buf[start:len(buf):len(buf)]})
	}
	clear(batch)
	h.mu.Lock()
	h.spare = batch
	h.mu.Unlock()

	if len(changes) == 0 {
		return
	}
	now := time.Now()
	for c := range h.clients {
		c.merge(changes, now)
	}
}

// sweepSlow drops the clients whose pending updates have waited for their
// writer for more than slowFlushes flush intervals.
func (h *Hub) sweepSlow(now time.Time) {
	limit := slowFlushes * h.opt.FlushInterval
	h.cmu.Lock()
	var slow []*client
	for c := range h.clients {
		if since := c.pendingSince(); !since.IsZero() && now.Sub(since) > limit {
			slow = append(slow, c)
		}
	}
	h.cmu.Unlock()
	for _, c := range slow {
		h.drop(c, reasonSlow, nil)
	}
}

// shutdown closes every client and waits for their goroutines. Writers get
// a bounded time to send the close frame; then their connections are closed
// under them.
func (h *Hub) shutdown() {
	h.cmu.Lock()
	h.closed = true
	cs := slices.Collect(maps.Keys(h.clients))
	h.cmu.Unlock()

	for _, c := range cs {
		h.drop(c, reasonShutdown, nil)
	}
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	grace := time.NewTimer(2 * h.opt.WriteTimeout)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		for _, c := range cs {
			c.conn.Close()
		}
		<-done
	}
}

// drop stops a client for reason; only the first reason counts. A slow
// client's connection is closed at once, which also unblocks a writer stuck
// in a write; otherwise the writer notices and closes it.
func (h *Hub) drop(c *client, reason string, err error) {
	if !c.stop(reason) {
		return
	}
	h.m.dropped.WithLabelValues(reason).Inc()
	switch reason {
	case reasonShutdown:
		h.log.Debug("live client closed", "reason", reason, "floor", c.floor, "remote", c.remote)
	case reasonSlow:
		h.log.Warn("live client dropped", "reason", reason, "floor", c.floor, "remote", c.remote)
		c.conn.Close()
	default:
		h.log.Warn("live client dropped", "reason", reason, "floor", c.floor, "remote", c.remote, "err", err)
	}
}
