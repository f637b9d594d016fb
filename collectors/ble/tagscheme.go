package ble

import (
	"bytes"
	"strings"

	"github.com/wardwatch/wardwatch"
)

// Tag identity schemes of the vendor and MQTT formats, beyond the four of
// NormalizeTagID (ibeacon:, eddystone:, epc:, mac:):
//
//	altbeacon:<40 hex>   an AltBeacon's 20-byte beacon ID; canonical:
//	                     lowercase
//	espresense:<id>      an ESPresense fingerprint ID that is not a beacon
//	                     identity: apple:…, name:…, irk:…, tile:…, md:…,
//	                     sd:…, ad:… It is reported so that an admin can
//	                     assign it to an asset when it is stable (a named
//	                     device, a resolved IRK); many are not (apple:1007:…
//	                     is shared by every iPhone of a model)
//	mqtt_room:<id>       a Home Assistant mqtt_room device id that is
//	                     nothing else WardWatch knows, for the same purpose
//
// The <id> of espresense: and mqtt_room: is opaque: 1 to 128 printable
// ASCII characters (0x21 to 0x7E), kept as sent (case included).
const (
	schemeAltBeacon  = "altbeacon"
	schemeESPresense = "espresense"
	schemeMQTTRoom   = "mqtt_room"
)

// maxOpaqueIDLen bounds opaque (espresense:, mqtt_room:) identities.
const maxOpaqueIDLen = 128

// NormalizeCollectorTagID checks a tag identity produced by the collectors
// and returns its canonical form. It accepts everything NormalizeTagID
// accepts, plus the schemes altbeacon:, espresense: and mqtt_room:
// described above. Errors are *wardwatch.Error with code EINVALID.
func NormalizeCollectorTagID(s string) (string, error) {
	t := strings.TrimSpace(s)
	scheme, rest, ok := strings.Cut(t, ":")
	if ok && len(t) <= maxTagIDLen {
		switch {
		case strings.EqualFold(scheme, schemeAltBeacon):
			if len(rest) != 40 || !isHex(rest) {
				return "", wardwatch.Errorf(wardwatch.EINVALID, "tag %s: want altbeacon:<40 hex digits>", quoteShort(s))
			}
			return schemeAltBeacon + ":" + strings.ToLower(rest), nil
		case strings.EqualFold(scheme, schemeESPresense), strings.EqualFold(scheme, schemeMQTTRoom):
			if !validOpaqueID([]byte(rest)) {
				return "", wardwatch.Errorf(wardwatch.EINVALID, "tag %s: the id after the scheme must be 1 to %d printable ASCII characters", quoteShort(s), maxOpaqueIDLen)
			}
			return strings.ToLower(scheme) + ":" + rest, nil
		}
	}
	return NormalizeTagID(s)
}

func validOpaqueID(id []byte) bool {
	if len(id) == 0 || len(id) > maxOpaqueIDLen {
		return false
	}
	for _, c := range id {
		if c < 0x21 || c > 0x7E {
			return false
		}
	}
	return true
}

// identity is what a device id in a message resolves to.
type identity struct {
	tag     string     // canonical tag identity; "" when skip or reason
	fromMAC bool       // tag is a MAC-derived "mac:" identity
	skip    SkipReason // the message has no identity we may use
	reason  string     // the id is malformed (an item error)
}

// ESPresense ID types (BleFingerprint.h) that mean "no identity".
const (
	espIDTypeRandomMAC = 1
)

// mqttDeviceID maps the device id of an ESPresense or mqtt_room message to
// a tag identity (scheme is schemeESPresense or schemeMQTTRoom):
//
//	a WardWatch tag ID (ibeacon:u:M:m, eddystone:…, epc:…, mac:…), as an
//	ESPresense alias or a DIY gateway may send  → itself, canonical
//	iBeacon:<uuid>-<major>-<minor>              → ibeacon:<uuid>:<major>:<minor>
//	altBeacon:<uuid>-<major>-<minor>            → altbeacon:<uuid><major><minor> (hex)
//	eddy:<namespace>-<instance>                 → eddystone:<namespace>:<instance>
//	known:<12 hex>, <12 hex>                    → mac:<12 hex> (MAC-derived)
//	anything else                               → <scheme>:<id>
//
// ESPresense's eddy: IDs print the namespace's fifth byte twice (22 hex
// digits, firmware bug in BleFingerprint.cpp); the duplicate is removed.
// idType is ESPresense's idType member when hasIDType: a bare MAC with
// idType 1 (random MAC) is skipped as SkipRandomMAC, any id with a
// negative idType (ESPresense's "ignore") as SkipNoIdentity.
func mqttDeviceID(id []byte, scheme string, idType float64, hasIDType bool) identity {
	if !validOpaqueID(id) {
		return identity{reason: "id: must be 1 to 128 printable ASCII characters"}
	}
	if hasIDType && idType < 0 {
		return identity{skip: SkipNoIdentity}
	}
	if i := bytes.IndexByte(id, ':'); i > 0 {
		prefix, rest := id[:i], id[i+1:]
		switch {
		case bytes.EqualFold(prefix, []byte("ibeacon")):
			if bytes.IndexByte(rest, ':') >= 0 {
				if tag, err := NormalizeTagID(string(id)); err == nil {
					return identity{tag: tag}
				}
				break
			}
			if uuid, major, minor, ok := splitBeaconID(rest); ok {
				return identity{tag: iBeaconTagID(uuid[:], major, minor)}
			}
		case bytes.EqualFold(prefix, []byte("altbeacon")):
			if len(rest) == 40 && isHex(string(rest)) {
				return identity{tag: schemeAltBeacon + ":" + strings.ToLower(string(rest))}
			}
			if uuid, major, minor, ok := splitBeaconID(rest); ok {
				var id [20]byte
				copy(id[:], uuid[:])
				id[16], id[17], id[18], id[19] = byte(major>>8), byte(major), byte(minor>>8), byte(minor)
				return identity{tag: altBeaconTagID(id[:])}
			}
		case bytes.EqualFold(prefix, []byte("eddy")):
			if tag, ok := espresenseEddy(rest); ok {
				return identity{tag: tag}
			}
		case bytes.EqualFold(prefix, []byte("eddystone")), bytes.EqualFold(prefix, []byte("epc")):
			if tag, err := NormalizeTagID(string(id)); err == nil {
				return identity{tag: tag}
			}
		case bytes.EqualFold(prefix, []byte("mac")), bytes.EqualFold(prefix, []byte("known")):
			if mac, ok := normalizeMAC(string(rest)); ok {
				return identity{tag: macTagID(mac), fromMAC: true}
			}
		}
	} else if mac, ok := normalizeMAC(string(id)); ok {
		if hasIDType && idType == espIDTypeRandomMAC {
			return identity{skip: SkipRandomMAC}
		}
		return identity{tag: macTagID(mac), fromMAC: true}
	}
	return identity{tag: scheme + ":" + string(id)}
}

// splitBeaconID splits ESPresense's "<uuid>-<major>-<minor>"; the UUID
// may be dashed or bare, in either case.
func splitBeaconID(rest []byte) (uuid [16]byte, major, minor uint16, ok bool) {
	j := bytes.LastIndexByte(rest, '-')
	if j < 0 {
		return uuid, 0, 0, false
	}
	i := bytes.LastIndexByte(rest[:j], '-')
	if i < 0 {
		return uuid, 0, 0, false
	}
	if uuid, ok = parseUUIDBytes(rest[:i]); !ok {
		return uuid, 0, 0, false
	}
	if major, ok = parseUint16Bytes(rest[i+1 : j]); !ok {
		return uuid, 0, 0, false
	}
	if minor, ok = parseUint16Bytes(rest[j+1:]); !ok {
		return uuid, 0, 0, false
	}
	return uuid, major, minor, true
}

// parseUUIDBytes decodes a UUID given as 32 hex digits, bare or dashed
// 8-4-4-4-12.
func parseUUIDBytes(s []byte) (u [16]byte, ok bool) {
	switch len(s) {
	case 32:
	case 36:
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return u, false
		}
	default:
		return u, false
	}
	n := 0
	for i := 0; i < len(s); {
		if s[i] == '-' && len(s) == 36 {
			i++
			continue
		}
		if i+1 >= len(s) {
			return u, false
		}
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 || n >= 16 {
			return u, false
		}
		u[n] = hi<<4 | lo
		n++
		i += 2
	}
	return u, n == 16
}

// parseUint16Bytes parses a plain decimal number (digits only, at most 5)
// in 0..65535.
func parseUint16Bytes(s []byte) (uint16, bool) {
	if len(s) == 0 || len(s) > 5 {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n > 65535 {
		return 0, false
	}
	return uint16(n), true
}

// espresenseEddy maps ESPresense's "<namespace>-<instance>" to an
// Eddystone tag identity.
func espresenseEddy(rest []byte) (string, bool) {
	ns, inst, ok := bytes.Cut(rest, []byte("-"))
	if !ok || len(inst) != 12 || !isHex(string(inst)) || !isHex(string(ns)) {
		return "", false
	}
	switch len(ns) {
	case 20:
	case 22:
		// Firmware prints namespace bytes 0-4, byte 4 again, then 5-9.
		if !bytes.EqualFold(ns[8:10], ns[10:12]) {
			return "", false
		}
		ns = append(append([]byte(nil), ns[:10]...), ns[12:]...)
	default:
		return "", false
	}
	return "eddystone:" + strings.ToLower(string(ns)) + ":" + strings.ToLower(string(inst)), true
}
