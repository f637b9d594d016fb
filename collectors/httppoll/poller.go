// Package httppoll polls gateways and RFID readers that expose a pull API:
// it GETs each configured target's URL on its own interval (with jitter),
// bounds every request by a timeout and every body by a size limit, backs
// off exponentially while a target fails (capped, reset on success) and
// hands each good body to a Handle function that parses it.
//
// A Poller is configured with SetTargets at any time, runs its targets
// with Run until the context ends (every goroutine stopped when Run
// returns), and reports each target's health with Status.
package httppoll

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
)

// Defaults and limits of a Target.
const (
	DefaultInterval     = 10 * time.Second
	MinInterval         = 100 * time.Millisecond
	DefaultTimeout      = 10 * time.Second
	DefaultMaxBodyBytes = 1 << 20
	MaxMaxBodyBytes     = 64 << 20
	maxNameLen          = 128
	maxRedirects        = 5
)

// Defaults of Options.
const (
	DefaultMaxBackoff = 5 * time.Minute
	DefaultJitter     = 0.1
)

// Target is one URL to poll.
type Target struct {
	// Name identifies the target (unique among a Poller's targets): for an
	// RFID reader, its reader key.
	Name string
	// URL is an absolute http or https URL. Credentials in it are used but
	// never shown (Status redacts them).
	URL string
	// Format is what the body is, for Handle ("zebra", "wardwatch"…); the
	// poller does not look at it.
	Format string
	// Interval between the end of one poll and the start of the next
	// (DefaultInterval; at least MinInterval).
	Interval time.Duration
	// Timeout bounds one request, body included (DefaultTimeout).
	Timeout time.Duration
	// Header is sent with every request (e.g. Authorization). Without an
	// Accept header the poller asks for JSON or NDJSON.
	Header map[string]string
	// MaxBodyBytes is the largest body accepted (DefaultMaxBodyBytes; at
	// most MaxMaxBodyBytes); a larger one is a failed poll.
	MaxBodyBytes int64
}

// withDefaults returns t with its defaults filled in and its header
// cloned.
func (t Target) withDefaults() Target {
	if t.Interval == 0 {
		t.Interval = DefaultInterval
	}
	if t.Timeout == 0 {
		t.Timeout = DefaultTimeout
	}
	if t.MaxBodyBytes == 0 {
		t.MaxBodyBytes = DefaultMaxBodyBytes
	}
	t.Header = maps.Clone(t.Header)
	return t
}

// ValidateTarget checks a target as SetTargets will (after filling in
// defaults); the error is a *wardwatch.Error with code EINVALID.
func ValidateTarget(t Target) error {
	t = t.withDefaults()
	switch {
	case strings.TrimSpace(t.Name) == "" || len(t.Name) > maxNameLen:
		return wardwatch.Errorf(wardwatch.EINVALID, "poll target needs a name of 1 to %d characters", maxNameLen)
	case t.Interval < MinInterval:
		return wardwatch.Errorf(wardwatch.EINVALID, "poll target %q: interval must be at least %v", t.Name, MinInterval)
	case t.Timeout < 0:
		return wardwatch.Errorf(wardwatch.EINVALID, "poll target %q: timeout must be positive", t.Name)
	case t.MaxBodyBytes < 0 || t.MaxBodyBytes > MaxMaxBodyBytes:
		return wardwatch.Errorf(wardwatch.EINVALID, "poll target %q: body limit must be between 1 and %d bytes", t.Name, MaxMaxBodyBytes)
	}
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return wardwatch.Errorf(wardwatch.EINVALID, "poll target %q: URL must be an absolute http or https URL", t.Name)
	}
	for k, v := range t.Header {
		if k == "" || strings.ContainsAny(k, " \t\r\n:") || strings.ContainsAny(v, "\r\n") {
			return wardwatch.Errorf(wardwatch.EINVALID, "poll target %q: bad header %q", t.Name, k)
		}
	}
	return nil
}

func sameTarget(a, b Target) bool {
	return a.Name == b.Name && a.URL == b.URL && a.Format == b.Format && a.Interval == b.Interval &&
		a.Timeout == b.Timeout && a.MaxBodyBytes == b.MaxBodyBytes && maps.Equal(a.Header, b.Header)
}

// Options configures New.
type Options struct {
	// Logger, nil: discard.
	Logger *slog.Logger
	// Registerer for the metrics; nil: not registered.
	Registerer prometheus.Registerer
	// Client makes the requests; nil: a plain client over
	// http.DefaultTransport. The poller uses a copy whose redirect policy
	// refuses other hosts (and schemes) and more than 5 hops; its Timeout
	// is not used (Target.Timeout is).
	Client *http.Client
	// Handle receives each good body (2xx, within the size limit) with
	// the response's Content-Type. An error counts as a failed poll.
	Handle func(ctx context.Context, t Target, body []byte, contentType string) error
	// Now is the clock for Status; nil: time.Now.
	Now func() time.Time
	// MaxBackoff caps the delay between polls of a failing target
	// (DefaultMaxBackoff, and never less than the target's interval).
	MaxBackoff time.Duration
	// Jitter is the fraction of each delay that is randomised, ± (0 means
	// DefaultJitter; negative: none).
	Jitter float64
}

// TargetStatus is what the poller knows of one target.
type TargetStatus struct {
	Name                string
	URL                 string // credentials redacted
	LastOK              time.Time
	LastError           string
	LastErrorAt         time.Time
	ConsecutiveFailures int
	Polls               uint64 // polls finished, good or bad
	Failures            uint64
	// Backoff is the delay before the next poll while the target fails
	// (before jitter); 0 while it is healthy.
	Backoff  time.Duration
	NextPoll time.Time // zero when the target is not running
}

// Poller polls targets. Its methods are safe for concurrent use.
type Poller struct {
	log        *slog.Logger
	client     *http.Client
	handle     func(ctx context.Context, t Target, body []byte, contentType string) error
	now        func() time.Time
	maxBackoff time.Duration
	jitter     float64

	mu      sync.Mutex
	targets map[string]Target
	status  map[string]*targetState
	gen     uint64
	changed chan struct{} // signals Run that targets changed
	running atomic.Bool

	polls    *prometheus.CounterVec
	duration prometheus.Histogram
	nTargets prometheus.Gauge
	failing  prometheus.Gauge
}

// targetState is a target's status, owned by the worker of generation
// gen, with the configuration it belongs to.
type targetState struct {
	gen uint64
	cfg Target
	TargetStatus
}

// Poll results, the values of wardwatch_httppoll_polls_total's result label.
const (
	resultOK          = "ok"
	resultHTTPError   = "http_error"
	resultTooLarge    = "too_large"
	resultTimeout     = "timeout"
	resultNetwork     = "network_error"
	resultHandleError = "handle_error"
)

// New returns a Poller without targets.
//
// Metrics (no per-target labels):
//
//	wardwatch_httppoll_polls_total{result}       ok, http_error, too_large, timeout, network_error, handle_error
//	wardwatch_httppoll_poll_duration_seconds     request and body, Handle excluded
//	wardwatch_httppoll_targets                   configured targets
//	wardwatch_httppoll_failing_targets           targets whose last poll failed
func New(opt Options) *Poller {
	p := &Poller{
		log:        opt.Logger,
		handle:     opt.Handle,
		now:        opt.Now,
		maxBackoff: opt.MaxBackoff,
		jitter:     opt.Jitter,
		targets:    map[string]Target{},
		status:     map[string]*targetState{},
		changed:    make(chan struct{}, 1),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardwatch_httppoll_polls_total",
			Help: "HTTP polls of gateways and readers, by result.",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "wardwatch_httppoll_poll_duration_seconds",
			Help:    "Time to fetch one polled body (request and body, not its handling).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		nTargets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wardwatch_httppoll_targets",
			Help: "HTTP poll targets configured.",
		}),
		failing: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wardwatch_httppoll_failing_targets",
			Help: "HTTP poll targets whose last poll failed.",
		}),
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.maxBackoff <= 0 {
		p.maxBackoff = DefaultMaxBackoff
	}
	switch {
	case p.jitter == 0:
		p.jitter = DefaultJitter
	case p.jitter < 0:
		p.jitter = 0
	case p.jitter > 0.5:
		p.jitter = 0.5
	}
	base := opt.Client
	if base == nil {
		base = &http.Client{}
	}
	c := *base
	next := base.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		first := via[0].URL
		if req.URL.Scheme != first.Scheme || !strings.EqualFold(req.URL.Host, first.Host) {
			return fmt.Errorf("redirect to another host or scheme (%s://%s) refused", req.URL.Scheme, req.URL.Host)
		}
		if len(via) >= maxRedirects {
			return fmt.Errorf("more than %d redirects", maxRedirects)
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	c.Timeout = 0
	p.client = &c
	for _, r := range []string{resultOK, resultHTTPError, resultTooLarge, resultTimeout, resultNetwork, resultHandleError} {
		p.polls.WithLabelValues(r)
	}
	p.polls = register(opt.Registerer, p.polls)
	p.duration = register(opt.Registerer, p.duration)
	p.nTargets = register(opt.Registerer, p.nTargets)
	p.failing = register(opt.Registerer, p.failing)
	return p
}

// register registers c on reg, reusing an identical collector registered
// before. With a nil registry, or a conflicting collector, c counts
// unregistered.
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

// SetTargets replaces the targets. It may be called at any time, before
// or while Run runs: new targets start, removed ones stop (a poll in
// flight is cancelled), changed ones restart with a fresh status.
// Invalid targets (ValidateTarget) and later duplicates of a name are
// left out, logged and returned as one joined error; the valid ones are
// applied all the same.
func (p *Poller) SetTargets(ts []Target) error {
	var errs []error
	next := make(map[string]Target, len(ts))
	for _, t := range ts {
		if err := ValidateTarget(t); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := next[t.Name]; dup {
			errs = append(errs, wardwatch.Errorf(wardwatch.EINVALID, "poll target %q is configured twice", t.Name))
			continue
		}
		next[t.Name] = t.withDefaults()
	}
	for _, err := range errs {
		p.log.Error("httppoll: poll target left out", "err", err)
	}
	p.mu.Lock()
	p.targets = next
	for name, st := range p.status {
		if t, ok := next[name]; !ok || !sameTarget(t, st.cfg) {
			delete(p.status, name)
		}
	}
	for name, t := range next {
		if _, ok := p.status[name]; !ok {
			p.status[name] = &targetState{cfg: t, TargetStatus: TargetStatus{Name: name, URL: redact(t.URL)}}
		}
	}
	p.nTargets.Set(float64(len(next)))
	p.countFailingLocked()
	p.mu.Unlock()
	select {
	case p.changed <- struct{}{}:
	default:
	}
	return errors.Join(errs...)
}

// Status returns every configured target's status, by name.
func (p *Poller) Status() []TargetStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]TargetStatus, 0, len(p.status))
	for _, st := range p.status {
		out = append(out, st.TargetStatus)
	}
	slices.SortFunc(out, func(a, b TargetStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Redacted()
}

// worker is one running target.
type worker struct {
	t      Target
	gen    uint64
	cancel context.CancelFunc
}

// Run polls the targets until ctx ends, then stops every poll and returns
// nil once all its goroutines have stopped. It returns an error at once
// when the poller is already running or has no Handle.
func (p *Poller) Run(ctx context.Context) error {
	if p.handle == nil {
		return errors.New("httppoll: no Handle")
	}
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("httppoll: Run is already running")
	}
	defer p.running.Store(false)

	var wg sync.WaitGroup
	workers := map[string]*worker{}
	defer func() {
		for _, w := range workers {
			w.cancel()
		}
		wg.Wait()
		p.mu.Lock()
		for _, st := range p.status {
			st.NextPoll = time.Time{}
		}
		p.mu.Unlock()
	}()
	for {
		p.reconcile(ctx, workers, &wg)
		select {
		case <-ctx.Done():
			return nil
		case <-p.changed:
		}
	}
}

// reconcile stops workers whose target went or changed and starts workers
// for targets without one.
func (p *Poller) reconcile(ctx context.Context, workers map[string]*worker, wg *sync.WaitGroup) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, w := range workers {
		if t, ok := p.targets[name]; !ok || !sameTarget(t, w.t) {
			w.cancel()
			delete(workers, name)
		}
	}
	for name, t := range p.targets {
		if _, ok := workers[name]; ok {
			continue
		}
		p.gen++
		st := p.status[name]
		if st == nil {
			st = &targetState{TargetStatus: TargetStatus{Name: name, URL: redact(t.URL)}}
			p.status[name] = st
		}
		st.gen = p.gen
		st.cfg = t
		wctx, cancel := context.WithCancel(ctx)
		w := &worker{t: t, gen: p.gen, cancel: cancel}
		workers[name] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.work(wctx, w)
		}()
	}
}

// work polls one target until ctx ends.
func (p *Poller) work(ctx context.Context, w *worker) {
	// The first poll comes after a random part of the jitter, so that
	// targets configured together do not poll in lockstep.
	delay := time.Duration(rand.Float64() * p.jitter * float64(w.t.Interval))
	timer := time.NewTimer(delay)
	defer timer.Stop()
	p.setNext(w, delay)
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		start := time.Now()
		body, contentType, result, err := p.fetch(ctx, w.t)
		p.duration.Observe(time.Since(start).Seconds())
		if err == nil {
			if herr := p.handle(ctx, w.t, body, contentType); herr != nil {
				result, err = resultHandleError, fmt.Errorf("poll %s: handle %d-byte body: %w", w.t.Name, len(body), herr)
			}
		}
		if ctx.Err() != nil {
			return // stopped mid-poll: not the target's failure
		}
		p.polls.WithLabelValues(result).Inc()
		backoff := p.record(w, err)
		delay = w.t.Interval
		if backoff > 0 {
			delay = backoff
		}
		delay = p.jittered(delay)
		p.setNext(w, delay)
		timer.Reset(delay)
	}
}

// Backoff returns the delay after the n-th consecutive failure of a
// target polled every interval: interval·2ⁿ, capped at max (and never
// below the interval).
func Backoff(interval, max time.Duration, n int) time.Duration {
	if n <= 0 {
		return 0
	}
	max = maxDuration(max, interval)
	d := interval
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

func maxDuration(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

func (p *Poller) jittered(d time.Duration) time.Duration {
	if p.jitter <= 0 {
		return d
	}
	return time.Duration(float64(d) * (1 + p.jitter*(2*rand.Float64()-1)))
}

// record updates the target's status after a poll and returns the backoff
// delay (0 after a success).
func (p *Poller) record(w *worker, err error) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.status[w.t.Name]
	if st == nil || st.gen != w.gen {
		return 0 // replaced: the new worker owns the status
	}
	now := p.now()
	st.Polls++
	if err == nil {
		if st.ConsecutiveFailures > 0 {
			p.log.Info("httppoll: target recovered", "target", w.t.Name, "after_failures", st.ConsecutiveFailures)
		}
		st.LastOK = now
		st.ConsecutiveFailures = 0
		st.Backoff = 0
		p.countFailingLocked()
		return 0
	}
	st.Failures++
	st.ConsecutiveFailures++
	st.LastError = err.Error()
	st.LastErrorAt = now
	st.Backoff = Backoff(w.t.Interval, p.maxBackoff, st.ConsecutiveFailures)
	// One warning when a target starts failing, then one every tenth
	// failure: a dead reader must not flood the log.
	if n := st.ConsecutiveFailures; n == 1 || n%10 == 0 {
		p.log.Warn("httppoll: poll failed", "target", w.t.Name, "failures", n, "backoff", st.Backoff, "err", err)
	} else {
		p.log.Debug("httppoll: poll failed", "target", w.t.Name, "failures", n, "backoff", st.Backoff, "err", err)
	}
	p.countFailingLocked()
	return st.Backoff
}

func (p *Poller) countFailingLocked() {
	n := 0
	for _, st := range p.status {
		if st.ConsecutiveFailures > 0 {
			n++
		}
	}
	p.failing.Set(float64(n))
}

func (p *Poller) setNext(w *worker, delay time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st := p.status[w.t.Name]; st != nil && st.gen == w.gen {
		st.NextPoll = p.now().Add(delay)
	}
}

// ErrTooLarge is wrapped by poll errors for a body over the target's
// limit.
var ErrTooLarge = errors.New("body too large")

// StatusError is a poll answered with a status other than 2xx.
type StatusError struct {
	StatusCode int
	Status     string // "503 Service Unavailable"
}

func (e *StatusError) Error() string { return "status " + e.Status }

// fetch GETs the target's URL once and returns the body and its
// Content-Type, or the metric result and the error with context.
func (p *Poller) fetch(ctx context.Context, t Target) (body []byte, contentType, result string, err error) {
	rctx, cancel := context.WithTimeout(ctx, t.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, t.URL, nil)
	if err != nil {
		return nil, "", resultNetwork, fmt.Errorf("poll %s: %w", t.Name, stripURL(err))
	}
	for k, v := range t.Header {
		req.Header.Set(k, v)
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json, application/x-ndjson;q=0.9, */*;q=0.1")
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "WardWatch-httppoll/1")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, "", classify(rctx, ctx), fmt.Errorf("poll %s: %w", t.Name, stripURL(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10) // let a short error body go, keep the connection
		return nil, "", resultHTTPError, fmt.Errorf("poll %s: %w", t.Name, &StatusError{StatusCode: resp.StatusCode, Status: resp.Status})
	}
	if resp.ContentLength > t.MaxBodyBytes {
		return nil, "", resultTooLarge, fmt.Errorf("poll %s: %w: Content-Length %d, limit %d bytes", t.Name, ErrTooLarge, resp.ContentLength, t.MaxBodyBytes)
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, t.MaxBodyBytes+1))
	if err != nil {
		return nil, "", classify(rctx, ctx), fmt.Errorf("poll %s: read body: %w", t.Name, stripURL(err))
	}
	if int64(len(body)) > t.MaxBodyBytes {
		return nil, "", resultTooLarge, fmt.Errorf("poll %s: %w: more than %d bytes", t.Name, ErrTooLarge, t.MaxBodyBytes)
	}
	return body, resp.Header.Get("Content-Type"), resultOK, nil
}

// classify tells a request's timeout from other network failures.
func classify(rctx, ctx context.Context) string {
	if errors.Is(rctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		return resultTimeout
	}
	return resultNetwork
}

// stripURL drops the URL (which may hold credentials) from a client error.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
