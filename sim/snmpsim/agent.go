// Package snmpsim is an in-process SNMP agent on a loopback UDP port that
// serves simulated infusion pumps in WardWatch's example pump MIB (see
// mib.go and collectors/snmp's built-in profiles), for the demo, the
// collector's tests and its benchmark.
//
// One agent answers as a pump server and as each pump's own agent:
//
//   - the pump server (pump table and alarm table, every pump a row):
//     SNMPv2c/v1 community Community, or SNMPv3 user User;
//   - pump i (1-based) alone, as single-pump scalars: community
//     PumpCommunity(i) ("wardwatch-sim@pump-i"), or SNMPv3 user
//     PumpUser(i) ("pump-i", same passwords as User) or context
//     PumpContext(i).
//
// So one socket stands in for thousands of pump agents in a benchmark.
//
// SNMPv3 is the User-based Security Model with authPriv only
// (AuthProtocol/PrivProtocol with AuthPassword/PrivPassword): engine ID
// discovery, HMAC checks, the 150-second time window and AES privacy. It
// answers Reports (unknown engine ID, unknown user, wrong digest, not in
// time window, decryption error), and authorizationError to a known user
// asking below authPriv, as net-snmp does for a "rouser name priv". It
// answers Get, GetNext and GetBulk, refuses Set, and drops anything else.
// Messages are decoded with gosnmp behind a bounded read and a recover:
// malformed input is counted, never fatal.
//
// The pumps are the demo hospital's (see PumpSerial): with 12, the
// infusion pumps of wards 4B and 5B. Values change between polls:
// infusing pumps' volumes grow with the clock passed to Start (read in
// whole seconds, so the requests of one table walk see one consistent
// table), batteries drain on battery and charge on mains, pumps start,
// pause, complete and alarm now and then, and one pump (the third) runs an
// old drug library.
package snmpsim

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/wardwatch/wardwatch"
)

// Credentials of the simulated agents. They protect nothing (the agent
// listens on loopback for tests and the demo); they are here so the demo
// and the tests configure their targets like real ones: v3 authPriv.
const (
	Community    = "wardwatch-sim"
	User         = "wardwatch-sim"
	AuthProtocol = "SHA256"
	AuthPassword = "sim-auth-password"
	PrivProtocol = "AES"
	PrivPassword = "sim-priv-password"
)

// PumpCommunity is the v1/v2c community, and PumpUser the v3 user, under
// which the agent answers as pump i's own agent (i from 1).
func PumpCommunity(i int) string { return Community + "@" + PumpContext(i) }

// PumpUser is the v3 user name of pump i's own agent (i from 1).
func PumpUser(i int) string { return PumpContext(i) }

// PumpContext is the v3 context name of pump i's own agent (i from 1).
func PumpContext(i int) string { return "pump-" + strconv.Itoa(i) }

// Limits of the agent.
const (
	MaxPumps            = 100000
	DefaultMaxMessage   = 1472 // bytes per response, like a single Ethernet frame
	maxRequestSize      = 8192 // requests larger than this are dropped
	maxBulkRepetitions  = 100
	maxResponseVarbinds = 2000
	timeWindow          = 150 // seconds, RFC 3414 §3.2 step 7
)

// Stats counts what the agent has seen.
type Stats struct {
	Requests     uint64 // messages answered (including Reports)
	BadCommunity uint64 // v1/v2c messages with an unknown community, dropped
	AuthFailures uint64 // v3 messages refused (unknown user, wrong digest, decryption error…)
	Malformed    uint64 // messages that could not be decoded, dropped
	Panics       uint64 // decoder panics recovered (each one a bug to report)
}

// Agent is a running simulated agent.
type Agent struct {
	conn    *net.UDPConn
	now     func() time.Time
	start   time.Time
	pumps   []*pump
	done    chan struct{}
	closing sync.Once

	engineID string
	boots    uint32
	usm      usmKeys

	mu       sync.Mutex // serialises request handling (the simulation is not concurrent)
	server   view       // the server view built at serverAt
	serverAt time.Time
	maxMsg   atomic.Int64
	dropAll  atomic.Bool

	requests, badCommunity, authFailures, malformed, panics atomic.Uint64
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves
// pumps simulated pumps from seed, with now as the simulation's clock (nil
// means time.Now), until ctx is done or Close is called.
func Start(ctx context.Context, addr string, pumps int, seed int64, now func() time.Time) (*Agent, error) {
	if pumps < 1 || pumps > MaxPumps {
		return nil, fmt.Errorf("snmpsim: pumps must be between 1 and %d", MaxPumps)
	}
	if now == nil {
		now = time.Now
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("snmpsim: %w", err)
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("snmpsim: listen: %w", err)
	}
	a, err := newAgent(pumps, seed, now, newEngineID())
	if err != nil {
		conn.Close()
		return nil, err
	}
	a.conn = conn
	go a.serve()
	go func() {
		select {
		case <-ctx.Done():
			a.Close()
		case <-a.done:
		}
	}()
	return a, nil
}

// newAgent makes an agent without its socket.
func newAgent(pumps int, seed int64, now func() time.Time, engineID string) (*Agent, error) {
	a := &Agent{now: now, start: now(), done: make(chan struct{}), boots: 1, engineID: engineID}
	a.maxMsg.Store(DefaultMaxMessage)
	var err error
	if a.usm, err = newUSMKeys(a.engineID); err != nil {
		return nil, fmt.Errorf("snmpsim: %w", err)
	}
	a.pumps = make([]*pump, pumps)
	for i := range a.pumps {
		a.pumps[i] = newPump(i, seed, a.start)
	}
	return a, nil
}

// newEngineID makes an RFC 3411 engine ID: enterprise 32473 with the
// high bit set, format 5 (octets), then random octets so each agent is
// its own engine.
func newEngineID() string {
	id := make([]byte, 5, 13)
	binary.BigEndian.PutUint32(id, 32473|0x80000000)
	id[4] = 5
	var r [8]byte
	_, _ = rand.Read(r[:])
	return string(append(id, r[:]...))
}

// Addr is the agent's address, host:port.
func (a *Agent) Addr() string { return a.conn.LocalAddr().String() }

// Port is the agent's UDP port.
func (a *Agent) Port() int { return a.conn.LocalAddr().(*net.UDPAddr).Port }

// Pumps is the number of simulated pumps.
func (a *Agent) Pumps() int { return len(a.pumps) }

// Close stops the agent and waits until it no longer answers.
func (a *Agent) Close() error {
	var err error
	a.closing.Do(func() {
		err = a.conn.Close()
		<-a.done
	})
	return err
}

// SetMaxMessageSize sets the largest response the agent sends (at least
// 484 bytes, the SNMP minimum); larger ones become tooBig errors, and
// GetBulk answers are cut short to fit.
func (a *Agent) SetMaxMessageSize(n int) { a.maxMsg.Store(int64(max(n, 484))) }

// SetSilent makes the agent drop every request (true) or answer again
// (false): a pump server that hangs without closing its port.
func (a *Agent) SetSilent(silent bool) { a.dropAll.Store(silent) }

// Stats returns the agent's counters.
func (a *Agent) Stats() Stats {
	return Stats{
		Requests:     a.requests.Load(),
		BadCommunity: a.badCommunity.Load(),
		AuthFailures: a.authFailures.Load(),
		Malformed:    a.malformed.Load(),
		Panics:       a.panics.Load(),
	}
}

func (a *Agent) serve() {
	defer close(a.done)
	buf := make([]byte, 65535)
	for {
		n, from, err := a.conn.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if n > maxRequestSize {
			a.malformed.Add(1)
			continue
		}
		if a.dropAll.Load() {
			continue
		}
		for _, out := range a.handle(buf[:n]) {
			_, _ = a.conn.WriteToUDP(out, from)
		}
	}
}

// handle answers one message: zero or more messages to send back. It never
// panics: a panic in decoding is recovered and counted.
func (a *Agent) handle(msg []byte) (out [][]byte) {
	defer func() {
		if r := recover(); r != nil {
			a.panics.Add(1)
			a.malformed.Add(1)
			out = nil
		}
	}()
	if len(msg) > maxRequestSize {
		a.malformed.Add(1)
		return nil
	}
	msg = append([]byte(nil), msg...) // gosnmp decodes in place
	a.mu.Lock()
	defer a.mu.Unlock()
	version, err := messageVersion(msg)
	if err != nil {
		a.malformed.Add(1)
		return nil
	}
	var reply []byte
	switch version {
	case 0, 1:
		reply = a.handleCommunity(msg, gosnmp.SnmpVersion(version))
	case 3:
		reply = a.handleV3(msg)
	default:
		a.malformed.Add(1)
	}
	if reply == nil {
		return nil
	}
	a.requests.Add(1)
	return [][]byte{reply}
}

// pumpIndex reads "pump-N" (1-based) and returns N-1.
func (a *Agent) pumpIndex(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "pump-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 || n > len(a.pumps) || rest != strconv.Itoa(n) {
		return 0, false
	}
	return n - 1, true
}

// viewFor builds the view a request sees: the server's (pump < 0) or one
// pump's, at the simulation's current time.
func (a *Agent) viewFor(pump int) view {
	now := a.simTime()
	up := now.Sub(a.start)
	if pump >= 0 {
		p := a.pumps[pump]
		p.advance(now)
		return pumpView(p, up)
	}
	if a.server != nil && a.serverAt.Equal(now) {
		return a.server // a walk takes many requests: build the tables once a second
	}
	for _, p := range a.pumps {
		p.advance(now)
	}
	a.server, a.serverAt = serverView(a.pumps, up), now
	return a.server
}

// simTime is the simulation's time: the clock in whole seconds, so the
// requests of one walk see one consistent table.
func (a *Agent) simTime() time.Time { return a.now().Truncate(time.Second) }

// handleCommunity answers a v1 or v2c message.
func (a *Agent) handleCommunity(msg []byte, version gosnmp.SnmpVersion) []byte {
	dec := &gosnmp.GoSNMP{Version: version}
	req, err := dec.SnmpDecodePacket(msg)
	if err != nil || req == nil {
		a.malformed.Add(1)
		return nil
	}
	pump := -1
	switch {
	case req.Community == Community:
	case strings.HasPrefix(req.Community, Community+"@"):
		i, ok := a.pumpIndex(strings.TrimPrefix(req.Community, Community+"@"))
		if !ok {
			a.badCommunity.Add(1)
			return nil
		}
		pump = i
	default:
		a.badCommunity.Add(1) // agents drop these silently
		return nil
	}
	resp := a.respond(req, pump, int(a.maxMsg.Load()), func(p *gosnmp.SnmpPacket) ([]byte, error) {
		p.Version, p.Community = version, req.Community
		return p.MarshalMsg()
	})
	return resp
}

// respond processes a decoded request's PDU and marshals the response
// with marshal, keeping it within maxSize: a GetBulk answer is shortened,
// anything else becomes tooBig.
func (a *Agent) respond(req *gosnmp.SnmpPacket, pump, maxSize int, marshal func(*gosnmp.SnmpPacket) ([]byte, error)) []byte {
	v1 := req.Version == gosnmp.Version1
	resp := &gosnmp.SnmpPacket{PDUType: gosnmp.GetResponse, RequestID: req.RequestID}
	switch req.PDUType {
	case gosnmp.GetRequest, gosnmp.GetNextRequest:
		if len(req.Variables) > maxResponseVarbinds {
			a.malformed.Add(1)
			return nil
		}
		v := a.viewFor(pump)
		resp.Variables = make([]gosnmp.SnmpPDU, 0, len(req.Variables))
		for i, vb := range req.Variables {
			o, ok := parseOID(vb.Name)
			if !ok {
				a.malformed.Add(1)
				return nil
			}
			var pdu gosnmp.SnmpPDU
			if req.PDUType == gosnmp.GetRequest {
				pdu = v.get(o)
			} else if next, ok := v.next(o); ok {
				pdu = next
			} else {
				pdu = gosnmp.SnmpPDU{Name: vb.Name, Type: gosnmp.EndOfMibView}
			}
			if v1 && (pdu.Type == gosnmp.NoSuchObject || pdu.Type == gosnmp.NoSuchInstance || pdu.Type == gosnmp.EndOfMibView) {
				resp.Error, resp.ErrorIndex = gosnmp.NoSuchName, uint8(min(i+1, 255))
				resp.Variables = nullVarbinds(req.Variables)
				break
			}
			resp.Variables = append(resp.Variables, pdu)
		}
	case gosnmp.GetBulkRequest:
		if v1 {
			a.malformed.Add(1) // no GetBulk in SNMPv1
			return nil
		}
		// Stop adding varbinds once the answer would not fit (RFC 3416
		// §4.2.3): the size of the empty answer, plus each varbind's,
		// with slack for lengths growing by an octet at each level.
		empty, err := marshal(resp)
		if err != nil {
			a.malformed.Add(1)
			return nil
		}
		resp.Variables = a.bulk(req, a.viewFor(pump), maxSize-len(empty)-16)
	case gosnmp.SetRequest:
		resp.Error, resp.ErrorIndex = gosnmp.NotWritable, 1
		if v1 {
			resp.Error = gosnmp.ReadOnly
		}
		resp.Variables = nullVarbinds(req.Variables)
	default:
		a.malformed.Add(1)
		return nil
	}
	out, err := marshal(resp)
	if err != nil {
		a.malformed.Add(1)
		return nil
	}
	if len(out) <= maxSize {
		return out
	}
	if req.PDUType == gosnmp.GetBulkRequest {
		// Drop whole repetitions until the answer fits (RFC 3416 §4.2.3).
		all := resp.Variables
		lo, hi := 0, len(all) // lo fits (no varbinds always fits)
		var fit []byte
		for lo < hi {
			mid := (lo + hi + 1) / 2
			resp.Variables = all[:mid]
			if b, err := marshal(resp); err == nil && len(b) <= maxSize {
				lo, fit = mid, b
			} else {
				hi = mid - 1
			}
		}
		if lo > 0 && fit != nil {
			return fit
		}
	}
	resp.Variables, resp.Error, resp.ErrorIndex = nil, gosnmp.TooBig, 0
	if out, err = marshal(resp); err != nil {
		return nil
	}
	return out
}

// bulk answers a GetBulk: non-repeaters once, then up to max-repetitions
// rounds of the repeaters (RFC 3416 §4.2.3), within the agent's limits.
func (a *Agent) bulk(req *gosnmp.SnmpPacket, v view, budget int) []gosnmp.SnmpPDU {
	vbs := req.Variables
	if len(vbs) > maxResponseVarbinds {
		vbs = vbs[:maxResponseVarbinds]
	}
	nonRep := min(int(req.NonRepeaters), len(vbs))
	reps := min(int(req.MaxRepetitions), maxBulkRepetitions)
	next := func(name string) gosnmp.SnmpPDU {
		o, ok := parseOID(name)
		if !ok {
			return gosnmp.SnmpPDU{Name: name, Type: gosnmp.EndOfMibView}
		}
		if pdu, ok := v.next(o); ok {
			return pdu
		}
		return gosnmp.SnmpPDU{Name: name, Type: gosnmp.EndOfMibView}
	}
	out := make([]gosnmp.SnmpPDU, 0, min(maxResponseVarbinds, nonRep+reps*(len(vbs)-nonRep)))
	size := 0
	fits := func(pdu gosnmp.SnmpPDU) bool {
		size += varbindLen(pdu)
		return size <= budget || len(out) == 0
	}
	for _, vb := range vbs[:nonRep] {
		pdu := next(vb.Name)
		if !fits(pdu) {
			return out
		}
		out = append(out, pdu)
	}
	cur := make([]string, 0, len(vbs)-nonRep)
	for _, vb := range vbs[nonRep:] {
		cur = append(cur, vb.Name)
	}
	for r := 0; r < reps && len(cur) > 0; r++ {
		ended := 0
		for i, name := range cur {
			if len(out) >= maxResponseVarbinds {
				return out
			}
			pdu := next(name)
			if !fits(pdu) {
				return out
			}
			if pdu.Type == gosnmp.EndOfMibView {
				ended++
			} else {
				cur[i] = pdu.Name
			}
			out = append(out, pdu)
		}
		if ended == len(cur) {
			break
		}
	}
	return out
}

// nullVarbinds echoes a request's names with NULL values, as error
// responses carry them.
func nullVarbinds(vbs []gosnmp.SnmpPDU) []gosnmp.SnmpPDU {
	out := make([]gosnmp.SnmpPDU, len(vbs))
	for i, vb := range vbs {
		out[i] = gosnmp.SnmpPDU{Name: vb.Name, Type: gosnmp.Null}
	}
	return out
}

// PumpStates returns what the agent serves at the simulation's current
// time, as the example pump server's tables say it (rates and volumes in
// ml/h and ml, alarms from the alarm table): the states the built-in
// pump-server profile should read, in pump order. Tests compare the
// collector's reading with it.
func (a *Agent) PumpStates() []wardwatch.PumpState {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.simTime()
	out := make([]wardwatch.PumpState, len(a.pumps))
	for i, p := range a.pumps {
		p.advance(now)
		s := p.served()
		st := wardwatch.PumpState{
			Time:               now.UTC(),
			Serial:             p.serial,
			Model:              p.model,
			Status:             pumpStatus(s.status),
			OnAC:               s.onAC,
			Battery:            float64(s.battery),
			Rate:               float64(s.rate10) / 10,
			VTBI:               float64(s.vtbi10) / 10,
			Infused:            float64(s.infused) / 100,
			Firmware:           p.firmware,
			DrugLibrary:        p.library,
			DrugLibraryVersion: p.version,
		}
		for _, al := range s.alarms {
			st.Alarms = append(st.Alarms, wardwatch.PumpAlarm{Code: al.code, Text: al.text, Priority: priority(al.priority)})
		}
		out[i] = st
	}
	return out
}

func pumpStatus(code int) wardwatch.PumpStatus {
	switch code {
	case statusIdle:
		return wardwatch.PumpIdle
	case statusInfusing:
		return wardwatch.PumpInfusing
	case statusPaused:
		return wardwatch.PumpPaused
	case statusKVO:
		return wardwatch.PumpKVO
	case statusComplete:
		return wardwatch.PumpComplete
	case statusAlarm:
		return wardwatch.PumpAlarming
	case statusOff:
		return wardwatch.PumpOff
	}
	return wardwatch.PumpUnknown
}

func priority(code int) wardwatch.Priority {
	switch code {
	case priorityMedium:
		return wardwatch.PriorityMedium
	case priorityLow:
		return wardwatch.PriorityLow
	}
	return wardwatch.PriorityHigh
}
