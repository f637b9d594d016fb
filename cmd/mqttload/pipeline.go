package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/collectors/ble"
	"github.com/wardwatch/wardwatch/collectors/mqtt"
	"github.com/wardwatch/wardwatch/tracker"
)

// pipeline is WardWatch's ingestion path behind the MQTT subscriber, as the
// service wires it: every message is parsed and routed by a ble.Router
// (gateway cache, identity policy) into a tracker.Runner, whose engine
// turns the sightings into positions. It counts what comes out.
type pipeline struct {
	router    *ble.Router
	runner    *tracker.Runner
	positions atomic.Int64
	updates   atomic.Int64
	rejected  atomic.Int64 // messages the router refused (parse errors, engine busy)
}

// siteFor builds a one-floor site for o: one ESPresense node per room,
// 5 m apart along a 20 m-deep ward, and one tag per device.
func siteFor(o options) (tracker.Site, map[string]wardwatch.Gateway) {
	floor := wardwatch.Floor{ID: 1, Name: "Load ward", Level: 1, Width: float64(o.rooms)*5 + 5, Height: 20}
	site := tracker.Site{Floors: []wardwatch.Floor{floor}}
	gws := make(map[string]wardwatch.Gateway, o.rooms)
	for i := range o.rooms {
		x := 2.5 + float64(i)*5
		g := wardwatch.Gateway{
			ID: int64(i + 1), Key: fmt.Sprintf("ward-%02d", i), Name: fmt.Sprintf("Room %02d", i), FloorID: floor.ID,
			At: wardwatch.Point{X: x, Y: 5 + float64(i%2)*10}, Z: 2.5, RSSIAt1m: -59, PathLossExponent: 2.5,
		}
		site.Gateways = append(site.Gateways, g)
		site.Zones = append(site.Zones, wardwatch.Zone{
			ID: int64(i + 1), FloorID: floor.ID, Name: g.Name, Kind: wardwatch.ZoneRoom,
			Polygon: []wardwatch.Point{{X: x - 2.5, Y: 0}, {X: x + 2.5, Y: 0}, {X: x + 2.5, Y: 20}, {X: x - 2.5, Y: 20}},
		})
		gws[g.Key] = g
	}
	for minor := range o.devices {
		site.Tags = append(site.Tags, wardwatch.Tag{
			ID: fmt.Sprintf("ibeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0:1:%d", minor), AssetID: int64(minor + 1),
		})
	}
	return site, gws
}

// gatewayMap resolves gateway keys from memory, as the store would.
type gatewayMap map[string]wardwatch.Gateway

func (m gatewayMap) GatewayByKey(_ context.Context, key string) (wardwatch.Gateway, error) {
	if g, ok := m[key]; ok {
		return g, nil
	}
	return wardwatch.Gateway{}, wardwatch.Errorf(wardwatch.ENOTFOUND, "no gateway %q", key)
}

func newPipeline(o options) *pipeline {
	site, gws := siteFor(o)
	p := &pipeline{}
	engine := tracker.New(tracker.DefaultConfig(), site)
	// A deeper queue than the service's default: mqttload measures
	// throughput, and a burst must not be counted as loss.
	p.runner = tracker.NewRunner(engine, 500*time.Millisecond, 1<<16, func(out tracker.Output) {
		p.updates.Add(1)
		p.positions.Add(int64(len(out.Positions)))
	})
	p.router = ble.NewRouter(gatewayMap(gws), p.runner, nil, slog.New(slog.DiscardHandler), nil, ble.RouterOptions{})
	return p
}

// handle routes one message as the service's MQTT handler does.
func (p *pipeline) handle(ctx context.Context, m mqtt.Message) {
	if _, err := p.router.Handle(ctx, ble.FormatESPresense, m.Topic, m.Payload, m.Received.UTC()); err != nil {
		p.rejected.Add(1)
	}
}

// report prints what the engine made of the messages.
func (p *pipeline) report(w io.Writer) {
	s := p.runner.Stats()
	fmt.Fprintf(w, "engine: %d sightings accepted, %d tags, %d updates, %d positions published, %d messages rejected\n",
		s.Accepted, s.Tags, p.updates.Load(), p.positions.Load(), p.rejected.Load())
}
