package snmp

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
)

// Collector defaults.
const (
	DefaultConcurrency  = 64
	DefaultOfflineAfter = 2
	DefaultMaxBackoff   = 5 * time.Minute
)

// Sink receives what the collector reads. The collector calls it from its
// poll goroutines, concurrently: it must be safe for concurrent use and
// should not block for long (a slow sink holds a poll slot).
type Sink interface {
	// SubmitPumpStates receives the pumps one poll of one target read.
	SubmitPumpStates(ctx context.Context, ps []wardwatch.PumpState) error
	// TargetStatusChanged is called when a target goes online or offline
	// or its error changes.
	TargetStatusChanged(s TargetStatus)
}

// TargetStatus is what the collector knows about one target's polling.
type TargetStatus struct {
	TargetID            int64
	Name                string
	Insecure            bool      // v1 or v2c
	Online              bool      // the last poll succeeded, or fewer than OfflineAfter polls in a row failed since
	LastPoll            time.Time // when the last poll finished; zero before the first
	LastOK              time.Time // when a poll last succeeded
	LastError           string    // the last failed poll's message for admins; "" after a success
	Warnings            []string  // problems with profile fields in the last successful poll
	Pumps               int       // pumps read by the last successful poll
	ConsecutiveFailures int
}

// Options configure a Collector. Sink and Profiles are required.
type Options struct {
	Logger     *slog.Logger          // nil discards logs
	Registerer prometheus.Registerer // nil registers no metrics
	Sink       Sink
	// Profiles looks a profile up by the name a Target gives. It is called
	// at every poll, so edited profiles apply from the next poll on.
	Profiles func(name string) (Profile, bool)
	Now      func() time.Time // nil means time.Now; pump states are stamped with it (in UTC)
	// Concurrency bounds the polls in flight; default 64.
	Concurrency int
	// OfflineAfter is how many polls in a row must fail before a target
	// is offline; default 2.
	OfflineAfter int
	// MaxBackoff caps the wait between polls of a failing target, which
	// doubles from its interval with each failure; default 5 minutes (never
	// less than the target's interval).
	MaxBackoff time.Duration
}

// Collector polls SNMP targets, each on its own interval, and hands the
// pump states it reads to a Sink.
type Collector struct {
	log          *slog.Logger
	sink         Sink
	profiles     func(string) (Profile, bool)
	now          func() time.Time
	concurrency  int
	offlineAfter int
	maxBackoff   time.Duration
	m            *metrics
	open         func(context.Context, *settings) (session, error) // openSession; tests replace it

	running atomic.Bool
	wake    chan struct{}

	mu      sync.Mutex
	targets map[int64]*targetState
	queue   pollQueue
	gen     uint64 // last generation handed out
	online  int
	pumps   int
}

// targetState is one target's scheduling and status.
type targetState struct {
	target   Target
	settings *settings // nil when the target is invalid
	invalid  error
	gen      uint64 // bumped when the target changes; stale queue entries are skipped
	due      time.Time
	run      *pollRun // the poll in flight, if any
	status   TargetStatus
}

// pollRun is one poll in flight.
type pollRun struct {
	cancel context.CancelFunc
}

// NewCollector returns a Collector with no targets. Metrics are registered
// on opts.Registerer; a registration failure is logged and the metrics
// are then not exported.
func NewCollector(opts Options) *Collector {
	c := &Collector{
		log:          opts.Logger,
		sink:         opts.Sink,
		profiles:     opts.Profiles,
		now:          opts.Now,
		concurrency:  opts.Concurrency,
		offlineAfter: opts.OfflineAfter,
		maxBackoff:   opts.MaxBackoff,
		wake:         make(chan struct{}, 1),
		open:         openSession,
		targets:      map[int64]*targetState{},
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.profiles == nil {
		c.profiles = func(string) (Profile, bool) { return Profile{}, false }
	}
	if c.concurrency <= 0 {
		c.concurrency = DefaultConcurrency
	}
	if c.offlineAfter <= 0 {
		c.offlineAfter = DefaultOfflineAfter
	}
	if c.maxBackoff <= 0 {
		c.maxBackoff = DefaultMaxBackoff
	}
	c.m = newMetrics()
	if opts.Registerer != nil {
		if err := c.m.register(opts.Registerer); err != nil {
			c.log.Error("snmp: register metrics", "err", err)
		}
	}
	return c
}

// SetTargets replaces the set of targets; it may be called at any time,
// before or while Run runs. Targets not Enabled are dropped. A new target
// is first polled at a random moment within its interval (spreading the
// load); a changed one is restarted within a second (a poll in flight is
// cancelled); a removed one is stopped. Invalid targets are kept with
// their error as status and not polled. Duplicate IDs: the last wins.
func (c *Collector) SetTargets(ts []Target) {
	now := time.Now()
	want := make(map[int64]Target, len(ts))
	for _, t := range ts {
		if t.Enabled {
			want[t.ID] = t
		}
	}
	var changed []TargetStatus
	c.mu.Lock()
	for id, st := range c.targets {
		if _, ok := want[id]; !ok {
			c.stopLocked(st)
			c.setOnlineLocked(st, false, 0)
			delete(c.targets, id)
		}
	}
	for id, t := range want {
		st, ok := c.targets[id]
		if ok && st.target == t {
			continue
		}
		var delay time.Duration
		if ok {
			c.stopLocked(st)
			c.setOnlineLocked(st, false, 0)
			delay = jitter(min(time.Second, st.interval()))
		}
		c.gen++
		st = &targetState{target: t, gen: c.gen}
		st.settings, st.invalid = t.settings()
		st.status = TargetStatus{TargetID: t.ID, Name: t.Name, Insecure: t.Insecure()}
		c.targets[id] = st
		if st.invalid != nil {
			st.status.LastError = wardwatch.ErrorMessage(st.invalid)
			changed = append(changed, st.snapshot())
			c.log.Warn("snmp target invalid; not polled", "target", t, "err", st.invalid)
			continue
		}
		if !ok {
			delay = jitter(st.settings.Interval)
		}
		st.due = now.Add(delay)
		heap.Push(&c.queue, queued{at: st.due, id: id, gen: st.gen})
	}
	c.m.targets.Set(float64(len(c.targets)))
	c.mu.Unlock()
	if c.sink != nil {
		for _, s := range changed {
			c.sink.TargetStatusChanged(s)
		}
	}
	c.signal()
}

func (st *targetState) interval() time.Duration {
	if st.settings != nil {
		return st.settings.Interval
	}
	return DefaultInterval
}

func (st *targetState) snapshot() TargetStatus {
	s := st.status
	s.Warnings = slices.Clone(s.Warnings)
	return s
}

// stopLocked cancels st's poll in flight, if any.
func (c *Collector) stopLocked(st *targetState) {
	if st.run != nil {
		st.run.cancel()
		st.run = nil
	}
}

// setOnlineLocked updates the online and pumps totals for st's new state.
func (c *Collector) setOnlineLocked(st *targetState, online bool, pumps int) {
	if st.status.Online {
		c.online--
		c.pumps -= st.status.Pumps
	}
	if online {
		c.online++
		c.pumps += pumps
	}
	c.m.online.Set(float64(c.online))
	c.m.pumps.Set(float64(c.pumps))
}

// Status returns every target's status, by target ID.
func (c *Collector) Status() []TargetStatus {
	c.mu.Lock()
	out := make([]TargetStatus, 0, len(c.targets))
	for _, st := range c.targets {
		out = append(out, st.snapshot())
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b TargetStatus) int { return cmp.Compare(a.TargetID, b.TargetID) })
	return out
}

func (c *Collector) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Run polls the targets until ctx is done, then cancels the polls in
// flight, waits for them and returns nil. At most Concurrency polls run at
// once; a target is never polled twice at the same time. Run may be
// called only once at a time.
func (c *Collector) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("snmp: collector already running")
	}
	defer c.running.Store(false)
	if c.sink == nil {
		return errors.New("snmp: collector has no sink")
	}
	sem := make(chan struct{}, c.concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		due, next := c.due(time.Now())
		for i, q := range due {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				c.requeue(due[i:])
				return nil
			}
			run, st, ok := c.start(ctx, q)
			if !ok {
				<-sem
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				c.pollOnce(run, st)
			}()
		}
		if len(due) > 0 {
			continue // time went by while starting polls
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = max(0, time.Until(next))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-c.wake:
		case <-timer.C:
		}
	}
}

// requeue puts entries popped but not started back in the queue.
func (c *Collector) requeue(qs []queued) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, q := range qs {
		heap.Push(&c.queue, q)
	}
}

// due pops the queue entries due at now; next is when the next one is due
// (zero when the queue is empty).
func (c *Collector) due(now time.Time) (due []queued, next time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.queue.Len() > 0 {
		q := c.queue[0]
		if q.at.After(now) {
			return due, q.at
		}
		heap.Pop(&c.queue)
		if st, ok := c.targets[q.id]; ok && st.gen == q.gen && st.run == nil {
			due = append(due, q)
		}
	}
	return due, time.Time{}
}

// runSpec is what one poll needs, copied under the lock.
type runSpec struct {
	ctx    context.Context // the poll's: cancelled when the target changes or goes
	runCtx context.Context // Run's: cancelled at shutdown
	run    *pollRun
	id     int64
	gen    uint64
	s      *settings
	due    time.Time
	status TargetStatus
}

// start marks q's target as polling, unless it changed since q was queued.
func (c *Collector) start(ctx context.Context, q queued) (runSpec, *targetState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.targets[q.id]
	if !ok || st.gen != q.gen || st.run != nil || st.settings == nil {
		return runSpec{}, nil, false
	}
	pctx, cancel := context.WithCancel(ctx)
	st.run = &pollRun{cancel: cancel}
	return runSpec{ctx: pctx, runCtx: ctx, run: st.run, id: q.id, gen: q.gen, s: st.settings, due: st.due, status: st.snapshot()}, st, true
}

// pollOnce polls one target, hands what it read to the sink and schedules
// the next poll.
func (c *Collector) pollOnce(r runSpec, st *targetState) {
	defer r.run.cancel()
	c.m.inflight.Inc()
	start := time.Now()
	out, err := c.pollTarget(r.ctx, r.s, false)
	elapsed := time.Since(start)
	c.m.inflight.Dec()
	if r.ctx.Err() != nil {
		// Stopped: the target was removed or changed (then it is no longer
		// ours), or Run ends (then it is polled again when Run restarts).
		c.mu.Lock()
		if cur, ok := c.targets[r.id]; ok && cur == st && st.run == r.run {
			st.run = nil
			heap.Push(&c.queue, queued{at: time.Now(), id: r.id, gen: r.gen})
		}
		c.mu.Unlock()
		return
	}
	result := resultOf(err)
	c.m.polls.WithLabelValues(result).Inc()
	c.m.duration.WithLabelValues(result).Observe(elapsed.Seconds())
	c.m.issues.Add(float64(len(out.issues)))
	if err == nil && len(out.pumps) > 0 {
		if serr := c.sink.SubmitPumpStates(r.runCtx, out.pumps); serr != nil {
			c.m.sinkErrors.Inc()
			c.log.Error("snmp: submit pump states", "target", r.s.Target, "pumps", len(out.pumps), "err", serr)
		}
	}

	end := time.Now()
	now := c.now().UTC()
	c.mu.Lock()
	if cur, ok := c.targets[r.id]; !ok || cur != st || st.run != r.run {
		c.mu.Unlock()
		return
	}
	st.run = nil
	prev := st.status
	s := &st.status
	s.LastPoll = now
	if err == nil {
		c.setOnlineLocked(st, true, len(out.pumps))
		s.Online, s.LastOK, s.LastError, s.Pumps, s.ConsecutiveFailures = true, now, "", len(out.pumps), 0
		s.Warnings = out.issues
		next := r.due.Add(r.s.Interval + spread(r.s.Interval))
		for skipped := 0; next.Before(end); skipped++ {
			next = next.Add(r.s.Interval)
			c.m.overruns.Inc()
		}
		st.due = next
	} else {
		s.ConsecutiveFailures++
		s.LastError = wardwatch.ErrorMessage(err)
		if s.Online && s.ConsecutiveFailures >= c.offlineAfter {
			c.setOnlineLocked(st, false, 0)
			s.Online = false
		}
		st.due = end.Add(c.backoff(r.s.Interval, s.ConsecutiveFailures))
	}
	heap.Push(&c.queue, queued{at: st.due, id: r.id, gen: r.gen})
	notify := prev.LastPoll.IsZero() || prev.Online != s.Online || prev.LastError != s.LastError
	snap := st.snapshot()
	c.mu.Unlock()
	c.signal()

	if err != nil {
		lvl := slog.LevelDebug
		if notify {
			lvl = slog.LevelWarn
		}
		c.log.Log(r.ctx, lvl, "snmp poll failed", "target", r.s.Target, "failures", snap.ConsecutiveFailures, "online", snap.Online, "err", err)
	} else if len(out.issues) > 0 && notify {
		c.log.Warn("snmp poll: profile fields not read", "target", r.s.Target, "issues", out.issues)
	}
	if notify {
		if prev.Online != snap.Online {
			c.log.Info("snmp target status", "target", r.s.Target, "online", snap.Online)
		}
		c.sink.TargetStatusChanged(snap)
	}
}

// backoff is the wait after the n-th failure in a row: the interval, then
// doubling, capped at MaxBackoff (but never below the interval).
func (c *Collector) backoff(interval time.Duration, n int) time.Duration {
	d := interval
	for i := 1; i < n && d < c.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, max(c.maxBackoff, interval))
	return d + spread(d)
}

// pollTarget runs one poll of s: look the profile up, open a session, read.
func (c *Collector) pollTarget(ctx context.Context, s *settings, detail bool) (outcome, error) {
	prof, ok := c.profiles(s.Profile)
	if !ok {
		return outcome{}, wardwatch.Errorf(wardwatch.EINVALID, "SNMP target %s: profile %q does not exist.", quoteName(s.Name), s.Profile)
	}
	pl, err := compile(prof)
	if err != nil {
		return outcome{}, err
	}
	sess, err := c.open(ctx, s)
	if err != nil {
		if ctx.Err() != nil {
			return outcome{}, ctx.Err()
		}
		return outcome{}, explain(s, fmt.Errorf("connect: %w", err), hintNone)
	}
	defer sess.close()
	out, err := poll(sess.r, sess.diagnose, s, pl, c.now, detail)
	if err != nil && ctx.Err() != nil {
		return out, ctx.Err()
	}
	return out, err
}

// TestResult is what one test poll of a target read, for the admin UI's
// "test connection" button.
type TestResult struct {
	Address  string // host:port polled
	Duration time.Duration
	Requests int
	Pumps    []wardwatch.PumpState
	Fields   []FieldRead // each profile field's raw value or error (the first rows of a table)
	Warnings []string
}

// TestTarget polls t once with profile p, outside the schedule and the
// metrics, and returns what it read. The error, when the poll failed, is a
// *wardwatch.Error whose message says why (no answer, wrong credentials,
// an OID the agent does not serve); the result then holds what was read
// before the failure.
func (c *Collector) TestTarget(ctx context.Context, t Target, p Profile) (TestResult, error) {
	s, err := t.settings()
	if err != nil {
		return TestResult{}, err
	}
	pl, err := compile(p)
	if err != nil {
		return TestResult{Address: s.endpoint}, err
	}
	res := TestResult{Address: s.endpoint}
	start := time.Now()
	sess, err := c.open(ctx, s)
	if err != nil {
		return res, explain(s, fmt.Errorf("connect: %w", err), hintNone)
	}
	defer sess.close()
	out, err := poll(sess.r, sess.diagnose, s, pl, c.now, true)
	res.Duration = time.Since(start)
	res.Requests, res.Pumps, res.Fields, res.Warnings = out.requests, out.pumps, out.reads, out.issues
	return res, err
}

// jitter returns a random duration in [0, d).
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

// spread returns a random offset within ±5 % of d, so that targets added
// together drift apart instead of polling in lockstep.
func spread(d time.Duration) time.Duration {
	w := d / 20
	if w <= 0 {
		return 0
	}
	return rand.N(2*w) - w
}

// queued is a target due for a poll at a time.
type queued struct {
	at  time.Time
	id  int64
	gen uint64
}

// pollQueue is a min-heap of queued polls by time.
type pollQueue []queued

func (q pollQueue) Len() int           { return len(q) }
func (q pollQueue) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q pollQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *pollQueue) Push(x any)        { *q = append(*q, x.(queued)) }
func (q *pollQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// metrics are the collector's Prometheus metrics; labels are bounded
// (a poll result, never a target).
type metrics struct {
	polls      *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	online     prometheus.Gauge
	targets    prometheus.Gauge
	pumps      prometheus.Gauge
	inflight   prometheus.Gauge
	issues     prometheus.Counter
	sinkErrors prometheus.Counter
	overruns   prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardwatch_snmp_polls_total",
			Help: "SNMP polls by result: ok, timeout (no answer), auth (credentials refused), error.",
		}, []string{"result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wardwatch_snmp_poll_duration_seconds",
			Help:    "Time one SNMP poll of one target took, by result.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"result"}),
		online: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wardwatch_snmp_targets_online",
			Help: "SNMP targets currently online.",
		}),
		targets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wardwatch_snmp_targets",
			Help: "SNMP targets configured and enabled.",
		}),
		pumps: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wardwatch_snmp_pumps",
			Help: "Pumps read by the last successful poll of each online target.",
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wardwatch_snmp_polls_in_flight",
			Help: "SNMP polls running now.",
		}),
		issues: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_snmp_field_errors_total",
			Help: "Profile fields a poll could not read (unsupported OID, value the profile cannot map).",
		}),
		sinkErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_snmp_sink_errors_total",
			Help: "Batches of pump states the sink refused.",
		}),
		overruns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_snmp_poll_overruns_total",
			Help: "Polls skipped because the previous poll of the target, or waiting for a poll slot, ran past its interval.",
		}),
	}
	for _, r := range []string{resultOK, resultTimeout, resultAuth, resultError} {
		m.polls.WithLabelValues(r)
	}
	return m
}

func (m *metrics) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.polls, m.duration, m.online, m.targets, m.pumps, m.inflight, m.issues, m.sinkErrors, m.overruns} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
