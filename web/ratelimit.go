package web

import (
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Login throttling: after loginMaxUserFailures failed attempts within
// loginWindow for one username, or loginMaxAddressFailures from one client
// address, further attempts are refused until the oldest failure leaves the
// window. The address limit is higher because a ward's shared workstations
// (or the hospital's NAT) put many users behind one address: a few typos
// must not lock out a whole unit, while the per-username limit protects
// each account.
const (
	loginWindow             = 15 * time.Minute
	loginMaxUserFailures    = 5
	loginMaxAddressFailures = 50
	loginLimiterKeys        = 10000 // most usernames or addresses tracked at once
)

// loginThrottle holds the two limits on failed logins.
type loginThrottle struct {
	users, addresses *loginLimiter
}

// loginLimiter counts failed logins per key in memory. It holds at most
// capacity keys: when full it first forgets keys whose failures have all
// left the window, then the key whose latest failure is oldest.
type loginLimiter struct {
	window   time.Duration
	max      int
	capacity int

	mu       sync.Mutex
	failures map[string][]time.Time // oldest first, at most max, all within window when read
}

func newLoginLimiter(window time.Duration, max, capacity int) *loginLimiter {
	return &loginLimiter{
		window:   window,
		max:      max,
		capacity: capacity,
		failures: make(map[string][]time.Time),
	}
}

// usernameKey and addressKey name the limiter's counters. Usernames are
// compared case-insensitively; IPv6 clients are grouped by /64, which one
// client usually controls whole.
func usernameKey(username string) string { return "user:" + strings.ToLower(username) }

func addressKey(host string) string {
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return "addr:" + host
	}
	addr = addr.Unmap()
	if addr.Is6() {
		p, err := addr.Prefix(64)
		if err == nil {
			return "addr:" + p.String()
		}
	}
	return "addr:" + addr.String()
}

// wait returns how long until any of keys may try again; 0 means now.
func (l *loginLimiter) wait(now time.Time, keys ...string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var longest time.Duration
	for _, k := range keys {
		ts := l.recent(k, now)
		if len(ts) < l.max {
			continue
		}
		if d := ts[len(ts)-l.max].Add(l.window).Sub(now); d > longest {
			longest = d
		}
	}
	return longest
}

// fail records a failed attempt against each key.
func (l *loginLimiter) fail(now time.Time, keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		ts := l.recent(k, now)
		if ts == nil {
			l.makeRoom(now)
		}
		ts = append(ts, now)
		if len(ts) > l.max {
			ts = ts[len(ts)-l.max:]
		}
		l.failures[k] = ts
	}
}

// reset forgets key's failures (after a successful login).
func (l *loginLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, key)
}

// recent returns key's failures within the window, dropping older ones.
// l.mu must be held.
func (l *loginLimiter) recent(key string, now time.Time) []time.Time {
	ts, ok := l.failures[key]
	if !ok {
		return nil
	}
	i := 0
	for i < len(ts) && !ts[i].Add(l.window).After(now) {
		i++
	}
	if i == len(ts) {
		delete(l.failures, key)
		return nil
	}
	if i > 0 {
		ts = append(ts[:0:0], ts[i:]...)
		l.failures[key] = ts
	}
	return ts
}

// makeRoom ensures there is space for one more key. l.mu must be held.
func (l *loginLimiter) makeRoom(now time.Time) {
	if len(l.failures) < l.capacity {
		return
	}
	for k, ts := range l.failures {
		if !ts[len(ts)-1].Add(l.window).After(now) {
			delete(l.failures, k)
		}
	}
	for len(l.failures) > 0 && len(l.failures) >= l.capacity {
		var oldestKey string
		var oldest time.Time
		for k, ts := range l.failures {
			if last := ts[len(ts)-1]; oldestKey == "" || last.Before(oldest) {
				oldestKey, oldest = k, last
			}
		}
		delete(l.failures, oldestKey)
	}
}

// len is the number of keys tracked (for tests).
func (l *loginLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.failures)
}
