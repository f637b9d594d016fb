// Package mqtt subscribes to an MQTT broker and hands every message, raw, to
// one handler: BLE gateways (ESPresense, OpenMQTTGateway, Theengs…) publish
// their sightings there, and the parsers in collectors/ble turn payloads into
// observations. It wraps github.com/eclipse/paho.mqtt.golang (MQTT 3.1.1).
//
// # Delivery
//
// Messages reach the handler in the order the broker sent them, one at a
// time, from a single goroutine. Between paho's receive path and the
// handler sits a bounded queue (QueueSize messages). When the queue is full
// the receive path waits: nothing is dropped, and because a QoS 1 message is
// acknowledged to the broker only once it is in the queue, the broker stops
// sending (its in-flight window fills up) and queues further messages on its
// side, within its own limits (Mosquitto: max_queued_messages, 1000 by
// default, beyond which the broker drops). Paho reads pings through the same
// path, so a handler that stalls for longer than KeepAlive plus paho's
// 10-second ping timeout makes paho declare the connection lost; the
// Subscriber then reconnects and the broker redelivers what was not
// acknowledged.
//
// Delivery is at least once. With the default persistent session
// (CleanSession false) the broker keeps our subscriptions and QoS 1
// messages while we are disconnected, and, with its persistence enabled,
// across its own restarts. After a reconnect the broker resends messages
// whose acknowledgement it did not get, so the handler can see a message
// twice. Messages that arrive while Run is shutting down are not
// acknowledged and stay with the broker for the next run.
//
// # Connection
//
// Run connects, subscribes to every filter, and when the connection drops it
// reconnects with exponential backoff and jitter and subscribes again (the
// broker may have lost the session). It keeps trying forever, also when the
// broker is down at start or rejects our credentials; each failure is
// logged and counted.
//
// # Metrics
//
//	wardwatch_mqtt_connected             gauge, 1 while connected and subscribed
//	wardwatch_mqtt_messages_total        messages received and queued for the handler
//	wardwatch_mqtt_reconnects_total      successful connections after the first
//	wardwatch_mqtt_connect_errors_total  failed connection or subscription attempts
package mqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/prometheus/client_golang/prometheus"
)

// QueueSize is the capacity of the queue between the network and the
// handler.
const QueueSize = 1024

// disconnectQuiesce is how long a clean disconnect waits for the DISCONNECT
// packet to go out, in milliseconds.
const disconnectQuiesce = 250

// Message is one MQTT message as received.
type Message struct {
	Topic   string
	Payload []byte
	// Received is when the Subscriber got the message (UTC).
	Received time.Time
	// Retained marks the broker's stored copy of an earlier message, sent
	// because we (re)subscribed: old state, not a fresh observation.
	Retained bool
}

// Handler processes one message. It is called from one goroutine, in
// order. ctx is Run's context: once it is done, the handler is still called
// for the messages already queued and should return promptly (it may drop
// them).
type Handler func(ctx context.Context, m Message)

// Subscriber is a long-lived MQTT subscription. Create it with
// NewSubscriber and call Run once.
type Subscriber struct {
	cfg       *settings
	handler   Handler
	logger    *slog.Logger
	connected atomic.Bool
	started   atomic.Bool

	mConnected     prometheus.Gauge
	mMessages      prometheus.Counter
	mReconnects    prometheus.Counter
	mConnectErrors prometheus.Counter
}

// NewSubscriber validates cfg (errors name the offending field), applies
// defaults, loads any TLS files and registers the metrics on reg (nil
// registers nothing). A nil logger discards logs.
func NewSubscriber(cfg Config, h Handler, logger *slog.Logger, reg prometheus.Registerer) (*Subscriber, error) {
	if h == nil {
		return nil, errors.New("mqtt: nil handler")
	}
	s, err := validate(cfg)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	sub := &Subscriber{
		cfg:     s,
		handler: h,
		logger:  logger.With("broker", s.broker.String(), "client_id", s.ClientID),
		mConnected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wardwatch_mqtt_connected",
			Help: "1 while connected to the MQTT broker and subscribed, else 0.",
		}),
		mMessages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_mqtt_messages_total",
			Help: "MQTT messages received and queued for processing.",
		}),
		mReconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_mqtt_reconnects_total",
			Help: "Successful connections to the MQTT broker after the first.",
		}),
		mConnectErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_mqtt_connect_errors_total",
			Help: "Failed attempts to connect and subscribe to the MQTT broker.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{sub.mConnected, sub.mMessages, sub.mReconnects, sub.mConnectErrors} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("mqtt: register metrics: %w", err)
			}
		}
	}
	return sub, nil
}

// Connected reports whether the Subscriber is connected and subscribed.
func (s *Subscriber) Connected() bool { return s.connected.Load() }

func (s *Subscriber) setConnected(up bool) {
	s.connected.Store(up)
	if up {
		s.mConnected.Set(1)
	} else {
		s.mConnected.Set(0)
	}
}

// Run connects and delivers messages to the handler until ctx is done. It
// retries with backoff while the broker is unreachable or refuses us, and
// reconnects and resubscribes after a connection is lost. When ctx is done
// it disconnects cleanly, lets the handler finish the messages already
// queued, and returns nil once the handler goroutine has exited (a
// connection attempt in progress is first allowed to finish, which takes at
// most ConnectTimeout). Run may be called only once.
func (s *Subscriber) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("mqtt: Run called more than once")
	}
	queue := make(chan Message, QueueSize)
	handlerDone := make(chan struct{})
	go func() {
		defer close(handlerDone)
		for m := range queue {
			s.handler(ctx, m)
		}
	}()
	defer func() {
		close(queue) // every gate is closed: nothing sends any more
		<-handlerDone
	}()

	attempt := 0 // failed attempts since the last stable connection
	everConnected := false
	for ctx.Err() == nil {
		g := newGate()
		lost := make(chan error, 1)
		client := paho.NewClient(s.clientOptions(g, queue, lost))
		sessionPresent, err := s.connect(ctx, client)
		if err != nil {
			g.close()
			if ctx.Err() != nil {
				break
			}
			s.mConnectErrors.Inc()
			delay := s.backoff(attempt)
			attempt++
			s.logger.Warn("mqtt connect failed", "attempt", attempt, "retry_in", delay, "err", err)
			sleep(ctx, delay)
			continue
		}
		if everConnected {
			s.mReconnects.Inc()
		}
		everConnected = true
		up := time.Now()
		s.setConnected(true)
		s.logger.Info("mqtt connected", "session_present", sessionPresent, "topics", s.cfg.Topics)

		select {
		case <-ctx.Done():
			s.setConnected(false)
			g.close()
			client.Disconnect(disconnectQuiesce)
			s.logger.Info("mqtt disconnected", "reason", "shutdown")
			return nil
		case err := <-lost:
			s.setConnected(false)
			g.close()
			connectedFor := time.Since(up)
			if connectedFor >= s.cfg.MaxBackoff {
				attempt = 0
			}
			delay := s.backoff(attempt)
			attempt++
			s.logger.Info("mqtt connection lost", "err", err, "connected_for", connectedFor.Round(time.Millisecond), "retry_in", delay)
			sleep(ctx, delay)
		}
	}
	return nil
}

// clientOptions configures a paho client for one connection. Paho's own
// reconnect logic is off: Run owns reconnecting, with a fresh client each
// time, so that a finished connection can never deliver out of turn.
func (s *Subscriber) clientOptions(g *gate, queue chan<- Message, lost chan<- error) *paho.ClientOptions {
	c := s.cfg
	o := paho.NewClientOptions().
		AddBroker(c.broker.String()).
		SetClientID(c.ClientID).
		SetUsername(c.Username).
		SetPassword(c.Password).
		SetCleanSession(c.CleanSession).
		SetProtocolVersion(4). // MQTT 3.1.1, and no silent fallback to 3.1 on a refusal
		SetKeepAlive(time.Duration(c.keepSecs) * time.Second).
		SetConnectTimeout(c.ConnectTimeout).
		SetDialer(&net.Dialer{Timeout: c.ConnectTimeout, KeepAlive: 30 * time.Second}).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetOrderMatters(true).
		SetAutoAckDisabled(true).
		SetDefaultPublishHandler(s.receive(g, queue)).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			select {
			case lost <- err:
			default:
			}
		})
	if c.tls != nil {
		o.SetTLSConfig(c.tls)
	}
	return o
}

// receive returns paho's message callback. Paho calls it from one goroutine
// per connection, in order. It blocks while the queue is full
// (backpressure) and acknowledges a message only once it is queued; after
// g is closed it neither queues nor acknowledges, so the broker keeps the
// message for the next connection.
func (s *Subscriber) receive(g *gate, queue chan<- Message) paho.MessageHandler {
	return func(_ paho.Client, pm paho.Message) {
		if !g.enter() {
			return
		}
		defer g.leave()
		m := Message{Topic: pm.Topic(), Payload: pm.Payload(), Received: time.Now().UTC(), Retained: pm.Retained()}
		select {
		case queue <- m:
		case <-g.closed:
			return
		}
		s.mMessages.Inc()
		pm.Ack()
	}
}

// connect connects client and subscribes to every filter. It reports
// whether the broker still had our session.
func (s *Subscriber) connect(ctx context.Context, client paho.Client) (bool, error) {
	ct := client.Connect()
	select {
	case <-ct.Done():
	case <-ctx.Done():
		<-ct.Done() // bounded by ConnectTimeout
		client.Disconnect(0)
		return false, ctx.Err()
	}
	if err := ct.Error(); err != nil {
		if errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword) || errors.Is(err, packets.ErrorRefusedNotAuthorised) {
			return false, fmt.Errorf("connect: broker refused the credentials of user %q: %w", s.cfg.Username, err)
		}
		return false, fmt.Errorf("connect: %w", err)
	}
	sessionPresent := ct.(*paho.ConnectToken).SessionPresent()

	filters := make(map[string]byte, len(s.cfg.Topics))
	for _, f := range s.cfg.Topics {
		filters[f] = s.cfg.QoS
	}
	st := client.SubscribeMultiple(filters, nil)
	timer := time.NewTimer(s.cfg.ConnectTimeout)
	defer timer.Stop()
	var err error
	select {
	case <-st.Done():
		err = st.Error()
		if err == nil {
			err = refused(st.(*paho.SubscribeToken).Result())
		}
	case <-timer.C:
		err = fmt.Errorf("no SUBACK within %v", s.cfg.ConnectTimeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		client.Disconnect(disconnectQuiesce)
		return false, fmt.Errorf("subscribe: %w", err)
	}
	return sessionPresent, nil
}

// refused reports the filters a SUBACK refused (return code 0x80).
func refused(granted map[string]byte) error {
	var bad []string
	for f, code := range granted {
		if code > 2 {
			bad = append(bad, f)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("broker refused the subscription to %q (check its ACL)", bad)
}

// backoff returns the wait before the next connection attempt after the
// given number of failed ones: MinBackoff doubled per attempt, capped at
// MaxBackoff, then a random point in its upper half.
func (s *Subscriber) backoff(attempt int) time.Duration {
	d := s.cfg.MinBackoff
	for i := 0; i < attempt && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxBackoff)
	half := d / 2
	return d - half + rand.N(half+1)
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// gate lets one connection's callback into the queue until it is closed.
// close waits for a callback in progress, so after it returns that
// connection can no longer queue anything: an older connection never
// delivers behind a newer one, and close(queue) is safe.
type gate struct {
	mu       sync.Mutex
	shut     bool
	closed   chan struct{}
	inflight sync.WaitGroup
}

func newGate() *gate { return &gate{closed: make(chan struct{})} }

func (g *gate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shut {
		return false
	}
	g.inflight.Add(1)
	return true
}

func (g *gate) leave() { g.inflight.Done() }

func (g *gate) close() {
	g.mu.Lock()
	if !g.shut {
		g.shut = true
		close(g.closed)
	}
	g.mu.Unlock()
	g.inflight.Wait()
}
