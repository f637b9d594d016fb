package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/auth"
	"github.com/wardwatch/wardwatch/sql"
	"github.com/wardwatch/wardwatch/web"
	"github.com/wardwatch/wardwatch/web/live"
)

// Room grid of the test floor: rooms of roomSize × roomSize metres.
const roomSize = 6.0

// service is a running WardWatch web service (SQLite store, live hub, the
// real web handler) on a loopback port, with one floor of assets.
type service struct {
	URL      string
	FloorID  int64
	Username string
	Password string

	hub    *live.Hub
	mover  *mover
	zones  map[[2]int]int64 // room (column, row) → zone id
	stop   func()
	errors chan error
}

// startService creates the store in dir, seeds a floor of o.floorW × o.floorH
// metres with rooms and n assets, and starts the hub and the web server. The
// caller must call stop.
func startService(ctx context.Context, dir string, o options, logger *slog.Logger) (*service, error) {
	store, err := sql.Open(ctx, "sqlite", filepath.Join(dir, "wardwatch.db"))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			store.Close()
		}
	}()
	if err := store.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("migrate store: %w", err)
	}
	s := &service{Username: "loadtest", zones: make(map[[2]int]int64), errors: make(chan error, 1)}
	s.Password = "map-load-test-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	hash, err := auth.HashPassword(s.Password)
	if err != nil {
		return nil, err
	}
	if err := store.CreateUser(ctx, &wardwatch.User{Username: s.Username, Role: wardwatch.RoleNurse, PasswordHash: hash}); err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	floor := wardwatch.Floor{Name: "Load test ward", Level: 3, Width: o.floorW, Height: o.floorH}
	if err := store.CreateFloor(ctx, &floor); err != nil {
		return nil, fmt.Errorf("create floor: %w", err)
	}
	s.FloorID = floor.ID
	if err := store.SetFloorPlan(ctx, floor.ID, wardwatch.FloorPlan{ContentType: "image/svg+xml", Data: planSVG(o.floorW, o.floorH)}); err != nil {
		return nil, fmt.Errorf("floor plan: %w", err)
	}
	cols, rows := roomGrid(o.floorW, o.floorH)
	for c := range cols {
		for r := range rows {
			x0, y0 := float64(c)*roomSize, float64(r)*roomSize
			x1, y1 := math.Min(x0+roomSize, o.floorW), math.Min(y0+roomSize, o.floorH)
			z := wardwatch.Zone{FloorID: floor.ID, Name: fmt.Sprintf("%c-%02d", 'A'+rune(r%26), c+1), Kind: wardwatch.ZoneRoom,
				Polygon: []wardwatch.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}}
			if err := store.CreateZone(ctx, &z); err != nil {
				return nil, fmt.Errorf("create zone: %w", err)
			}
			s.zones[[2]int{c, r}] = z.ID
		}
	}
	kinds := []wardwatch.AssetKind{wardwatch.AssetInfusionPump, wardwatch.AssetInfusionPump, wardwatch.AssetWheelchair,
		wardwatch.AssetBed, wardwatch.AssetMonitor, wardwatch.AssetVentilator, wardwatch.AssetOther}
	ids := make([]int64, 0, o.assets)
	for i := range o.assets {
		a := wardwatch.Asset{Name: fmt.Sprintf("%s %04d", kinds[i%len(kinds)].Label(), i), Kind: kinds[i%len(kinds)]}
		if err := store.CreateAsset(ctx, &a); err != nil {
			return nil, fmt.Errorf("create asset %d: %w", i, err)
		}
		ids = append(ids, a.ID)
	}
	s.mover = newMover(ids, floor.ID, o.floorW, o.floorH, o.seed, s.zoneAt)

	reg := prometheus.NewRegistry()
	s.hub = live.NewHub(logger.With("component", "live"), reg, live.Options{FlushInterval: o.hubFlush})
	handler := web.NewServer(web.Config{Logger: logger.With("component", "web"), Store: store, Live: s.hub, Registerer: reg, Metrics: reg})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s.URL = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}

	runCtx, cancel := context.WithCancel(ctx)
	hubDone := make(chan struct{})
	go func() {
		defer close(hubDone)
		if err := s.hub.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			s.report(fmt.Errorf("hub: %w", err))
		}
	}()
	srvDone := make(chan struct{})
	go func() {
		defer close(srvDone)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.report(fmt.Errorf("serve: %w", err))
		}
	}()
	// Everything placed before the browser arrives.
	s.hub.Publish(s.mover.all(time.Now()))
	s.stop = func() {
		cancel()
		shutdownCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		srv.Shutdown(shutdownCtx)
		<-srvDone
		<-hubDone
		store.Close()
	}
	ok = true
	return s, nil
}

func (s *service) report(err error) {
	select {
	case s.errors <- err:
	default:
	}
}

// feed moves every asset once per interval, a tenth of them every tenth of
// the interval, until ctx ends.
func (s *service) feed(ctx context.Context, interval time.Duration) {
	const slices = 10
	t := time.NewTicker(interval / slices)
	defer t.Stop()
	for k := 0; ; k++ {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.hub.Publish(s.mover.step(now, k%slices, slices))
		}
	}
}

// zoneAt is the id of the room at p.
func (s *service) zoneAt(p wardwatch.Point) int64 {
	return s.zones[[2]int{int(p.X / roomSize), int(p.Y / roomSize)}]
}

// roomGrid is how many columns and rows of rooms cover the floor.
func roomGrid(w, h float64) (cols, rows int) {
	return int(math.Ceil(w / roomSize)), int(math.Ceil(h / roomSize))
}

// planSVG draws the room grid, as a plan image for the map.
func planSVG(w, h float64) []byte {
	b := fmt.Appendf(nil, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %g %g" width="%g" height="%g">`, w, h, w*10, h*10)
	b = fmt.Appendf(b, `<rect width="%g" height="%g" fill="#f7f7f2"/>`, w, h)
	cols, rows := roomGrid(w, h)
	for c := 1; c < cols; c++ {
		b = fmt.Appendf(b, `<line x1="%g" y1="0" x2="%g" y2="%g" stroke="#999" stroke-width="0.1"/>`, float64(c)*roomSize, float64(c)*roomSize, h)
	}
	for r := 1; r < rows; r++ {
		b = fmt.Appendf(b, `<line x1="0" y1="%g" x2="%g" y2="%g" stroke="#999" stroke-width="0.1"/>`, float64(r)*roomSize, w, float64(r)*roomSize)
	}
	return append(b, "</svg>"...)
}

// mover walks assets about a floor: each step moves an asset up to 1.5 m
// in a random direction, staying on the floor. It is deterministic for a
// seed.
type mover struct {
	ids    []int64
	floor  int64
	w, h   float64
	at     []wardwatch.Point
	rnd    *rand.Rand
	zoneAt func(wardwatch.Point) int64
}

func newMover(ids []int64, floor int64, w, h float64, seed uint64, zoneAt func(wardwatch.Point) int64) *mover {
	m := &mover{ids: ids, floor: floor, w: w, h: h, at: make([]wardwatch.Point, len(ids)), rnd: rand.New(rand.NewPCG(seed, 1)), zoneAt: zoneAt}
	for i := range m.at {
		m.at[i] = wardwatch.Point{X: m.rnd.Float64() * w, Y: m.rnd.Float64() * h}
	}
	return m
}

func (m *mover) position(i int, now time.Time) wardwatch.Position {
	return wardwatch.Position{TagID: "loadtest:" + strconv.Itoa(i), AssetID: m.ids[i], FloorID: m.floor, At: m.at[i],
		ZoneID: m.zoneAt(m.at[i]), Confidence: 0.8, Solver: "loadtest", Time: now}
}

// all is every asset's current position at now.
func (m *mover) all(now time.Time) []wardwatch.Position {
	ps := make([]wardwatch.Position, len(m.ids))
	for i := range m.ids {
		ps[i] = m.position(i, now)
	}
	return ps
}

// step moves the assets whose index is slice modulo slices and returns
// their new positions at now.
func (m *mover) step(now time.Time, slice, slices int) []wardwatch.Position {
	ps := make([]wardwatch.Position, 0, len(m.ids)/slices+1)
	for i := slice; i < len(m.ids); i += slices {
		a := m.rnd.Float64() * 2 * math.Pi
		d := 0.2 + m.rnd.Float64()*1.3
		p := m.at[i]
		p.X = math.Min(math.Max(p.X+d*math.Cos(a), 0.1), m.w-0.1)
		p.Y = math.Min(math.Max(p.Y+d*math.Sin(a), 0.1), m.h-0.1)
		m.at[i] = p
		ps = append(ps, m.position(i, now))
	}
	return ps
}

// discard is a logger for quiet runs.
func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
