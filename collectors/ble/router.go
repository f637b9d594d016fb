package ble

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
)

// GatewayResolver finds a gateway by the key it reports itself by, with
// an error of code ENOTFOUND when there is none (the same method as
// GatewayLookup).
type GatewayResolver interface {
	GatewayByKey(ctx context.Context, key string) (wardwatch.Gateway, error)
}

// ReadingSink takes sensor readings (tag batteries and temperatures).
type ReadingSink interface {
	SubmitReadings(ctx context.Context, rs []wardwatch.Reading) error
}

// Radio defaults for gateways whose calibration is not set.
const (
	DefaultRSSIAt1m         = -59.0
	DefaultPathLossExponent = 2.5
)

// Defaults of RouterOptions.
const (
	DefaultCacheTTL    = time.Minute
	DefaultNegativeTTL = 10 * time.Second
	DefaultCacheSize   = 4096
	DefaultSubmitBatch = 1000
)

// RouterOptions tunes NewRouter. The zero value is usable.
type RouterOptions struct {
	// CacheTTL is how long a resolved gateway is used before it is looked
	// up again (DefaultCacheTTL).
	CacheTTL time.Duration
	// NegativeTTL is how long an unknown gateway key is remembered as
	// unknown, and how long a cached gateway keeps being used while the
	// resolver fails (DefaultNegativeTTL).
	NegativeTTL time.Duration
	// CacheSize caps the cached gateways, and separately the cached
	// unknown keys (DefaultCacheSize).
	CacheSize int
	// SubmitBatch caps the sightings of one Sink.Submit call
	// (DefaultSubmitBatch).
	SubmitBatch int
	// AllowMAC says whether a MAC-derived identity ("mac:<12 hex>") is a
	// configured tag. Observations with such identities (FromMAC), their
	// readings and TLM frames are dropped unless it returns true; nil
	// drops them all. It is called for every such observation, possibly
	// from several goroutines at once, so it should be a concurrency-safe
	// in-memory lookup.
	AllowMAC func(tagID string) bool
	// TLM pairs Eddystone-TLM frames with identities; nil makes a private
	// NewTLMAssociator(0, 0).
	TLM *TLMAssociator
	// Health, when set, learns what each gateway sent through Route and
	// Handle (not RouteFrom: the push handler records its own): one
	// message per gateway named in it, with that gateway's sightings, and
	// the message's malformed and dropped items charged to its first
	// gateway.
	Health HealthRecorder
}

// Router turns parsed messages into sightings and readings: it resolves
// each observation's gateway key to a gateway (through a bounded cache),
// converts distance-only observations to RSSI with the gateway's
// calibration, applies the identity policy (MAC-derived identities only
// for configured MACs), pairs Eddystone-TLM frames with identities, and
// hands the results to the sinks. It is safe for concurrent use. Time is
// passed in.
//
// Metrics (labels bounded: format is one of the Format values or "other"):
//
//	wardwatch_collector_messages_total{format,result}      result: ok, partial, malformed, unknown_gateway, too_large, error
//	wardwatch_collector_observations_total{format}         sightings handed to the sink
//	wardwatch_collector_dropped_total{format,reason}       items not handed on; reason: invalid, random_mac, no_identity,
//	                                                       unconfigured_mac, unknown_gateway, tlm_unassociated
//	wardwatch_collector_readings_total{format,result}      result: submitted, dropped (no reading sink, or its tag dropped)
type Router struct {
	res      GatewayResolver
	sink     Sink
	readings ReadingSink
	log      *slog.Logger
	opt      RouterOptions
	tlm      *TLMAssociator

	mu      sync.Mutex
	known   map[string]cachedGateway
	unknown map[string]time.Time // key → remembered as unknown until

	metrics map[Format]*formatMetrics
	other   *formatMetrics
}

type cachedGateway struct {
	gw        wardwatch.Gateway
	refreshAt time.Time
}

// Message results, the values of wardwatch_collector_messages_total's
// result label.
const (
	routeOK             = "ok"
	routePartial        = "partial"
	routeMalformed      = "malformed"
	routeUnknownGateway = "unknown_gateway"
	routeTooLarge       = "too_large"
	routeError          = "error"
)

// Reasons of wardwatch_collector_dropped_total.
const (
	dropInvalid         = "invalid"
	dropUnconfiguredMAC = "unconfigured_mac"
	dropUnknownGateway  = "unknown_gateway"
	dropTLMUnassociated = "tlm_unassociated"
)

type formatMetrics struct {
	ok, partial, malformed, unknownGW, tooLarge, failed prometheus.Counter

	observations prometheus.Counter

	dropInvalid, dropRandomMAC, dropNoIdentity, dropMAC, dropUnknownGW, dropTLM prometheus.Counter

	readingsSubmitted, readingsDropped prometheus.Counter
}

// NewRouter returns a Router resolving gateways with res (nil: every key
// is unknown, for RouteFrom only), submitting sightings to sink and
// readings to readings (nil: readings are dropped and counted). Metrics go
// to reg (nil: not registered); a nil logger discards logs.
func NewRouter(res GatewayResolver, sink Sink, readings ReadingSink, logger *slog.Logger, reg prometheus.Registerer, opt RouterOptions) *Router {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opt.CacheTTL <= 0 {
		opt.CacheTTL = DefaultCacheTTL
	}
	if opt.NegativeTTL <= 0 {
		opt.NegativeTTL = DefaultNegativeTTL
	}
	if opt.CacheSize <= 0 {
		opt.CacheSize = DefaultCacheSize
	}
	if opt.SubmitBatch <= 0 {
		opt.SubmitBatch = DefaultSubmitBatch
	}
	r := &Router{
		res:      res,
		sink:     sink,
		readings: readings,
		log:      logger,
		opt:      opt,
		tlm:      opt.TLM,
		known:    make(map[string]cachedGateway),
		unknown:  make(map[string]time.Time),
		metrics:  make(map[Format]*formatMetrics),
	}
	if r.tlm == nil {
		r.tlm = NewTLMAssociator(0, 0)
	}

	messages := registerCounterVec(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wardwatch_collector_messages_total",
		Help: "Gateway messages (MQTT messages, pushed vendor batches) handled by the collector router, by format and result.",
	}, []string{"format", "result"}))
	observations := registerCounterVec(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wardwatch_collector_observations_total",
		Help: "Sightings handed to the location engine by the collector router, by format.",
	}, []string{"format"}))
	dropped := registerCounterVec(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wardwatch_collector_dropped_total",
		Help: "Items of gateway messages not handed on, by format and reason.",
	}, []string{"format", "reason"}))
	readingsC := registerCounterVec(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wardwatch_collector_readings_total",
		Help: "Sensor readings from gateway messages, by format and result (submitted or dropped).",
	}, []string{"format", "result"}))

	mk := func(label string) *formatMetrics {
		return &formatMetrics{
			ok:                messages.WithLabelValues(label, routeOK),
			partial:           messages.WithLabelValues(label, routePartial),
			malformed:         messages.WithLabelValues(label, routeMalformed),
			unknownGW:         messages.WithLabelValues(label, routeUnknownGateway),
			tooLarge:          messages.WithLabelValues(label, routeTooLarge),
			failed:            messages.WithLabelValues(label, routeError),
			observations:      observations.WithLabelValues(label),
			dropInvalid:       dropped.WithLabelValues(label, dropInvalid),
			dropRandomMAC:     dropped.WithLabelValues(label, string(SkipRandomMAC)),
			dropNoIdentity:    dropped.WithLabelValues(label, string(SkipNoIdentity)),
			dropMAC:           dropped.WithLabelValues(label, dropUnconfiguredMAC),
			dropUnknownGW:     dropped.WithLabelValues(label, dropUnknownGateway),
			dropTLM:           dropped.WithLabelValues(label, dropTLMUnassociated),
			readingsSubmitted: readingsC.WithLabelValues(label, "submitted"),
			readingsDropped:   readingsC.WithLabelValues(label, "dropped"),
		}
	}
	for _, f := range []Format{FormatESPresense, FormatTheengs, FormatMQTTRoom, FormatMinewJSONLong, FormatIngics, FormatWardWatch} {
		r.metrics[f] = mk(string(f))
	}
	r.other = mk("other")
	return r
}

func (r *Router) metricsFor(f Format) *formatMetrics {
	if m, ok := r.metrics[f]; ok {
		return m
	}
	return r.other
}

// RouteResult says what became of one message.
type RouteResult struct {
	Sightings       int // handed to the sink
	Readings        int // handed to the reading sink
	UnknownGateway  int // observations dropped: their gateway is unknown
	UnconfiguredMAC int // observations dropped: MAC-derived identity not configured
}

// Handle parses one MQTT message with ParseMQTT and routes it with Route,
// counting a message that cannot be parsed (as malformed or too_large). It
// returns the parse error, or Route's.
func (r *Router) Handle(ctx context.Context, format Format, topic string, payload []byte, now time.Time) (RouteResult, error) {
	p, err := ParseMQTT(format, topic, payload, now)
	if err != nil {
		m := r.metricsFor(format)
		if wardwatch.ErrorCode(err) == wardwatch.ETOOLARGE {
			m.tooLarge.Inc()
		} else {
			m.malformed.Inc()
		}
		return RouteResult{}, err
	}
	return r.Route(ctx, p, now)
}

// Route resolves the gateway of every observation of p and hands the
// sightings to the sink (in batches of at most SubmitBatch) and the
// readings to the reading sink. Observations from unknown gateways are
// dropped and counted (and so are the readings and TLM frames of their
// tags in the same message). It returns an error when the resolver fails
// (other than ENOTFOUND) for a gateway not cached, or a sink fails; sink
// errors are returned as they are (code EUNAVAILABLE: overloaded).
func (r *Router) Route(ctx context.Context, p Parsed, now time.Time) (RouteResult, error) {
	return r.route(ctx, nil, p, now)
}

// RouteFrom is Route for a message whose gateway is already known (an
// authenticated HTTP push): every observation and TLM frame is taken to
// come from gw, whatever its GatewayKey.
func (r *Router) RouteFrom(ctx context.Context, gw wardwatch.Gateway, p Parsed, now time.Time) (RouteResult, error) {
	return r.route(ctx, &gw, p, now)
}

func (r *Router) route(ctx context.Context, fixed *wardwatch.Gateway, p Parsed, now time.Time) (RouteResult, error) {
	m := r.metricsFor(p.Format)
	res, seen, err := r.deliver(ctx, fixed, p, now, m)
	if r.opt.Health != nil && fixed == nil {
		for i, g := range seen {
			malformed, dropped := 0, 0
			if i == 0 {
				malformed = len(p.Errors)
				dropped = len(p.Skipped) + res.UnconfiguredMAC
			}
			r.opt.Health.GatewayMessage(g.id, now, g.sightings, malformed, dropped)
		}
	}
	switch {
	case err != nil:
		m.failed.Inc()
	case len(p.Observations) == 0 && len(p.Errors) > 0:
		m.malformed.Inc()
	case res.Sightings == 0 && res.UnknownGateway > 0:
		m.unknownGW.Inc()
	case len(p.Errors) > 0 || res.UnknownGateway > 0:
		m.partial.Inc()
	default:
		m.ok.Inc()
	}
	return res, err
}

// gatewayCount is how many sightings of a message came from one gateway.
type gatewayCount struct {
	id        int64
	sightings int
}

// deliver hands p's sightings and readings on. It also returns the
// gateways the observations came from, in order of first appearance, with
// their sighting counts.
func (r *Router) deliver(ctx context.Context, fixed *wardwatch.Gateway, p Parsed, now time.Time, m *formatMetrics) (RouteResult, []gatewayCount, error) {
	var (
		res  RouteResult
		seen []gatewayCount
	)
	if n := len(p.Errors); n > 0 {
		m.dropInvalid.Add(float64(n))
	}
	for _, s := range p.Skipped {
		if s.Reason == SkipRandomMAC {
			m.dropRandomMAC.Inc()
		} else {
			m.dropNoIdentity.Inc()
		}
	}

	var (
		out         []wardwatch.Sighting
		droppedTags []string // tags whose readings must go too
		lastKey     string
		lastGW      wardwatch.Gateway
		lastOK      bool
		haveLast    bool
		remember    = carriesTLM(p.Format)
	)
	if len(p.Observations) > 0 {
		out = make([]wardwatch.Sighting, 0, len(p.Observations))
	}
	resolve := func(key string) (wardwatch.Gateway, bool, error) {
		if fixed != nil {
			return *fixed, true, nil
		}
		if haveLast && key == lastKey {
			return lastGW, lastOK, nil
		}
		gw, ok, err := r.gateway(ctx, key, now)
		if err != nil {
			return gw, false, err
		}
		lastKey, lastGW, lastOK, haveLast = key, gw, ok, true
		return gw, ok, nil
	}

	for i := range p.Observations {
		o := &p.Observations[i]
		if o.FromMAC && (r.opt.AllowMAC == nil || !r.opt.AllowMAC(o.Sighting.TagID)) {
			res.UnconfiguredMAC++
			m.dropMAC.Inc()
			droppedTags = append(droppedTags, o.Sighting.TagID)
			continue
		}
		gw, ok, err := resolve(o.GatewayKey)
		if err != nil {
			return res, seen, err
		}
		if !ok {
			res.UnknownGateway++
			m.dropUnknownGW.Inc()
			droppedTags = append(droppedTags, o.Sighting.TagID)
			continue
		}
		s := o.Sighting
		s.GatewayID = gw.ID
		if k := len(seen) - 1; k >= 0 && seen[k].id == gw.ID {
			seen[k].sightings++
		} else if k := slices.IndexFunc(seen, func(g gatewayCount) bool { return g.id == gw.ID }); k >= 0 {
			seen[k].sightings++
		} else {
			seen = append(seen, gatewayCount{id: gw.ID, sightings: 1})
		}
		if o.Distance > 0 {
			s.RSSI = DistanceToRSSI(o.Distance, gw)
		}
		out = append(out, s)
		if remember && o.MAC != "" && !o.FromMAC {
			r.tlm.Remember(o.MAC, s.TagID, now)
		}
	}

	readings := p.Readings
	if len(droppedTags) > 0 && len(readings) > 0 {
		kept := make([]wardwatch.Reading, 0, len(readings))
		for _, rd := range readings {
			if !containsString(droppedTags, rd.SensorID) {
				kept = append(kept, rd)
			}
		}
		if n := len(readings) - len(kept); n > 0 {
			m.readingsDropped.Add(float64(n))
		}
		readings = kept
	}
	for _, f := range p.TLM {
		if _, ok, err := resolve(f.GatewayKey); err != nil {
			return res, seen, err
		} else if !ok {
			m.dropUnknownGW.Inc()
			continue
		}
		tag, ok := r.tlm.Lookup(f.MAC, now)
		if !ok {
			if r.opt.AllowMAC != nil && r.opt.AllowMAC(macTagID(f.MAC)) {
				tag, ok = macTagID(f.MAC), true
			}
		}
		if !ok {
			m.dropTLM.Inc()
			continue
		}
		if len(readings) == len(p.Readings) && len(readings) > 0 {
			readings = append([]wardwatch.Reading(nil), readings...) // do not write into the caller's array
		}
		readings = f.TLM.appendReadings(readings, f.Time, tag)
	}

	for len(out) > 0 {
		n := min(len(out), r.opt.SubmitBatch)
		if err := r.sink.Submit(ctx, out[:n:n]); err != nil {
			return res, seen, err
		}
		res.Sightings += n
		m.observations.Add(float64(n))
		out = out[n:]
	}

	if len(readings) > 0 {
		if r.readings == nil {
			m.readingsDropped.Add(float64(len(readings)))
		} else {
			if err := r.readings.SubmitReadings(ctx, readings); err != nil {
				return res, seen, err
			}
			res.Readings = len(readings)
			m.readingsSubmitted.Add(float64(len(readings)))
		}
	}
	return res, seen, nil
}

// carriesTLM reports whether a format can deliver raw Eddystone-TLM
// frames, whose MACs must be paired with identities.
func carriesTLM(f Format) bool {
	switch f {
	case FormatTheengs, FormatMinewJSONLong, FormatIngics:
		return true
	}
	return false
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// gateway resolves a gateway key through the cache. ok is false for an
// unknown key; err is set when the resolver fails and nothing usable is
// cached.
func (r *Router) gateway(ctx context.Context, key string, now time.Time) (wardwatch.Gateway, bool, error) {
	r.mu.Lock()
	e, cached := r.known[key]
	if cached && now.Before(e.refreshAt) {
		r.mu.Unlock()
		return e.gw, true, nil
	}
	if until, ok := r.unknown[key]; ok && now.Before(until) {
		r.mu.Unlock()
		return wardwatch.Gateway{}, false, nil
	}
	r.mu.Unlock()

	if key == "" || r.res == nil {
		return wardwatch.Gateway{}, false, nil
	}
	gw, err := r.res.GatewayByKey(ctx, key)
	switch wardwatch.ErrorCode(err) {
	case "":
		r.mu.Lock()
		delete(r.unknown, key)
		if !cached {
			evictOne(r.known, r.opt.CacheSize, func(c cachedGateway) bool { return !now.Before(c.refreshAt) })
		}
		r.known[strings.Clone(key)] = cachedGateway{gw: gw, refreshAt: now.Add(r.opt.CacheTTL)}
		r.mu.Unlock()
		return gw, true, nil
	case wardwatch.ENOTFOUND:
		r.mu.Lock()
		delete(r.known, key)
		if _, wasUnknown := r.unknown[key]; !wasUnknown {
			evictOne(r.unknown, r.opt.CacheSize, func(until time.Time) bool { return !now.Before(until) })
		}
		r.unknown[strings.Clone(key)] = now.Add(r.opt.NegativeTTL)
		r.mu.Unlock()
		r.log.Info("collector: message from an unknown gateway", "gateway", shorten(key, 64))
		return wardwatch.Gateway{}, false, nil
	}
	if cached {
		// Keep using what we had while the store is unavailable; try
		// again after NegativeTTL.
		r.mu.Lock()
		r.known[key] = cachedGateway{gw: e.gw, refreshAt: now.Add(r.opt.NegativeTTL)}
		r.mu.Unlock()
		r.log.Warn("collector: gateway lookup failed; using the cached gateway", "gateway", shorten(key, 64), "err", err)
		return e.gw, true, nil
	}
	return wardwatch.Gateway{}, false, fmt.Errorf("resolve gateway %s: %w", quoteShort(key), err)
}

// evictOne makes room for one entry in a map capped at size: it drops the
// expired entries it meets, else one arbitrary entry.
func evictOne[V any](m map[string]V, size int, expired func(V) bool) {
	if len(m) < size {
		return
	}
	var victim string
	found := false
	scanned := 0
	for k, v := range m {
		if expired(v) {
			delete(m, k)
		} else if !found {
			victim, found = k, true
		}
		scanned++
		if len(m) < size || scanned >= 64 {
			break
		}
	}
	if len(m) >= size && found {
		delete(m, victim)
	}
}

// DistanceToRSSI converts a distance in metres to the RSSI gw would
// receive, with the log-distance path-loss model
//
//	rssi = RSSIAt1m − 10·n·log10(d)
//
// using gw's RSSIAt1m and PathLossExponent n (DefaultRSSIAt1m and
// DefaultPathLossExponent when zero or implausible). Distances below 0.1 m
// count as 0.1 m; the result is clamped to [-130, 0] dBm.
func DistanceToRSSI(d float64, gw wardwatch.Gateway) float64 {
	a := gw.RSSIAt1m
	if a == 0 || math.IsNaN(a) || a < minRSSI || a > maxRSSI {
		a = DefaultRSSIAt1m
	}
	n := gw.PathLossExponent
	if !(n > 0 && n <= 10) {
		n = DefaultPathLossExponent
	}
	if !(d >= minDistance) { // also NaN
		d = minDistance
	}
	rssi := a - 10*n*math.Log10(d)
	return min(max(rssi, minRSSI), maxRSSI)
}
