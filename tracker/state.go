package tracker

import (
	"cmp"
	"slices"
	"time"

	"github.com/wardwatch/wardwatch"
)

// motionState is the state of a tag just fixed: moving or stationary by
// the Kalman filter's speed v, with hysteresis (MovingSpeed to start moving,
// StationarySpeed to stop). A tag starts stationary.
func (e *Engine) motionState(ts *tagState, v float64) wardwatch.TagState {
	if ts.state == wardwatch.StateMoving {
		if v < e.cfg.StationarySpeed {
			return wardwatch.StateStationary
		}
		return wardwatch.StateMoving
	}
	if v > e.cfg.MovingSpeed {
		return wardwatch.StateMoving
	}
	return wardwatch.StateStationary
}

// sweep runs over every tag after the fixes of an Update: it drops links
// silent for longer than Forget, and returns the positions of tags that
// have just gone stale or missing (sorted by tag ID), forgetting the
// missing ones. A tag that was never placed has nothing to report; it is
// forgotten once all its links are.
func (e *Engine) sweep(nowNs int64) []wardwatch.Position {
	out := e.silent[:0]
	forget := nowNs - int64(e.cfg.Forget)
	for id, ts := range e.tags {
		// Drop links silent for longer than Forget (a gateway left behind).
		if len(ts.links) > 0 {
			cut := ts.rel(forget / int64(time.Millisecond))
			kept := 0
			for i := range ts.links {
				if ts.links[i].newest() > cut {
					if kept != i {
						ts.links[kept] = ts.links[i]
					}
					kept++
				}
			}
			clear(ts.links[kept:])
			ts.links = ts.links[:kept]
			if kept == 0 {
				ts.links = nil // give the memory back
			}
		}
		if !ts.fixed {
			if len(ts.links) == 0 {
				delete(e.tags, id)
			}
			continue
		}
		silence := time.Duration(nowNs - ts.lastHeard)
		switch {
		case e.cfg.MissingAfter > 0 && silence >= e.cfg.MissingAfter:
			if ts.reported != reportedMissing {
				out = append(out, e.silentPosition(ts, wardwatch.StateMissing))
			}
			delete(e.tags, id)
		case e.cfg.StaleAfter > 0 && silence >= e.cfg.StaleAfter && ts.reported == reportedNone:
			ts.reported = reportedStale
			ts.kfOn = false // when heard again, start the filter afresh
			out = append(out, e.silentPosition(ts, wardwatch.StateStale))
		}
	}
	slices.SortFunc(out, func(a, b wardwatch.Position) int { return cmp.Compare(a.TagID, b.TagID) })
	e.silent = out[:0]
	if len(out) == 0 {
		return nil
	}
	return out
}

// silentPosition is ts's last known position in state (stale or missing),
// timed at its last sighting. A missing tag's confidence is 0.
func (e *Engine) silentPosition(ts *tagState, state wardwatch.TagState) wardwatch.Position {
	conf := ts.conf
	if state == wardwatch.StateMissing {
		conf = 0
	}
	return wardwatch.Position{
		TagID:      ts.id,
		AssetID:    ts.assetID,
		FloorID:    ts.floorID,
		At:         ts.at,
		ZoneID:     ts.zoneID,
		Confidence: conf,
		Solver:     ts.solver,
		State:      state,
		Time:       time.Unix(0, ts.lastHeard).UTC(),
	}
}
