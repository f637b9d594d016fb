package ble

import (
	"encoding/binary"
	"strconv"
	"time"

	"github.com/wardwatch/wardwatch"
)

// MaxAdvertisementBytes is the longest raw advertisement DecodeAdvertisement
// accepts: the most advertising data a Bluetooth 5 extended advertisement
// can carry. Legacy advertisements (and scan responses) hold at most 31
// bytes each.
const MaxAdvertisementBytes = 1650

// eddystoneLoss1m converts Eddystone's "TX power at 0 m" to the RSSI at
// 1 m other beacons advertise: the Eddystone specification puts the loss
// over the first metre at 41 dB.
const eddystoneLoss1m = 41

// BeaconType says which kind of beacon frame gave an advertisement its
// identity.
type BeaconType string

// Beacon frames DecodeAdvertisement takes an identity from.
const (
	BeaconIBeacon      BeaconType = "ibeacon"       // Apple iBeacon: UUID, major, minor
	BeaconAltBeacon    BeaconType = "altbeacon"     // AltBeacon: 20-byte beacon ID
	BeaconEddystoneUID BeaconType = "eddystone_uid" // Eddystone-UID: namespace, instance
)

// Advertisement is what DecodeAdvertisement makes of one raw BLE
// advertisement (or an advertisement and its scan response, concatenated).
type Advertisement struct {
	// TagID is the advertiser's stable identity in canonical form:
	// "ibeacon:<uuid>:<major>:<minor>", "altbeacon:<40 hex>" or
	// "eddystone:<20 hex>:<12 hex>". It is "" when the advertisement
	// carries none (an Eddystone-TLM frame, a phone, a sensor…). When
	// several beacon frames are present the first one wins.
	TagID string
	// Beacon is the frame TagID came from; "" when TagID is "".
	Beacon BeaconType
	// MeasuredPower is the RSSI at 1 m the beacon advertises, in dBm
	// (Eddystone's TX power at 0 m minus 41 dB); 0 when the frame does
	// not say or says something outside [-100, 20].
	MeasuredPower float64
	// TLM holds the advertisement's Eddystone-TLM frame when HasTLM.
	TLM    TLM
	HasTLM bool
}

// TLM is an unencrypted Eddystone-TLM (telemetry) frame, version 0.
type TLM struct {
	// BatteryMV is the battery voltage in millivolts; 0 means the beacon
	// does not measure it.
	BatteryMV uint16
	// Temperature is the beacon's temperature in °C (signed 8.8 fixed
	// point on the air), when HasTemperature (0x8000 on the air means
	// "not supported").
	Temperature    float64
	HasTemperature bool
	// AdvCount is the number of advertisements sent since power-up or
	// reboot.
	AdvCount uint32
	// Uptime is the time since power-up or reboot (0.1 s resolution).
	Uptime time.Duration
}

// maxBatteryMV bounds plausible battery voltages; a larger value is a
// decoding accident and is not reported.
const maxBatteryMV = 10000

// Readings returns the frame's sensor readings for sensorID (the tag's
// identity) at time at: MetricBatteryVoltage in volts when the battery is
// measured (1..10000 mV), MetricTemperature in °C when the temperature is.
func (t TLM) Readings(sensorID string, at time.Time) []wardwatch.Reading {
	return t.appendReadings(nil, at, sensorID)
}

func (t TLM) appendReadings(dst []wardwatch.Reading, at time.Time, sensorID string) []wardwatch.Reading {
	if t.BatteryMV > 0 && t.BatteryMV <= maxBatteryMV {
		dst = append(dst, wardwatch.Reading{Time: at, SensorID: sensorID, Metric: wardwatch.MetricBatteryVoltage, Value: float64(t.BatteryMV) / 1000})
	}
	if t.HasTemperature {
		dst = append(dst, wardwatch.Reading{Time: at, SensorID: sensorID, Metric: wardwatch.MetricTemperature, Value: t.Temperature})
	}
	return dst
}

// AD types and identifiers we look for.
const (
	adManufacturerData = 0xFF
	adServiceData16    = 0x16

	eddystoneUUIDLo, eddystoneUUIDHi = 0xAA, 0xFE // 0xFEAA, little-endian
	eddystoneUID                     = 0x00
	eddystoneTLM                     = 0x20
)

// DecodeAdvertisement parses raw advertising data: a sequence of AD
// structures, each a length byte L, an AD type byte and L-1 data bytes. A
// zero length byte ends the significant part (what follows is padding). It
// recognises
//
//   - iBeacon: manufacturer data (AD type 0xFF) with company 0x004C (on
//     the air 4C 00), type 0x02, length 0x15, then the 16-byte proximity
//     UUID, major and minor (big-endian) and the measured power (int8, RSSI
//     at 1 m);
//   - AltBeacon: manufacturer data with any company ID, then the code
//     BE AC, the 20-byte beacon ID, the reference RSSI at 1 m (int8) and a
//     reserved byte;
//   - Eddystone-UID: 16-bit service data (AD type 0x16) for UUID 0xFEAA
//     (AA FE), frame 0x00, TX power at 0 m (int8), 10-byte namespace,
//     6-byte instance (the 2 reserved bytes may be missing);
//   - Eddystone-TLM: service data for 0xFEAA, frame 0x20, version 0x00,
//     then battery mV, temperature (8.8), advertisement count and uptime
//     in 0.1 s, all big-endian.
//
// Other AD structures (flags, names, other frames, encrypted TLM) are
// skipped. An advertisement with none of these frames is not an error: its
// TagID is "" and HasTLM false. The error (a *wardwatch.Error with code
// EINVALID) is for input that is not advertising data: empty, longer than
// MaxAdvertisementBytes, or with an AD structure running past the end.
func DecodeAdvertisement(raw []byte) (Advertisement, error) {
	var a Advertisement
	if len(raw) == 0 {
		return a, wardwatch.Errorf(wardwatch.EINVALID, "advertisement is empty")
	}
	if len(raw) > MaxAdvertisementBytes {
		return a, wardwatch.Errorf(wardwatch.EINVALID, "advertisement is too long (%d bytes, at most %d)", len(raw), MaxAdvertisementBytes)
	}
	for i := 0; i < len(raw); {
		l := int(raw[i])
		if l == 0 {
			break
		}
		if i+1+l > len(raw) {
			return Advertisement{}, wardwatch.Errorf(wardwatch.EINVALID, "advertisement: the AD structure at byte %d is truncated (length %d, %d bytes left)", i, l, len(raw)-i-1)
		}
		data := raw[i+2 : i+1+l]
		switch raw[i+1] {
		case adManufacturerData:
			a.manufacturerData(data)
		case adServiceData16:
			if len(data) >= 3 && data[0] == eddystoneUUIDLo && data[1] == eddystoneUUIDHi {
				a.eddystone(data[2:])
			}
		}
		i += 1 + l
	}
	return a, nil
}

// manufacturerData decodes the data of an AD structure of type 0xFF: the
// company ID (little-endian) and what follows.
func (a *Advertisement) manufacturerData(d []byte) {
	if a.TagID != "" || len(d) < 4 {
		return
	}
	switch {
	case d[0] == 0x4C && d[1] == 0x00 && d[2] == 0x02 && d[3] == 0x15 && len(d) >= 25:
		a.TagID = iBeaconTagID(d[4:20], binary.BigEndian.Uint16(d[20:22]), binary.BigEndian.Uint16(d[22:24]))
		a.Beacon = BeaconIBeacon
		a.MeasuredPower = measuredPower(int(int8(d[24])))
	case d[2] == 0xBE && d[3] == 0xAC && len(d) >= 26:
		a.TagID = altBeaconTagID(d[4:24])
		a.Beacon = BeaconAltBeacon
		a.MeasuredPower = measuredPower(int(int8(d[24])))
	}
}

// eddystone decodes an Eddystone frame (service data after the UUID).
func (a *Advertisement) eddystone(f []byte) {
	switch f[0] {
	case eddystoneUID:
		if a.TagID != "" || len(f) < 18 {
			return
		}
		a.TagID = eddystoneTagID(f[2:12], f[12:18])
		a.Beacon = BeaconEddystoneUID
		a.MeasuredPower = measuredPower(int(int8(f[1])) - eddystoneLoss1m)
	case eddystoneTLM:
		if a.HasTLM || len(f) < 14 || f[1] != 0x00 {
			return // short, or version 1 (encrypted eTLM)
		}
		a.TLM = decodeTLM(f[2:14])
		a.HasTLM = true
	}
}

// decodeTLM decodes the 12 bytes after an Eddystone-TLM frame's version.
func decodeTLM(b []byte) TLM {
	t := TLM{
		BatteryMV: binary.BigEndian.Uint16(b[0:2]),
		AdvCount:  binary.BigEndian.Uint32(b[4:8]),
		Uptime:    time.Duration(binary.BigEndian.Uint32(b[8:12])) * 100 * time.Millisecond,
	}
	if raw := binary.BigEndian.Uint16(b[2:4]); raw != 0x8000 {
		t.Temperature = float64(int16(raw)) / 256
		t.HasTemperature = true
	}
	return t
}

// measuredPower keeps a plausible advertised RSSI at 1 m, else returns 0
// ("not said").
func measuredPower(p int) float64 {
	if p < minTxPower || p > maxTxPower {
		return 0
	}
	return float64(p)
}

const hexDigits = "0123456789abcdef"

func appendHexLower(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0x0F])
	}
	return dst
}

// iBeaconTagID builds the canonical iBeacon tag identity from the 16-byte
// UUID, major and minor.
func iBeaconTagID(uuid []byte, major, minor uint16) string {
	var buf [64]byte
	b := append(buf[:0], "ibeacon:"...)
	b = appendHexLower(b, uuid[0:4])
	b = append(b, '-')
	b = appendHexLower(b, uuid[4:6])
	b = append(b, '-')
	b = appendHexLower(b, uuid[6:8])
	b = append(b, '-')
	b = appendHexLower(b, uuid[8:10])
	b = append(b, '-')
	b = appendHexLower(b, uuid[10:16])
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(major), 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(minor), 10)
	return string(b)
}

// altBeaconTagID builds "altbeacon:<40 hex>" from the 20-byte beacon ID.
func altBeaconTagID(id []byte) string {
	var buf [64]byte
	b := append(buf[:0], "altbeacon:"...)
	return string(appendHexLower(b, id))
}

// eddystoneTagID builds "eddystone:<20 hex>:<12 hex>".
func eddystoneTagID(ns, inst []byte) string {
	var buf [64]byte
	b := append(buf[:0], "eddystone:"...)
	b = appendHexLower(b, ns)
	b = append(b, ':')
	return string(appendHexLower(b, inst))
}

// macTagID builds "mac:<12 hex>" from a MAC already in canonical form.
func macTagID(mac string) string { return "mac:" + mac }

// DecodeHex decodes a hex string such as a gateway's "rawData": digits in
// either case, optionally prefixed with "0x" or "0X", an even number of
// them, at most 2×MaxAdvertisementBytes. Errors are *wardwatch.Error with
// code EINVALID.
func DecodeHex(s string) ([]byte, error) {
	b, err := appendHex(nil, []byte(s))
	if err != nil {
		return nil, err
	}
	return b, nil
}

// appendHex decodes hex digits (see DecodeHex) and appends the bytes to
// dst.
func appendHex(dst, src []byte) ([]byte, error) {
	if len(src) >= 2 && src[0] == '0' && (src[1] == 'x' || src[1] == 'X') {
		src = src[2:]
	}
	switch {
	case len(src) == 0:
		return dst, wardwatch.Errorf(wardwatch.EINVALID, "hex data is empty")
	case len(src)%2 != 0:
		return dst, wardwatch.Errorf(wardwatch.EINVALID, "hex data has an odd number of digits")
	case len(src) > 2*MaxAdvertisementBytes:
		return dst, wardwatch.Errorf(wardwatch.EINVALID, "hex data is too long (%d digits, at most %d)", len(src), 2*MaxAdvertisementBytes)
	}
	for i := 0; i < len(src); i += 2 {
		hi, ok1 := unhex(src[i])
		lo, ok2 := unhex(src[i+1])
		if !ok1 || !ok2 {
			return dst, wardwatch.Errorf(wardwatch.EINVALID, "hex data has a non-hex character at position %d", i)
		}
		dst = append(dst, hi<<4|lo)
	}
	return dst, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
