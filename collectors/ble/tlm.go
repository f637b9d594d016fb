package ble

import (
	"container/list"
	"sync"
	"time"
)

// Defaults of NewTLMAssociator.
const (
	DefaultTLMEntries = 10000
	DefaultTLMMaxAge  = 10 * time.Minute
)

// TLMAssociator remembers, per advertiser MAC, the beacon identity the MAC
// last advertised, so that an Eddystone-TLM frame (which carries no
// identity) can be attributed to its tag: Eddystone beacons interleave UID
// and TLM frames from one MAC. It holds at most a fixed number of MACs,
// forgetting the least recently used first, and an identity is trusted for
// a bounded age only (beacons that rotate their MAC may hand it to another
// device). Time is passed in; nothing runs in the background. It is safe
// for concurrent use.
type TLMAssociator struct {
	mu     sync.Mutex
	max    int
	maxAge time.Duration
	byMAC  map[string]*list.Element
	lru    *list.List // front: most recently remembered
}

type tlmEntry struct {
	mac  string
	tag  string
	seen time.Time
}

// NewTLMAssociator returns an associator holding at most maxEntries MACs
// (DefaultTLMEntries when ≤ 0) whose identities are trusted for maxAge
// after they were last heard (DefaultTLMMaxAge when ≤ 0).
func NewTLMAssociator(maxEntries int, maxAge time.Duration) *TLMAssociator {
	if maxEntries <= 0 {
		maxEntries = DefaultTLMEntries
	}
	if maxAge <= 0 {
		maxAge = DefaultTLMMaxAge
	}
	return &TLMAssociator{max: maxEntries, maxAge: maxAge, byMAC: make(map[string]*list.Element), lru: list.New()}
}

// Remember records that mac advertised the identity tagID at now.
func (a *TLMAssociator) Remember(mac, tagID string, now time.Time) {
	if mac == "" || tagID == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if el, ok := a.byMAC[mac]; ok {
		e := el.Value.(*tlmEntry)
		e.tag = tagID
		if now.After(e.seen) {
			e.seen = now
		}
		a.lru.MoveToFront(el)
		return
	}
	for a.lru.Len() >= a.max {
		oldest := a.lru.Back()
		delete(a.byMAC, oldest.Value.(*tlmEntry).mac)
		a.lru.Remove(oldest)
	}
	a.byMAC[mac] = a.lru.PushFront(&tlmEntry{mac: mac, tag: tagID, seen: now})
}

// Lookup returns the identity mac last advertised, if it did so within the
// maximum age before now.
func (a *TLMAssociator) Lookup(mac string, now time.Time) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	el, ok := a.byMAC[mac]
	if !ok {
		return "", false
	}
	e := el.Value.(*tlmEntry)
	if now.Sub(e.seen) > a.maxAge {
		delete(a.byMAC, mac)
		a.lru.Remove(el)
		return "", false
	}
	return e.tag, true
}

// Len returns the number of MACs remembered.
func (a *TLMAssociator) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lru.Len()
}
