package live

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// client is one websocket connection watching one floor.
type client struct {
	conn   *websocket.Conn
	floor  int64
	remote string

	notify  chan struct{} // 1 slot: pending has entries
	pingReq chan struct{} // 1 slot: the peer sent a ping; a pong is owed
	stopped chan struct{} // closed by stop

	mu       sync.Mutex
	pending  map[int64][]byte   // asset → newest encoded entry; nil entry: the asset left the floor
	shown    map[int64]struct{} // assets the client was told are on its floor
	since    time.Time          // when pending last became non-empty; zero when empty
	pingData []byte
	reason   string // why the client was stopped; "" while it runs
}

func newClient(conn *websocket.Conn, floor int64, remote string) *client {
	return &client{
		conn:    conn,
		floor:   floor,
		remote:  remote,
		notify:  make(chan struct{}, 1),
		pingReq: make(chan struct{}, 1),
		stopped: make(chan struct{}),
		pending: make(map[int64][]byte),
		shown:   make(map[int64]struct{}),
	}
}

// merge records a batch of changes for the client: entries of assets on its
// floor, and departures of assets it was shown.
func (c *client) merge(changes []change, now time.Time) {
	c.mu.Lock()
	was := len(c.pending)
	for _, ch := range changes {
		if ch.floor == c.floor {
			c.pending[ch.asset] = ch.entry
			c.shown[ch.asset] = struct{}{}
		} else if _, ok := c.shown[ch.asset]; ok {
			delete(c.shown, ch.asset)
			c.pending[ch.asset] = nil
		}
	}
	n := len(c.pending)
	if was == 0 && n > 0 {
		c.since = now
	}
	c.mu.Unlock()
	if n > 0 {
		select {
		case c.notify <- struct{}{}:
		default:
		}
	}
}

// pendingSince returns when the client's pending state became non-empty,
// or the zero time when nothing waits.
func (c *client) pendingSince() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.since
}

// stop marks the client stopped for reason. It reports whether this call
// stopped it (false when it was already stopped).
func (c *client) stop(reason string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason != "" {
		return false
	}
	c.reason = reason
	close(c.stopped)
	return true
}

func (c *client) stopReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// owePong records the payload of a ping from the peer for the writer to
// answer.
func (c *client) owePong(data string) {
	c.mu.Lock()
	c.pingData = []byte(data)
	c.mu.Unlock()
	select {
	case c.pingReq <- struct{}{}:
	default:
	}
}

func (c *client) takePingData() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.pingData
	c.pingData = nil
	return d
}

// ServeFloor upgrades the request to a websocket, registers the client for
// the floor, sends it the floor's snapshot and then streams updates. It
// returns when the client goes away, is dropped, or the hub shuts down. The
// caller has authenticated the request; the origin must be the request's
// own host (gorilla's same-origin check). Beyond Options.MaxClients, or
// once the hub has shut down, it answers 503.
func (h *Hub) ServeFloor(w http.ResponseWriter, r *http.Request, floorID int64) {
	if !h.reserve() {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "Live updates are unavailable, try again later.", http.StatusServiceUnavailable)
		return
	}
	defer h.wg.Done()

	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// The upgrader has answered the request already.
		h.release()
		h.log.Debug("live upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	c := newClient(conn, floorID, r.RemoteAddr)
	snap, ok := h.register(c)
	if !ok {
		conn.SetWriteDeadline(time.Now().Add(h.opt.WriteTimeout))
		conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, shutdownText))
		conn.Close()
		return
	}
	h.log.Debug("live client connected", "floor", floorID, "remote", c.remote)

	readDone := make(chan struct{})
	var readErr error
	go func() {
		defer close(readDone)
		readErr = h.readLoop(c)
	}()
	h.writeLoop(c, snap, r.Context().Done(), readDone, &readErr)
	conn.Close()
	<-readDone

	h.unregister(c)
	h.log.Debug("live client disconnected", "floor", floorID, "remote", c.remote, "dropped", c.stopReason(), "read_err", readErr)
}

// reserve takes a client slot, and a count on h.wg that the caller must
// release with h.wg.Done.
func (h *Hub) reserve() bool {
	h.cmu.Lock()
	defer h.cmu.Unlock()
	if h.closed || h.slots >= h.opt.MaxClients {
		return false
	}
	h.slots++
	h.wg.Add(1)
	return true
}

// release gives back a slot whose upgrade failed.
func (h *Hub) release() {
	h.cmu.Lock()
	h.slots--
	h.cmu.Unlock()
}

// register adds c to the hub and returns its snapshot message, or false
// when the hub has shut down meanwhile (the slot is released then).
func (h *Hub) register(c *client) ([]byte, bool) {
	h.cmu.Lock()
	if h.closed {
		h.slots--
		h.cmu.Unlock()
		return nil, false
	}
	h.mu.Lock()
	ps := h.floorLocked(c.floor)
	h.mu.Unlock()
	for _, p := range ps {
		c.shown[p.AssetID] = struct{}{}
	}
	h.clients[c] = struct{}{}
	h.cmu.Unlock()
	h.m.clients.Inc()
	return appendSnap(make([]byte, 0, 64+len(ps)*entrySizeHint), c.floor, h.opt.Now().UnixMilli(), ps), true
}

func (h *Hub) unregister(c *client) {
	h.cmu.Lock()
	delete(h.clients, c)
	h.slots--
	h.cmu.Unlock()
	h.m.clients.Dec()
}

// readLoop reads the connection until it fails, to process pongs, pings
// and close frames; data messages are discarded. It never writes: pongs are
// owed to the writer, and the close reply is the writer's too.
func (h *Hub) readLoop(c *client) error {
	extend := func() error { return c.conn.SetReadDeadline(time.Now().Add(h.pongWait)) }
	c.conn.SetReadLimit(readLimit)
	c.conn.SetPongHandler(func(string) error { return extend() })
	c.conn.SetPingHandler(func(data string) error {
		c.owePong(data)
		return extend()
	})
	c.conn.SetCloseHandler(func(int, string) error { return nil })
	if err := extend(); err != nil {
		return err
	}
	for {
		if _, _, err := c.conn.NextReader(); err != nil {
			return err
		}
	}
}

// writer owns every write to one connection.
type writer struct {
	h        *Hub
	c        *client
	readDone <-chan struct{}
	msg      []byte
	items    []item
	entries  [][]byte
	gone     []int64
}

type item struct {
	asset int64
	entry []byte
}

// writeLoop sends the snapshot, then flushes pending updates at most once
// per flush interval and pings the peer, until the client stops, the reader
// ends, or the request's context is done (the caller ends it when the
// user's session does).
func (h *Hub) writeLoop(c *client, snap []byte, requestDone, readDone <-chan struct{}, readErr *error) {
	wr := &writer{h: h, c: c, readDone: readDone}
	if !wr.write(websocket.TextMessage, snap) {
		return
	}
	lastFlush := time.Now()

	ping := time.NewTicker(h.opt.PingInterval)
	defer ping.Stop()
	flushTimer := time.NewTimer(time.Hour)
	flushTimer.Stop()
	defer flushTimer.Stop()
	var flushC <-chan time.Time // non-nil while a flush is scheduled

	for {
		select {
		case <-c.stopped:
			if c.stopReason() == reasonShutdown {
				wr.closeHandshake(websocket.CloseGoingAway, shutdownText)
			}
			return
		case <-requestDone:
			wr.closeHandshake(websocket.ClosePolicyViolation, sessionEndedText)
			return
		case <-readDone:
			var ce *websocket.CloseError
			if errors.As(*readErr, &ce) {
				// Answer the peer's close frame; the connection closes next.
				wr.writeClose(websocket.CloseNormalClosure, "")
			}
			return
		case <-c.pingReq:
			if !wr.write(websocket.PongMessage, c.takePingData()) {
				return
			}
		case <-ping.C:
			if !wr.write(websocket.PingMessage, nil) {
				return
			}
		case <-c.notify:
			if flushC != nil {
				continue
			}
			if d := time.Until(lastFlush.Add(h.opt.FlushInterval)); d > 0 {
				flushTimer.Reset(d)
				flushC = flushTimer.C
				continue
			}
			if !wr.flush() {
				return
			}
			lastFlush = time.Now()
		case <-flushC:
			flushC = nil
			if !wr.flush() {
				return
			}
			lastFlush = time.Now()
		}
	}
}

// flush writes the client's pending updates: a "pos" message with the
// newest entry per asset, and a "gone" message for the assets that left.
func (wr *writer) flush() bool {
	c := wr.c
	c.mu.Lock()
	wr.items = wr.items[:0]
	for id, e := range c.pending {
		wr.items = append(wr.items, item{asset: id, entry: e})
	}
	clear(c.pending)
	c.since = time.Time{}
	c.mu.Unlock()
	if len(wr.items) == 0 {
		return true
	}
	slices.SortFunc(wr.items, func(a, b item) int { return cmp.Compare(a.asset, b.asset) })
	wr.entries, wr.gone = wr.entries[:0], wr.gone[:0]
	for _, it := range wr.items {
		if it.entry == nil {
			wr.gone = append(wr.gone, it.asset)
		} else {
			wr.entries = append(wr.entries, it.entry)
		}
	}
	clear(wr.items) // let go of entries the hub no longer needs
	if len(wr.entries) > 0 {
		wr.msg = appendPos(wr.msg[:0], wr.h.opt.Now().UnixMilli(), wr.entries)
		clear(wr.entries)
		if !wr.write(websocket.TextMessage, wr.msg) {
			return false
		}
	}
	if len(wr.gone) > 0 {
		wr.msg = appendGone(wr.msg[:0], wr.gone)
		if !wr.write(websocket.TextMessage, wr.msg) {
			return false
		}
	}
	return true
}

// write writes one message under the write deadline. On failure the client
// is dropped for a write error, unless the peer has gone away already or
// the client was stopped for another reason.
func (wr *writer) write(typ int, data []byte) bool {
	conn := wr.c.conn
	conn.SetWriteDeadline(time.Now().Add(wr.h.opt.WriteTimeout))
	err := conn.WriteMessage(typ, data)
	if err == nil {
		if typ == websocket.TextMessage {
			wr.h.m.messages.Inc()
		}
		return true
	}
	select {
	case <-wr.readDone:
	default:
		wr.h.drop(wr.c, reasonWriteError, err)
	}
	return false
}

// writeClose sends a close frame under the write deadline.
func (wr *writer) writeClose(code int, text string) error {
	conn := wr.c.conn
	conn.SetWriteDeadline(time.Now().Add(wr.h.opt.WriteTimeout))
	return conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(code, text))
}

// closeHandshake sends a close frame and waits, for at most the write
// timeout, for the peer to answer it (which ends the reader).
func (wr *writer) closeHandshake(code int, text string) {
	if err := wr.writeClose(code, text); err != nil {
		return
	}
	t := time.NewTimer(wr.h.opt.WriteTimeout)
	defer t.Stop()
	select {
	case <-wr.readDone:
	case <-t.C:
	}
}
