package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
)

// Defaults of the alert websocket.
const (
	alertLiveWriteTimeout = 5 * time.Second
	alertLivePingInterval = 20 * time.Second
	// alertLiveMaxPending is how many events may wait for one client's
	// writer. When the queue is full the forwarder waits (and the desk's
	// own buffer takes the burst); a queue that stays full for
	// alertLiveSlowAfter means the writer is stuck, and the client is
	// dropped as slow (it reconnects and reloads).
	alertLiveMaxPending = 64
	alertLiveSlowAfter  = 2 * time.Second
	// alertLiveReadLimit bounds a client message; clients have nothing to say.
	alertLiveReadLimit = 512
	// alertLiveMaxTitle bounds the title sent, in bytes.
	alertLiveMaxTitle = 300
)

// Reasons in the close frames the alert websocket sends.
const (
	alertLiveShutdown     = "server shutting down"
	alertLiveSessionEnded = "session ended"
)

// Reasons an alert websocket client is dropped (the reason label).
const (
	alertDropSlow       = "slow"
	alertDropWriteError = "write_error"
)

// alertLiveOptions tunes the alert websocket; zero values take the
// defaults.
type alertLiveOptions struct {
	WriteTimeout time.Duration
	PingInterval time.Duration
	MaxPending   int
	SlowAfter    time.Duration // must be below WriteTimeout to tell slow from dead
}

// alertLive streams AlertEvents to the inbox and detail pages over a
// websocket. Each connection has a reader goroutine (control frames), a
// forwarder goroutine (desk events into a bounded queue) and the handler's
// own goroutine as the only data writer; all three end when the client
// goes, is dropped, its session ends, the request's context is done, or the
// desk closes the subscription.
type alertLive struct {
	logger   *slog.Logger
	desk     AlertDesk
	opt      alertLiveOptions
	upgrader websocket.Upgrader

	conns    prometheus.Gauge
	dropped  *prometheus.CounterVec
	messages prometheus.Counter
}

func newAlertLive(logger *slog.Logger, desk AlertDesk, reg prometheus.Registerer, opt alertLiveOptions) *alertLive {
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = alertLiveWriteTimeout
	}
	if opt.PingInterval <= 0 {
		opt.PingInterval = alertLivePingInterval
	}
	if opt.MaxPending <= 0 {
		opt.MaxPending = alertLiveMaxPending
	}
	if opt.SlowAfter <= 0 {
		opt.SlowAfter = alertLiveSlowAfter
	}
	l := &alertLive{
		logger: logger,
		desk:   desk,
		opt:    opt,
		upgrader: websocket.Upgrader{
			// CheckOrigin is left nil: gorilla's same-origin check.
			HandshakeTimeout: opt.WriteTimeout,
			WriteBufferPool:  &sync.Pool{},
		},
		conns: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wardwatch_alert_live_connections",
			Help: "Open alert inbox websocket connections.",
		})),
		dropped: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardwatch_alert_live_dropped_total",
			Help: "Alert inbox websocket clients dropped, by reason: slow, write_error.",
		}, []string{"reason"})),
		messages: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_alert_live_messages_total",
			Help: "Alert events sent to alert inbox websocket clients.",
		})),
	}
	for _, r := range []string{alertDropSlow, alertDropWriteError} {
		l.dropped.WithLabelValues(r)
	}
	return l
}

// alertWire is an AlertEvent as the browser reads it.
type alertWire struct {
	Seq      uint64 `json:"seq"`
	ID       int64  `json:"id"`
	State    string `json:"state"`
	Priority string `json:"priority"`
	Title    string `json:"title"`
	Notify   bool   `json:"notify"`
}

// encodeAlertEvent is ev's JSON message. The title is the notification's,
// else the rule and subject, cut to alertLiveMaxTitle bytes.
func encodeAlertEvent(ev AlertEvent) []byte {
	a := ev.Alert
	title := ev.Title
	if title == "" {
		title = a.Rule.Name
		if a.SubjectName != "" {
			title += " — " + a.SubjectName
		}
	}
	title = inboxTruncate(title, alertLiveMaxTitle)
	b, _ := json.Marshal(alertWire{Seq: ev.Seq, ID: a.ID, State: string(a.State), Priority: string(a.Priority),
		Title: title, Notify: ev.Notify}) // a struct of strings, numbers and bools always marshals
	return b
}

// inboxTruncate cuts s to at most n bytes on a rune boundary, replacing
// invalid UTF-8.
func inboxTruncate(s string, n int) string {
	if !utf8.ValidString(s) {
		s = string([]rune(s)) // replaces invalid bytes with U+FFFD
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// alertConn is one websocket client.
type alertConn struct {
	conn    *websocket.Conn
	queue   chan []byte
	stopped chan struct{}

	mu     sync.Mutex
	reason string // why it was stopped; "" while it runs
}

// stop marks the client stopped for reason and reports whether this call
// did it.
func (c *alertConn) stop(reason string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason != "" {
		return false
	}
	c.reason = reason
	close(c.stopped)
	return true
}

// drop stops the client for reason, counts it and closes its connection
// (which ends a write in progress and the reader).
func (l *alertLive) drop(c *alertConn, reason string, err error) {
	if !c.stop(reason) {
		return
	}
	l.dropped.WithLabelValues(reason).Inc()
	attrs := []slog.Attr{slog.String("reason", reason)}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	l.logger.LogAttrs(context.Background(), slog.LevelWarn, "alert live client dropped", attrs...)
	c.conn.Close()
}

// ServeHTTP upgrades an authenticated request to the alert event stream.
// A plain (non-upgrade) request gets 204, which lets a page ask "am I
// still signed in?" without opening a socket. The stream ends when the
// viewer's session expires.
func (l *alertLive) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !isWebsocketUpgrade(r) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if crossSite(r) {
		apiError(w, r, l.logger, wardwatch.Errorf(wardwatch.EFORBIDDEN, "Live updates are only available to WardWatch pages."))
		return
	}
	ctx := r.Context()
	if v := viewerFrom(ctx); v != nil && !v.Kiosk {
		// Session times are on the configured clock; context deadlines
		// are on the real one.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, minTime(v.Session.ExpiresAt, v.End).Sub(v.Now))
		defer cancel()
	}
	conn, err := l.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// The upgrader has answered the request already.
		l.logger.LogAttrs(ctx, slog.LevelDebug, "alert live upgrade failed", slog.String("error", err.Error()))
		return
	}
	l.conns.Inc()
	defer l.conns.Dec()
	events, unsubscribe := l.desk.Subscribe()
	defer unsubscribe()

	c := &alertConn{conn: conn, queue: make(chan []byte, l.opt.MaxPending), stopped: make(chan struct{})}
	var wg sync.WaitGroup
	readDone := make(chan struct{})
	var readErr error
	deskClosed := make(chan struct{})
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(readDone)
		readErr = l.read(c)
	}()
	go func() {
		defer wg.Done()
		l.forward(c, events, deskClosed)
	}()
	l.write(ctx, c, readDone, &readErr, deskClosed)
	c.stop("done")
	conn.Close()
	wg.Wait()
}

// read reads the connection until it fails, to process pings, pongs and
// close frames; data messages are discarded. gorilla answers pings with
// WriteControl, which may run beside the writer.
func (l *alertLive) read(c *alertConn) error {
	pongWait := l.opt.PingInterval * 5 / 2
	extend := func() error { return c.conn.SetReadDeadline(time.Now().Add(pongWait)) }
	c.conn.SetReadLimit(alertLiveReadLimit)
	c.conn.SetPongHandler(func(string) error { return extend() })
	ping := c.conn.PingHandler()
	c.conn.SetPingHandler(func(data string) error {
		if err := extend(); err != nil {
			return err
		}
		return ping(data)
	})
	c.conn.SetCloseHandler(func(int, string) error { return nil }) // the writer answers
	if err := extend(); err != nil {
		return err
	}
	for {
		if _, _, err := c.conn.NextReader(); err != nil {
			return err
		}
	}
}

// forward moves desk events into the client's bounded queue until the
// client stops. When the queue is full it waits for the writer; a queue
// that stays full for SlowAfter drops the client as slow. A closed
// subscription closes deskClosed.
func (l *alertLive) forward(c *alertConn, events <-chan AlertEvent, deskClosed chan<- struct{}) {
	slow := time.NewTimer(time.Hour)
	slow.Stop()
	defer slow.Stop()
	for {
		select {
		case <-c.stopped:
			return
		case ev, ok := <-events:
			if !ok {
				close(deskClosed)
				return
			}
			msg := encodeAlertEvent(ev)
			select {
			case c.queue <- msg:
				continue
			default:
			}
			slow.Reset(l.opt.SlowAfter)
			select {
			case c.queue <- msg:
				slow.Stop()
			case <-slow.C:
				l.drop(c, alertDropSlow, nil)
				return
			case <-c.stopped:
				return
			}
		}
	}
}

// write sends queued events and pings until the client stops, the reader
// ends, the desk closes the subscription (close frame "server shutting
// down") or ctx is done (close frame "session ended" when the session ran
// out, "server shutting down" otherwise).
func (l *alertLive) write(ctx context.Context, c *alertConn, readDone <-chan struct{}, readErr *error, deskClosed <-chan struct{}) {
	ping := time.NewTicker(l.opt.PingInterval)
	defer ping.Stop()
	send := func(typ int, data []byte) bool {
		c.conn.SetWriteDeadline(time.Now().Add(l.opt.WriteTimeout))
		if err := c.conn.WriteMessage(typ, data); err != nil {
			select {
			case <-readDone:
			case <-c.stopped:
			default:
				l.drop(c, alertDropWriteError, err)
			}
			return false
		}
		if typ == websocket.TextMessage {
			l.messages.Inc()
		}
		return true
	}
	for {
		select {
		case <-c.stopped:
			return
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				l.closeHandshake(c, readDone, websocket.ClosePolicyViolation, alertLiveSessionEnded)
			} else {
				l.closeHandshake(c, readDone, websocket.CloseGoingAway, alertLiveShutdown)
			}
			return
		case <-deskClosed:
			l.closeHandshake(c, readDone, websocket.CloseGoingAway, alertLiveShutdown)
			return
		case <-readDone:
			var ce *websocket.CloseError
			if errors.As(*readErr, &ce) {
				// Answer the peer's close frame; the connection closes next.
				c.conn.SetWriteDeadline(time.Now().Add(l.opt.WriteTimeout))
				c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
			}
			return
		case <-ping.C:
			if !send(websocket.PingMessage, nil) {
				return
			}
		case msg := <-c.queue:
			if !send(websocket.TextMessage, msg) {
				return
			}
		}
	}
}

// closeHandshake sends a close frame and waits, for at most the write
// timeout, for the peer to answer it.
func (l *alertLive) closeHandshake(c *alertConn, readDone <-chan struct{}, code int, text string) {
	c.conn.SetWriteDeadline(time.Now().Add(l.opt.WriteTimeout))
	if err := c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(code, text)); err != nil {
		return
	}
	t := time.NewTimer(l.opt.WriteTimeout)
	defer t.Stop()
	select {
	case <-readDone:
	case <-t.C:
	}
}
