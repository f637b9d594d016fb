package modbus

import (
	"context"
	"errors"
	"fmt"
	"time"

	mb "github.com/goburrow/modbus"
	"github.com/wardwatch/wardwatch"
)

// idleReconnect is how long a connection may sit unused before the next
// poll replaces it rather than trusting it: firewalls and gateways drop
// idle TCP sessions silently, and a request on such a session only times
// out.
const idleReconnect = 60 * time.Second

// fieldResult is one field's outcome in one poll.
type fieldResult struct {
	raw   []byte // as read (a copy); nil when the field was not read
	value float64
	err   error // why there is no value
}

// pollResult is the outcome of one poll of one device.
type pollResult struct {
	kind        errKind // the worst request outcome
	err         error   // the error that set kind
	answered    bool    // at least one request returned data
	reconnected bool    // the poll opened a connection after a failure
	at          time.Time
	duration    time.Duration
	fields      []fieldResult
}

// target is what a poll needs to know about a device.
type target struct {
	dev   Device
	prof  Profile
	plan  []Request
	split map[int]bool // plan entries to read field by field
	pkg   mb.Packager
}

func newTarget(d Device, p Profile) *target {
	return &target{dev: d, prof: p, plan: Plan(p.Fields, p.MaxGap), split: map[int]bool{}, pkg: newPackager(d)}
}

// poll reads every field of t over b: it waits for the bus (or ctx), sends
// the planned reads, and decodes the answers. After a timeout or a
// connection or protocol error it closes the connection (goburrow would
// otherwise keep a dead or desynchronised one forever) and stops: the
// fields not yet read get the same error. An exception fails only the
// fields of its read; "illegal data address" on a read that spans several
// fields makes them be read one by one, now and in later polls. The only
// error returned is ctx's, when it ended before the bus was free.
func poll(ctx context.Context, b *bus, t *target, closeAfter bool, now func() time.Time) (pollResult, error) {
	res := pollResult{fields: make([]fieldResult, len(t.prof.Fields))}
	if err := b.acquire(ctx); err != nil {
		return res, err
	}
	start := time.Now()
	exchange(b, t, &res)
	if closeAfter && b.connected {
		b.drop(false)
	}
	b.release()
	res.duration = time.Since(start)
	res.at = now().UTC()
	for i := range res.fields {
		fr := &res.fields[i]
		if fr.err == nil && fr.raw != nil {
			fr.value, fr.err = t.prof.Fields[i].Decode(fr.raw)
		}
	}
	return res, nil
}

// exchange talks to the device; call with b acquired.
func exchange(b *bus, t *target, res *pollResult) {
	fields := t.prof.Fields
	fail := func(kind errKind, err error, from int) {
		if kind > res.kind {
			res.kind, res.err = kind, err
		}
		for i := from; i < len(t.plan); i++ {
			for _, fi := range t.plan[i].Fields {
				if res.fields[fi].err == nil && res.fields[fi].raw == nil {
					res.fields[fi].err = err
				}
			}
		}
	}
	if b.connected && time.Since(b.lastUse) > idleReconnect {
		b.drop(false)
	}
	b.link.setTimeout(t.dev.timeout())
	if !b.connected {
		if err := b.link.Connect(); err != nil {
			b.drop(true)
			kind := classify(err)
			if kind != kindTimeout {
				kind = kindError
			}
			fail(kind, &connectError{err}, 0)
			return
		}
		if b.failed {
			res.reconnected = true
			b.failed = false
		}
		b.connected = true
	}
	client := mb.NewClient2(t.pkg, b.link)
	for i, req := range t.plan {
		reqs := []Request{req}
		if t.split[i] {
			reqs = splitRequest(fields, req)
		}
		for j := 0; j < len(reqs); j++ {
			r := reqs[j]
			data, err := read(client, r)
			b.lastUse = time.Now()
			if err == nil && len(data) != responseSize(r) {
				err = fmt.Errorf("response to a read of %d %s(s) at %d has %d data bytes, expected %d", r.Count, r.Table, r.Address, len(data), responseSize(r))
			}
			switch kind := classify(err); kind {
			case kindOK:
				res.answered = true
				for _, fi := range r.Fields {
					raw, err := fieldRaw(r, data, fields[fi])
					if err != nil {
						res.fields[fi].err = err
						continue
					}
					res.fields[fi].raw = append([]byte(nil), raw...)
				}
			case kindException:
				var ex *ExceptionError
				if errors.As(err, &ex) && ex.Code == ExceptionIllegalDataAddress && len(r.Fields) > 1 && !t.split[i] {
					// Some field of the merged read, or a gap between
					// fields, is not readable: read them one by one.
					t.split[i] = true
					reqs = append(reqs, splitRequest(fields, r)...)
					continue
				}
				if kind > res.kind {
					res.kind, res.err = kind, err
				}
				for _, fi := range r.Fields {
					res.fields[fi].err = err
				}
			default:
				// The connection is dead or out of step: a reply that
				// comes late would be taken for the next request's.
				b.drop(true)
				for _, fi := range r.Fields {
					res.fields[fi].err = err
				}
				for _, rest := range reqs[j+1:] {
					for _, fi := range rest.Fields {
						res.fields[fi].err = err
					}
				}
				fail(kind, err, i+1)
				return
			}
		}
	}
}

// TestResult is one trial poll of a device, for the admin UI's "test
// connection" button.
type TestResult struct {
	Device   string
	Profile  string
	Duration time.Duration // time on the bus
	Fields   []FieldTest
}

// FieldTest is one field's outcome in a trial poll: the raw data beside
// the value, or why there is none.
type FieldTest struct {
	Name    string
	Metric  wardwatch.Metric
	Table   Table
	Address uint16
	Type    Type
	Raw     string  // registers as hex words in wire order ("00C8 FFFF"), or a bit ("1"); "" when not read
	Value   float64 // in Unit; meaningful when Error is ""
	Unit    string  // the metric's unit (°C, Pa, %RH…)
	Error   string
}

// TestDevice polls d once with profile p over a connection of its own and
// reports every field. A device or profile that does not validate is an
// EINVALID error; a device that cannot be reached or does not answer is an
// EUNAVAILABLE error, with the result's fields saying so too. Exceptions
// and undecodable values are per-field errors, not errors of the call. Do
// not use it for a serial port the collector is polling: use
// (*Collector).TestDevice, which shares the port.
func TestDevice(ctx context.Context, d Device, p Profile) (TestResult, error) {
	return testDevice(ctx, nil, d, p)
}

func testDevice(ctx context.Context, b *bus, d Device, p Profile) (TestResult, error) {
	d.Enabled = true
	if err := d.Validate(); err != nil {
		return TestResult{}, err
	}
	if err := p.Validate(); err != nil {
		return TestResult{}, err
	}
	if b == nil {
		b = newBus(d)
		defer func() {
			if b.acquire(context.Background()) == nil {
				b.drop(false)
				b.release()
			}
		}()
	}
	res, err := poll(ctx, b, newTarget(d, p), false, time.Now)
	if err != nil {
		return TestResult{}, wardwatch.Errorf(wardwatch.EUNAVAILABLE, "test of device %q cancelled: %v", d.Name, err)
	}
	tr := TestResult{Device: d.Name, Profile: p.Name, Duration: res.duration}
	for i, f := range p.Fields {
		fr := res.fields[i]
		ft := FieldTest{Name: f.Name, Metric: f.Metric, Table: f.Table, Address: f.Address, Type: f.Type, Unit: f.Metric.Unit()}
		if fr.raw != nil {
			ft.Raw = rawHex(f, fr.raw)
		}
		if fr.err != nil {
			ft.Error = describe(fr.err, d)
		} else {
			ft.Value = fr.value
		}
		tr.Fields = append(tr.Fields, ft)
	}
	if !res.answered && res.kind >= kindTimeout {
		return tr, &wardwatch.Error{Code: wardwatch.EUNAVAILABLE, Message: fmt.Sprintf("device %q: %s", d.Name, describe(res.err, d)), Err: res.err}
	}
	return tr, nil
}
