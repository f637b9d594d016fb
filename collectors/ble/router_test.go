package ble

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wardwatch/wardwatch"
)

// countingResolver is a GatewayResolver over a map that counts lookups.
type countingResolver struct {
	mu    sync.Mutex
	byKey map[string]wardwatch.Gateway
	err   error
	calls map[string]int
}

func newCountingResolver(gws ...wardwatch.Gateway) *countingResolver {
	r := &countingResolver{byKey: map[string]wardwatch.Gateway{}, calls: map[string]int{}}
	for _, g := range gws {
		r.byKey[g.Key] = g
	}
	return r
}

func (r *countingResolver) GatewayByKey(_ context.Context, key string) (wardwatch.Gateway, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[key]++
	if r.err != nil {
		return wardwatch.Gateway{}, r.err
	}
	g, ok := r.byKey[key]
	if !ok {
		return wardwatch.Gateway{}, wardwatch.Errorf(wardwatch.ENOTFOUND, "no gateway %q", key)
	}
	return g, nil
}

func (r *countingResolver) callsFor(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[key]
}

// readingRecorder is a ReadingSink that records readings.
type readingRecorder struct {
	mu  sync.Mutex
	got []wardwatch.Reading
	err error
}

func (r *readingRecorder) SubmitReadings(_ context.Context, rs []wardwatch.Reading) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.got = append(r.got, rs...)
	return nil
}

var (
	gwBay2 = wardwatch.Gateway{ID: 21, Key: espRoom, RSSIAt1m: -65, PathLossExponent: 3}
	gwBay3 = wardwatch.Gateway{ID: 22, Key: "ward4-bay3"}
	gwOMG  = wardwatch.Gateway{ID: 23, Key: omgGW}
	gwMW   = wardwatch.Gateway{ID: 24, Key: minewGW}
)

type routerEnv struct {
	res      *countingResolver
	sink     *fakeSink
	readings *readingRecorder
	reg      *prometheus.Registry
	r        *Router
}

func newRouterEnv(t *testing.T, opt RouterOptions) *routerEnv {
	t.Helper()
	env := &routerEnv{
		res:      newCountingResolver(gwBay2, gwBay3, gwOMG, gwMW),
		sink:     &fakeSink{},
		readings: &readingRecorder{},
		reg:      prometheus.NewRegistry(),
	}
	env.r = NewRouter(env.res, env.sink, env.readings, nil, env.reg, opt)
	return env
}

func (env *routerEnv) handle(t *testing.T, format Format, topic, payload string, now time.Time) (RouteResult, error) {
	t.Helper()
	return env.r.Handle(context.Background(), format, topic, []byte(payload), now)
}

// counter returns the value of name with the given label values (in the
// order format, result/reason), failing when the series is missing.
func counter(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i, lp := range m.GetLabel() {
				if i >= len(labels) || lp.GetValue() != labels[i] {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s%v not found", name, labels)
	return 0
}

func espMsg(id string, rssi int) string {
	return fmt.Sprintf(`{"id":%q,"rssi":%d,"rssi@1m":-59}`, id, rssi)
}

func TestRouterGatewayCache(t *testing.T) {
	env := newRouterEnv(t, RouterOptions{CacheTTL: time.Minute, NegativeTTL: 10 * time.Second})
	now := testNow
	for i := range 3 {
		if _, err := env.handle(t, FormatESPresense, espTopic, espMsg(espPumpID, -60-i), now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if n := env.res.callsFor(espRoom); n != 1 {
		t.Errorf("resolver called %d times for 3 messages within the TTL, want 1", n)
	}
	got := env.sink.all()
	if len(got) != 3 || got[0].GatewayID != gwBay2.ID || got[2].RSSI != -62 || got[0].TagID != tagPump {
		t.Fatalf("sink got %+v", got)
	}
	// After the TTL the gateway is looked up again.
	if _, err := env.handle(t, FormatESPresense, espTopic, espMsg(espPumpID, -60), now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n := env.res.callsFor(espRoom); n != 2 {
		t.Errorf("resolver called %d times after the TTL, want 2", n)
	}
	if v := counter(t, env.reg, "wardwatch_collector_messages_total", "espresense", "ok"); v != 4 {
		t.Errorf("messages ok = %v, want 4", v)
	}
	if v := counter(t, env.reg, "wardwatch_collector_observations_total", "espresense"); v != 4 {
		t.Errorf("observations = %v, want 4", v)
	}
}

func TestRouterUnknownGateway(t *testing.T) {
	env := newRouterEnv(t, RouterOptions{NegativeTTL: 10 * time.Second})
	topic := "espresense/devices/x/attic"
	for i := range 3 {
		res, err := env.handle(t, FormatESPresense, topic, espMsg(espPumpID, -60), testNow.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if res.UnknownGateway != 1 || res.Sightings != 0 {
			t.Errorf("result %+v", res)
		}
	}
	if n := env.res.callsFor("attic"); n != 1 {
		t.Errorf("resolver called %d times within the negative TTL, want 1", n)
	}
	if _, err := env.handle(t, FormatESPresense, topic, espMsg(espPumpID, -60), testNow.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n := env.res.callsFor("attic"); n != 2 {
		t.Errorf("resolver called %d times after the negative TTL, want 2", n)
	}
	if v := counter(t, env.reg, "wardwatch_collector_messages_total", "espresense", "unknown_gateway"); v != 4 {
		t.Errorf("messages unknown_gateway = %v, want 4", v)
	}
	if v := counter(t, env.reg, "wardwatch_collector_dropped_total", "espresense", "unknown_gateway"); v != 4 {
		t.Errorf("dropped unknown_gateway = %v, want 4", v)
	}
	if len(env.sink.all()) != 0 {
		t.Errorf("sink got sightings from an unknown gateway")
	}
	// The gateway is registered: found after the negative TTL.
	env.res.mu.Lock()
	env.res.byKey["attic"] = wardwatch.Gateway{ID: 99, Key: "attic"}
	env.res.mu.Unlock()
	if res, err := env.handle(t, FormatESPresense, topic, espMsg(espPumpID, -60), testNow.Add(2*time.Minute)); err != nil || res.Sightings != 1 {
		t.Errorf("after registering: %+v, %v", res, err)
	}
}

func TestRouterPartialMinewBatch(t *testing.T) {
	env := newRouterEnv(t, RouterOptions{})
	body := `[{"type":"Gateway","mac":"AC233FC0A1B2"},
		{"type":"iBeacon","mac":"C30000250F6A","ibeaconUuid":"E2C56DB5DFFB48D2B060D0F5A71096E0","ibeaconMajor":1,"ibeaconMinor":42,"rssi":-65},
		{"type":"iBeacon","mac":"C30000250F6A","ibeaconUuid":"E2C56DB5DFFB48D2B060D0F5A71096E0","ibeaconMajor":1,"ibeaconMinor":42,"rssi":99}]`
	res, err := env.handle(t, FormatMinewJSONLong, "/gw/ac233fc0a1b2/status", body, testNow)
	if err != nil || res.Sightings != 1 {
		t.Fatalf("%+v, %v", res, err)
	}
	if v := counter(t, env.reg, "wardwatch_collector_messages_total", "minew_json_long", "partial"); v != 1 {
		t.Errorf("partial = %v", v)
	}
	if v := counter(t, env.reg, "wardwatch_collector_dropped_total", "minew_json_long", "invalid"); v != 1 {
		t.Errorf("dropped invalid = %v", v)
	}
}

func TestRouterMalformedAndTooLarge(t *testing.T) {
	env := newRouterEnv(t, RouterOptions{})
	if _, err := env.handle(t, FormatESPresense, espTopic, `{"id":`, testNow); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
		t.Errorf("malformed: %v", err)
	}
	if _, err := env.handle(t, FormatESPresense, espTopic, `{"id":"x","rssi":7}`, testNow); err != nil {
		t.Errorf("bad item: %v", err)
	}
	big := `{"x":"` + strings.Repeat("a", MaxMessageBytes) + `"}`
	if _, err := env.handle(t, FormatESPresense, espTopic, big, testNow); wardwatch.ErrorCode(err) != wardwatch.ETOOLARGE {
		t.Errorf("too large: %v", err)
	}
	if _, err := env.handle(t, "nonsense", "x", `{}`, testNow); err == nil {
		t.Errorf("unknown format accepted")
	}
	if v := counter(t, env.reg, "wardwatch_collector_messages_total", "espresense", "malformed"); v != 2 {
		t.Errorf("malformed = %v, want 2", v)
	}
	if v := counter(t, env.reg, "wardwatch_collector_messages_total", "espresense", "too_large"); v != 1 {
		t.Errorf("too_large = %v, want 1", v)
	}
	if v := counter(t, env.reg, "wardwatch_collector_messages_total", "other", "malformed"); v != 1 {
		t.Errorf("other malformed = %v, want 1", v)
	}
	// Random MACs are counted as dropped, the message as ok.
	if _, err := env.handle(t, FormatESPresense, espTopic, `{"id":"5a0102030405","idType":1,"rssi":-60}`, testNow); err != nil {
		t.Fatal(err)
	}
	if v := counter(t, env.reg, "wardwatch_collector_dropped_total", "espresense", "random_mac"); v != 1 {
		t.Errorf("dropped random_mac = %v", v)
	}
}

func TestRouterDistanceConversion(t *testing.T) {
	env := newRouterEnv(t, RouterOptions{})
	// gwBay2 is calibrated (-65 dBm at 1 m, n = 3); gwBay3 uses the defaults.
	for _, tt := range []struct {
		room string
		d    float64
		want float64
	}{
		{espRoom, 10, -95},
		{espRoom, 1, -65},
		{"ward4-bay3", 10, -84},
		{"ward4-bay3", 0, -59 + 25}, // clamped to 0.1 m
	} {
		env.sink.got = nil
		payload := fmt.Sprintf(`{"id":"123testid","distance":%v}`, tt.d)
		if _, err := env.handle(t, FormatMQTTRoom, "room_presence/"+tt.room, payload, testNow); err != nil {
			t.Fatal(err)
		}
		got := env.sink.all()
		if len(got) != 1 || math.Abs(got[0].RSSI-tt.want) > 1e-9 {
			t.Errorf("room %s, %v m: got %+v, want rssi %v", tt.room, tt.d, got, tt.want)
		}
	}
}

func TestDistanceToRSSI(t *testing.T) {
	tests := []struct {
		d    float64
		gw   wardwatch.Gateway
		want float64
	}{
		{1, wardwatch.Gateway{}, -59},
		{10, wardwatch.Gateway{}, -84},
		{100, wardwatch.Gateway{}, -109},
		{2, wardwatch.Gateway{RSSIAt1m: -60, PathLossExponent: 2}, -60 - 20*math.Log10(2)},
		{1e6, wardwatch.Gateway{}, -130},
		{0.001, wardwatch.Gateway{RSSIAt1m: -20, PathLossExponent: 10}, 0},
		{math.NaN(), wardwatch.Gateway{}, -34},
		{10, wardwatch.Gateway{RSSIAt1m: 50, PathLossExponent: -1}, -84},
		{10, wardwatch.Gateway{RSSIAt1m: math.NaN(), PathLossExponent: math.NaN()}, -84},
	}
	for _, tt := range tests {
		if got := DistanceToRSSI(tt.d, tt.gw); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("DistanceToRSSI(%v, %+v) = %v, want %v", tt.d, tt.gw, got, tt.want)
		}
	}
}

func TestRouterMACPolicyAndReadings(t *testing.T) {
	sensor := `{"id":"A4:C1:38:11:22:33","mac_type":0,"rssi":-60,"tempc":4.2,"hum":51}`
	topic := "home/" + omgGW + "/BTtoMQTT/A4C138112233"

	env := newRouterEnv(t, RouterOptions{})
	res, err := env.handle(t, FormatTheengs, topic, sensor, testNow)
	if err != nil || res.UnconfiguredMAC != 1 || res.Sightings != 0 || res.Readings != 0 {
		t.Fatalf("no AllowMAC: %+v, %v", res, err)
	}
	if len(env.sink.all()) != 0 || len(env.readings.got) != 0 {
		t.Errorf("MAC-derived identity got through")
	}
	if v := counter(t, env.reg, "wardwatch_collector_dropped_total", "theengs", "unconfigured_mac"); v != 1 {
		t.Errorf("dropped unconfigured_mac = %v", v)
	}
	if v := counter(t, env.reg, "wardwatch_collector_readings_total", "theengs", "dropped"); v != 2 {
		t.Errorf("readings dropped = %v", v)
	}

	env = newRouterEnv(t, RouterOptions{AllowMAC: func(tag string) bool { return tag == "mac:a4c138112233" }})
	res, err = env.handle(t, FormatTheengs, topic, sensor, testNow)
	if err != nil || res.Sightings != 1 || res.Readings != 2 {
		t.Fatalf("with AllowMAC: %+v, %v", res, err)
	}
	if got := env.readings.got; len(got) != 2 || got[0].SensorID != "mac:a4c138112233" || got[0].Value != 4.2 {
		t.Errorf("readings %+v", got)
	}
	// Another MAC is still dropped.
	res, _ = env.handle(t, FormatTheengs, topic, strings.Replace(sensor, "A4:C1:38:11:22:33", "A4:C1:38:11:22:34", 1), testNow)
	if res.UnconfiguredMAC != 1 {
		t.Errorf("unconfigured MAC: %+v", res)
	}
}

func TestRouterReadingsWithoutSink(t *testing.T) {
	reg := prometheus.NewRegistry()
	sink := &fakeSink{}
	r := NewRouter(newCountingResolver(gwBay2), sink, nil, nil, reg, RouterOptions{})
	res, err := r.Handle(context.Background(), FormatESPresense, espTopic, []byte(`{"id":"`+espPumpID+`","rssi":-60,"temp":21.5,"batt":80}`), testNow)
	if err != nil || res.Sightings != 1 || res.Readings != 0 {
		t.Fatalf("%+v, %v", res, err)
	}
	if v := counter(t, reg, "wardwatch_collector_readings_total", "espresense", "dropped"); v != 2 {
		t.Errorf("readings dropped = %v", v)
	}
}

func TestRouterTLMAssociation(t *testing.T) {
	env := newRouterEnv(t, RouterOptions{})
	topic := "/gw/ac233fc0a1b2/status"
	uid := `[{"type":"Gateway","mac":"AC233FC0A1B2"},{"type":"Unknown","mac":"C30000250F7B","rssi":-71,"rawData":"` + advEddystoneUID + `"}]`
	tlm := `[{"type":"Gateway","mac":"AC233FC0A1B2"},{"type":"Unknown","mac":"C30000250F7B","rssi":-72,"rawData":"` + advEddystoneTLM + `"}]`
	tlmOther := strings.Replace(tlm, "C30000250F7B", "C30000250F7C", 1)

	// TLM before any UID from that MAC: nothing to pair with.
	if _, err := env.handle(t, FormatMinewJSONLong, topic, tlm, testNow); err != nil {
		t.Fatal(err)
	}
	if len(env.readings.got) != 0 {
		t.Fatalf("unpaired TLM gave readings %+v", env.readings.got)
	}
	if v := counter(t, env.reg, "wardwatch_collector_dropped_total", "minew_json_long", "tlm_unassociated"); v != 1 {
		t.Errorf("tlm_unassociated = %v", v)
	}
	// UID, then TLM from the same MAC (in another message).
	if _, err := env.handle(t, FormatMinewJSONLong, topic, uid, testNow); err != nil {
		t.Fatal(err)
	}
	res, err := env.handle(t, FormatMinewJSONLong, topic, tlm, testNow.Add(5*time.Second))
	if err != nil || res.Readings != 2 {
		t.Fatalf("%+v, %v", res, err)
	}
	want := []wardwatch.Reading{
		{Time: testNow.Add(5 * time.Second), SensorID: tagEddystone, Metric: wardwatch.MetricBatteryVoltage, Value: 3},
		{Time: testNow.Add(5 * time.Second), SensorID: tagEddystone, Metric: wardwatch.MetricTemperature, Value: 23.5},
	}
	for i := range want {
		if env.readings.got[i] != want[i] {
			t.Errorf("reading %d = %+v, want %+v", i, env.readings.got[i], want[i])
		}
	}
	// A TLM from another MAC is not paired.
	if res, _ := env.handle(t, FormatMinewJSONLong, topic, tlmOther, testNow.Add(6*time.Second)); res.Readings != 0 {
		t.Errorf("other MAC paired: %+v", res)
	}
	// Too old: not paired any more.
	if res, _ := env.handle(t, FormatMinewJSONLong, topic, tlm, testNow.Add(DefaultTLMMaxAge+time.Minute)); res.Readings != 0 {
		t.Errorf("stale identity paired: %+v", res)
	}
}

func TestTLMAssociator(t *testing.T) {
	a := NewTLMAssociator(2, time.Minute)
	a.Remember("aa0000000001", "tag1", testNow)
	a.Remember("aa0000000002", "tag2", testNow)
	if tag, ok := a.Lookup("aa0000000001", testNow.Add(30*time.Second)); !ok || tag != "tag1" {
		t.Errorf("lookup 1 = %q, %v", tag, ok)
	}
	// Remembering a third evicts the least recently used (2: 1 was
	// refreshed by being remembered again).
	a.Remember("aa0000000001", "tag1b", testNow.Add(time.Second))
	a.Remember("aa0000000003", "tag3", testNow.Add(2*time.Second))
	if a.Len() != 2 {
		t.Errorf("Len = %d, want 2", a.Len())
	}
	if _, ok := a.Lookup("aa0000000002", testNow.Add(3*time.Second)); ok {
		t.Errorf("least recently used entry survived")
	}
	if tag, ok := a.Lookup("aa0000000001", testNow.Add(3*time.Second)); !ok || tag != "tag1b" {
		t.Errorf("lookup 1 = %q, %v; want the new identity", tag, ok)
	}
	if _, ok := a.Lookup("aa0000000003", testNow.Add(3*time.Minute)); ok {
		t.Errorf("expired entry found")
	}
	if a.Len() != 1 {
		t.Errorf("expired entry not removed: Len = %d", a.Len())
	}
	a.Remember("", "x", testNow)
	a.Remember("aa0000000009", "", testNow)
	if a.Len() != 1 {
		t.Errorf("empty MAC or tag remembered")
	}
	d := NewTLMAssociator(0, 0)
	if d.max != DefaultTLMEntries || d.maxAge != DefaultTLMMaxAge {
		t.Errorf("defaults %d %v", d.max, d.maxAge)
	}
}

func TestRouterResolverFailures(t *testing.T) {
	env := newRouterEnv(t, RouterOptions{CacheTTL: time.Minute, NegativeTTL: 10 * time.Second})
	// Warm the cache, then the store goes down.
	if _, err := env.handle(t, FormatESPresense, espTopic, espMsg(espPumpID, -60), testNow); err != nil {
		t.Fatal(err)
	}
	env.res.mu.Lock()
	env.res.err = wardwatch.Errorf(wardwatch.EUNAVAILABLE, "db down")
	env.res.mu.Unlock()

	// Expired but cached: the stale entry is used, and retried only after
	// NegativeTTL.
	later := testNow.Add(2 * time.Minute)
	for i := range 3 {
		res, err := env.handle(t, FormatESPresense, espTopic, espMsg(espPumpID, -60), later.Add(time.Duration(i)*time.Second))
		if err != nil || res.Sightings != 1 {
			t.Fatalf("stale cache: %+v, %v", res, err)
		}
	}
	if n := env.res.callsFor(espRoom); n != 2 {
		t.Errorf("resolver called %d times, want 2 (warm-up, one failed refresh)", n)
	}
	// Not cached: the error is returned and counted.
	_, err := env.handle(t, FormatESPresense, "espresense/devices/x/ward4-bay3", espMsg(espPumpID, -60), later)
	if wardwatch.ErrorCode(err) != wardwatch.EUNAVAILABLE {
		t.Errorf("err = %v, want EUNAVAILABLE", err)
	}
	if v := counter(t, env.reg, "wardwatch_collector_messages_total", "espresense", "error"); v != 1 {
		t.Errorf("error = %v", v)
	}
}

func TestRouterSinkErrorsAndBatches(t *testing.T) {
	env := newRouterEnv(t, RouterOptions{SubmitBatch: 2})
	var lines []string
	for i := range 5 {
		lines = append(lines, fmt.Sprintf("$GPRP,C30000250F6A,AC233FC0A1B2,-%d,%s", 60+i, advIBeacon))
	}
	env.res.byKey[ingicsGW] = wardwatch.Gateway{ID: 31, Key: ingicsGW}
	res, err := env.handle(t, FormatIngics, "ingics/x", strings.Join(lines, "\n"), testNow)
	if err != nil || res.Sightings != 5 {
		t.Fatalf("%+v, %v", res, err)
	}
	if len(env.sink.got) != 3 {
		t.Errorf("%d Submit calls for 5 sightings in batches of 2, want 3", len(env.sink.got))
	}
	if n := env.res.callsFor(ingicsGW); n != 1 {
		t.Errorf("resolver called %d times for one gateway", n)
	}

	env.sink.err = wardwatch.Errorf(wardwatch.EUNAVAILABLE, "queue full")
	_, err = env.handle(t, FormatIngics, "ingics/x", lines[0], testNow)
	if wardwatch.ErrorCode(err) != wardwatch.EUNAVAILABLE {
		t.Errorf("sink error = %v", err)
	}
	env.sink.err = nil
	env.readings.err = errors.New("disk full")
	_, err = env.handle(t, FormatESPresense, espTopic, `{"id":"`+espPumpID+`","rssi":-60,"temp":21}`, testNow)
	if err == nil {
		t.Errorf("reading sink error not returned")
	}
	if v := counter(t, env.reg, "wardwatch_collector_messages_total", "ingics", "error"); v != 1 {
		t.Errorf("ingics error = %v", v)
	}
}

func TestRouterCacheBounded(t *testing.T) {
	env := newRouterEnv(t, RouterOptions{CacheSize: 3})
	for i := range 20 {
		key := fmt.Sprintf("room-%d", i)
		env.res.byKey[key] = wardwatch.Gateway{ID: int64(100 + i), Key: key}
		if _, err := env.handle(t, FormatMQTTRoom, "rooms/"+key, `{"id":"x","distance":1}`, testNow); err != nil {
			t.Fatal(err)
		}
		if _, err := env.handle(t, FormatMQTTRoom, fmt.Sprintf("rooms/ghost-%d", i), `{"id":"x","distance":1}`, testNow); err != nil {
			t.Fatal(err)
		}
	}
	env.r.mu.Lock()
	known, unknown := len(env.r.known), len(env.r.unknown)
	env.r.mu.Unlock()
	if known > 3 || unknown > 3 {
		t.Errorf("cache holds %d gateways and %d unknown keys, cap 3", known, unknown)
	}
	if len(env.sink.all()) != 20 {
		t.Errorf("sink got %d sightings, want 20", len(env.sink.all()))
	}
}

func TestRouterRouteFrom(t *testing.T) {
	env := newRouterEnv(t, RouterOptions{})
	p, err := ParseIngics([]byte("$GPRP,C30000250F6A,FFFFFFFFFFFF,-67,"+advIBeacon), testNow)
	if err != nil {
		t.Fatal(err)
	}
	gw := wardwatch.Gateway{ID: 77, Key: "pushed"}
	res, err := env.r.RouteFrom(context.Background(), gw, p, testNow)
	if err != nil || res.Sightings != 1 {
		t.Fatalf("%+v, %v", res, err)
	}
	if got := env.sink.all(); got[0].GatewayID != 77 {
		t.Errorf("sighting %+v not attributed to the pushing gateway", got[0])
	}
	if len(env.res.calls) != 0 {
		t.Errorf("RouteFrom resolved gateways: %v", env.res.calls)
	}
}

func TestRouterMetricsLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewRouter(nil, &fakeSink{}, nil, nil, reg, RouterOptions{})
	NewRouter(nil, &fakeSink{}, nil, nil, reg, RouterOptions{}) // a second router shares the collectors
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric lint: %s: %s", p.Metric, p.Text)
	}
	// Bounded labels: 7 formats (6 + other) × 6 results.
	if n, err := testutil.GatherAndCount(reg, "wardwatch_collector_messages_total"); err != nil || n != 42 {
		t.Errorf("messages series = %d, %v", n, err)
	}
}

func TestRouterConcurrent(t *testing.T) {
	env := newRouterEnv(t, RouterOptions{CacheSize: 2, CacheTTL: time.Millisecond})
	topics := []string{espTopic, "espresense/devices/x/ward4-bay3", "espresense/devices/x/nowhere"}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				now := testNow.Add(time.Duration(i) * time.Millisecond)
				if _, err := env.handle(t, FormatESPresense, topics[(g+i)%len(topics)], espMsg(espPumpID, -60), now); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	ok := counter(t, env.reg, "wardwatch_collector_messages_total", "espresense", "ok")
	unknown := counter(t, env.reg, "wardwatch_collector_messages_total", "espresense", "unknown_gateway")
	if ok+unknown != 800 || float64(len(env.sink.all())) != ok {
		t.Errorf("ok %v + unknown %v != 800, or sink got %d", ok, unknown, len(env.sink.all()))
	}
}
