package httppoll

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wardwatch/wardwatch"
)

func TestBackoff(t *testing.T) {
	const s = time.Second
	tests := []struct {
		interval, max time.Duration
		n             int
		want          time.Duration
	}{
		{s, time.Minute, 0, 0},
		{s, time.Minute, 1, 2 * s},
		{s, time.Minute, 2, 4 * s},
		{s, time.Minute, 5, 32 * s},
		{s, time.Minute, 6, time.Minute},
		{s, time.Minute, 1000, time.Minute},
		{10 * time.Minute, time.Minute, 3, 10 * time.Minute}, // never below the interval
	}
	for _, tt := range tests {
		if got := Backoff(tt.interval, tt.max, tt.n); got != tt.want {
			t.Errorf("Backoff(%v, %v, %d) = %v, want %v", tt.interval, tt.max, tt.n, got, tt.want)
		}
	}
}

func TestValidateTarget(t *testing.T) {
	ok := Target{Name: "r1", URL: "https://reader.local/api/tags"}
	tests := []struct {
		name string
		mod  func(*Target)
		ok   bool
	}{
		{"defaults", func(*Target) {}, true},
		{"http with port and query", func(t *Target) { t.URL = "http://10.0.0.5:8080/tags?since=0" }, true},
		{"no name", func(t *Target) { t.Name = " " }, false},
		{"long name", func(t *Target) { t.Name = strings.Repeat("n", 129) }, false},
		{"ftp", func(t *Target) { t.URL = "ftp://reader/tags" }, false},
		{"relative", func(t *Target) { t.URL = "/tags" }, false},
		{"no host", func(t *Target) { t.URL = "http:///tags" }, false},
		{"opaque", func(t *Target) { t.URL = "http:reader" }, false},
		{"garbage", func(t *Target) { t.URL = "http://[::1" }, false},
		{"fast", func(t *Target) { t.Interval = time.Millisecond }, false},
		{"negative timeout", func(t *Target) { t.Timeout = -1 }, false},
		{"huge body", func(t *Target) { t.MaxBodyBytes = MaxMaxBodyBytes + 1 }, false},
		{"header injection", func(t *Target) { t.Header = map[string]string{"X-A": "b\r\nX-Evil: 1"} }, false},
		{"bad header name", func(t *Target) { t.Header = map[string]string{"X A": "b"} }, false},
	}
	for _, tt := range tests {
		tg := ok
		tt.mod(&tg)
		err := ValidateTarget(tg)
		if (err == nil) != tt.ok {
			t.Errorf("%s: %v", tt.name, err)
		}
		if err != nil && wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Errorf("%s: code %q", tt.name, wardwatch.ErrorCode(err))
		}
	}
}

// bodies records what Handle receives; err, when set, is returned.
type bodies struct {
	mu    sync.Mutex
	got   []string
	types []string
	err   error
}

func (b *bodies) handle(_ context.Context, t Target, body []byte, ct string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.got = append(b.got, t.Name+":"+string(body))
	b.types = append(b.types, ct)
	return b.err
}

func (b *bodies) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.got)
}

// waitFor polls cond until it holds; the deadline only guards against a
// hung test, it asserts nothing about speed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// start runs p in the background; the returned stop cancels it and waits
// for Run to return, failing the test if it returns an error.
func start(t *testing.T, p *Poller) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func statusOf(t *testing.T, p *Poller, name string) TargetStatus {
	t.Helper()
	for _, s := range p.Status() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no status for %q", name)
	return TargetStatus{}
}

func polls(t *testing.T, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "wardwatch_httppoll_polls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no polls_total{result=%q}", result)
	return 0
}

func TestPollSuccess(t *testing.T) {
	var hits atomic.Int64
	var gotAuth, gotAccept, gotUA atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		gotAuth.Store(r.Header.Get("Authorization"))
		gotAccept.Store(r.Header.Get("Accept"))
		gotUA.Store(r.Header.Get("User-Agent"))
		w.Header().Set("Content-Type", "application/x-ndjson")
		fmt.Fprintf(w, `{"n":%d}`, hits.Load())
	}))
	defer srv.Close()

	reg := prometheus.NewRegistry()
	b := &bodies{}
	p := New(Options{Handle: b.handle, Registerer: reg, Jitter: -1})
	u := strings.Replace(srv.URL, "http://", "http://user:secret@", 1)
	if err := p.SetTargets([]Target{{Name: "r1", URL: u, Format: "zebra", Interval: MinInterval, Header: map[string]string{"Authorization": "Bearer tok"}}}); err != nil {
		t.Fatal(err)
	}
	stop := start(t, p)
	waitFor(t, "three polls", func() bool { return b.count() >= 3 })
	stop()

	st := statusOf(t, p, "r1")
	if st.Polls < 3 || st.Failures != 0 || st.ConsecutiveFailures != 0 || st.LastOK.IsZero() || st.LastError != "" {
		t.Fatalf("status %+v", st)
	}
	if strings.Contains(st.URL, "secret") {
		t.Fatalf("status shows the password: %s", st.URL)
	}
	if !st.NextPoll.IsZero() {
		t.Fatalf("NextPoll %v after Run returned", st.NextPoll)
	}
	b.mu.Lock()
	if b.got[0] != `r1:{"n":1}` || b.types[0] != "application/x-ndjson" {
		t.Errorf("first body %q (%q)", b.got[0], b.types[0])
	}
	b.mu.Unlock()
	if gotAuth.Load() != "Bearer tok" || !strings.Contains(gotAccept.Load().(string), "application/json") || gotUA.Load() == "" {
		t.Errorf("headers: auth %q accept %q ua %q", gotAuth.Load(), gotAccept.Load(), gotUA.Load())
	}
	if n := polls(t, reg, resultOK); n < 3 {
		t.Errorf("ok polls %v", n)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}

// TestBackoffGrowsThenResets runs against a real server that fails a few
// times, with the poller in a synctest bubble so that the backoff delays
// pass in fake time. The server lives outside the bubble and the client
// keeps no idle connections, so that every goroutine of the bubble
// finishes each poll.
func TestBackoffGrowsThenResets(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "busy", http.StatusInternalServerError)
			return
		}
		w.Write([]byte(`[]`))
	}))
	defer srv.Close()

	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewRegistry()
		b := &bodies{}
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		p := New(Options{Handle: b.handle, Registerer: reg, Client: client, Jitter: -1, MaxBackoff: 8 * time.Second})
		if err := p.SetTargets([]Target{{Name: "r1", URL: srv.URL, Interval: time.Second}}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()

		// Each step: let the poll due now happen, then check the backoff
		// it set and wait it out.
		var backoffs []time.Duration
		for range 5 {
			waitPoll(t, p, "r1", len(backoffs)+1)
			st := statusOf(t, p, "r1")
			backoffs = append(backoffs, st.Backoff)
			time.Sleep(st.Backoff)
		}
		want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second}
		if fmt.Sprint(backoffs) != fmt.Sprint(want) {
			t.Fatalf("backoffs %v, want %v", backoffs, want)
		}
		st := statusOf(t, p, "r1")
		if st.ConsecutiveFailures != 5 || !strings.Contains(st.LastError, "500") {
			t.Fatalf("status %+v", st)
		}

		failing.Store(false)
		waitPoll(t, p, "r1", 6)
		st = statusOf(t, p, "r1")
		if st.ConsecutiveFailures != 0 || st.Backoff != 0 || st.Failures != 5 || b.count() != 1 {
			t.Fatalf("after recovery: %+v", st)
		}
		// Back to the plain interval.
		next := st.NextPoll
		if d := next.Sub(time.Now()); d != time.Second {
			t.Fatalf("next poll in %v, want 1s", d)
		}
		if n := polls(t, reg, resultHTTPError); n != 5 {
			t.Fatalf("http_error polls %v, want 5", n)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// waitPoll waits, in a synctest bubble, until target name has finished n
// polls. Polls cross the real network, so it alternates synctest.Wait
// with yielding to the network.
func waitPoll(t *testing.T, p *Poller, name string, n int) {
	t.Helper()
	for range 100000 {
		synctest.Wait()
		if statusOf(t, p, name).Polls >= uint64(n) {
			return
		}
		time.Sleep(time.Millisecond) // fake time: lets the due poll start
	}
	t.Fatalf("target %s never reached %d polls", name, n)
}

func TestPollTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // hang until the client gives up
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)

	reg := prometheus.NewRegistry()
	b := &bodies{}
	p := New(Options{Handle: b.handle, Registerer: reg, Jitter: -1})
	p.SetTargets([]Target{{Name: "slow", URL: srv.URL, Interval: MinInterval, Timeout: 50 * time.Millisecond}})
	stop := start(t, p)
	waitFor(t, "a timed-out poll", func() bool { return statusOf(t, p, "slow").Failures >= 1 })
	stop()
	st := statusOf(t, p, "slow")
	if !strings.Contains(st.LastError, "deadline exceeded") || strings.Contains(st.LastError, srv.URL) {
		t.Fatalf("last error %q", st.LastError)
	}
	if n := polls(t, reg, resultTimeout); n < 1 {
		t.Fatalf("timeout polls %v", n)
	}
	if b.count() != 0 {
		t.Fatal("Handle called for a timed-out poll")
	}
}

func TestPollOversize(t *testing.T) {
	big := strings.Repeat("x", 2048)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // no Content-Length
		}
		w.Write([]byte(big))
	}))
	defer srv.Close()

	reg := prometheus.NewRegistry()
	b := &bodies{}
	p := New(Options{Handle: b.handle, Registerer: reg, Jitter: -1})
	p.SetTargets([]Target{
		{Name: "len", URL: srv.URL + "/len", Interval: MinInterval, MaxBodyBytes: 1024},
		{Name: "chunked", URL: srv.URL + "/chunked", Interval: MinInterval, MaxBodyBytes: 1024},
		{Name: "fits", URL: srv.URL + "/len", Interval: MinInterval, MaxBodyBytes: 2048},
	})
	stop := start(t, p)
	waitFor(t, "oversize polls", func() bool {
		return statusOf(t, p, "len").Failures >= 1 && statusOf(t, p, "chunked").Failures >= 1 && statusOf(t, p, "fits").Polls >= 1
	})
	stop()
	for _, name := range []string{"len", "chunked"} {
		if st := statusOf(t, p, name); !strings.Contains(st.LastError, "body too large") {
			t.Errorf("%s: last error %q", name, st.LastError)
		}
	}
	if st := statusOf(t, p, "fits"); st.Failures != 0 {
		t.Errorf("a body of exactly the limit failed: %q", st.LastError)
	}
	if n := polls(t, reg, resultTooLarge); n < 2 {
		t.Fatalf("too_large polls %v", n)
	}
}

func TestPollHandleErrorAndRedirects(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the poller followed a redirect to another host")
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/data", http.StatusFound)
		case "/away":
			http.Redirect(w, r, other.URL+"/data", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/data":
			w.Write([]byte("ok"))
		case "/bad":
			w.Write([]byte("garbage"))
		}
	}))
	defer srv.Close()

	reg := prometheus.NewRegistry()
	b := &bodies{}
	handle := func(ctx context.Context, t Target, body []byte, ct string) error {
		if string(body) == "garbage" {
			return errors.New("not a reader body")
		}
		return b.handle(ctx, t, body, ct)
	}
	p := New(Options{Handle: handle, Registerer: reg, Jitter: -1})
	p.SetTargets([]Target{
		{Name: "moved", URL: srv.URL + "/moved", Interval: MinInterval},
		{Name: "away", URL: srv.URL + "/away", Interval: MinInterval},
		{Name: "loop", URL: srv.URL + "/loop", Interval: MinInterval},
		{Name: "bad", URL: srv.URL + "/bad", Interval: MinInterval},
	})
	stop := start(t, p)
	waitFor(t, "all four polled", func() bool {
		return statusOf(t, p, "moved").Polls >= 1 && statusOf(t, p, "away").Polls >= 1 && statusOf(t, p, "loop").Polls >= 1 && statusOf(t, p, "bad").Polls >= 1
	})
	stop()
	if st := statusOf(t, p, "moved"); st.Failures != 0 {
		t.Errorf("same-host redirect: %q", st.LastError)
	}
	if st := statusOf(t, p, "away"); !strings.Contains(st.LastError, "another host") {
		t.Errorf("cross-host redirect: %q", st.LastError)
	}
	if st := statusOf(t, p, "loop"); !strings.Contains(st.LastError, "redirects") {
		t.Errorf("redirect loop: %q", st.LastError)
	}
	if st := statusOf(t, p, "bad"); !strings.Contains(st.LastError, "not a reader body") || st.Backoff == 0 {
		t.Errorf("handle error: %+v", st)
	}
	if n := polls(t, reg, resultHandleError); n < 1 {
		t.Errorf("handle_error polls %v", n)
	}
}

func TestTargetsChangedWhileRunning(t *testing.T) {
	var hitsA, hitsB, hitsA2 atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/a":
			hitsA.Add(1)
		case "/b":
			hitsB.Add(1)
		case "/a2":
			hitsA2.Add(1)
		}
		w.Write([]byte("{}"))
	}))
	defer srv.Close()

	b := &bodies{}
	p := New(Options{Handle: b.handle, Jitter: -1})
	if err := p.SetTargets([]Target{{Name: "a", URL: srv.URL + "/a", Interval: MinInterval}}); err != nil {
		t.Fatal(err)
	}
	stop := start(t, p)
	waitFor(t, "a polled", func() bool { return hitsA.Load() >= 2 })

	// Add b, change a's URL; an invalid target and a duplicate are left
	// out with an error, the rest applies.
	err := p.SetTargets([]Target{
		{Name: "a", URL: srv.URL + "/a2", Interval: MinInterval},
		{Name: "b", URL: srv.URL + "/b", Interval: MinInterval},
		{Name: "b", URL: srv.URL + "/b", Interval: MinInterval},
		{Name: "c", URL: "gopher://x"},
	})
	if wardwatch.ErrorCode(err) != wardwatch.EINVALID || !strings.Contains(err.Error(), "twice") || !strings.Contains(err.Error(), `"c"`) {
		t.Fatalf("SetTargets error: %v", err)
	}
	waitFor(t, "a2 and b polled", func() bool { return hitsA2.Load() >= 2 && hitsB.Load() >= 2 })
	before := hitsA.Load()
	if st := p.Status(); len(st) != 2 || st[0].Name != "a" || !strings.HasSuffix(st[0].URL, "/a2") || st[1].Name != "b" {
		t.Fatalf("status %+v", st)
	}

	// Remove everything: no more requests.
	p.SetTargets(nil)
	waitFor(t, "status emptied", func() bool { return len(p.Status()) == 0 })
	stop()
	a2, bb := hitsA2.Load(), hitsB.Load()
	time.Sleep(3 * MinInterval)
	if hitsA.Load() != before || hitsA2.Load() != a2 || hitsB.Load() != bb {
		t.Fatalf("removed targets still polled: a %d→%d a2 %d→%d b %d→%d", before, hitsA.Load(), a2, hitsA2.Load(), bb, hitsB.Load())
	}
}

// TestRunStopsOnCancel: cancelling Run stops a poll in flight and every
// worker; Run returns only after they have.
func TestRunStopsOnCancel(t *testing.T) {
	inFlight := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case inFlight <- struct{}{}:
		default:
		}
		<-r.Context().Done() // hangs until the client goes
	}))
	defer srv.Close()

	var handled atomic.Int64
	p := New(Options{Handle: func(context.Context, Target, []byte, string) error { handled.Add(1); return nil }, Jitter: -1})
	p.SetTargets([]Target{
		{Name: "h1", URL: srv.URL, Interval: MinInterval, Timeout: time.Hour},
		{Name: "h2", URL: srv.URL, Interval: MinInterval, Timeout: time.Hour},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	<-inFlight
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, st := range p.Status() {
		if st.Failures != 0 {
			t.Errorf("%s: a poll cancelled by shutdown counted as a failure: %q", st.Name, st.LastError)
		}
	}
	if handled.Load() != 0 {
		t.Fatal("Handle called")
	}

	// Run can run again, and refuses to run twice at once.
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan error, 1)
	go func() { done2 <- p.Run(ctx2) }()
	if err := waitRunning(p); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err == nil {
		t.Fatal("a second concurrent Run succeeded")
	}
	cancel2()
	if err := <-done2; err != nil {
		t.Fatalf("second Run: %v", err)
	}
}

// waitRunning waits until p's Run has started.
func waitRunning(p *Poller) error {
	deadline := time.Now().Add(20 * time.Second)
	for !p.running.Load() {
		if time.Now().After(deadline) {
			return errors.New("Run never started")
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

func TestRunWithoutHandle(t *testing.T) {
	if err := New(Options{}).Run(context.Background()); err == nil {
		t.Fatal("Run without Handle succeeded")
	}
}
