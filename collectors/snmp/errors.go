package snmp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"

	"github.com/gosnmp/gosnmp"

	"github.com/wardwatch/wardwatch"
)

// Sentinel causes of a failed poll, for errors.Is. The error a poll returns
// is a *wardwatch.Error whose message is for the admin and whose Err chain
// holds one of these and gosnmp's own error.
var (
	// ErrNoAnswer: the agent did not answer (timeout, port unreachable,
	// or a wrong v1/v2c community, which agents silently drop).
	ErrNoAnswer = errors.New("no answer")
	// ErrAuth: the agent refused our SNMPv3 credentials.
	ErrAuth = errors.New("authentication failed")
	// ErrUnsupported: the agent does not serve an OID the profile needs.
	ErrUnsupported = errors.New("OID not supported by the agent")
	// ErrAgent: the agent answered with an error or something unusable.
	ErrAgent = errors.New("agent error")
)

// Poll results, the values of the polls metric's result label.
const (
	resultOK      = "ok"
	resultTimeout = "timeout"
	resultAuth    = "auth"
	resultError   = "error"
)

// resultOf classifies a poll's error for the metrics.
func resultOf(err error) string {
	switch {
	case err == nil:
		return resultOK
	case errors.Is(err, ErrNoAnswer):
		return resultTimeout
	case errors.Is(err, ErrAuth):
		return resultAuth
	}
	return resultError
}

// explain turns an error from gosnmp, and what diagnosing it found (hint),
// into a *wardwatch.Error whose message tells the admin what happened at
// which agent, keeping gosnmp's error in the chain for the log.
// Cancellation and errors already explained pass through unchanged.
func explain(s *settings, err error, hint v3Hint) error {
	if err == nil {
		return nil
	}
	var we *wardwatch.Error
	if errors.As(err, &we) || errors.Is(err, context.Canceled) {
		return err
	}
	wrap := func(code string, sentinel error, msg string) error {
		return &wardwatch.Error{Code: code, Message: msg, Err: errors.Join(sentinel, err)}
	}
	text := err.Error()
	user := quoteName(s.User)
	authFailed := "SNMPv3 authentication failed at " + s.endpoint + ": "
	switch hint {
	case hintUnknownUser:
		return wrap(wardwatch.EINVALID, ErrAuth, authFailed+"the agent does not know the user "+user+".")
	case hintWrongAuth:
		return wrap(wardwatch.EINVALID, ErrAuth, authFailed+"wrong authentication password or protocol for user "+user+" (wrong digest).")
	case hintWrongPriv:
		return wrap(wardwatch.EINVALID, ErrAuth, authFailed+"the agent cannot decrypt our requests: wrong privacy password or protocol for user "+user+" (decryption error).")
	}
	switch {
	case errors.Is(err, gosnmp.ErrUnknownUsername):
		return wrap(wardwatch.EINVALID, ErrAuth, authFailed+"the agent does not know the user "+user+".")
	case errors.Is(err, gosnmp.ErrWrongDigest), strings.Contains(text, "not authentic"):
		return wrap(wardwatch.EINVALID, ErrAuth, authFailed+"wrong authentication password or protocol for user "+user+" (wrong digest).")
	case errors.Is(err, gosnmp.ErrDecryption):
		return wrap(wardwatch.EINVALID, ErrAuth, authFailed+"the agent cannot decrypt our requests: wrong privacy password or protocol for user "+user+" (decryption error).")
	case errors.Is(err, gosnmp.ErrUnknownSecurityLevel):
		return wrap(wardwatch.EINVALID, ErrAuth, authFailed+"the agent does not allow user "+user+" to use authentication with privacy (authPriv).")
	case errors.Is(err, gosnmp.ErrNotInTimeWindow):
		return wrap(wardwatch.EUNAVAILABLE, ErrAuth, "SNMPv3 at "+s.endpoint+": the agent's engine time does not match ours (not in time window); the agent may be restarting.")
	case errors.Is(err, gosnmp.ErrUnknownEngineID), strings.Contains(text, "engine discovery"):
		return wrap(wardwatch.EUNAVAILABLE, ErrAgent, "SNMPv3 engine discovery at "+s.endpoint+" failed: the agent's answer had no usable engine ID.")
	case isNoAnswer(err):
		msg := "No answer from " + s.endpoint + " after " + triesText(s.tries())
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			msg += ": nothing listens on that port"
		case s.version == gosnmp.Version3:
			msg += " (check the address; a wrong privacy password also looks like this)"
		default:
			msg += " (check the address and the community: agents ignore a wrong one)"
		}
		return wrap(wardwatch.EUNAVAILABLE, ErrNoAnswer, msg+".")
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return wrap(wardwatch.EUNAVAILABLE, ErrNoAnswer, "Cannot resolve the host of "+s.endpoint+".")
	}
	return wrap(wardwatch.EUNAVAILABLE, ErrAgent, "SNMP request to "+s.endpoint+" failed.")
}

// isNoAnswer reports whether err means the agent never answered.
func isNoAnswer(err error) bool {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return true
	case errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.As(err, &ne) && ne.Timeout():
		return true
	case errors.Is(err, gosnmp.ErrMaxRetriesExceeded) && strings.Contains(err.Error(), "timeout"):
		return true
	}
	return false
}

func triesText(n int) string {
	if n == 1 {
		return "1 try"
	}
	return strconv.Itoa(n) + " tries"
}

// agentError reports an agent's error answer or unusable reply.
func agentError(s *settings, format string, args ...any) error {
	return &wardwatch.Error{Code: wardwatch.EUNAVAILABLE, Message: "SNMP agent " + s.endpoint + ": " + fmt.Sprintf(format, args...), Err: ErrAgent}
}
