package snmpsim

import (
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

const fuzzEngineID = "\x80\x00\x7e\xd9\x05fuzzfuzz"

// request encodes a request as a client would send it to an agent with
// fuzzEngineID: v1/v2c with community, v3 authPriv with user (flags
// selects the level; an empty engine ID makes a discovery probe).
func request(t testing.TB, version gosnmp.SnmpVersion, name string, flags gosnmp.SnmpV3MsgFlags, engineID string, pdu gosnmp.PDUType, oids ...string) []byte {
	t.Helper()
	g := &gosnmp.GoSNMP{Version: version, Community: name, MaxOids: 100}
	vbs := make([]gosnmp.SnmpPDU, len(oids))
	for i, o := range oids {
		vbs[i] = gosnmp.SnmpPDU{Name: o, Type: gosnmp.Null}
	}
	if version == gosnmp.Version3 {
		sp := &gosnmp.UsmSecurityParameters{
			UserName: name, AuthoritativeEngineID: engineID, AuthoritativeEngineBoots: 1,
			AuthenticationProtocol: gosnmp.NoAuth, PrivacyProtocol: gosnmp.NoPriv,
		}
		if flags&gosnmp.AuthNoPriv != 0 {
			sp.AuthenticationProtocol, sp.AuthenticationPassphrase = gosnmp.SHA256, AuthPassword
		}
		if flags&gosnmp.AuthPriv == gosnmp.AuthPriv {
			sp.PrivacyProtocol, sp.PrivacyPassphrase = gosnmp.AES, PrivPassword
		}
		if engineID != "" {
			if err := sp.InitSecurityKeys(); err != nil {
				t.Fatal(err)
			}
		}
		g.SecurityModel, g.MsgFlags, g.SecurityParameters, g.ContextEngineID = gosnmp.UserSecurityModel, flags, sp, engineID
	}
	if version == gosnmp.Version3 && name == "" { // an engine discovery probe
		p := &gosnmp.SnmpPacket{Version: version, MsgFlags: flags, SecurityModel: gosnmp.UserSecurityModel, MsgID: 7, RequestID: 8,
			SecurityParameters: &gosnmp.UsmSecurityParameters{}, PDUType: pdu, Variables: vbs}
		out, err := p.MarshalMsg()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	out, err := g.SnmpEncodePacket(pdu, vbs, 0, 5)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzHandle feeds arbitrary datagrams to the agent's packet handling: it
// must never panic (a recovered decoder panic counts as a failure here),
// and whatever it answers to v1/v2c must decode.
func FuzzHandle(f *testing.F) {
	table := arcPumpEntry.child(2).String()
	serial := arcPump.child(1, 0).String()
	for _, seed := range [][]byte{
		request(f, gosnmp.Version2c, Community, 0, "", gosnmp.GetRequest, arcSystem.child(1, 0).String()),
		request(f, gosnmp.Version2c, Community, 0, "", gosnmp.GetNextRequest, table, arcAlarmEntry.String()),
		request(f, gosnmp.Version2c, Community, 0, "", gosnmp.GetBulkRequest, table),
		request(f, gosnmp.Version2c, PumpCommunity(2), 0, "", gosnmp.GetRequest, serial),
		request(f, gosnmp.Version1, Community, 0, "", gosnmp.GetNextRequest, table),
		request(f, gosnmp.Version2c, Community, 0, "", gosnmp.SetRequest, serial),
		request(f, gosnmp.Version3, "", gosnmp.NoAuthNoPriv|gosnmp.Reportable, "", gosnmp.GetRequest),
		request(f, gosnmp.Version3, User, gosnmp.AuthPriv|gosnmp.Reportable, fuzzEngineID, gosnmp.GetBulkRequest, table),
		request(f, gosnmp.Version3, PumpUser(1), gosnmp.AuthPriv|gosnmp.Reportable, fuzzEngineID, gosnmp.GetRequest, serial),
		request(f, gosnmp.Version3, User, gosnmp.AuthNoPriv|gosnmp.Reportable, fuzzEngineID, gosnmp.GetRequest, serial),
		request(f, gosnmp.Version3, User, gosnmp.NoAuthNoPriv|gosnmp.Reportable, fuzzEngineID, gosnmp.GetRequest, serial),
		{0x30, 0x03, 0x02, 0x01, 0x03},
		{0x30, 0x84, 0xff, 0xff, 0xff, 0xff},
		{},
	} {
		f.Add(seed)
	}
	now := func() time.Time { return time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC) }
	a, err := newAgent(5, 1, now, fuzzEngineID)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		out := a.handle(msg)
		if n := a.panics.Load(); n != 0 {
			a.panics.Store(0)
			t.Fatalf("the decoder panicked on %x", msg)
		}
		version, err := messageVersion(msg)
		if err != nil || version == 3 {
			return
		}
		for _, reply := range out {
			dec := &gosnmp.GoSNMP{Version: gosnmp.SnmpVersion(version)}
			if _, err := dec.SnmpDecodePacket(reply); err != nil {
				t.Fatalf("reply to %x does not decode: %v", msg, err)
			}
		}
	})
}

// TestHandleSeeds checks the fuzz seeds get the answers they should, so
// the seeds exercise the paths they are meant to.
func TestHandleSeeds(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC) }
	a, err := newAgent(5, 1, now, fuzzEngineID)
	if err != nil {
		t.Fatal(err)
	}
	serial := arcPump.child(1, 0).String()
	v3 := func(user string, flags gosnmp.SnmpV3MsgFlags, engineID string) *gosnmp.SnmpPacket {
		out := a.handle(request(t, gosnmp.Version3, user, flags|gosnmp.Reportable, engineID, gosnmp.GetRequest, serial))
		if len(out) != 1 {
			t.Fatalf("%s %v: %d replies", user, flags, len(out))
		}
		dec := &gosnmp.GoSNMP{Version: gosnmp.Version3, SecurityModel: gosnmp.UserSecurityModel, MsgFlags: gosnmp.AuthPriv,
			SecurityParameters: &gosnmp.UsmSecurityParameters{UserName: "decoder", AuthenticationProtocol: gosnmp.SHA256, AuthenticationPassphrase: AuthPassword,
				PrivacyProtocol: gosnmp.AES, PrivacyPassphrase: PrivPassword}}
		p, err := dec.SnmpDecodePacket(out[0])
		if err != nil {
			t.Fatalf("%s %v: %v", user, flags, err)
		}
		return p
	}
	if p := v3("", gosnmp.NoAuthNoPriv, ""); p.PDUType != gosnmp.Report || p.Variables[0].Name != usmStatsUnknownEngineIDs {
		t.Errorf("discovery: %v %v", p.PDUType, p.Variables)
	}
	if p := v3(PumpUser(4), gosnmp.AuthPriv, fuzzEngineID); p.PDUType != gosnmp.GetResponse || string(p.Variables[0].Value.([]byte)) != "SIM-0413" {
		t.Errorf("authPriv get: %v %v", p.PDUType, p.Variables)
	}
	if p := v3(User, gosnmp.AuthNoPriv, fuzzEngineID); p.Error != gosnmp.AuthorizationError {
		t.Errorf("authNoPriv: %v", p.Error)
	}
	if p := v3("nobody", gosnmp.AuthPriv, fuzzEngineID); p.PDUType != gosnmp.Report || p.Variables[0].Name != usmStatsUnknownUserNames {
		t.Errorf("unknown user: %v %v", p.PDUType, p.Variables)
	}
}
