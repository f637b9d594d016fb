package ble

import (
	"bytes"
	"time"

	"github.com/wardwatch/wardwatch"
)

// ParseTheengs parses one message OpenMQTTGateway or Theengs Gateway
// publishes on home/<gateway>/BTtoMQTT/<MAC> (or home/<gateway>/BTtoMQTT;
// any base topic instead of "home"). The gateway key is <gateway>. The
// topic's last level (a MAC, or the iBeacon UUID with
// pubBeaconUuidForTopic) is not used for identity.
//
// The payload is one JSON object:
//
//	{"id":"D1:A2:B3:C4:D5:E6","mac_type":1,"rssi":-70,"brand":"GENERIC",
//	 "model":"iBeacon","model_id":"IBEACON","mfid":"4c00",
//	 "uuid":"e2c56db5dffb48d2b060d0f5a71096e0","major":1,"minor":42,"txpower":-59}
//
// The identity is, in this order:
//
//  1. uuid, major and minor (the iBeacon decode) → ibeacon:…, with
//     txpower as the RSSI at 1 m;
//  2. manufacturerdata (hex, company ID first) decoded as iBeacon or
//     AltBeacon manufacturer data;
//  3. servicedata (hex) with servicedatauuid 0xfeaa decoded as an
//     Eddystone-UID frame;
//  4. the MAC (mac, else id when it is a MAC) as a MAC-derived mac:
//     identity, unless mac_type is 1 (random) and the address is not
//     static random: then the item is skipped (SkipRandomMAC).
//
// An Eddystone-TLM frame in servicedata becomes readings of the tag when
// the message also has a beacon identity, else a TLMFrame for the Router
// to pair by MAC. tempc, hum, batt (%) and volt (V) become readings of
// the tag. rssi is required ([-130, 0]), unless a distance (metres) is
// given instead. Other members are ignored; numbers may be numeric
// strings.
//
// Errors follow ParseESPresense.
func ParseTheengs(topic string, payload []byte, now time.Time) (Parsed, error) {
	p := Parsed{Format: FormatTheengs}
	if len(payload) > MaxMessageBytes {
		return p, errTooLarge(len(payload))
	}
	gw, ok := theengsTopic(topic)
	if !ok {
		return p, wardwatch.Errorf(wardwatch.EINVALID, "topic %s is not <base>/<gateway>/BTtoMQTT[/<id>]", quoteShort(topic))
	}

	var (
		it                         objIter
		idMAC, mac                 string
		macType                    float64
		macTypeSt                  numState
		rssi, dist, txp            float64
		rssiSt, distSt, txpSt      numState
		major, minor               float64
		majorSt, minorSt           numState
		uuid, md, sd, sdUUID       []byte
		haveUUID                   bool
		uuidBad, mdBad, sdBad      bool
		tempc, hum, batt, volt     float64
		tempSt, humSt, battSt, vSt numState
	)
	it.reset(payload)
	for it.next() {
		switch string(it.key) {
		case "id":
			idMAC = macField(it.kind, it.val, it.vesc)
		case "mac":
			mac = macField(it.kind, it.val, it.vesc)
		case "mac_type":
			macType, macTypeSt = number(it.kind, it.val, it.vesc)
		case "rssi":
			rssi, rssiSt = number(it.kind, it.val, it.vesc)
		case "distance":
			dist, distSt = number(it.kind, it.val, it.vesc)
		case "txpower":
			txp, txpSt = number(it.kind, it.val, it.vesc)
		case "uuid":
			if it.kind != vNull {
				haveUUID = true
				uuid, ok = strBytes(it.kind, it.val, it.vesc)
				uuidBad = !ok
			}
		case "major":
			major, majorSt = number(it.kind, it.val, it.vesc)
		case "minor":
			minor, minorSt = number(it.kind, it.val, it.vesc)
		case "manufacturerdata":
			if it.kind != vNull {
				md, ok = strBytes(it.kind, it.val, it.vesc)
				mdBad = !ok
			}
		case "servicedata":
			if it.kind != vNull {
				sd, ok = strBytes(it.kind, it.val, it.vesc)
				sdBad = !ok
			}
		case "servicedatauuid":
			sdUUID, _ = strBytes(it.kind, it.val, it.vesc)
		case "tempc":
			tempc, tempSt = number(it.kind, it.val, it.vesc)
		case "hum":
			hum, humSt = number(it.kind, it.val, it.vesc)
		case "batt":
			batt, battSt = number(it.kind, it.val, it.vesc)
		case "volt":
			volt, vSt = number(it.kind, it.val, it.vesc)
		}
	}
	if !it.ok() {
		return p, errNotObject(payload)
	}
	if mac == "" {
		mac = idMAC
	}
	now = now.UTC()

	var (
		tag      string
		power    float64
		fromMAC  bool
		tlm      TLM
		hasTLM   bool
		buf      [64]byte
		adv      Advertisement
		itemFail string
	)
	switch {
	case uuidBad:
		itemFail = "uuid: must be a string"
	case mdBad:
		itemFail = "manufacturerdata: must be a hex string"
	case sdBad:
		itemFail = "servicedata: must be a hex string"
	}
	if itemFail != "" {
		return p.itemError(0, itemFail), nil
	}
	if haveUUID && majorSt != numAbsent && minorSt != numAbsent {
		u, ok := parseUUIDBytes(uuid)
		if !ok {
			return p.itemError(0, "uuid: must be 32 hex digits, bare or dashed"), nil
		}
		ma, ok1 := uint16Number(major, majorSt)
		mi, ok2 := uint16Number(minor, minorSt)
		if !ok1 || !ok2 {
			return p.itemError(0, "major, minor: must be whole numbers 0..65535"), nil
		}
		tag = iBeaconTagID(u[:], ma, mi)
		power = txPower(txp, txpSt)
	}
	if len(md) > 0 {
		b, err := appendHex(buf[:0], md)
		if err != nil {
			return p.itemError(0, "manufacturerdata: "+wardwatch.ErrorMessage(err)), nil
		}
		if tag == "" {
			adv.manufacturerData(b)
		}
	}
	if len(sd) > 0 && isEddystoneUUID(sdUUID) {
		b, err := appendHex(buf[:0], sd)
		if err != nil {
			return p.itemError(0, "servicedata: "+wardwatch.ErrorMessage(err)), nil
		}
		if tag != "" {
			adv.TagID = tag // keep the iBeacon decode; only look for TLM
		}
		adv.eddystone(b)
	}
	if tag == "" && adv.TagID != "" {
		tag, power = adv.TagID, adv.MeasuredPower
	}
	tlm, hasTLM = adv.TLM, adv.HasTLM

	if tag == "" {
		switch {
		case mac == "":
			p.Skipped = []Skip{{Index: 0, Reason: SkipNoIdentity}}
		case macTypeSt == numOK && macType == 1 && isRandomNonStatic(mac):
			p.Skipped = []Skip{{Index: 0, Reason: SkipRandomMAC}}
		default:
			tag, fromMAC = macTagID(mac), true
		}
	}
	if hasTLM && mac != "" && (tag == "" || fromMAC) {
		p.TLM = []TLMFrame{{GatewayKey: gw, MAC: mac, Time: now, TLM: tlm}}
	}
	if tag == "" {
		return p, nil
	}

	o := Observation{GatewayKey: gw, MAC: mac, FromMAC: fromMAC}
	o.Sighting = wardwatch.Sighting{Time: now, TagID: tag, TxPower: power}
	if rssiSt == numAbsent && distSt != numAbsent {
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
	p.Observations = []Observation{o}
	if hasTLM && !fromMAC {
		p.Readings = tlm.appendReadings(p.Readings, now, tag)
	}
	p.Readings = appendReading(p.Readings, now, tag, wardwatch.MetricTemperature, tempc, tempSt)
	p.Readings = appendReading(p.Readings, now, tag, wardwatch.MetricHumidity, hum, humSt)
	p.Readings = appendReading(p.Readings, now, tag, wardwatch.MetricBatteryPercent, batt, battSt)
	p.Readings = appendReading(p.Readings, now, tag, wardwatch.MetricBatteryVoltage, volt, vSt)
	return p, nil
}

// uint16Number checks a whole number in 0..65535.
func uint16Number(v float64, st numState) (uint16, bool) {
	if st != numOK || v < 0 || v > 65535 || v != float64(int(v)) {
		return 0, false
	}
	return uint16(v), true
}

// isEddystoneUUID reports whether a service data UUID member names 0xFEAA
// ("0xfeaa", "feaa" or the 128-bit form, any case).
func isEddystoneUUID(u []byte) bool {
	switch {
	case bytes.EqualFold(u, []byte("0xfeaa")), bytes.EqualFold(u, []byte("feaa")),
		bytes.EqualFold(u, []byte("0000feaa-0000-1000-8000-00805f9b34fb")):
		return true
	}
	return false
}
