package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wardwatch/wardwatch"
)

// fixedNow is the test clock for the "now" field of messages.
var fixedNow = time.UnixMilli(1_700_000_000_123)

// baseTime is the time of the positions the tests publish.
var baseTime = time.UnixMilli(1_700_000_000_000).UTC()

// patience bounds every wait in these tests. It is a guard against hangs,
// never a statement about speed.
const patience = 20 * time.Second

// testOptions are small intervals for fast tests.
func testOptions() Options {
	return Options{
		FlushInterval: 20 * time.Millisecond,
		WriteTimeout:  2 * time.Second,
		PingInterval:  time.Minute,
		Now:           func() time.Time { return fixedNow },
	}
}

func pos(asset, floor int64, x, y float64) wardwatch.Position {
	return wardwatch.Position{
		TagID: fmt.Sprintf("epc:%04x", asset), AssetID: asset, FloorID: floor,
		At: wardwatch.Point{X: x, Y: y}, ZoneID: floor*100 + 1, Confidence: 0.9, Solver: "centroid", Time: baseTime,
	}
}

// checkGoroutines fails the test if, once every other cleanup has run,
// more goroutines exist than when it was called. It must be called first
// in a test so that its cleanup runs last.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(patience)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				t.Errorf("goroutines leaked: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:n])
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// waitFor polls cond until it holds, failing the test after patience.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

type tLogWriter struct{ t *testing.T }

func (w tLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

type env struct {
	t       *testing.T
	hub     *Hub
	reg     *prometheus.Registry
	srv     *httptest.Server
	cancel  context.CancelFunc
	runDone chan error
	stopped sync.Once
	runErr  error
}

// newEnv starts a hub, its Run loop and an HTTP server with the route
// /floor/{id}. wrap, when not nil, wraps the server's listener. Everything
// is stopped at cleanup.
func newEnv(t *testing.T, opt Options, wrap func(net.Listener) net.Listener) *env {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(tLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := &env{t: t, reg: prometheus.NewRegistry(), runDone: make(chan error, 1)}
	e.hub = NewHub(logger, e.reg, opt)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /floor/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			http.Error(w, "bad floor", http.StatusBadRequest)
			return
		}
		e.hub.ServeFloor(w, r, id)
	})
	e.srv = httptest.NewUnstartedServer(mux)
	if wrap != nil {
		e.srv.Listener = wrap(e.srv.Listener)
	}
	e.srv.Start()

	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	go func() { e.runDone <- e.hub.Run(ctx) }()
	t.Cleanup(func() {
		e.stop()
		e.srv.Close()
	})
	return e
}

// stop cancels Run and waits for it to return.
func (e *env) stop() error {
	e.stopped.Do(func() {
		e.cancel()
		select {
		case e.runErr = <-e.runDone:
		case <-time.After(patience):
			e.t.Fatal("Run did not return after cancel")
		}
	})
	return e.runErr
}

func (e *env) url(floor int64) string {
	return "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/floor/" + strconv.FormatInt(floor, 10)
}

// dial connects a client to a floor with d (the default dialer when nil);
// the connection is closed at cleanup.
func (e *env) dial(floor int64, d *websocket.Dialer) *websocket.Conn {
	e.t.Helper()
	if d == nil {
		d = websocket.DefaultDialer
	}
	conn, resp, err := d.Dial(e.url(floor), nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		e.t.Fatalf("dial floor %d: %v (HTTP %d)", floor, err, status)
	}
	e.t.Cleanup(func() { conn.Close() })
	return conn
}

func (e *env) dropped(reason string) float64 {
	return testutil.ToFloat64(e.hub.m.dropped.WithLabelValues(reason))
}

// wireMsg is a server message as the browser sees it.
type wireMsg struct {
	T     string          `json:"t"`
	Floor int64           `json:"floor"`
	Now   int64           `json:"now"`
	A     json.RawMessage `json:"a"`
	raw   string
}

// entry is [assetId,x,y,zoneId,tsMs,conf].
type entry [6]float64

func (m wireMsg) entries(t *testing.T) []entry {
	t.Helper()
	var es []entry
	if err := json.Unmarshal(m.A, &es); err != nil {
		t.Fatalf("entries of %s: %v", m.raw, err)
	}
	return es
}

func (m wireMsg) gone(t *testing.T) []int64 {
	t.Helper()
	var ids []int64
	if err := json.Unmarshal(m.A, &ids); err != nil {
		t.Fatalf("gone of %s: %v", m.raw, err)
	}
	return ids
}

func parseMsg(data []byte) (wireMsg, error) {
	var m wireMsg
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("decode %q: %w", data, err)
	}
	m.raw = string(data)
	return m, nil
}

func readMsg(t *testing.T, conn *websocket.Conn) wireMsg {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(patience))
	typ, data, err := conn.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if typ != websocket.TextMessage {
		t.Fatalf("message type %d, want text", typ)
	}
	m, err := parseMsg(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// readUntil reads messages until done reports true for one, and returns
// all of them.
func readUntil(t *testing.T, conn *websocket.Conn, done func(wireMsg) bool) []wireMsg {
	t.Helper()
	var ms []wireMsg
	for {
		m := readMsg(t, conn)
		ms = append(ms, m)
		if done(m) {
			return ms
		}
	}
}

func entryOf(p wardwatch.Position) entry {
	var e entry
	if err := json.Unmarshal(appendEntry(nil, p), &e); err != nil {
		panic(err)
	}
	return e
}

func TestSnapshotOnConnect(t *testing.T) {
	checkGoroutines(t)
	e := newEnv(t, testOptions(), nil)

	p3 := pos(3, 1, 1.234, 5.678)
	p3.ZoneID, p3.Confidence = 12, 0.876
	e.hub.Publish([]wardwatch.Position{p3, pos(1, 1, 10, 20), pos(2, 2, 7, 7)})

	conn := e.dial(1, nil)
	m := readMsg(t, conn)
	want := `{"t":"snap","floor":1,"now":1700000000123,"a":[[1,10,20,101,1700000000000,0.9],[3,1.23,5.68,12,1700000000000,0.88]]}`
	if m.raw != want {
		t.Errorf("snapshot\n got %s\nwant %s", m.raw, want)
	}
	if n := e.hub.Clients(); n != 1 {
		t.Errorf("Clients() = %d, want 1", n)
	}

	empty := e.dial(9, nil)
	if m := readMsg(t, empty); m.raw != `{"t":"snap","floor":9,"now":1700000000123,"a":[]}` {
		t.Errorf("empty floor snapshot = %s", m.raw)
	}
	if got := testutil.ToFloat64(e.hub.m.clients); got != 2 {
		t.Errorf("wardwatch_live_clients = %v, want 2", got)
	}
}

func TestSnapshot(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name  string
		steps [][]wardwatch.Position
		floor int64
		want  []int64 // asset IDs, with their x as the asset ID times 10
	}{
		{"empty hub", nil, 1, nil},
		{"sorted by asset", [][]wardwatch.Position{{pos(5, 1, 50, 0), pos(2, 1, 20, 0), pos(9, 1, 90, 0)}}, 1, []int64{2, 5, 9}},
		{"other floors left out", [][]wardwatch.Position{{pos(5, 1, 50, 0), pos(2, 2, 20, 0)}}, 2, []int64{2}},
		{"latest wins within a batch", [][]wardwatch.Position{{pos(4, 1, 1, 0), pos(4, 1, 40, 0)}}, 1, []int64{4}},
		{"latest wins across batches", [][]wardwatch.Position{{pos(4, 1, 1, 0)}, {pos(4, 1, 40, 0)}}, 1, []int64{4}},
		{"moved away", [][]wardwatch.Position{{pos(4, 1, 40, 0), pos(6, 1, 60, 0)}, {pos(4, 2, 40, 0)}}, 1, []int64{6}},
		{"moved here", [][]wardwatch.Position{{pos(4, 2, 1, 0)}, {pos(4, 1, 40, 0)}}, 1, []int64{4}},
		{"no asset ignored", [][]wardwatch.Position{{pos(0, 1, 1, 0), pos(3, 1, 30, 0)}}, 1, []int64{3}},
		{"non-finite ignored", [][]wardwatch.Position{{pos(3, 1, 30, 0)}, {pos(3, 1, nan, 0), pos(3, 1, 0, math.Inf(1)), func() wardwatch.Position {
			p := pos(3, 1, 1, 1)
			p.Confidence = nan
			return p
		}()}}, 1, []int64{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHub(nil, nil, Options{})
			for _, ps := range tt.steps {
				h.Publish(ps)
			}
			got := h.Snapshot(tt.floor)
			if len(got) != len(tt.want) {
				t.Fatalf("Snapshot(%d) = %v, want assets %v", tt.floor, got, tt.want)
			}
			for i, p := range got {
				if p.AssetID != tt.want[i] || p.FloorID != tt.floor || p.At.X != float64(tt.want[i]*10) {
					t.Errorf("Snapshot(%d)[%d] = %+v, want asset %d at x=%d", tt.floor, i, p, tt.want[i], tt.want[i]*10)
				}
			}
		})
	}
}

func TestMerge(t *testing.T) {
	entryFor := func(id int64) []byte { return []byte(fmt.Sprintf("[%d]", id)) }
	ch := func(id, floor int64) change { return change{asset: id, floor: floor, entry: entryFor(id*100 + floor)} }
	tests := []struct {
		name        string
		shown       []int64
		batches     [][]change
		wantPending map[int64]string // "" means gone
		wantShown   []int64
	}{
		{"nothing", nil, nil, map[int64]string{}, nil},
		{"own floor", nil, [][]change{{ch(1, 1), ch(2, 1)}}, map[int64]string{1: "[101]", 2: "[201]"}, []int64{1, 2}},
		{"other floor unseen", nil, [][]change{{ch(1, 2)}}, map[int64]string{}, nil},
		{"newest wins", nil, [][]change{{ch(1, 1)}, {{asset: 1, floor: 1, entry: []byte("[newest]")}}}, map[int64]string{1: "[newest]"}, []int64{1}},
		{"shown asset leaves", []int64{1}, [][]change{{ch(1, 2)}}, map[int64]string{1: ""}, nil},
		{"arrives then leaves", nil, [][]change{{ch(1, 1)}, {ch(1, 2)}}, map[int64]string{1: ""}, nil},
		{"leaves then returns", []int64{1}, [][]change{{ch(1, 2)}, {ch(1, 1)}}, map[int64]string{1: "[101]"}, []int64{1}},
		{"leaves twice is one gone", []int64{1}, [][]change{{ch(1, 2)}, {ch(1, 3)}}, map[int64]string{1: ""}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(nil, 1, "test")
			for _, id := range tt.shown {
				c.shown[id] = struct{}{}
			}
			now := time.Now()
			for _, b := range tt.batches {
				c.merge(b, now)
			}
			if len(c.pending) != len(tt.wantPending) {
				t.Errorf("pending has %d entries, want %d", len(c.pending), len(tt.wantPending))
			}
			for id, want := range tt.wantPending {
				got, ok := c.pending[id]
				switch {
				case !ok:
					t.Errorf("pending[%d] missing", id)
				case want == "" && got != nil:
					t.Errorf("pending[%d] = %s, want gone", id, got)
				case want != "" && string(got) != want:
					t.Errorf("pending[%d] = %q, want %s", id, got, want)
				}
			}
			if len(c.shown) != len(tt.wantShown) {
				t.Errorf("shown = %v, want %v", c.shown, tt.wantShown)
			}
			for _, id := range tt.wantShown {
				if _, ok := c.shown[id]; !ok {
					t.Errorf("asset %d not shown", id)
				}
			}
			pendingSince := !c.since.IsZero()
			if pendingSince != (len(tt.wantPending) > 0) {
				t.Errorf("since = %v with %d pending", c.since, len(tt.wantPending))
			}
			select {
			case <-c.notify:
				if len(tt.wantPending) == 0 {
					t.Error("notified with nothing pending")
				}
			default:
				if len(tt.wantPending) > 0 {
					t.Error("not notified")
				}
			}
		})
	}
}

func TestCoalescing(t *testing.T) {
	checkGoroutines(t)
	opt := testOptions()
	opt.FlushInterval = 100 * time.Millisecond
	e := newEnv(t, opt, nil)
	conn := e.dial(1, nil)
	readMsg(t, conn) // snapshot

	for i := range 10 {
		e.hub.Publish([]wardwatch.Position{pos(7, 1, float64(i), 0)})
	}
	var pos []wireMsg
	last := -1.0
	readUntil(t, conn, func(m wireMsg) bool {
		if m.T != "pos" {
			t.Fatalf("unexpected message %s", m.raw)
		}
		pos = append(pos, m)
		es := m.entries(t)
		if len(es) != 1 || es[0][0] != 7 {
			t.Fatalf("message %s: want exactly one entry, for asset 7", m.raw)
		}
		if es[0][1] <= last {
			t.Fatalf("message %s: x went from %v back to %v", m.raw, last, es[0][1])
		}
		last = es[0][1]
		if m.Now != fixedNow.UnixMilli() {
			t.Errorf("now = %d, want %d", m.Now, fixedNow.UnixMilli())
		}
		return last == 9
	})
	if len(pos) >= 10 {
		t.Errorf("got %d messages for 10 quick updates of one asset; want them coalesced", len(pos))
	}
	if got := e.hub.Snapshot(1); len(got) != 1 || got[0].At.X != 9 {
		t.Errorf("Snapshot(1) = %+v, want asset 7 at x=9", got)
	}
}

func TestFloorsAndGone(t *testing.T) {
	checkGoroutines(t)
	e := newEnv(t, testOptions(), nil)
	e.hub.Publish([]wardwatch.Position{pos(5, 1, 1, 1)})

	a := e.dial(1, nil)
	if es := readMsg(t, a).entries(t); len(es) != 1 || es[0][0] != 5 {
		t.Fatalf("floor 1 snapshot = %v, want asset 5", es)
	}
	b := e.dial(2, nil)
	if es := readMsg(t, b).entries(t); len(es) != 0 {
		t.Fatalf("floor 2 snapshot = %v, want empty", es)
	}

	// Each floor gets its own assets only.
	e.hub.Publish([]wardwatch.Position{pos(6, 2, 6, 6), pos(5, 1, 2, 2)})
	ms := readUntil(t, a, func(m wireMsg) bool { return m.T == "pos" })
	if es := ms[len(ms)-1].entries(t); len(es) != 1 || es[0] != entryOf(pos(5, 1, 2, 2)) {
		t.Errorf("floor 1 update = %s, want asset 5 only", ms[len(ms)-1].raw)
	}
	ms = readUntil(t, b, func(m wireMsg) bool { return m.T == "pos" })
	if es := ms[len(ms)-1].entries(t); len(es) != 1 || es[0] != entryOf(pos(6, 2, 6, 6)) {
		t.Errorf("floor 2 update = %s, want asset 6 only", ms[len(ms)-1].raw)
	}

	// Asset 5 takes the lift to floor 2.
	e.hub.Publish([]wardwatch.Position{pos(5, 2, 3, 3)})
	ms = readUntil(t, a, func(m wireMsg) bool { return m.T == "gone" })
	if ids := ms[len(ms)-1].gone(t); len(ids) != 1 || ids[0] != 5 {
		t.Errorf("floor 1 gone = %s, want [5]", ms[len(ms)-1].raw)
	}
	for _, m := range ms[:len(ms)-1] {
		t.Errorf("floor 1 got %s before its gone message", m.raw)
	}
	ms = readUntil(t, b, func(m wireMsg) bool { return m.T == "pos" })
	if es := ms[len(ms)-1].entries(t); len(es) != 1 || es[0] != entryOf(pos(5, 2, 3, 3)) {
		t.Errorf("floor 2 update = %s, want asset 5 at (3,3)", ms[len(ms)-1].raw)
	}

	// A client connecting now sees the new state in its snapshot.
	c := e.dial(2, nil)
	if es := readMsg(t, c).entries(t); len(es) != 2 || es[0][0] != 5 || es[1][0] != 6 {
		t.Errorf("floor 2 snapshot = %v, want assets 5 and 6", es)
	}
}

// smallBuffers shrinks the server side's socket send buffer so that a
// client that does not read blocks the server's writes quickly.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

func TestSlowClientDropped(t *testing.T) {
	tests := []struct {
		name         string
		flush, write time.Duration
		wantReason   string
	}{
		// The write deadline passes before ten flush intervals.
		{"write timeout", 50 * time.Millisecond, 100 * time.Millisecond, reasonWriteError},
		// Ten flush intervals pass long before the write deadline.
		{"unflushed", 10 * time.Millisecond, time.Minute, reasonSlow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := testOptions()
			opt.FlushInterval, opt.WriteTimeout = tt.flush, tt.write
			testSlowClient(t, opt, tt.wantReason)
		})
	}
}

// testSlowClient floods a client that never reads and checks that it is
// dropped for wantReason while a reading client keeps being served.
func testSlowClient(t *testing.T, opt Options, wantReason string) {
	checkGoroutines(t)
	e := newEnv(t, opt, func(l net.Listener) net.Listener { return smallBuffers{l} })

	// The slow client never reads, with a small receive buffer.
	slowDialer := &websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(4096)
		}
		return c, err
	}}
	slow := e.dial(1, slowDialer)

	// The fast client watches floor 2, where a marker asset moves.
	const marker = 9999
	fast := e.dial(2, nil)
	readMsg(t, fast) // snapshot
	var fastX atomic.Value
	var fastMsgs atomic.Int64
	fastDone := make(chan struct{})
	go func() {
		defer close(fastDone)
		for {
			_, data, err := fast.ReadMessage()
			if err != nil {
				return
			}
			m, err := parseMsg(data)
			if err != nil || m.T != "pos" {
				continue
			}
			var es []entry
			if json.Unmarshal(m.A, &es) == nil {
				for _, en := range es {
					if en[0] == marker {
						fastX.Store(en[1])
					}
				}
			}
			fastMsgs.Add(1)
		}
	}()
	t.Cleanup(func() { fast.Close(); <-fastDone })

	// The slow client's snapshot was never read: wait for its registration.
	waitFor(t, "both clients to be registered", func() bool { return e.hub.Clients() == 2 })

	flood := make([]wardwatch.Position, 1000)
	deadline := time.Now().Add(patience)
	for i := 0; e.hub.Clients() > 1; i++ {
		if time.Now().After(deadline) {
			t.Fatal("the slow client was never dropped")
		}
		for j := range flood {
			flood[j] = pos(int64(j+1), 1, float64(i), float64(j))
		}
		e.hub.Publish(flood)
		e.hub.Publish([]wardwatch.Position{pos(marker, 2, float64(i), 0)})
		time.Sleep(2 * time.Millisecond)
	}
	for _, r := range []string{reasonWriteError, reasonSlow} {
		want := 0.0
		if r == wantReason {
			want = 1
		}
		if n := e.dropped(r); n != want {
			t.Errorf("dropped{%s} = %v, want %v", r, n, want)
		}
	}

	// The fast client is still served.
	e.hub.Publish([]wardwatch.Position{pos(marker, 2, -1, 0)})
	waitFor(t, "the fast client to see the last marker", func() bool { x, _ := fastX.Load().(float64); return x == -1 })
	if fastMsgs.Load() < 2 {
		t.Errorf("fast client got %d updates", fastMsgs.Load())
	}

	// The server closed the slow client's connection: once it has read
	// what was buffered, it sees the end.
	slow.SetReadDeadline(time.Now().Add(patience))
	for {
		_, _, err := slow.ReadMessage()
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("slow client's connection still open: %v", err)
		}
		break
	}
}

func TestMaxClients(t *testing.T) {
	checkGoroutines(t)
	opt := testOptions()
	opt.MaxClients = 2
	e := newEnv(t, opt, nil)
	first := e.dial(1, nil)
	readMsg(t, first)
	second := e.dial(1, nil)
	readMsg(t, second)

	_, resp, err := websocket.DefaultDialer.Dial(e.url(1), nil)
	if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("third client: err %v, HTTP %d; want a 503", err, status)
	}
	resp.Body.Close()

	first.Close()
	waitFor(t, "the first client to be unregistered", func() bool { return e.hub.Clients() == 1 })
	third := e.dial(1, nil)
	readMsg(t, third)
	if n := e.hub.Clients(); n != 2 {
		t.Errorf("Clients() = %d, want 2", n)
	}
}

func TestShutdown(t *testing.T) {
	checkGoroutines(t)
	e := newEnv(t, testOptions(), nil)
	e.hub.Publish([]wardwatch.Position{pos(1, 1, 1, 1)})
	conns := []*websocket.Conn{e.dial(1, nil), e.dial(2, nil)}
	for _, c := range conns {
		readMsg(t, c)
	}

	// The clients read, so they answer the close frame at once.
	errs := make([]chan error, len(conns))
	for i, c := range conns {
		errs[i] = make(chan error, 1)
		go func() {
			c.SetReadDeadline(time.Now().Add(patience))
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					errs[i] <- err
					return
				}
			}
		}()
	}
	if err := e.stop(); err != nil {
		t.Fatalf("Run returned %v, want nil", err)
	}
	for i := range conns {
		err := <-errs[i]
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway || ce.Text != shutdownText {
			t.Errorf("client %d: read error %v, want close 1001 %q", i, err, shutdownText)
		}
	}
	if n := e.hub.Clients(); n != 0 {
		t.Errorf("Clients() after Run returned = %d, want 0", n)
	}
	if n := e.dropped(reasonShutdown); n != 2 {
		t.Errorf("dropped{shutdown} = %v, want 2", n)
	}
	if got := testutil.ToFloat64(e.hub.m.clients); got != 0 {
		t.Errorf("wardwatch_live_clients = %v, want 0", got)
	}

	_, resp, err := websocket.DefaultDialer.Dial(e.url(1), nil)
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after shutdown: %v; want a 503", err)
	}
	if resp != nil {
		resp.Body.Close()
	}
	if err := e.hub.Run(context.Background()); err == nil {
		t.Error("second Run returned nil, want an error")
	}
}

func TestClientCloses(t *testing.T) {
	checkGoroutines(t)
	e := newEnv(t, testOptions(), nil)
	conn := e.dial(1, nil)
	readMsg(t, conn)

	if err := conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(patience))
	_, _, err := conn.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Errorf("read after close: %v, want the server's close reply", err)
	}
	waitFor(t, "the client to be unregistered", func() bool { return e.hub.Clients() == 0 })
	for _, r := range []string{reasonWriteError, reasonSlow, reasonShutdown} {
		if n := e.dropped(r); n != 0 {
			t.Errorf("dropped{%s} = %v after a clean close", r, n)
		}
	}
}

func TestClientMessagesDiscarded(t *testing.T) {
	checkGoroutines(t)
	e := newEnv(t, testOptions(), nil)
	conn := e.dial(1, nil)
	readMsg(t, conn)

	// Small messages are ignored; the client keeps getting updates.
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"hello":1}`)); err != nil {
		t.Fatal(err)
	}
	e.hub.Publish([]wardwatch.Position{pos(1, 1, 1, 1)})
	if m := readMsg(t, conn); m.T != "pos" {
		t.Fatalf("got %s, want an update", m.raw)
	}

	// Big ones end the connection.
	if err := conn.WriteMessage(websocket.TextMessage, make([]byte, 4*readLimit)); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(patience))
	for {
		_, _, err := conn.ReadMessage()
		if err == nil {
			continue
		}
		if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
			t.Errorf("read after an oversized message: %v, want close 1009", err)
		}
		break
	}
	waitFor(t, "the client to be unregistered", func() bool { return e.hub.Clients() == 0 })
}

func TestPingPong(t *testing.T) {
	checkGoroutines(t)
	opt := testOptions()
	opt.PingInterval = 100 * time.Millisecond // pong wait 250ms
	e := newEnv(t, opt, nil)

	// A client that stops reading after its snapshot never answers pings,
	// and is let go.
	mute := e.dial(1, nil)
	readMsg(t, mute)

	// A client that reads answers pings (gorilla's default ping handler).
	live := e.dial(1, nil)
	readMsg(t, live)
	var pings atomic.Int64
	answer := live.PingHandler()
	live.SetPingHandler(func(data string) error {
		pings.Add(1)
		return answer(data)
	})
	pong := make(chan string, 1)
	live.SetPongHandler(func(data string) error {
		select {
		case pong <- data:
		default:
		}
		return nil
	})
	msgs := make(chan wireMsg, 16)
	liveDone := make(chan struct{})
	go func() {
		defer close(liveDone)
		defer close(msgs)
		for {
			_, data, err := live.ReadMessage()
			if err != nil {
				return
			}
			if m, err := parseMsg(data); err == nil {
				msgs <- m
			}
		}
	}()
	t.Cleanup(func() { live.Close(); <-liveDone })

	waitFor(t, "the mute client to time out", func() bool { return e.hub.Clients() == 1 })
	// Pong waits later the reading client is still there.
	waitFor(t, "six pings", func() bool { return pings.Load() >= 6 })
	if n := e.hub.Clients(); n != 1 {
		t.Fatalf("Clients() = %d, want the reading client", n)
	}

	// The server answers the client's pings.
	if err := live.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(patience)); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-pong:
		if got != "hi" {
			t.Errorf("pong data %q, want %q", got, "hi")
		}
	case <-time.After(patience):
		t.Fatal("no pong")
	}

	e.hub.Publish([]wardwatch.Position{pos(3, 1, 3, 3)})
	for m := range msgs {
		if m.T == "pos" {
			return
		}
	}
	t.Error("the reading client's connection ended before an update arrived")
}

func TestCrossOriginRejected(t *testing.T) {
	checkGoroutines(t)
	e := newEnv(t, testOptions(), nil)
	_, resp, err := websocket.DefaultDialer.Dial(e.url(1), http.Header{"Origin": {"https://evil.example"}})
	if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin dial: %v; want a 403", err)
	}
	if resp != nil {
		resp.Body.Close()
	}
	if n := e.hub.Clients(); n != 0 {
		t.Errorf("Clients() = %d, want 0", n)
	}
	// Same origin is fine.
	conn := e.dial(1, nil)
	conn.Close()
}

func TestConcurrentPublish(t *testing.T) {
	checkGoroutines(t)
	e := newEnv(t, testOptions(), nil)
	conn := e.dial(1, nil)
	state := map[int64]entry{}
	for _, en := range readMsg(t, conn).entries(t) {
		state[int64(en[0])] = en
	}

	const publishers, perPublisher, rounds = 8, 100, 20
	var wg sync.WaitGroup
	stopSnap := make(chan struct{})
	snapDone := make(chan struct{})
	go func() {
		defer close(snapDone)
		for {
			select {
			case <-stopSnap:
				return
			default:
				e.hub.Snapshot(1)
				e.hub.Clients()
			}
		}
	}()
	for g := range publishers {
		wg.Go(func() {
			for k := range rounds {
				ps := make([]wardwatch.Position, 0, perPublisher)
				for i := range perPublisher {
					id := int64(g*perPublisher + i + 1)
					ps = append(ps, pos(id, 1+(id+int64(k))%2, float64(k), float64(id)))
				}
				e.hub.Publish(ps)
			}
		})
	}
	wg.Wait()
	close(stopSnap)
	<-snapDone

	want := map[int64]entry{}
	for _, p := range e.hub.Snapshot(1) {
		want[p.AssetID] = entryOf(p)
	}
	if len(want) != publishers*perPublisher/2 {
		t.Fatalf("Snapshot(1) has %d assets, want %d", len(want), publishers*perPublisher/2)
	}
	equal := func() bool {
		if len(state) != len(want) {
			return false
		}
		for id, en := range want {
			if state[id] != en {
				return false
			}
		}
		return true
	}
	for !equal() {
		m := readMsg(t, conn)
		switch m.T {
		case "pos":
			for _, en := range m.entries(t) {
				state[int64(en[0])] = en
			}
		case "gone":
			for _, id := range m.gone(t) {
				delete(state, id)
			}
		default:
			t.Fatalf("unexpected message %s", m.raw)
		}
	}
}

// BenchmarkPublish publishes moves of 1000 assets on one floor watched by
// 50 real websocket clients.
func BenchmarkPublish(b *testing.B) {
	const assets, clients = 1000, 50
	h := NewHub(nil, prometheus.NewRegistry(), Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeFloor(w, r, 1) }))
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- h.Run(ctx) }()

	var readers sync.WaitGroup
	for range clients {
		conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
		if err != nil {
			b.Fatal(err)
		}
		readers.Go(func() {
			defer conn.Close()
			for {
				if _, _, err := conn.NextReader(); err != nil {
					return
				}
			}
		})
	}

	ps := make([]wardwatch.Position, assets)
	for i := range ps {
		ps[i] = pos(int64(i+1), 1, 0, float64(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; b.Loop(); n++ {
		for i := range ps {
			ps[i].At.X = float64(n%1000) / 10
		}
		h.Publish(ps)
	}
	b.StopTimer()
	cancel()
	if err := <-runDone; err != nil {
		b.Fatal(err)
	}
	readers.Wait()
	srv.Close()
	if d := testutil.ToFloat64(h.m.dropped.WithLabelValues(reasonSlow)) + testutil.ToFloat64(h.m.dropped.WithLabelValues(reasonWriteError)); d > 0 {
		b.Logf("%v clients dropped", d)
	}
}

// BenchmarkFanOut measures handing a batch of 1000 moved assets to 50
// clients, without the network.
func BenchmarkFanOut(b *testing.B) {
	const assets, clients = 1000, 50
	h := NewHub(nil, nil, Options{})
	for range clients {
		h.clients[newClient(nil, 1, "bench")] = struct{}{}
	}
	ps := make([]wardwatch.Position, assets)
	for i := range ps {
		ps[i] = pos(int64(i+1), 1, 0, float64(i))
	}
	b.ReportAllocs()
	for n := 0; b.Loop(); n++ {
		for i := range ps {
			ps[i].At.X = float64(n)
		}
		h.Publish(ps)
		h.fanOut()
	}
}

// TestRequestEndClosesStream: when the caller ends the request's context
// (the web layer does when the user's session ends), the stream closes
// with a policy-violation close frame and the client is released.
func TestRequestEndClosesStream(t *testing.T) {
	checkGoroutines(t)
	e := newEnv(t, testOptions(), nil)
	end := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		go func() {
			select {
			case <-end:
				cancel()
			case <-ctx.Done():
			}
		}()
		e.hub.ServeFloor(w, r.WithContext(ctx), 1)
	}))
	defer srv.Close()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	readMsg(t, conn) // the snapshot

	close(end)
	conn.SetReadDeadline(time.Now().Add(patience))
	for {
		if _, _, err = conn.ReadMessage(); err != nil {
			break
		}
	}
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || ce.Text != sessionEndedText {
		t.Fatalf("read error %v, want close 1008 %q", err, sessionEndedText)
	}
	waitFor(t, "the client to be unregistered", func() bool { return e.hub.Clients() == 0 })
}
