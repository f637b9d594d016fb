package ble

import (
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// ParseMQTTRoom parses one message in Home Assistant's mqtt_room format,
// published on <prefix>/<room>: the gateway key is the topic's last level
// (a caller that maps topics to gateways differently sets
// Observation.GatewayKey itself). The payload is the minimal contract
//
//	{"id":"iBeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0-1-42","name":"Pump 0412","distance":2.84}
//
// id is mapped like ESPresense's (see ParseESPresense), except that IDs
// WardWatch cannot interpret become mqtt_room:<id>. distance, in metres
// ([0, 1000]), is required unless the message also has an rssi
// ([-130, 0] dBm), which is then used instead. name and other members are
// ignored.
//
// Errors follow ParseESPresense.
func ParseMQTTRoom(topic string, payload []byte, now time.Time) (Parsed, error) {
	p := Parsed{Format: FormatMQTTRoom}
	if len(payload) > MaxMessageBytes {
		return p, errTooLarge(len(payload))
	}
	i := strings.LastIndexByte(topic, '/')
	room := topic[i+1:]
	if i < 0 || room == "" {
		return p, wardwatch.Errorf(wardwatch.EINVALID, "topic %s is not <prefix>/<room>", quoteShort(topic))
	}

	var (
		it             objIter
		haveID         bool
		idKind         valueKind
		idRaw          []byte
		idEsc          bool
		dist, rssi     float64
		distSt, rssiSt numState
	)
	it.reset(payload)
	for it.next() {
		switch string(it.key) {
		case "id":
			haveID, idKind, idRaw, idEsc = it.kind != vNull, it.kind, it.val, it.vesc
		case "distance":
			dist, distSt = number(it.kind, it.val, it.vesc)
		case "rssi":
			rssi, rssiSt = number(it.kind, it.val, it.vesc)
		}
	}
	if !it.ok() {
		return p, errNotObject(payload)
	}
	if !haveID {
		return p.itemError(0, "id: missing"), nil
	}
	id, ok := strBytes(idKind, idRaw, idEsc)
	if !ok {
		return p.itemError(0, "id: must be a string"), nil
	}
	ident := mqttDeviceID(id, schemeMQTTRoom, 0, false)
	if ident.reason != "" {
		return p.itemError(0, ident.reason), nil
	}
	if ident.skip != "" {
		p.Skipped = []Skip{{Index: 0, Reason: ident.skip}}
		return p, nil
	}
	o := Observation{GatewayKey: room, FromMAC: ident.fromMAC}
	o.Sighting.Time = now.UTC()
	o.Sighting.TagID = ident.tag
	if rssiSt != numAbsent {
		v, reason := checkRSSI(rssi, rssiSt)
		if reason != "" {
			return p.itemError(0, reason), nil
		}
		o.Sighting.RSSI = v
	} else {
		d, reason := checkDistance(dist, distSt)
		if reason != "" {
			return p.itemError(0, reason), nil
		}
		o.Distance = d
	}
	p.Observations = []Observation{o}
	return p, nil
}
