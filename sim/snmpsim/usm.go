package snmpsim

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/gosnmp/gosnmp"
)

// Report OIDs (RFC 3414 §5, RFC 3413).
var (
	usmStatsNotInTimeWindows = ".1.3.6.1.6.3.15.1.1.2.0"
	usmStatsUnknownUserNames = ".1.3.6.1.6.3.15.1.1.3.0"
	usmStatsUnknownEngineIDs = ".1.3.6.1.6.3.15.1.1.4.0"
	usmStatsWrongDigests     = ".1.3.6.1.6.3.15.1.1.5.0"
	usmStatsDecryptionErrors = ".1.3.6.1.6.3.15.1.1.6.0"
	snmpUnknownContexts      = ".1.3.6.1.6.3.12.1.5.0"
)

// macLen is the length of an HMAC-SHA-256 MAC in USM (usmHMAC192SHA256AuthProtocol, RFC 7860).
const macLen = 24

// usmKeys are the agent's localized keys: every user of the agent shares
// AuthPassword and PrivPassword, so one pair of keys serves them all.
type usmKeys struct {
	auth []byte
	priv []byte
	salt uint64
}

func newUSMKeys(engineID string) (usmKeys, error) {
	sp := &gosnmp.UsmSecurityParameters{
		AuthoritativeEngineID:    engineID,
		AuthenticationProtocol:   gosnmp.SHA256,
		AuthenticationPassphrase: AuthPassword,
		PrivacyProtocol:          gosnmp.AES,
		PrivacyPassphrase:        PrivPassword,
	}
	if err := sp.InitSecurityKeys(); err != nil {
		return usmKeys{}, fmt.Errorf("localize keys: %w", err)
	}
	var salt [8]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return usmKeys{}, err
	}
	return usmKeys{auth: sp.SecretKey, priv: sp.PrivacyKey, salt: binary.BigEndian.Uint64(salt[:])}, nil
}

// engineTime is the agent's snmpEngineTime: seconds since it started, by
// the simulation's clock.
func (a *Agent) engineTime() uint32 {
	d := a.now().Sub(a.start).Seconds()
	if d < 0 {
		return 0
	}
	return uint32(min(d, float64(1<<31-1)))
}

// counter values reported in Reports (the agent's usmStats…).
func (a *Agent) reportCount() uint32 { return uint32(a.authFailures.Load() + 1) }

// handleV3 answers an SNMPv3 message (RFC 3414 §3.2).
func (a *Agent) handleV3(msg []byte) []byte {
	h, err := parseV3Header(msg)
	if err != nil || h.secModel != int64(gosnmp.UserSecurityModel) || h.flags&flagPriv != 0 && h.flags&flagAuth == 0 {
		a.malformed.Add(1)
		return nil
	}
	reportable := h.flags&flagReportable != 0
	user := string(h.user)
	if string(h.engineID) != a.engineID {
		// Engine ID discovery (or a stale engine ID): tell ours.
		if !reportable {
			return nil
		}
		return a.report(h, user, usmStatsUnknownEngineIDs, false, a.plainRequestID(msg))
	}
	pump := -1
	if user != User {
		i, ok := a.pumpIndex(user)
		if !ok {
			a.authFailures.Add(1)
			return a.reportIf(reportable, h, user, usmStatsUnknownUserNames, false)
		}
		pump = i
	}
	if h.flags&flagAuth != 0 {
		if !a.authentic(msg, h) {
			a.authFailures.Add(1)
			return a.reportIf(reportable, h, user, usmStatsWrongDigests, false)
		}
		now := int64(a.engineTime())
		if h.boots != int64(a.boots) || h.time < now-timeWindow || h.time > now+timeWindow {
			return a.reportIf(reportable, h, user, usmStatsNotInTimeWindows, true)
		}
	}
	if h.flags&flagPriv == 0 {
		// The users may read only with authPriv (like net-snmp's "rouser
		// name priv"): a lower level gets authorizationError, at that level.
		a.authFailures.Add(1)
		return a.deny(msg, h, user)
	}
	dec := &gosnmp.GoSNMP{
		Version:            gosnmp.Version3,
		SecurityModel:      gosnmp.UserSecurityModel,
		MsgFlags:           gosnmp.AuthPriv,
		SecurityParameters: a.securityParameters(user, true),
	}
	req, err := dec.SnmpDecodePacket(msg)
	if err != nil || req == nil {
		a.authFailures.Add(1)
		return a.reportIf(reportable, h, user, usmStatsDecryptionErrors, false)
	}
	if req.ContextName != "" {
		i, ok := a.pumpIndex(req.ContextName)
		if !ok {
			return a.reportIf(reportable, h, user, snmpUnknownContexts, true)
		}
		pump = i
	}
	maxSize := int(min(a.maxMsg.Load(), max(h.maxSize, 484)))
	return a.respond(req, pump, maxSize, func(p *gosnmp.SnmpPacket) ([]byte, error) {
		p.Version = gosnmp.Version3
		p.MsgFlags = gosnmp.AuthPriv
		p.SecurityModel = gosnmp.UserSecurityModel
		p.MsgID = req.MsgID
		p.MsgMaxSize = uint32(a.maxMsg.Load())
		p.ContextEngineID = a.engineID
		p.ContextName = req.ContextName
		p.SecurityParameters = a.securityParameters(user, true)
		return p.MarshalMsg()
	})
}

// securityParameters are the agent's USM parameters for a message to or
// from user; keyed ones carry the localized keys and a fresh salt.
func (a *Agent) securityParameters(user string, keyed bool) *gosnmp.UsmSecurityParameters {
	sp := &gosnmp.UsmSecurityParameters{
		AuthoritativeEngineID:    a.engineID,
		AuthoritativeEngineBoots: a.boots,
		AuthoritativeEngineTime:  a.engineTime(),
		UserName:                 user,
		AuthenticationProtocol:   gosnmp.NoAuth,
		PrivacyProtocol:          gosnmp.NoPriv,
	}
	if keyed {
		a.usm.salt++
		salt := make([]byte, 8)
		binary.BigEndian.PutUint64(salt, a.usm.salt)
		sp.AuthenticationProtocol, sp.PrivacyProtocol = gosnmp.SHA256, gosnmp.AES
		sp.AuthenticationPassphrase, sp.PrivacyPassphrase = AuthPassword, PrivPassword
		sp.SecretKey, sp.PrivacyKey = a.usm.auth, a.usm.priv
		sp.PrivacyParameters = salt
	}
	return sp
}

// authentic checks msg's HMAC-SHA-256 MAC with the agent's key.
func (a *Agent) authentic(msg []byte, h *v3Header) bool {
	if len(h.authParams) != macLen || h.authAt < 0 || h.authAt+macLen > len(msg) {
		return false
	}
	blanked := append([]byte(nil), msg...)
	clear(blanked[h.authAt : h.authAt+macLen])
	mac := hmac.New(sha256.New, a.usm.auth)
	mac.Write(blanked)
	return hmac.Equal(mac.Sum(nil)[:macLen], h.authParams)
}

// plainRequestID reads the request ID of an unencrypted v3 message (an
// engine discovery request), 0 when it cannot.
func (a *Agent) plainRequestID(msg []byte) uint32 {
	dec := &gosnmp.GoSNMP{
		Version:            gosnmp.Version3,
		SecurityModel:      gosnmp.UserSecurityModel,
		MsgFlags:           gosnmp.NoAuthNoPriv,
		SecurityParameters: &gosnmp.UsmSecurityParameters{UserName: "discovery", AuthenticationProtocol: gosnmp.NoAuth, PrivacyProtocol: gosnmp.NoPriv},
	}
	req, err := dec.SnmpDecodePacket(append([]byte(nil), msg...))
	if err != nil || req == nil {
		return 0
	}
	return req.RequestID
}

func (a *Agent) reportIf(reportable bool, h *v3Header, user, oid string, authenticated bool) []byte {
	if !reportable {
		return nil
	}
	return a.report(h, user, oid, authenticated, 0)
}

// report builds a Report PDU carrying one usmStats counter. Reports about
// authentication failures go unauthenticated (the requester's keys are not
// trusted); a time window Report is authenticated so the requester can
// trust the engine time in it.
func (a *Agent) report(h *v3Header, user, oid string, authenticated bool, requestID uint32) []byte {
	p := &gosnmp.SnmpPacket{
		Version:            gosnmp.Version3,
		MsgFlags:           gosnmp.NoAuthNoPriv,
		SecurityModel:      gosnmp.UserSecurityModel,
		SecurityParameters: a.securityParameters(user, authenticated),
		PDUType:            gosnmp.Report,
		MsgID:              uint32(max(0, min(h.msgID, 1<<31-1))),
		MsgMaxSize:         uint32(a.maxMsg.Load()),
		RequestID:          requestID,
		ContextEngineID:    a.engineID,
		Variables:          []gosnmp.SnmpPDU{{Name: oid, Type: gosnmp.Counter32, Value: a.reportCount()}},
	}
	if authenticated {
		p.MsgFlags = gosnmp.AuthNoPriv
	}
	out, err := p.MarshalMsg()
	if err != nil {
		a.malformed.Add(1)
		return nil
	}
	return out
}

// deny answers a noAuthNoPriv or authNoPriv request of a known user with
// authorizationError at the request's security level, as net-snmp's access
// control does for a user allowed authPriv only.
func (a *Agent) deny(msg []byte, h *v3Header, user string) []byte {
	level := gosnmp.NoAuthNoPriv
	sp := &gosnmp.UsmSecurityParameters{UserName: user, AuthenticationProtocol: gosnmp.NoAuth, PrivacyProtocol: gosnmp.NoPriv}
	if h.flags&flagAuth != 0 {
		level = gosnmp.AuthNoPriv
		sp = a.securityParameters(user, true)
	}
	dec := &gosnmp.GoSNMP{Version: gosnmp.Version3, SecurityModel: gosnmp.UserSecurityModel, MsgFlags: level, SecurityParameters: sp}
	req, err := dec.SnmpDecodePacket(msg)
	if err != nil || req == nil || (req.PDUType != gosnmp.GetRequest && req.PDUType != gosnmp.GetNextRequest && req.PDUType != gosnmp.GetBulkRequest) {
		a.malformed.Add(1)
		return nil
	}
	resp := &gosnmp.SnmpPacket{
		Version:            gosnmp.Version3,
		MsgFlags:           level,
		SecurityModel:      gosnmp.UserSecurityModel,
		SecurityParameters: a.securityParameters(user, level == gosnmp.AuthNoPriv),
		PDUType:            gosnmp.GetResponse,
		MsgID:              req.MsgID,
		MsgMaxSize:         uint32(a.maxMsg.Load()),
		RequestID:          req.RequestID,
		ContextEngineID:    a.engineID,
		ContextName:        req.ContextName,
		Error:              gosnmp.AuthorizationError,
		ErrorIndex:         1,
		Variables:          nullVarbinds(req.Variables[:min(len(req.Variables), maxResponseVarbinds)]),
	}
	out, err := resp.MarshalMsg()
	if err != nil {
		a.malformed.Add(1)
		return nil
	}
	return out
}
