package alerts

import (
	"math"
	"strconv"
	"time"
)

// name is the tag's asset as users read it.
func (t *Tag) name() string {
	if t.AssetName != "" {
		return t.AssetName
	}
	return "Asset " + strconv.FormatInt(t.AssetID, 10)
}

// tagRaised records that tr, a tag's track, became active, and reports
// whether the asset's alert raises with it (no other tag of the asset holds
// it active).
func (e *Evaluator) tagRaised(tr *track) bool {
	set := e.tagLow[tr.key]
	if set == nil {
		set = make(map[string]bool)
		e.tagLow[tr.key] = set
	}
	first := len(set) == 0
	set[tr.sensor.ID] = true
	return first
}

// tagCleared records that tr, a tag's track, is no longer active, and
// reports whether the asset's alert clears with it (it was the last of the
// asset's tags holding it active).
func (e *Evaluator) tagCleared(tr *track) bool {
	set := e.tagLow[tr.key]
	if !set[tr.sensor.ID] {
		return false
	}
	delete(set, tr.sensor.ID)
	if len(set) > 0 {
		return false
	}
	delete(e.tagLow, tr.key)
	return true
}

// ResumeTagAlert takes over a tag alert that was active when WardWatch
// stopped (from the store): the tracks of rule k.Rule on the tags of asset
// k.Subject become active again since `since`, so the alert clears only when
// every tag of the asset reads back inside the rule's limits by the deadband
// for its minimum clear time (a battery change), instead of being cleared
// for want of fresh data and raised again a delay later. It produces no
// change and reports whether any configured tag took the alert over; call it
// after Configure.
func (e *Evaluator) ResumeTagAlert(k Key, since time.Time) bool {
	if k.Subject.Kind != SubjectAsset {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	took := false
	for _, st := range e.order {
		if st.tag == nil {
			continue
		}
		for _, tr := range st.tracks {
			if tr.key != k {
				continue
			}
			took = true
			if tr.active {
				continue
			}
			e.tagRaised(tr)
			tr.active, tr.since, tr.clearSince = true, since, time.Time{}
			tr.spans, tr.openStart = nil, time.Time{}
			tr.peak, tr.trough = tr.lastV, tr.lastV
			if !tr.have {
				tr.peak, tr.trough = math.NaN(), math.NaN() // the next reading sets them
			}
		}
	}
	return took
}
