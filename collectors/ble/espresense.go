package ble

import (
	"bytes"
	"time"

	"github.com/wardwatch/wardwatch"
)

// ParseESPresense parses one message an ESPresense node publishes on
// espresense/devices/<device>/<room> (any prefix before "espresense" is
// allowed). The gateway key is <room>.
//
// The payload is one JSON object (BleFingerprint::fill in the firmware):
//
//	{"mac":"d1a2b3c4d5e6","id":"iBeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0-1-42",
//	 "idType":180,"rssi@1m":-59,"rssi":-72,"rxAdj":0,"rssiVar":4.1,
//	 "distance":2.84,"var":0.62,"int":312}
//
// Members used:
//
//   - id: the device's fingerprint ID (the topic's <device> when absent),
//     mapped to a tag identity: iBeacon:<uuid>-<major>-<minor> becomes
//     ibeacon:<uuid>:<major>:<minor>, altBeacon:… altbeacon:<40 hex>,
//     eddy:<ns>-<inst> eddystone:<ns>:<inst>, a bare MAC or known:<MAC>
//     a MAC-derived mac:<MAC> (kept by the Router only for configured
//     MACs), a WardWatch tag ID (an ESPresense alias) itself; any other ID
//     (apple:…, name:…, irk:…, tile:…) becomes espresense:<id> so that an
//     admin can assign it. A bare MAC with idType 1 (random MAC) is
//     skipped (SkipRandomMAC), any ID with a negative idType
//     (SkipNoIdentity).
//   - rssi: the received RSSI in dBm, [-130, 0]. When it is absent the
//     observation carries distance instead (or raw, the unfiltered distance
//     older firmware sent): metres, [0, 1000].
//   - rssi@1m minus rxAdj (the node's RX adjustment, which the firmware
//     adds to rssi@1m; WardWatch applies its own per-gateway offset) is
//     the tag's RSSI at 1 m: Sighting.TxPower when within [-100, 20].
//   - mac: the advertiser's MAC, for Observation.MAC.
//   - mV, batt, temp, rh: readings for the tag (battery V, battery %, °C,
//     %RH) when plausible.
//
// Other members (name, rssiVar, var, int, close, mean, ci, channel,
// rssi37…, and older firmware's idType, raw, speed) are accepted and
// ignored. Numbers may also come as numeric strings.
//
// The error (a *wardwatch.Error) is for an unusable message: ETOOLARGE
// over MaxMessageBytes, EINVALID for a topic not of this form or a payload
// that is not one JSON object. A well-formed message with a bad member
// yields an ItemError at index 0.
func ParseESPresense(topic string, payload []byte, now time.Time) (Parsed, error) {
	p := Parsed{Format: FormatESPresense}
	if len(payload) > MaxMessageBytes {
		return p, errTooLarge(len(payload))
	}
	device, room, ok := espresenseTopic(topic)
	if !ok {
		return p, wardwatch.Errorf(wardwatch.EINVALID, "topic %s is not espresense/devices/<device>/<room>", quoteShort(topic))
	}

	var (
		it                   objIter
		id                   []byte
		idOK                 = true
		mac                  string
		idType               float64
		idTypeSt             numState
		rssi, rssi1m, rxAdj  float64
		rssiSt, rssi1mSt     numState
		rxAdjSt              numState
		dist, raw            float64
		distSt, rawSt        numState
		mv, batt, temp, rh   float64
		mvSt, battSt, tempSt numState
		rhSt                 numState
		haveID               bool
		idKind               valueKind
		idRaw                []byte
		idEsc                bool
	)
	it.reset(payload)
	for it.next() {
		switch string(it.key) {
		case "id":
			haveID, idKind, idRaw, idEsc = true, it.kind, it.val, it.vesc
		case "mac":
			mac = macField(it.kind, it.val, it.vesc)
		case "idType":
			idType, idTypeSt = number(it.kind, it.val, it.vesc)
		case "rssi":
			rssi, rssiSt = number(it.kind, it.val, it.vesc)
		case "rssi@1m":
			rssi1m, rssi1mSt = number(it.kind, it.val, it.vesc)
		case "rxAdj":
			rxAdj, rxAdjSt = number(it.kind, it.val, it.vesc)
		case "distance":
			dist, distSt = number(it.kind, it.val, it.vesc)
		case "raw":
			raw, rawSt = number(it.kind, it.val, it.vesc)
		case "mV":
			mv, mvSt = number(it.kind, it.val, it.vesc)
		case "batt":
			batt, battSt = number(it.kind, it.val, it.vesc)
		case "temp":
			temp, tempSt = number(it.kind, it.val, it.vesc)
		case "rh":
			rh, rhSt = number(it.kind, it.val, it.vesc)
		}
	}
	if !it.ok() {
		return p, errNotObject(payload)
	}

	if haveID && idKind != vNull {
		id, idOK = strBytes(idKind, idRaw, idEsc)
	} else {
		id = []byte(device)
	}
	if !idOK {
		return p.itemError(0, "id: must be a string"), nil
	}
	ident := mqttDeviceID(id, schemeESPresense, idType, idTypeSt == numOK)
	if ident.reason != "" {
		return p.itemError(0, ident.reason), nil
	}
	if ident.skip != "" {
		p.Skipped = []Skip{{Index: 0, Reason: ident.skip}}
		return p, nil
	}

	o := Observation{GatewayKey: room, MAC: mac, FromMAC: ident.fromMAC}
	o.Sighting.Time = now.UTC()
	o.Sighting.TagID = ident.tag
	if rssiSt == numAbsent {
		// Distance-only message (or a DIY node that leaves rssi out).
		if distSt == numAbsent {
			dist, distSt = raw, rawSt
		}
		if distSt == numAbsent {
			return p.itemError(0, "rssi: missing (and no distance)"), nil
		}
		d, reason := checkDistance(dist, distSt)
		if reason != "" {
			return p.itemError(0, reason), nil
		}
		o.Distance = d
	} else {
		v, reason := checkRSSI(rssi, rssiSt)
		if reason != "" {
			return p.itemError(0, reason), nil
		}
		o.Sighting.RSSI = v
	}
	if rxAdjSt != numOK {
		rxAdj = 0
	}
	if rssi1mSt == numOK {
		o.Sighting.TxPower = txPower(rssi1m-rxAdj, numOK)
	}
	p.Observations = []Observation{o}

	if mvSt|battSt|tempSt|rhSt != numAbsent {
		at, tag := o.Sighting.Time, o.Sighting.TagID
		p.Readings = appendReading(p.Readings, at, tag, wardwatch.MetricBatteryVoltage, mv/1000, mvSt)
		p.Readings = appendReading(p.Readings, at, tag, wardwatch.MetricBatteryPercent, batt, battSt)
		p.Readings = appendReading(p.Readings, at, tag, wardwatch.MetricTemperature, temp, tempSt)
		p.Readings = appendReading(p.Readings, at, tag, wardwatch.MetricHumidity, rh, rhSt)
	}
	return p, nil
}

// itemError returns p with one more item error.
func (p Parsed) itemError(index int, reason string) Parsed {
	p.Errors = append(p.Errors, ItemError{Index: index, Reason: reason})
	return p
}

// errNotObject is the error for a single-message payload that is not one
// JSON object.
func errNotObject(payload []byte) error {
	t := bytes.TrimSpace(payload)
	switch {
	case len(t) == 0:
		return wardwatch.Errorf(wardwatch.EINVALID, "payload is empty (want a JSON object)")
	case t[0] == '{':
		return wardwatch.Errorf(wardwatch.EINVALID, "payload is not valid JSON")
	}
	return wardwatch.Errorf(wardwatch.EINVALID, "payload must be a JSON object")
}
