// Command mqttload measures how fast WardWatch's MQTT subscriber
// (collectors/mqtt) takes ESPresense-style sightings off a broker, against
// mosquitto_sub as the yardstick, in one run.
//
//	go run ./cmd/mqttload [-n 100000] [-qos 1] [-broker tcp://host:port]
//
// It publishes n messages as fast as it can, on topics
// espresense/devices/iBeacon:<uuid>-1-<minor>/<room> with realistic JSON
// payloads, while two receivers subscribed to espresense/devices/# count
// them: `mosquitto_sub -C` and a collectors/mqtt Subscriber whose handler
// is the service's ingestion path (the ESPresense parser, the collectors'
// Router and the location engine's Runner, on a one-floor site with one
// node per room). For each receiver it prints messages per second from the
// first publish to the last message handled, and the ratio of the two;
// then what the engine made of them (sightings accepted, positions
// published).
//
// Without -broker it starts a private Mosquitto on a free loopback port
// (with max_queued_messages 0, so the broker queues rather than drops for a
// receiver that falls behind) and stops it at the end. Mosquitto comes from
// -mosquitto, $WARDWATCH_TEST_MOSQUITTO, PATH or /usr/sbin (see
// scripts/ensure-mosquitto.sh); mosquitto_sub from PATH.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/wardwatch/wardwatch/collectors/mqtt"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "mqttload: %v\n", err)
		os.Exit(1)
	}
}

// readyTopic carries a retained probe: mosquitto_sub prints it right after
// its subscription is in place.
const readyTopic = "wardwatch/mqttload/ready"

// filter is what both receivers subscribe to.
const filter = "espresense/devices/#"

type options struct {
	n                  int
	qos                int
	mode               string
	broker             string
	host, port         string
	username, password string
	mosquitto, sub     string
	devices, rooms     int
	window             int
	idle               time.Duration
	verbose            bool
	tag                string
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("mqttload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.n, "n", 100000, "messages to publish")
	fs.IntVar(&o.qos, "qos", 1, "publish QoS, 0 or 1 (both receivers subscribe at QoS 1); drain needs 1")
	fs.StringVar(&o.mode, "mode", "stream", "stream: receivers run while the publisher publishes; "+
		"drain: the broker queues all messages for the receivers' persistent sessions first, then both reconnect and drain them")
	fs.StringVar(&o.broker, "broker", "", "broker URL tcp://host:port; empty starts a private mosquitto on loopback")
	fs.StringVar(&o.username, "username", "", "broker username")
	fs.StringVar(&o.password, "password", "", "broker password")
	fs.StringVar(&o.mosquitto, "mosquitto", "", "mosquitto binary for the private broker (default $WARDWATCH_TEST_MOSQUITTO, PATH, /usr/sbin/mosquitto)")
	fs.StringVar(&o.sub, "mosquitto-sub", "mosquitto_sub", "mosquitto_sub binary")
	fs.IntVar(&o.devices, "devices", 500, "distinct tags (iBeacon minors)")
	fs.IntVar(&o.rooms, "rooms", 40, "distinct rooms (ESPresense nodes)")
	fs.IntVar(&o.window, "window", 1000, "publishes in flight at once")
	fs.DurationVar(&o.idle, "idle-timeout", 15*time.Second, "give up when no receiver has progressed for this long")
	fs.BoolVar(&o.verbose, "v", false, "log the subscriber's connection events")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.n < 1 || (o.qos != 0 && o.qos != 1) || o.devices < 1 || o.rooms < 1 || o.window < 1 || fs.NArg() > 0 ||
		(o.mode != "stream" && o.mode != "drain") || (o.mode == "drain" && o.qos != 1) {
		fs.Usage()
		return flag.ErrHelp
	}
	o.tag = strconv.Itoa(os.Getpid())

	brokerURL, version := o.broker, "external"
	if brokerURL == "" {
		b, err := startBroker(ctx, o.mosquitto, getenv)
		if err != nil {
			return err
		}
		defer b.stop()
		brokerURL, version = b.url, b.version
	}
	u, err := url.Parse(brokerURL)
	if err != nil || (u.Scheme != "tcp" && u.Scheme != "mqtt") || u.Port() == "" {
		return fmt.Errorf("-broker %q: want tcp://host:port", brokerURL)
	}
	o.broker, o.host, o.port = brokerURL, u.Hostname(), u.Port()

	pub, err := connect(o, "mqttload-pub-"+o.tag, true)
	if err != nil {
		return err
	}
	defer pub.Disconnect(250)

	fmt.Fprintf(stdout, "mqttload: %s mode, %d messages at QoS %d, %d tags x %d rooms, broker %s (%s)\n",
		o.mode, o.n, o.qos, o.devices, o.rooms, brokerURL, version)
	if o.mode == "drain" {
		return drain(ctx, o, pub, stdout, stderr)
	}
	return stream(ctx, o, pub, stdout, stderr)
}

// stream runs both receivers while the publisher publishes.
func stream(ctx context.Context, o options, pub paho.Client, stdout, stderr io.Writer) error {
	if err := wait(pub.Publish(readyTopic, 1, true, "ready")); err != nil {
		return fmt.Errorf("publish probe: %w", err)
	}
	defer func() { _ = wait(pub.Publish(readyTopic, 1, true, "")) }() // clear the retained probe

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msub, subReady, stopSub, err := startMosquittoSub(ctx, o, "mqttload-sub-"+o.tag, false, true, stderr)
	if err != nil {
		return err
	}
	defer stopSub()
	ww, sub, stopWW, err := startSubscriber(ctx, o, "mqttload-ww-"+o.tag, true, stderr)
	if err != nil {
		return err
	}
	defer stopWW()
	if err := until(ctx, 30*time.Second, func() bool {
		select {
		case <-subReady:
			return sub.Connected()
		default:
			return false
		}
	}); err != nil {
		return fmt.Errorf("receivers did not subscribe: %w", err)
	}

	start := time.Now()
	msub.start, ww.start = start, start
	var payloadBytes atomic.Int64
	if err := publish(ctx, pub, o, &payloadBytes); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	reportPublish(stdout, o, time.Since(start), payloadBytes.Load())
	return finish(ctx, o, stdout, msub, ww)
}

// drain has the broker queue every message for both receivers' persistent
// sessions, then starts both receivers at once and times how fast each
// empties its queue: their own speed, not the publisher's.
func drain(ctx context.Context, o options, pub paho.Client, stdout, stderr io.Writer) error {
	subID, wwID := "mqttload-sub-"+o.tag, "mqttload-ww-"+o.tag
	defer func() { // forget the sessions
		for _, id := range []string{subID, wwID} {
			if c, err := connect(o, id, true); err == nil {
				c.Disconnect(100)
			}
		}
	}()

	// Create both sessions and their subscriptions, then leave.
	args := append(subArgs(o, subID, true, false), "-E")
	if out, err := exec.CommandContext(ctx, o.sub, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("mosquitto_sub -E: %w\n%s", err, out)
	}
	{
		ctx, cancel := context.WithCancel(ctx)
		_, sub, stop, err := startSubscriber(ctx, o, wwID, false, stderr)
		if err != nil {
			cancel()
			return err
		}
		err = until(ctx, 30*time.Second, sub.Connected)
		stop()
		cancel()
		if err != nil {
			return fmt.Errorf("subscriber did not subscribe: %w", err)
		}
	}

	start := time.Now()
	var payloadBytes atomic.Int64
	if err := publish(ctx, pub, o, &payloadBytes); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	reportPublish(stdout, o, time.Since(start), payloadBytes.Load())

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start = time.Now()
	msub, _, stopSub, err := startMosquittoSub(ctx, o, subID, true, false, stderr)
	if err != nil {
		return err
	}
	defer stopSub()
	ww, _, stopWW, err := startSubscriber(ctx, o, wwID, false, stderr)
	if err != nil {
		return err
	}
	defer stopWW()
	msub.start, ww.start = start, start
	return finish(ctx, o, stdout, msub, ww)
}

// finish waits for both receivers, or until neither has progressed for
// o.idle, and prints their rates.
func finish(ctx context.Context, o options, w io.Writer, msub, ww *receiver) error {
	last := [2]int64{-1, -1}
	lastProgress := time.Now()
	for !msub.finished() || !ww.finished() {
		now := [2]int64{msub.count.Load(), ww.count.Load()}
		if now != last {
			last, lastProgress = now, time.Now()
		} else if time.Since(lastProgress) > o.idle {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	a, b := msub.report(w), ww.report(w)
	if ww.pipeline != nil {
		// Let the engine publish the last sightings before reporting.
		time.Sleep(time.Second)
		ww.pipeline.report(w)
	}
	if a > 0 && b > 0 {
		fmt.Fprintf(w, "ratio wardwatch / mosquitto_sub: %.3f\n", b/a)
	}
	if !msub.finished() || !ww.finished() {
		return fmt.Errorf("not every message arrived within the idle timeout (%v)", o.idle)
	}
	return nil
}

func reportPublish(w io.Writer, o options, d time.Duration, payloadBytes int64) {
	fmt.Fprintf(w, "%-14s %8.3f s  %9.0f msgs/s  (avg payload %d B)\n",
		"publish", d.Seconds(), float64(o.n)/d.Seconds(), payloadBytes/int64(o.n))
}

// subArgs is mosquitto_sub's command line.
func subArgs(o options, id string, persistent, probe bool) []string {
	a := []string{"-h", o.host, "-p", o.port, "-q", "1", "-i", id, "-t", filter}
	if persistent {
		a = append(a, "-c")
	}
	if probe {
		a = append(a, "-t", readyTopic)
	}
	if o.username != "" {
		a = append(a, "-u", o.username, "-P", o.password)
	}
	return a
}

// startMosquittoSub starts mosquitto_sub and counts the lines (payloads) it
// prints. With probe it also subscribes to readyTopic, and ready is closed
// when the retained probe arrives; otherwise ready is closed at once.
func startMosquittoSub(ctx context.Context, o options, id string, persistent, probe bool, stderr io.Writer) (r *receiver, ready <-chan struct{}, stop func(), err error) {
	skip := 0
	if probe {
		skip = 1
	}
	args := append(subArgs(o, id, persistent, probe), "-C", strconv.Itoa(o.n+skip))
	cmd := exec.CommandContext(ctx, o.sub, args...)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, fmt.Errorf("start mosquitto_sub (install mosquitto-clients, or see scripts/ensure-mosquitto.sh): %w", err)
	}
	r = newReceiver("mosquitto_sub", o.n)
	readyCh := make(chan struct{})
	if skip == 0 {
		close(readyCh)
	}
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		br := bufio.NewReaderSize(out, 1<<16)
		for {
			_, err := br.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				continue // a longer payload than ours; the rest follows
			}
			if err != nil {
				return
			}
			if skip > 0 {
				skip--
				if skip == 0 {
					close(readyCh)
				}
				continue
			}
			r.add()
		}
	}()
	stop = func() {
		if !r.finished() {
			_ = cmd.Process.Kill()
		}
		<-readerDone
		_ = cmd.Wait()
	}
	return r, readyCh, stop, nil
}

// startSubscriber runs a collectors/mqtt Subscriber whose handler counts.
func startSubscriber(ctx context.Context, o options, id string, clean bool, stderr io.Writer) (*receiver, *mqtt.Subscriber, func(), error) {
	r := newReceiver("wardwatch", o.n)
	logger := slog.New(slog.DiscardHandler)
	if o.verbose {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	p := newPipeline(o)
	handle := func(ctx context.Context, m mqtt.Message) {
		p.handle(ctx, m)
		r.add()
	}
	r.pipeline = p
	sub, err := mqtt.NewSubscriber(mqtt.Config{
		Broker: o.broker, ClientID: id, Username: o.username, Password: o.password,
		Topics: []string{filter}, CleanSession: clean,
	}, handle, logger, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 2)
	go func() { done <- sub.Run(ctx) }()
	go func() { done <- p.runner.Run(ctx) }()
	return r, sub, func() { cancel(); <-done; <-done }, nil
}

// receiver counts messages and notes when the last one arrived.
type receiver struct {
	name  string
	n     int64
	start time.Time
	count atomic.Int64
	end   time.Time
	once  sync.Once
	done  chan struct{}

	pipeline *pipeline // WardWatch's: parse, route, locate
}

func newReceiver(name string, n int) *receiver {
	return &receiver{name: name, n: int64(n), done: make(chan struct{})}
}

func (r *receiver) add() {
	if r.count.Add(1) == r.n {
		r.once.Do(func() { r.end = time.Now(); close(r.done) })
	}
}

func (r *receiver) finished() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// report prints the receiver's rate and returns it (0 when incomplete).
func (r *receiver) report(w io.Writer) float64 {
	if !r.finished() {
		fmt.Fprintf(w, "%-14s incomplete: %d of %d messages\n", r.name, r.count.Load(), r.n)
		return 0
	}
	secs := r.end.Sub(r.start).Seconds()
	rate := float64(r.n) / secs
	fmt.Fprintf(w, "%-14s %8.3f s  %9.0f msgs/s\n", r.name, secs, rate)
	return rate
}

// publish sends o.n ESPresense-style messages, keeping up to o.window
// publishes in flight.
func publish(ctx context.Context, c paho.Client, o options, bytes *atomic.Int64) error {
	rng := rand.New(rand.NewPCG(1, 2))
	inflight := make([]paho.Token, 0, o.window)
	var buf []byte
	for i := range o.n {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		minor := i % o.devices
		room := (i / o.devices * 7919) % o.rooms
		id := fmt.Sprintf("iBeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0-1-%d", minor)
		rssi := -55 - rng.Float64()*40
		dist := 0.3 + rng.Float64()*12
		buf = fmt.Appendf(buf[:0], `{"mac":"c0ffee%06x","id":"%s","name":"pump-%d","rssi@1m":-59,"rssi":%.2f,"rxAdj":0,"rssiVar":%.2f,"distance":%.2f,"var":%.2f,"close":%t,"int":%d}`,
			minor, id, minor, rssi, rng.Float64()*6, dist, rng.Float64(), dist < 1, 100+rng.IntN(900))
		bytes.Add(int64(len(buf)))
		topic := fmt.Sprintf("espresense/devices/%s/ward-%02d", id, room)
		payload := append([]byte(nil), buf...)
		if len(inflight) == o.window {
			if err := wait(inflight[0]); err != nil {
				return err
			}
			inflight = inflight[1:]
		}
		inflight = append(inflight, c.Publish(topic, byte(o.qos), false, payload))
	}
	for _, t := range inflight {
		if err := wait(t); err != nil {
			return err
		}
	}
	return nil
}

func wait(t paho.Token) error {
	if !t.WaitTimeout(30 * time.Second) {
		return errors.New("no acknowledgement within 30s")
	}
	return t.Error()
}

// until polls cond every 10 ms until it holds, ctx is done or limit passes.
func until(ctx context.Context, limit time.Duration, cond func() bool) error {
	for deadline := time.Now().Add(limit); !cond(); {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// connect connects a paho client (the publisher, or to wipe a session).
func connect(o options, id string, clean bool) (paho.Client, error) {
	c := paho.NewClient(paho.NewClientOptions().
		AddBroker(o.broker).SetClientID(id).SetUsername(o.username).SetPassword(o.password).
		SetCleanSession(clean).SetProtocolVersion(4).SetAutoReconnect(false).SetConnectTimeout(10 * time.Second))
	if err := wait(c.Connect()); err != nil {
		return nil, fmt.Errorf("connect %s to %s: %w", id, o.broker, err)
	}
	return c, nil
}

// broker is a private Mosquitto process.
type broker struct {
	url, version string
	dir          string
	cmd          *exec.Cmd
	exited       chan struct{}
}

// startBroker starts Mosquitto on a free loopback port and waits until it
// accepts connections.
func startBroker(ctx context.Context, bin string, getenv func(string) string) (*broker, error) {
	if bin == "" {
		bin = getenv("WARDWATCH_TEST_MOSQUITTO")
	}
	if bin == "" {
		for _, c := range []string{"mosquitto", "/usr/sbin/mosquitto"} {
			if p, err := exec.LookPath(c); err == nil {
				bin = p
				break
			}
		}
	}
	if bin == "" {
		return nil, errors.New("mosquitto not found: run scripts/ensure-mosquitto.sh, or pass -mosquitto or -broker")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", "mqttload-")
	if err != nil {
		return nil, err
	}
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nlog_dest stderr\n", port)
	if os.Geteuid() == 0 {
		conf += "user root\n"
	}
	confPath := filepath.Join(dir, "mosquitto.conf")
	logPath := filepath.Join(dir, "mosquitto.log")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "-c", confPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	b := &broker{url: fmt.Sprintf("tcp://127.0.0.1:%d", port), dir: dir, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(b.exited) }()
	out, _ := exec.Command(bin, "-h").CombinedOutput() // exits non-zero after printing its version
	b.version = firstLine(out)
	err = until(ctx, 15*time.Second, func() bool {
		select {
		case <-b.exited:
			return true
		default:
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	select {
	case <-b.exited:
		out, _ := os.ReadFile(logPath)
		b.stop()
		return nil, fmt.Errorf("mosquitto exited at start:\n%s", out)
	default:
	}
	if err != nil {
		b.stop()
		return nil, fmt.Errorf("mosquitto does not accept connections: %w", err)
	}
	return b, nil
}

// stop terminates the broker, waits for it and removes its directory.
func (b *broker) stop() {
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.exited:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.exited
	}
	os.RemoveAll(b.dir)
}

func firstLine(b []byte) string {
	for i, c := range b {
		if c == '\n' {
			return string(b[:i])
		}
	}
	return string(b)
}
