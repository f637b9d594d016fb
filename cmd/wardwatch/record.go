package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/collectors/ble"
	"github.com/wardwatch/wardwatch/replay"
	"github.com/wardwatch/wardwatch/tracker"
)

// sightingRecorder passes sightings on to the engine and records the ones
// it accepted in the replay format, for calibration and support:
// gateways.csv once (G.csv) and sightings-<start>.csv (S.csv), so that
// `wardwatch replay` and `wardwatch calibrate` can read them back.
type sightingRecorder struct {
	next   ble.Sink
	keys   map[int64]string // gateway ID → key
	logger *slog.Logger
	path   string

	mu     sync.Mutex
	file   *os.File
	buf    *bufio.Writer
	rows   *replay.SightingWriter
	broken bool // a write failed: recording stopped, ingestion goes on
}

func newSightingRecorder(dir string, site tracker.Site, next ble.Sink, logger *slog.Logger, now time.Time) (*sightingRecorder, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("record sightings: %w", err)
	}
	levels := make(map[int64]int64, len(site.Floors))
	for _, f := range site.Floors {
		levels[f.ID] = int64(f.Level)
	}
	keys := make(map[int64]string, len(site.Gateways))
	gws := make([]replay.Gateway, len(site.Gateways))
	for i, g := range site.Gateways {
		keys[g.ID] = g.Key
		gws[i] = replay.Gateway{ID: g.Key, Floor: levels[g.FloorID], X: g.At.X, Y: g.At.Y, Z: g.Z,
			RSSIAt1m: g.RSSIAt1m, PathLossExponent: g.PathLossExponent, RxOffset: g.RxOffset}
	}
	gf, err := os.Create(filepath.Join(dir, "gateways.csv"))
	if err != nil {
		return nil, fmt.Errorf("record sightings: %w", err)
	}
	err = replay.WriteGateways(gf, gws)
	if cerr := gf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("record sightings: %w", err)
	}
	path := filepath.Join(dir, "sightings-"+now.UTC().Format("20060102T150405Z")+".csv")
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("record sightings: %w", err)
	}
	buf := bufio.NewWriterSize(f, 64<<10)
	logger.Info("recording sightings", "file", path)
	return &sightingRecorder{next: next, keys: keys, logger: logger, path: path, file: f, buf: buf, rows: replay.NewSightingWriter(buf)}, nil
}

// Submit hands ss to the engine and, when the engine took them, records them.
func (r *sightingRecorder) Submit(ctx context.Context, ss []wardwatch.Sighting) error {
	rows := make([]replay.Sighting, len(ss)) // the engine owns ss once submitted
	for i, s := range ss {
		rows[i] = replay.Sighting{Time: s.Time, GatewayID: r.keys[s.GatewayID], TagID: s.TagID, RSSI: s.RSSI, TxPower: s.TxPower}
	}
	if err := r.next.Submit(ctx, ss); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.broken {
		return nil
	}
	for _, row := range rows {
		if err := r.rows.Write(row); err != nil {
			r.fail(err)
			return nil
		}
	}
	if err := r.rows.Flush(); err != nil {
		r.fail(err)
	} else if err := r.buf.Flush(); err != nil {
		r.fail(err)
	}
	return nil
}

// fail stops recording after a write error; r.mu is held.
func (r *sightingRecorder) fail(err error) {
	r.broken = true
	r.logger.Error("recording sightings stopped; ingestion goes on", "file", r.path, "err", err)
}

// Close flushes and closes the recording.
func (r *sightingRecorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.rows.Flush()
	if ferr := r.buf.Flush(); err == nil {
		err = ferr
	}
	if cerr := r.file.Close(); err == nil {
		err = cerr
	}
	return err
}
