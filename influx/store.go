// Package influx is WardWatch's telemetry store on InfluxDB (2.x, Cloud,
// or 1.8+ through its 2.x compatibility API): positions, sensor readings
// and pump states, written through a durable on-disk spool and queried with
// Flux.
//
// A Write method validates its points, appends the valid ones to the spool
// and fsyncs it before returning: once it returns nil the points survive a
// crash, an InfluxDB outage and a WardWatch restart. It never waits for
// InfluxDB. Run, the sender, sends the spool in order in batches, retries
// with exponential back-off, and moves past a batch only once InfluxDB has
// accepted it (or refused single points for good: a 4xx splits a batch
// until the bad points are isolated; only they are dropped, counted and
// logged). Points written twice (after a crash, a retry) are stored once:
// InfluxDB keeps one point per series and timestamp.
//
// influxdb-client-go's own write API is not used: its retry buffer drops
// the oldest batch when full and its error channel drops errors nobody
// reads. Writes are plain line-protocol POSTs to /api/v2/write; queries go
// through the library's Flux query API.
//
// Queries see what InfluxDB has: points still in the spool are not visible
// yet. Flush waits until everything written before it has been sent.
//
// The schema is in docs/TELEMETRY.md.
package influx

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
)

// Store is a wardwatch.Telemetry on InfluxDB. Create it with Open, run its
// sender with Run, and Close it. It is safe for concurrent use.
type Store struct {
	cfg    Config
	logger *slog.Logger
	m      *metrics
	spool  *spool
	http   *http.Client
	client influxdb2.Client
	query  api.QueryAPI

	closing   chan struct{}
	closeOnce sync.Once
	runMu     sync.Mutex
	running   bool
	runDone   sync.WaitGroup

	flushReq     chan struct{} // wakes the sender to send a partial batch
	flushWaiters atomic.Int32

	encoders sync.Pool // of *recordEncoder

	hmu    sync.Mutex
	health Health
}

var _ wardwatch.Telemetry = (*Store)(nil)

// SpoolFill returns the spool's bytes on disk and its bound: how close
// WardWatch is to refusing telemetry while InfluxDB is away.
func (s *Store) SpoolFill() (bytes, max int64) {
	b, _ := s.spool.stats()
	return b, s.cfg.SpoolMaxBytes
}

// Health is what the admin UI shows about the InfluxDB store.
type Health struct {
	// Reachable is true when the last request to InfluxDB (a write or a
	// health check) got an answer from it.
	Reachable bool
	// LastError is the last failed request's error ("" if none yet), at
	// LastErrorTime.
	LastError     string
	LastErrorTime time.Time
	// LastWrite is when InfluxDB last accepted a batch.
	LastWrite time.Time
	// SpoolBytes is the spool's size on disk, SpoolMaxBytes its bound and
	// SpoolFill their ratio (0..1; alert at 0.8, writes fail at 1).
	// SpoolPoints counts the points not yet accepted by InfluxDB.
	SpoolBytes    int64
	SpoolMaxBytes int64
	SpoolFill     float64
	SpoolPoints   int64
}

// errClosed is returned after Close.
var errClosed = wardwatch.Errorf(wardwatch.EUNAVAILABLE, "the telemetry store is closed")

// Open validates cfg, opens the spool in cfg.SpoolDir (recovering what a
// previous run left: points not yet sent are sent once Run starts) and
// registers the store's metrics on reg (nil: none). It does not contact
// InfluxDB.
func Open(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Store, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	sp, err := openSpool(cfg.SpoolDir, cfg.SpoolMaxBytes, logger, m)
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 4
	hc := &http.Client{Timeout: cfg.Timeout, Transport: transport}
	opts := influxdb2.DefaultOptions().
		SetHTTPClient(hc).
		SetLogLevel(0). // errors only; the library logs through its own global logger
		SetApplicationName("wardwatch")
	client := influxdb2.NewClientWithOptions(cfg.URL, cfg.Token, opts)
	s := &Store{
		cfg: cfg, logger: logger, m: m, spool: sp, http: hc, client: client,
		query:    client.QueryAPI(cfg.Org),
		closing:  make(chan struct{}),
		flushReq: make(chan struct{}, 1),
	}
	return s, nil
}

// Close stops the sender (waiting for Run to return) and closes the spool.
// Points not yet sent stay in the spool for the next Open.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		// Under runMu: a Run starting now either sees the store closed or
		// is counted in runDone before the Wait below.
		s.runMu.Lock()
		close(s.closing)
		s.runMu.Unlock()
	})
	s.runDone.Wait()
	err := s.spool.close()
	s.client.Close()
	s.http.CloseIdleConnections()
	return err
}

// Flush waits until every point written before it was called has been
// accepted by InfluxDB (or refused by it for good), so that queries see it.
// It needs Run to be running; it returns early with ctx's error, or with
// EUNAVAILABLE when the store is closed.
func (s *Store) Flush(ctx context.Context) error {
	target, err := s.spool.flushTarget()
	if err != nil {
		return err
	}
	s.flushWaiters.Add(1)
	defer s.flushWaiters.Add(-1)
	for {
		done, acked, err := s.spool.reached(target)
		if done || err != nil {
			return err
		}
		select {
		case s.flushReq <- struct{}{}:
		default:
		}
		select {
		case <-acked:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closing:
			return errClosed
		}
	}
}

// Health reports the store's state.
func (s *Store) Health() Health {
	s.hmu.Lock()
	h := s.health
	s.hmu.Unlock()
	h.SpoolBytes, h.SpoolPoints = s.spool.stats()
	h.SpoolMaxBytes = s.cfg.SpoolMaxBytes
	h.SpoolFill = float64(h.SpoolBytes) / float64(h.SpoolMaxBytes)
	return h
}

// reached records that InfluxDB answered (ok: a write was accepted).
func (s *Store) reached(wrote bool) {
	now := s.cfg.Now()
	s.hmu.Lock()
	s.health.Reachable = true
	if wrote {
		s.health.LastWrite = now
	}
	s.hmu.Unlock()
	s.m.reachable.Set(1)
	if wrote {
		s.m.lastWrite.Set(float64(now.UnixMilli()) / 1000)
	}
}

// failed records a failed request; reachable says whether InfluxDB
// answered it.
func (s *Store) failed(err error, reachable bool) {
	now := s.cfg.Now()
	s.hmu.Lock()
	s.health.Reachable = reachable
	s.health.LastError = err.Error()
	s.health.LastErrorTime = now
	s.hmu.Unlock()
	if reachable {
		s.m.reachable.Set(1)
	} else {
		s.m.reachable.Set(0)
	}
}

// WriteReadings spools rs for InfluxDB (see the package doc). Invalid
// readings (NaN or infinite values, unknown metrics, bad or oversize
// sensor IDs, times before 1970) are left out, counted and reported in an
// EINVALID error; the others are spooled. When the spool is full nothing is
// spooled and the error is EUNAVAILABLE.
func (s *Store) WriteReadings(ctx context.Context, rs []wardwatch.Reading) error {
	e := s.encoder(len(rs))
	defer s.encoders.Put(e)
	var bad rejections
	for i, r := range rs {
		if reason, detail := checkReading(r); bad.add("reading", i, reason, detail) {
			continue
		}
		e.begin()
		e.buf = appendReading(e.buf, r)
		e.endLine()
	}
	return s.spoolPoints(ctx, e, bad, len(rs))
}

// WritePositions spools ps for InfluxDB, as WriteReadings does readings.
func (s *Store) WritePositions(ctx context.Context, ps []wardwatch.Position) error {
	e := s.encoder(len(ps))
	defer s.encoders.Put(e)
	var bad rejections
	for i, p := range ps {
		if reason, detail := checkPosition(p); bad.add("position", i, reason, detail) {
			continue
		}
		e.begin()
		e.buf = appendPosition(e.buf, p)
		e.endLine()
	}
	return s.spoolPoints(ctx, e, bad, len(ps))
}

// WritePumpStates spools ps for InfluxDB, as WriteReadings does readings.
// Numbers a pump did not report (NaN) are left out of the point.
func (s *Store) WritePumpStates(ctx context.Context, ps []wardwatch.PumpState) error {
	e := s.encoder(2 * len(ps)) // pump lines are longer
	defer s.encoders.Put(e)
	var bad rejections
	for i, p := range ps {
		if reason, detail := checkPumpState(p); bad.add("pump state", i, reason, detail) {
			continue
		}
		e.begin()
		e.buf = appendPumpState(e.buf, p)
		e.endLine()
	}
	return s.spoolPoints(ctx, e, bad, len(ps))
}

// encoder returns an empty record encoder with room for about n lines.
func (s *Store) encoder(n int) *recordEncoder {
	e, _ := s.encoders.Get().(*recordEncoder)
	if e == nil || cap(e.buf) > 16<<20 {
		e = newRecordEncoder(s.cfg.BatchSize) // a huge buffer is not kept
	}
	e.reset(s.cfg.BatchSize, min(n, s.cfg.BatchSize))
	return e
}

// spoolPoints appends e's records to the spool and reports bad.
func (s *Store) spoolPoints(ctx context.Context, e *recordEncoder, bad rejections, total int) error {
	for _, r := range bad {
		s.m.rejected.WithLabelValues(r.Reason).Inc()
	}
	if len(bad) > 0 {
		s.logger.Warn("influx: points rejected", "kind", bad[0].What, "rejected", len(bad), "of", total, "first", bad[0].Detail)
	}
	if e.points == 0 {
		return bad.err(total)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.spool.append(e.bytes(), e.points); err != nil {
		switch {
		case errors.Is(err, errSpoolFull):
			s.m.rejected.WithLabelValues(rejectSpoolFull).Add(float64(e.points))
			s.logger.Error("influx: spool full, points refused", "points", e.points, "spool_max_bytes", s.cfg.SpoolMaxBytes)
			return &wardwatch.Error{Code: wardwatch.EUNAVAILABLE, Message: "the telemetry spool is full (InfluxDB has been unreachable too long); points not stored", Err: err}
		case errors.Is(err, errClosed):
			return err
		}
		s.m.rejected.WithLabelValues(rejectSpoolError).Add(float64(e.points))
		s.logger.Error("influx: cannot write the spool", "points", e.points, "err", err)
		return &wardwatch.Error{Code: wardwatch.EUNAVAILABLE, Message: "the telemetry spool cannot be written; points not stored", Err: err}
	}
	s.m.spooled.Add(float64(e.points))
	return bad.err(total)
}
