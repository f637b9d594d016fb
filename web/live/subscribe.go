package live

import (
	"sync"
	"sync/atomic"

	"github.com/wardwatch/wardwatch"
)

// subscribers are the in-process listeners to every published batch (the
// REST API's event stream). The zero value is ready to use.
type subscribers struct {
	n   atomic.Int32 // len(set), read without the lock by Publish
	mu  sync.Mutex
	set map[*subscriber]struct{}
}

type subscriber struct {
	ch   chan []wardwatch.Position
	once sync.Once
}

func (s *subscriber) close() { s.once.Do(func() { close(s.ch) }) }

// Subscribe delivers every batch of positions Publish accepts (publishable
// and changed) to the returned channel, which holds up to buffer batches
// (at least 1). A subscriber that lets it fill up is dropped: its channel
// is closed, and it should resubscribe (and reload a snapshot). cancel
// ends the subscription and closes the channel; it may be called more
// than once.
func (h *Hub) Subscribe(buffer int) (batches <-chan []wardwatch.Position, cancel func()) {
	sub := &subscriber{ch: make(chan []wardwatch.Position, max(buffer, 1))}
	h.subs.mu.Lock()
	if h.subs.set == nil {
		h.subs.set = make(map[*subscriber]struct{})
	}
	h.subs.set[sub] = struct{}{}
	h.subs.n.Store(int32(len(h.subs.set)))
	h.subs.mu.Unlock()
	return sub.ch, func() { h.subs.remove(sub) }
}

func (s *subscribers) remove(sub *subscriber) {
	s.mu.Lock()
	delete(s.set, sub)
	s.n.Store(int32(len(s.set)))
	s.mu.Unlock()
	sub.close()
}

// deliver hands batch to every subscriber without waiting, dropping those
// whose buffer is full.
func (s *subscribers) deliver(batch []wardwatch.Position) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sub := range s.set {
		select {
		case sub.ch <- batch:
		default:
			delete(s.set, sub)
			sub.close()
		}
	}
	s.n.Store(int32(len(s.set)))
}
