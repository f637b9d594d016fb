package snmp

import (
	"context"
	"errors"
	"strings"

	"github.com/gosnmp/gosnmp"
)

// v3Hint is what diagnosing a refused SNMPv3 poll found out.
type v3Hint int

const (
	hintNone        v3Hint = iota // nothing more is known
	hintUnknownUser               // the agent does not know the user
	hintWrongAuth                 // the user exists; our authentication key is wrong
	hintWrongPriv                 // authentication works; our privacy key is wrong
)

// probeOID is what the diagnostic probes ask for: sysUpTime.0, harmless to
// read and answered by every agent.
const probeOID = ".1.3.6.1.2.1.1.3.0"

// notAuthentic reports whether err is gosnmp discarding an answer whose
// authentication failed. A v3 agent answers a request it refuses
// (unknown user, wrong digest, decryption error) with an unauthenticated
// Report, which gosnmp, expecting authPriv, discards as not authentic.
func notAuthentic(err error) bool {
	return err != nil && strings.Contains(err.Error(), "not authentic")
}

// diagnoser returns the function a poll calls when its first request
// failed, to learn why an SNMPv3 agent refused it. g is the poll's session.
//
//   - The agent answered engine discovery (g learned its engine ID) but not
//     our authPriv request: net-snmp drops requests it cannot decrypt, so
//     the privacy password or protocol is wrong.
//   - The answer was not authentic: two read-only probes of sysUpTime.0
//     tell why. noAuthNoPriv with our user name: an agent that does not
//     know the user says so (usmStatsUnknownUserNames) and gosnmp, no
//     longer expecting authentication, reports it. authNoPriv with our
//     authentication password: an authenticated answer of any kind (even
//     authorizationError) proves that password right, so the privacy one
//     is wrong; another unauthentic answer means the authentication
//     password or protocol is wrong.
func diagnoser(ctx context.Context, s *settings, g *gosnmp.GoSNMP) func(error) v3Hint {
	if s.version != gosnmp.Version3 {
		return nil
	}
	return func(err error) v3Hint {
		switch {
		case notAuthentic(err), errors.Is(err, gosnmp.ErrWrongDigest), errors.Is(err, gosnmp.ErrDecryption):
		case isNoAnswer(err):
			if usp, ok := g.SecurityParameters.(*gosnmp.UsmSecurityParameters); ok && usp.AuthoritativeEngineID != "" {
				return hintWrongPriv
			}
			return hintNone
		default:
			return hintNone
		}
		if _, perr := probe(ctx, s, gosnmp.NoAuthNoPriv); errors.Is(perr, gosnmp.ErrUnknownUsername) {
			return hintUnknownUser
		}
		_, perr := probe(ctx, s, gosnmp.AuthNoPriv)
		switch {
		case perr == nil:
			return hintWrongPriv
		case notAuthentic(perr), errors.Is(perr, gosnmp.ErrWrongDigest):
			return hintWrongAuth
		case errors.Is(perr, gosnmp.ErrUnknownUsername):
			return hintUnknownUser
		}
		return hintNone
	}
}

// probe sends one GET of sysUpTime.0 at a lower security level, one try.
func probe(ctx context.Context, s *settings, level gosnmp.SnmpV3MsgFlags) (*gosnmp.SnmpPacket, error) {
	sp := &gosnmp.UsmSecurityParameters{UserName: s.User, AuthenticationProtocol: gosnmp.NoAuth, PrivacyProtocol: gosnmp.NoPriv}
	if level&gosnmp.AuthNoPriv != 0 {
		sp.AuthenticationProtocol, sp.AuthenticationPassphrase = s.auth, s.AuthPassword
	}
	g := &gosnmp.GoSNMP{
		Target:             s.host,
		Port:               s.port,
		Transport:          "udp",
		Version:            gosnmp.Version3,
		Context:            ctx,
		Timeout:            s.Timeout,
		Retries:            0,
		SecurityModel:      gosnmp.UserSecurityModel,
		MsgFlags:           level,
		SecurityParameters: sp,
	}
	if err := g.Connect(); err != nil {
		return nil, err
	}
	conn := g.Conn
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	defer g.Close()
	return g.Get([]string{probeOID})
}
