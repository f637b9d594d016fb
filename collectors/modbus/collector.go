package modbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/wardwatch/wardwatch"
)

// Sink receives what the collector reads. Both methods are called from
// the devices' goroutines, concurrently, and must be safe for that.
type Sink interface {
	// SubmitReadings takes one poll's good readings. An error is logged
	// and counted; the readings are not offered again, so a sink that can
	// fail should buffer durably.
	SubmitReadings(ctx context.Context, rs []wardwatch.Reading) error
	// DeviceStatusChanged is called when a device goes online or offline
	// (the first verdict included: online at its first good poll, offline
	// when it has failed OfflineAfter polls without ever answering), and
	// when a configured device cannot be polled at all (invalid settings,
	// unknown profile). It must not block for long.
	DeviceStatusChanged(s DeviceStatus)
}

// Options configure a Collector.
type Options struct {
	Logger     *slog.Logger          // nil discards logs
	Registerer prometheus.Registerer // nil registers no metrics
	Sink       Sink                  // required
	// Profiles finds a profile by name; nil means BuiltinProfile.
	Profiles func(name string) (Profile, bool)
	// Now stamps readings and statuses; nil means time.Now.
	Now func() time.Time
	// OfflineAfter is how many polls in a row must fail before a device
	// is marked offline; 0 means 2.
	OfflineAfter int
	// MaxBackoff caps the wait between attempts on an unreachable device
	// (the wait doubles from the device's interval at each failure); 0
	// means 5 minutes. It never shortens a device's interval.
	MaxBackoff time.Duration
}

// Defaults of Options.
const (
	DefaultOfflineAfter = 2
	DefaultMaxBackoff   = 5 * time.Minute
)

// Limits of the schedule.
const (
	maxStartSpread = 10 * time.Second // first polls are spread over min(interval, this)
	jitterFraction = 0.1              // each wait varies by up to ±10 %
	submitTimeout  = 10 * time.Second
	// idleClose: a device alone on its bus and polled this rarely has
	// its connection closed after each poll, freeing it for other masters
	// (many small devices accept a single TCP connection).
	idleClose = idleReconnect
)

// DeviceStatus is what the collector knows about one configured, enabled
// device.
type DeviceStatus struct {
	DeviceID int64
	Name     string
	// Online is true once a poll succeeded, and false again after
	// OfflineAfter failed polls in a row (or while the device cannot be
	// polled at all).
	Online      bool
	LastPoll    time.Time // UTC; zero before the first poll
	LastOK      time.Time // last poll the device answered
	LastError   string    // the most recent error, kept after recovery
	LastErrorAt time.Time
	// ConsecutiveFailures counts polls in a row in which the device
	// answered no read.
	ConsecutiveFailures int
	Values              []FieldValue // one per profile field, in profile order
}

// FieldValue is a field's latest good value.
type FieldValue struct {
	Field  string
	Metric wardwatch.Metric
	Value  float64
	Unit   string    // the metric's unit
	Time   time.Time // of Value; zero if never read
	Error  string    // why the latest poll gave no value; "" if it did
}

func (s DeviceStatus) clone() DeviceStatus {
	s.Values = slices.Clone(s.Values)
	return s
}

// Collector polls Modbus devices on their schedules and hands the readings
// to a Sink. It is read-only: it sends function codes 1–4 and nothing else.
type Collector struct {
	log          *slog.Logger
	sink         Sink
	profiles     func(string) (Profile, bool)
	now          func() time.Time
	offlineAfter int
	maxBackoff   time.Duration
	met          *metrics
	started      atomic.Bool
	kick         chan struct{}

	mu      sync.Mutex
	want    []Device
	runners map[int64]*runner
	broken  map[int64]*DeviceStatus // devices that cannot be polled
	buses   map[string]*bus
	online  int
}

// runner is one polled device: its goroutine and status.
type runner struct {
	*target
	bus    *bus
	cancel context.CancelFunc
	status DeviceStatus // guarded by Collector.mu
	// decided is set once the device was first found online or offline
	// (a device that never answers is reported offline too); guarded by
	// Collector.mu.
	decided bool
}

// NewCollector makes a collector; call SetDevices and Run.
func NewCollector(opts Options) *Collector {
	c := &Collector{
		log:          opts.Logger,
		sink:         opts.Sink,
		profiles:     opts.Profiles,
		now:          opts.Now,
		offlineAfter: opts.OfflineAfter,
		maxBackoff:   opts.MaxBackoff,
		kick:         make(chan struct{}, 1),
		runners:      map[int64]*runner{},
		broken:       map[int64]*DeviceStatus{},
		buses:        map[string]*bus{},
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.profiles == nil {
		c.profiles = BuiltinProfile
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.offlineAfter <= 0 {
		c.offlineAfter = DefaultOfflineAfter
	}
	if c.maxBackoff <= 0 {
		c.maxBackoff = DefaultMaxBackoff
	}
	c.met = newMetrics()
	if opts.Registerer != nil {
		if err := c.met.register(opts.Registerer); err != nil {
			c.log.Error("modbus: metrics not registered", "err", err)
		}
	}
	return c
}

// SetDevices replaces the set of devices, at any time: devices added start
// polling, devices removed or disabled stop, devices whose settings or
// profile changed restart. Before Run the set waits for it.
func (c *Collector) SetDevices(ds []Device) {
	c.mu.Lock()
	c.want = slices.Clone(ds)
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Run polls until ctx ends, then stops every device goroutine, closes
// every connection and returns nil. A request in flight is allowed to
// finish, which takes at most its device's timeout. Run may be called
// once.
func (c *Collector) Run(ctx context.Context) error {
	if c.sink == nil {
		return errors.New("modbus: Options.Sink is required")
	}
	if !c.started.CompareAndSwap(false, true) {
		return errors.New("modbus: Run called more than once")
	}
	var wg sync.WaitGroup
	c.reconcile(ctx, &wg)
	for {
		select {
		case <-c.kick:
			c.reconcile(ctx, &wg)
		case <-ctx.Done():
			c.mu.Lock()
			for id, r := range c.runners {
				c.stop(id, r)
			}
			c.online = 0
			c.met.online.Set(0)
			c.met.devices.Set(0)
			c.mu.Unlock()
			wg.Wait() // runners release their buses as they exit
			return nil
		}
	}
}

// reconcile brings the running devices in line with c.want.
func (c *Collector) reconcile(ctx context.Context, wg *sync.WaitGroup) {
	var notify []DeviceStatus
	c.mu.Lock()
	desired := map[int64]*target{}
	var order []int64 // desired, in the caller's order: the first device on a bus sets its serial line
	broken := map[int64]*DeviceStatus{}
	names := map[string]int64{}
	// markBroken records a device that cannot be polled; the sink hears of
	// it when the reason is new.
	markBroken := func(d Device, err error) {
		s := &DeviceStatus{DeviceID: d.ID, Name: d.Name, LastError: wardwatch.ErrorMessage(err), LastErrorAt: c.now().UTC()}
		if old := c.broken[d.ID]; old != nil && old.LastError == s.LastError {
			s = old
		} else {
			notify = append(notify, s.clone())
			c.log.Warn("modbus: device cannot be polled", "device_id", d.ID, "device", d.Name, "err", s.LastError)
		}
		broken[d.ID] = s
	}
	for _, d := range c.want {
		if !d.Enabled {
			continue
		}
		if _, dup := desired[d.ID]; dup || broken[d.ID] != nil {
			c.log.Error("modbus: device id listed twice; the first entry is used", "device_id", d.ID)
			continue
		}
		if err := d.Validate(); err != nil {
			markBroken(d, err)
			continue
		}
		if other, ok := names[d.Name]; ok {
			markBroken(d, invalidf("device %q: the name is already used by device %d; readings would mix", d.Name, other))
			continue
		}
		p, ok := c.profiles(d.Profile)
		if !ok {
			markBroken(d, invalidf("device %q: no profile named %q", d.Name, d.Profile))
			continue
		}
		if err := p.Validate(); err != nil {
			markBroken(d, err)
			continue
		}
		names[d.Name] = d.ID
		desired[d.ID] = &target{dev: d, prof: p}
		order = append(order, d.ID)
	}
	// Stop what is gone or changed.
	for id, r := range c.runners {
		if t, ok := desired[id]; ok && t.dev == r.dev && reflect.DeepEqual(t.prof, r.prof) {
			desired[id] = r.target // keep running
			continue
		}
		c.stop(id, r)
	}
	// Start what is new or changed.
	for _, id := range order {
		t := desired[id]
		if r, ok := c.runners[id]; ok && r.target == t {
			continue
		}
		b := c.buses[t.dev.busKey()]
		if b == nil {
			b = newBus(t.dev)
			c.buses[b.key] = b
		} else if err := b.compatible(t.dev); err != nil {
			markBroken(t.dev, err)
			continue
		}
		b.refs++
		rctx, cancel := context.WithCancel(ctx)
		r := &runner{target: newTarget(t.dev, t.prof), bus: b, cancel: cancel}
		r.status = DeviceStatus{DeviceID: id, Name: t.dev.Name, Values: make([]FieldValue, len(t.prof.Fields))}
		for i, f := range t.prof.Fields {
			r.status.Values[i] = FieldValue{Field: f.Name, Metric: f.Metric, Unit: f.Metric.Unit()}
		}
		c.runners[id] = r
		wg.Add(1)
		go c.runDevice(rctx, wg, r)
	}
	c.broken = broken
	c.met.online.Set(float64(c.online))
	c.met.devices.Set(float64(len(c.runners)))
	c.mu.Unlock()
	for _, s := range notify {
		c.sink.DeviceStatusChanged(s)
	}
}

// stop cancels a device's goroutine and drops its claim on its bus; the
// goroutine closes the bus if it was the last user. Call with c.mu held.
func (c *Collector) stop(id int64, r *runner) {
	r.cancel()
	delete(c.runners, id)
	if r.status.Online {
		c.online--
	}
	c.unref(r.bus)
}

// unref drops one claim on b and forgets b when nothing uses it any more,
// so that a device added later gets a fresh bus. It reports whether b is
// unused. Call with c.mu held.
func (c *Collector) unref(b *bus) bool {
	b.refs--
	if b.refs > 0 {
		return false
	}
	if c.buses[b.key] == b {
		delete(c.buses, b.key)
	}
	return true
}

// closeIfUnused closes b's connection, once the request in flight (if any)
// has finished, when no device uses b any more.
func (c *Collector) closeIfUnused(b *bus) {
	c.mu.Lock()
	unused := b.refs <= 0
	c.mu.Unlock()
	if unused && b.acquire(context.Background()) == nil {
		b.drop(false)
		b.release()
	}
}

// runDevice polls one device until ctx ends.
func (c *Collector) runDevice(ctx context.Context, wg *sync.WaitGroup, r *runner) {
	defer wg.Done()
	defer c.closeIfUnused(r.bus)
	iv := r.dev.interval()
	timer := time.NewTimer(time.Duration(rand.Int64N(int64(min(iv, maxStartSpread)))))
	defer timer.Stop()
	log := c.log.With("device_id", r.dev.ID, "device", r.dev.Name)
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		started := time.Now()
		c.mu.Lock()
		solo := r.bus.refs == 1
		c.mu.Unlock()
		res, err := poll(ctx, r.bus, r.target, solo && iv >= idleClose, c.now)
		if err != nil {
			return // cancelled while waiting for the bus
		}
		if res.answered {
			failures = 0
		} else {
			failures++
		}
		c.observe(log, r, res)
		c.submit(ctx, log, r, res)
		wait := iv
		if !res.answered && res.kind >= kindTimeout {
			wait = backoff(iv, failures, c.maxBackoff)
		}
		wait += time.Duration(float64(wait) * jitterFraction * (2*rand.Float64() - 1))
		timer.Reset(max(wait-time.Since(started), 0))
	}
}

// backoff is the wait before the next attempt on a device that failed
// `failures` polls in a row: its interval, doubled from the second failure
// on, capped at max(maxBackoff, interval).
func backoff(interval time.Duration, failures int, maxBackoff time.Duration) time.Duration {
	limit := max(maxBackoff, interval)
	d := interval
	for i := 1; i < failures && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// observe records a poll in the metrics, the log and the device's status.
func (c *Collector) observe(log *slog.Logger, r *runner, res pollResult) {
	c.met.polls.WithLabelValues(res.kind.String()).Inc()
	c.met.duration.Observe(res.duration.Seconds())
	if res.reconnected {
		c.met.reconnects.Inc()
	}
	for _, fr := range res.fields {
		var de *DecodeError
		if errors.As(fr.err, &de) {
			c.met.fieldErrors.WithLabelValues(de.Reason).Inc()
		}
	}
	var changed *DeviceStatus
	var newErrs []FieldValue // fields whose error appeared or changed: logged once, not every poll
	c.mu.Lock()
	if c.runners[r.dev.ID] == r {
		s := &r.status
		s.LastPoll = res.at
		was := s.Online
		if res.answered {
			s.LastOK = res.at
			s.ConsecutiveFailures = 0
			s.Online = true
		} else {
			s.ConsecutiveFailures++
			if s.ConsecutiveFailures >= c.offlineAfter {
				s.Online = false
			}
		}
		if res.err != nil {
			s.LastError, s.LastErrorAt = describe(res.err, r.dev), res.at
		}
		for i, fr := range res.fields {
			v := &s.Values[i]
			if fr.err != nil {
				msg := describe(fr.err, r.dev)
				if msg != v.Error && res.answered {
					newErrs = append(newErrs, FieldValue{Field: v.Field, Error: msg})
				}
				v.Error = msg
				if res.err == nil {
					s.LastError, s.LastErrorAt = fmt.Sprintf("field %s: %s", v.Field, v.Error), res.at
				}
				continue
			}
			v.Value, v.Time, v.Error = fr.value, res.at, ""
		}
		if s.Online != was {
			if s.Online {
				c.online++
			} else {
				c.online--
			}
			c.met.online.Set(float64(c.online))
		}
		if s.Online != was || !r.decided && (s.Online || s.ConsecutiveFailures >= c.offlineAfter) {
			r.decided = true
			cl := s.clone()
			changed = &cl
		}
	}
	c.mu.Unlock()
	for _, v := range newErrs {
		log.Warn("modbus: field has no value", "field", v.Field, "err", v.Error)
	}
	if changed != nil {
		if changed.Online {
			log.Info("modbus: device online")
		} else {
			log.Warn("modbus: device offline", "failures", changed.ConsecutiveFailures, "err", changed.LastError)
		}
		c.sink.DeviceStatusChanged(*changed)
	} else if !res.answered {
		log.Debug("modbus: poll failed", "result", res.kind.String(), "err", describe(res.err, r.dev))
	}
}

// submit hands a poll's good readings to the sink. Readings already read
// are submitted even when ctx has just ended: they are good data.
func (c *Collector) submit(ctx context.Context, log *slog.Logger, r *runner, res pollResult) {
	var rs []wardwatch.Reading
	for i, fr := range res.fields {
		if fr.err != nil || fr.raw == nil {
			continue
		}
		f := r.prof.Fields[i]
		rs = append(rs, wardwatch.Reading{Time: res.at, SensorID: r.dev.Name + "/" + f.Name, Metric: f.Metric, Value: fr.value})
	}
	if len(rs) == 0 {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), submitTimeout)
	defer cancel()
	if err := c.sink.SubmitReadings(sctx, rs); err != nil {
		c.met.submitErrors.Inc()
		log.Error("modbus: readings not accepted by the sink", "readings", len(rs), "err", err)
	}
}

// Status reports every configured, enabled device, by id.
func (c *Collector) Status() []DeviceStatus {
	c.mu.Lock()
	out := make([]DeviceStatus, 0, len(c.runners)+len(c.broken))
	for _, r := range c.runners {
		out = append(out, r.status.clone())
	}
	for _, s := range c.broken {
		out = append(out, s.clone())
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b DeviceStatus) int {
		switch {
		case a.DeviceID < b.DeviceID:
			return -1
		case a.DeviceID > b.DeviceID:
			return 1
		}
		return 0
	})
	return out
}

// TestDevice is the package's TestDevice, except that when the collector
// already polls d's bus (its serial port or gateway) the trial takes its
// turn on that bus and its connection instead of opening another.
func (c *Collector) TestDevice(ctx context.Context, d Device, p Profile) (TestResult, error) {
	c.mu.Lock()
	b := c.buses[d.busKey()]
	if b != nil {
		if err := b.compatible(d); err != nil {
			c.mu.Unlock()
			return TestResult{}, err
		}
		b.refs++
	}
	c.mu.Unlock()
	if b != nil {
		defer func() {
			c.mu.Lock()
			c.unref(b)
			c.mu.Unlock()
			c.closeIfUnused(b)
		}()
	}
	return testDevice(ctx, b, d, p)
}
