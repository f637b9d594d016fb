package mqtt

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fastBackoff keeps reconnect waits short in tests.
func fastBackoff(c Config) Config {
	c.MinBackoff, c.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	c.ConnectTimeout = 5 * time.Second
	return c
}

// recorder is a Handler that keeps every message.
type recorder struct {
	mu   sync.Mutex
	msgs []Message
}

func (r *recorder) handle(_ context.Context, m Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

func (r *recorder) all() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.msgs...)
}

// running is a Subscriber whose Run is going in the background.
type running struct {
	sub    *Subscriber
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// runSubscriber starts Run in the background and stops it at cleanup.
func runSubscriber(t *testing.T, cfg Config, h Handler) *running {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sub, err := NewSubscriber(cfg, h, logger, prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("NewSubscriber: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{sub: sub, logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- sub.Run(ctx) }()
	t.Cleanup(func() {
		r.stop(t)
		if t.Failed() || testing.Verbose() {
			t.Logf("subscriber log:\n%s", logs.String())
		}
	})
	return r
}

// stop cancels Run and waits for it to return nil.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok && err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
		if ok {
			close(r.done)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
}

// publisher is a separate paho client publishing test messages.
type publisher struct {
	t      *testing.T
	opts   *paho.ClientOptions
	client paho.Client
}

func newPublisher(t *testing.T, url string, tlsCfg *tls.Config, user, pass string) *publisher {
	t.Helper()
	opts := paho.NewClientOptions().
		AddBroker(url).
		SetClientID(fmt.Sprintf("test-pub-%d", time.Now().UnixNano())).
		SetUsername(user).SetPassword(pass).
		SetProtocolVersion(4).
		SetAutoReconnect(false).
		SetConnectTimeout(5 * time.Second)
	if tlsCfg != nil {
		opts.SetTLSConfig(tlsCfg)
	}
	p := &publisher{t: t, opts: opts}
	if err := p.connect(); err != nil {
		t.Fatalf("publisher connect: %v", err)
	}
	t.Cleanup(p.close)
	return p
}

func (p *publisher) connect() error {
	c := paho.NewClient(p.opts)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return errTimeout
	}
	if err := tok.Error(); err != nil {
		return err
	}
	p.client = c
	return nil
}

// reconnect connects again, retrying until it works or limit passes.
func (p *publisher) reconnect(limit time.Duration) error {
	p.client.Disconnect(0)
	var err error
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err = p.connect(); err == nil {
			return nil
		}
	}
	return err
}

// publish publishes and waits for the broker's acknowledgement (QoS 1).
func (p *publisher) publish(topic string, payload []byte, qos byte, retained bool) error {
	tok := p.client.Publish(topic, qos, retained, payload)
	if !tok.WaitTimeout(10 * time.Second) {
		return errTimeout
	}
	return tok.Error()
}

func (p *publisher) close() { p.client.Disconnect(100) }

// espresense is an ESPresense-style payload carrying a sequence number in
// "int" (so the test can read it back).
func espresense(seq int) []byte {
	return fmt.Appendf(nil, `{"mac":"c0ffee000001","id":"iBeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0-1-42","rssi@1m":-59,"rssi":-71.50,"rxAdj":0,"rssiVar":4.10,"distance":2.84,"var":0.62,"int":%d}`, seq)
}

func seqOf(t *testing.T, m Message) int {
	t.Helper()
	var v struct{ Int int }
	if err := json.Unmarshal(m.Payload, &v); err != nil {
		t.Fatalf("payload of %s: %v", m.Topic, err)
	}
	return v.Int
}

const espTopic = "espresense/devices/iBeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0-1-42/ward-4b-12"

func TestReceiveInOrder(t *testing.T) {
	b := startBroker(t, brokerOptions{})
	pub := newPublisher(t, b.url("tcp"), nil, "", "")

	// A retained message from before we subscribe arrives marked Retained.
	if err := pub.publish("espresense/devices/node:old/ward-4b-10", []byte(`{"id":"node:old","distance":1}`), 1, true); err != nil {
		t.Fatal(err)
	}

	rec := &recorder{}
	r := runSubscriber(t, fastBackoff(Config{
		Broker:   b.url("tcp"),
		ClientID: "wardwatch-test-order",
		Topics:   []string{"espresense/devices/+/+", "home/+/BTtoMQTT/+"},
	}), rec.handle)
	waitFor(t, 20*time.Second, "connected", r.sub.Connected)
	waitFor(t, 20*time.Second, "the retained message", func() bool { return rec.len() == 1 })

	// Gateway formats this package must carry unchanged: ESPresense,
	// OpenMQTTGateway/Theengs, Home Assistant mqtt_room, binary bytes.
	type sent struct {
		topic   string
		payload []byte
	}
	formats := []sent{
		{espTopic, espresense(0)},
		{"home/OMG_ESP32_BLE/BTtoMQTT/C0FFEE000002", []byte(`{"id":"C0:FF:EE:00:00:02","mac_type":0,"rssi":-67,"txpower":-59,"distance":1.9,"manufacturerdata":"4c000215e2c56db5dffb48d2b060d0f5a71096e00001002ac5"}`)},
		{"espresense/devices/name:pump-17/ward-4b-12", []byte(`{"id":"name:pump-17","name":"Pump 17","distance":3.2}`)},
		{"espresense/devices/tile:abc/ward-4b-14", []byte{0x00, 0xff, 0x80, '\n', 0x01}},
		{"espresense/devices/node:x/ward-4b-14", []byte{}},
	}
	var want []sent
	for i := 0; i < 300; i++ {
		f := formats[i%len(formats)]
		if f.topic == espTopic {
			f.payload = espresense(i)
		}
		want = append(want, f)
		if err := pub.publish(f.topic, f.payload, 1, false); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	// Not matching any filter: must not arrive.
	if err := pub.publish("espresense/rooms/ward-4b-12/telemetry", []byte(`{}`), 1, false); err != nil {
		t.Fatal(err)
	}
	if err := pub.publish(espTopic, espresense(-1), 1, false); err != nil {
		t.Fatal(err)
	}
	want = append(want, sent{espTopic, espresense(-1)})

	waitFor(t, 20*time.Second, "all messages", func() bool { return rec.len() >= 1+len(want) })
	got := rec.all()
	if !got[0].Retained || got[0].Topic != "espresense/devices/node:old/ward-4b-10" {
		t.Errorf("first message = %+v, want the retained one", got[0])
	}
	got = got[1:]
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d", len(got), len(want))
	}
	for i, m := range got {
		if m.Topic != want[i].topic || !bytes.Equal(m.Payload, want[i].payload) || m.Retained {
			t.Fatalf("message %d = %s %q (retained %v), want %s %q", i, m.Topic, m.Payload, m.Retained, want[i].topic, want[i].payload)
		}
		if m.Received.IsZero() || m.Received.Location() != time.UTC {
			t.Fatalf("message %d: Received = %v, want a UTC time", i, m.Received)
		}
	}
	if n := testutil.ToFloat64(r.sub.mMessages); n != float64(1+len(want)) {
		t.Errorf("wardwatch_mqtt_messages_total = %v, want %d", n, 1+len(want))
	}
	if v := testutil.ToFloat64(r.sub.mConnected); v != 1 {
		t.Errorf("wardwatch_mqtt_connected = %v, want 1", v)
	}
	r.stop(t)
	if r.sub.Connected() || testutil.ToFloat64(r.sub.mConnected) != 0 {
		t.Error("still connected after Run returned")
	}
	if logs := r.logs.String(); !strings.Contains(logs, "mqtt connected") || !strings.Contains(logs, "broker=tcp://127.0.0.1:") {
		t.Errorf("logs lack the connect line with the broker URL:\n%s", logs)
	}
}

// TestBackpressure blocks the handler while more than QueueSize messages
// arrive: none may be dropped and the order must hold.
func TestBackpressure(t *testing.T) {
	b := startBroker(t, brokerOptions{})
	pub := newPublisher(t, b.url("tcp"), nil, "", "")
	release := make(chan struct{})
	rec := &recorder{}
	r := runSubscriber(t, fastBackoff(Config{
		Broker:   b.url("tcp"),
		ClientID: "wardwatch-test-backpressure",
		Topics:   []string{"espresense/devices/#"},
	}), func(ctx context.Context, m Message) {
		<-release
		rec.handle(ctx, m)
	})
	waitFor(t, 20*time.Second, "connected", r.sub.Connected)
	n := QueueSize + 300
	for i := range n {
		if err := pub.publish(espTopic, espresense(i), 1, false); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	// The queue fills up and stays full while the handler is stuck.
	waitFor(t, 20*time.Second, "a full queue", func() bool { return testutil.ToFloat64(r.sub.mMessages) >= QueueSize })
	close(release)
	waitFor(t, 30*time.Second, "all messages", func() bool { return rec.len() >= n })
	for i, m := range rec.all() {
		if s := seqOf(t, m); s != i {
			t.Fatalf("message %d carries %d", i, s)
		}
	}
}

func TestUsernamePassword(t *testing.T) {
	b := startBroker(t, brokerOptions{users: map[string]string{"ward": "s3cret-pa55"}})
	cfg := fastBackoff(Config{Broker: b.url("tcp"), Topics: []string{"espresense/devices/+/+"}, Username: "ward"})

	t.Run("accepted", func(t *testing.T) {
		c := cfg
		c.ClientID, c.Password = "wardwatch-test-auth-ok", "s3cret-pa55"
		rec := &recorder{}
		r := runSubscriber(t, c, rec.handle)
		waitFor(t, 20*time.Second, "connected", r.sub.Connected)
		pub := newPublisher(t, b.url("tcp"), nil, "ward", "s3cret-pa55")
		if err := pub.publish(espTopic, espresense(7), 1, false); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, "the message", func() bool { return rec.len() == 1 })
	})

	t.Run("wrong password", func(t *testing.T) {
		c := cfg
		c.ClientID, c.Password = "wardwatch-test-auth-bad", "not-the-password"
		r := runSubscriber(t, c, (&recorder{}).handle)
		// It keeps retrying, and says why it fails.
		waitFor(t, 20*time.Second, "three failed attempts", func() bool {
			return testutil.ToFloat64(r.sub.mConnectErrors) >= 3
		})
		if r.sub.Connected() {
			t.Error("Connected() with a wrong password")
		}
		logs := r.logs.String()
		if !strings.Contains(logs, `broker refused the credentials of user \"ward\"`) {
			t.Errorf("logs do not say the credentials were refused:\n%s", logs)
		}
		if strings.Contains(logs, "not-the-password") {
			t.Errorf("logs contain the password:\n%s", logs)
		}
	})
}

func TestTLS(t *testing.T) {
	files := makeTLSFiles(t, t.TempDir())
	b := startBroker(t, brokerOptions{tls: files})
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(files.ca)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(caPEM)
	clientCert, err := tls.LoadX509KeyPair(files.clientCert, files.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg := &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{clientCert}, MinVersion: tls.VersionTLS12}
	pub := newPublisher(t, b.url("ssl"), tlsCfg, "", "")

	cases := []struct {
		name string
		cfg  Config
	}{
		{"files", Config{Broker: b.url("mqtts"), CAFile: files.ca, CertFile: files.clientCert, KeyFile: files.clientKey}},
		{"tls.Config", Config{Broker: b.url("ssl"), TLS: tlsCfg}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			c.ClientID = fmt.Sprintf("wardwatch-test-tls-%d", i)
			c.Topics = []string{"espresense/devices/+/+"}
			rec := &recorder{}
			r := runSubscriber(t, fastBackoff(c), rec.handle)
			waitFor(t, 20*time.Second, "connected", r.sub.Connected)
			if err := pub.publish(espTopic, espresense(i), 1, false); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 20*time.Second, "the message", func() bool { return rec.len() == 1 })
		})
	}

	t.Run("untrusted server", func(t *testing.T) {
		// System roots do not know our test CA.
		r := runSubscriber(t, fastBackoff(Config{
			Broker: b.url("ssl"), ClientID: "wardwatch-test-tls-untrusted",
			Topics: []string{"espresense/devices/+/+"},
		}), (&recorder{}).handle)
		waitFor(t, 20*time.Second, "a failed attempt", func() bool { return testutil.ToFloat64(r.sub.mConnectErrors) >= 1 })
		if logs := r.logs.String(); !strings.Contains(logs, "certificate") {
			t.Errorf("logs do not mention the certificate problem:\n%s", logs)
		}
	})
}

func TestBrokerDownAtStart(t *testing.T) {
	b := newBroker(t, brokerOptions{})
	rec := &recorder{}
	r := runSubscriber(t, fastBackoff(Config{
		Broker:   b.url("tcp"),
		ClientID: "wardwatch-test-late-broker",
		Topics:   []string{"espresense/devices/+/+"},
	}), rec.handle)
	waitFor(t, 20*time.Second, "two failed attempts", func() bool { return testutil.ToFloat64(r.sub.mConnectErrors) >= 2 })
	if r.sub.Connected() {
		t.Fatal("Connected() with no broker")
	}
	b.start()
	waitFor(t, 20*time.Second, "connected", r.sub.Connected)
	pub := newPublisher(t, b.url("tcp"), nil, "", "")
	if err := pub.publish(espTopic, espresense(1), 1, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the message", func() bool { return rec.len() == 1 })
	if n := testutil.ToFloat64(r.sub.mReconnects); n != 0 {
		t.Errorf("wardwatch_mqtt_reconnects_total = %v after the first connection, want 0", n)
	}
}

// TestBrokerRestart restarts Mosquitto while a publisher streams numbered
// QoS 1 messages: every acknowledged message and every message published
// after the broker is back must arrive, first occurrences in order.
func TestBrokerRestart(t *testing.T) {
	b := startBroker(t, brokerOptions{})
	rec := &recorder{}
	cfg := fastBackoff(Config{
		Broker:   b.url("tcp"),
		ClientID: "wardwatch-test-restart",
		Topics:   []string{"espresense/devices/+/+"},
	})
	// The subscriber comes back well after the publisher, so the restarted
	// broker must queue messages for its restored session meanwhile.
	cfg.MinBackoff, cfg.MaxBackoff = 400*time.Millisecond, 400*time.Millisecond
	r := runSubscriber(t, cfg, rec.handle)
	waitFor(t, 20*time.Second, "connected", r.sub.Connected)

	pub := newPublisher(t, b.url("tcp"), nil, "", "")
	var (
		mu         sync.Mutex
		acked      = map[int]bool{}
		lastAcked  int
		firstAfter int // first sequence number published after reconnecting
	)
	var stop atomic.Bool
	pubDone := make(chan error, 1)
	go func() {
		restarted := false
		for seq := 1; !stop.Load(); {
			if err := pub.publish(espTopic, espresense(seq), 1, false); err != nil {
				if restarted {
					pubDone <- fmt.Errorf("publish %d after the restart: %w", seq, err)
					return
				}
				if err := pub.reconnect(30 * time.Second); err != nil {
					pubDone <- fmt.Errorf("publisher reconnect: %w", err)
					return
				}
				restarted = true
				mu.Lock()
				firstAfter = seq
				mu.Unlock()
				continue // publish seq again: it may or may not have reached the broker
			}
			mu.Lock()
			acked[seq], lastAcked = true, seq
			mu.Unlock()
			seq++
		}
		pubDone <- nil
	}()
	get := func() (first, last int) {
		mu.Lock()
		defer mu.Unlock()
		return firstAfter, lastAcked
	}

	waitFor(t, 20*time.Second, "200 messages before the restart", func() bool { return rec.len() >= 200 })
	b.restart()
	waitFor(t, 30*time.Second, "the publisher to reconnect", func() bool { f, _ := get(); return f > 0 })
	waitFor(t, 30*time.Second, "500 more messages", func() bool { f, l := get(); return l >= f+500 })
	stop.Store(true)
	if err := <-pubDone; err != nil {
		t.Fatal(err)
	}
	first, last := get()
	waitFor(t, 30*time.Second, "the last message", func() bool {
		msgs := rec.all()
		for i := len(msgs) - 1; i >= 0; i-- {
			if seqOf(t, msgs[i]) == last {
				return true
			}
		}
		return false
	})

	seen := map[int]int{}
	maxFirst, dups := 0, 0
	for i, m := range rec.all() {
		s := seqOf(t, m)
		if seen[s] == 0 && s <= maxFirst {
			t.Fatalf("message %d: %d arrived for the first time after %d", i, s, maxFirst)
		}
		if seen[s] > 0 {
			dups++
			if s > first {
				t.Errorf("%d (published after the restart) arrived twice", s)
			}
		}
		seen[s]++
		maxFirst = max(maxFirst, s)
	}
	for s := 1; s <= last; s++ {
		if seen[s] == 0 && (acked[s] || s >= first) {
			t.Errorf("message %d (acked %v, published after restart %v) never arrived", s, acked[s], s >= first)
		}
	}
	if n := testutil.ToFloat64(r.sub.mReconnects); n < 1 {
		t.Errorf("wardwatch_mqtt_reconnects_total = %v, want ≥ 1", n)
	}
	if !strings.Contains(r.logs.String(), "session_present=true") {
		t.Error("the session did not survive the broker restart")
	}
	t.Logf("%d messages, restart before %d, %d redelivered duplicates, reconnects %v",
		last, first, dups, testutil.ToFloat64(r.sub.mReconnects))
}

// TestCancel checks that Run returns nil on cancel and leaves no goroutines.
func TestCancel(t *testing.T) {
	b := startBroker(t, brokerOptions{})
	before := runtime.NumGoroutine()

	rec := &recorder{}
	sub, err := NewSubscriber(fastBackoff(Config{
		Broker: b.url("tcp"), ClientID: "wardwatch-test-cancel", Topics: []string{"espresense/devices/+/+"},
	}), rec.handle, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sub.Run(ctx) }()
	waitFor(t, 20*time.Second, "connected", sub.Connected)
	if err := sub.Run(ctx); err == nil {
		t.Error("a second Run returned nil, want an error")
	}

	func() {
		pub := newPublisher(t, b.url("tcp"), nil, "", "")
		defer pub.close()
		for i := range 20 {
			if err := pub.publish(espTopic, espresense(i), 1, false); err != nil {
				t.Fatal(err)
			}
		}
	}()
	waitFor(t, 20*time.Second, "the messages", func() bool { return rec.len() == 20 })

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if sub.Connected() {
		t.Error("Connected() after Run returned")
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before Run:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCancelWhileBrokerDown: Run also returns promptly while it is waiting
// to retry.
func TestCancelWhileBrokerDown(t *testing.T) {
	cfg := fastBackoff(Config{
		Broker: fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)), ClientID: "wardwatch-test-cancel-down",
		Topics: []string{"espresense/devices/+/+"},
	})
	cfg.MinBackoff, cfg.MaxBackoff = time.Hour, time.Hour
	sub, err := NewSubscriber(cfg, (&recorder{}).handle, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sub.Run(ctx) }()
	waitFor(t, 20*time.Second, "a failed attempt", func() bool { return testutil.ToFloat64(sub.mConnectErrors) >= 1 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
