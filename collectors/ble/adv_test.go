package ble

import (
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

// Byte-exact advertisement vectors, built by hand from the specifications
// (see DecodeAdvertisement). Each is the advertising data a gateway
// reports as "rawData": AD structures of [length][type][data…].
const (
	// Flags: 02 01 06 (LE General Discoverable, BR/EDR not supported).
	advFlags = "020106"

	// iBeacon: 1A FF | 4C 00 (Apple, little-endian) | 02 15 (iBeacon,
	// 21 bytes follow) | UUID E2C56DB5-DFFB-48D2-B060-D0F5A71096E0 |
	// major 00 01 | minor 00 2A | measured power C5 (-59 dBm).
	advIBeacon    = advFlags + "1AFF4C000215" + "E2C56DB5DFFB48D2B060D0F5A71096E0" + "0001" + "002A" + "C5"
	tagIBeacon    = "ibeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0:1:42"
	advIBeaconLow = "0x" + "020106" + "1aff4c000215" + "e2c56db5dffb48d2b060d0f5a71096e0" + "0001" + "002a" + "c5"

	// AltBeacon: 1B FF | 18 01 (company 0x0118, Radius Networks) | BE AC |
	// beacon ID 01 02 … 14 (20 bytes) | reference RSSI C4 (-60 dBm) |
	// reserved 00.
	advAltBeacon = advFlags + "1BFF1801BEAC" + "0102030405060708090A0B0C0D0E0F1011121314" + "C4" + "00"
	tagAltBeacon = "altbeacon:0102030405060708090a0b0c0d0e0f1011121314"

	// Eddystone-UID: complete list of 16-bit service UUIDs 03 03 AA FE, then
	// service data 17 16 | AA FE (0xFEAA) | frame 00 | TX power at 0 m E7
	// (-25 dBm) | namespace EDD1EBEAC04E5DEFA017 | instance 0BDB87539B67 |
	// reserved 00 00.
	advEddystoneUID = advFlags + "0303AAFE" + "1716AAFE00E7" + "EDD1EBEAC04E5DEFA017" + "0BDB87539B67" + "0000"
	tagEddystone    = "eddystone:edd1ebeac04e5defa017:0bdb87539b67"

	// Eddystone-TLM: 11 16 | AA FE | frame 20 | version 00 | battery 0B B8
	// (3000 mV) | temperature 17 80 (23.5 °C in 8.8) | advertisement count
	// 00 00 12 34 (4660) | uptime 00 01 E2 40 (123456 × 0.1 s).
	advEddystoneTLM = advFlags + "0303AAFE" + "1116AAFE2000" + "0BB8" + "1780" + "00001234" + "0001E240"

	// Eddystone-TLM with nothing measured: battery 0, temperature 80 00.
	advTLMNoSensors = advFlags + "0303AAFE" + "1116AAFE2000" + "0000" + "8000" + "00000001" + "0000000A"

	// Eddystone-TLM at -0.5 °C: temperature FF 80.
	advTLMNegative = "1116AAFE2000" + "0C1C" + "FF80" + "00000002" + "00000014"

	// A phone: flags and a complete local name 09 09 "My Phone".
	advPhone = advFlags + "09094D792050686F6E65"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := DecodeHex(s)
	if err != nil {
		t.Fatalf("DecodeHex(%q): %v", s, err)
	}
	return b
}

func TestDecodeAdvertisement(t *testing.T) {
	tests := []struct {
		name      string
		hex       string
		wantTag   string
		wantType  BeaconType
		wantPower float64
		wantTLM   *TLM
		wantErr   string
	}{
		{name: "ibeacon", hex: advIBeacon, wantTag: tagIBeacon, wantType: BeaconIBeacon, wantPower: -59},
		{name: "ibeacon lowercase 0x", hex: advIBeaconLow, wantTag: tagIBeacon, wantType: BeaconIBeacon, wantPower: -59},
		{name: "ibeacon without flags", hex: strings.TrimPrefix(advIBeacon, advFlags), wantTag: tagIBeacon, wantType: BeaconIBeacon, wantPower: -59},
		{name: "ibeacon with padding", hex: advIBeacon + "000000", wantTag: tagIBeacon, wantType: BeaconIBeacon, wantPower: -59},
		{name: "ibeacon implausible power", hex: advFlags + "1AFF4C000215E2C56DB5DFFB48D2B060D0F5A71096E00001002A7F", wantTag: tagIBeacon, wantType: BeaconIBeacon},
		{name: "ibeacon max major minor", hex: "1AFF4C000215E2C56DB5DFFB48D2B060D0F5A71096E0FFFFFFFFC5",
			wantTag: "ibeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0:65535:65535", wantType: BeaconIBeacon, wantPower: -59},
		{name: "apple but not ibeacon", hex: advFlags + "0AFF4C001005031C0A1B2C"},
		{name: "ibeacon too short", hex: advFlags + "19FF4C000215E2C56DB5DFFB48D2B060D0F5A71096E00001002A"},
		{name: "altbeacon", hex: advAltBeacon, wantTag: tagAltBeacon, wantType: BeaconAltBeacon, wantPower: -60},
		{name: "eddystone uid", hex: advEddystoneUID, wantTag: tagEddystone, wantType: BeaconEddystoneUID, wantPower: -66},
		{name: "eddystone uid without reserved bytes", hex: advFlags + "1516AAFE00E7EDD1EBEAC04E5DEFA0170BDB87539B67",
			wantTag: tagEddystone, wantType: BeaconEddystoneUID, wantPower: -66},
		{name: "eddystone uid too short", hex: "1416AAFE00E7EDD1EBEAC04E5DEFA0170BDB87539B"},
		{name: "eddystone uid extreme power", hex: "1716AAFE0080EDD1EBEAC04E5DEFA0170BDB87539B670000", wantTag: tagEddystone, wantType: BeaconEddystoneUID},
		{name: "eddystone tlm", hex: advEddystoneTLM,
			wantTLM: &TLM{BatteryMV: 3000, Temperature: 23.5, HasTemperature: true, AdvCount: 4660, Uptime: 12345600 * time.Millisecond}},
		{name: "eddystone tlm nothing measured", hex: advTLMNoSensors,
			wantTLM: &TLM{AdvCount: 1, Uptime: time.Second}},
		{name: "eddystone tlm negative", hex: advTLMNegative,
			wantTLM: &TLM{BatteryMV: 3100, Temperature: -0.5, HasTemperature: true, AdvCount: 2, Uptime: 2 * time.Second}},
		{name: "encrypted tlm ignored", hex: "1716AAFE2001" + strings.Repeat("00", 18)},
		{name: "eddystone url ignored", hex: "0D16AAFE10EE03676F6F676C6507"},
		{name: "uid and tlm together", hex: advEddystoneUID + strings.TrimPrefix(advEddystoneTLM, advFlags+"0303AAFE"),
			wantTag: tagEddystone, wantType: BeaconEddystoneUID, wantPower: -66,
			wantTLM: &TLM{BatteryMV: 3000, Temperature: 23.5, HasTemperature: true, AdvCount: 4660, Uptime: 12345600 * time.Millisecond}},
		{name: "first identity wins", hex: advIBeacon + strings.TrimPrefix(advEddystoneUID, advFlags),
			wantTag: tagIBeacon, wantType: BeaconIBeacon, wantPower: -59},
		{name: "phone", hex: advPhone},
		{name: "minew sample service data", hex: "1E168643BDBBBADEBABAA3A246BFA5DA813C95B29DA8AEE27FBA88454545BA"},
		{name: "empty", hex: "", wantErr: "empty"},
		{name: "truncated", hex: advFlags + "1AFF4C0002", wantErr: "truncated"},
		{name: "truncated length byte only", hex: "020106FF", wantErr: "truncated"},
		{name: "zero length first", hex: "00", wantTag: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var raw []byte
			if tt.hex != "" {
				raw = mustHex(t, tt.hex)
			}
			a, err := DecodeAdvertisement(raw)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if wardwatch.ErrorCode(err) != wardwatch.EINVALID {
					t.Errorf("code %q, want %q", wardwatch.ErrorCode(err), wardwatch.EINVALID)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.TagID != tt.wantTag || a.Beacon != tt.wantType || a.MeasuredPower != tt.wantPower {
				t.Errorf("got tag %q type %q power %v, want %q %q %v", a.TagID, a.Beacon, a.MeasuredPower, tt.wantTag, tt.wantType, tt.wantPower)
			}
			if a.TagID != "" {
				if canon, err := NormalizeCollectorTagID(a.TagID); err != nil || canon != a.TagID {
					t.Errorf("tag %q is not canonical: %q, %v", a.TagID, canon, err)
				}
			}
			if (tt.wantTLM != nil) != a.HasTLM {
				t.Fatalf("HasTLM = %v, want %v", a.HasTLM, tt.wantTLM != nil)
			}
			if tt.wantTLM != nil && a.TLM != *tt.wantTLM {
				t.Errorf("TLM = %+v, want %+v", a.TLM, *tt.wantTLM)
			}
		})
	}
}

func TestDecodeAdvertisementTooLong(t *testing.T) {
	raw := make([]byte, MaxAdvertisementBytes+1)
	if _, err := DecodeAdvertisement(raw); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Errorf("err = %v", err)
	}
	// The longest accepted: all padding.
	if _, err := DecodeAdvertisement(raw[:MaxAdvertisementBytes]); err != nil {
		t.Errorf("max length: %v", err)
	}
}

func TestTLMReadings(t *testing.T) {
	at := testNow
	tlm := TLM{BatteryMV: 3000, Temperature: 23.5, HasTemperature: true}
	got := tlm.Readings(tagEddystone, at)
	want := []wardwatch.Reading{
		{Time: at, SensorID: tagEddystone, Metric: wardwatch.MetricBatteryVoltage, Value: 3},
		{Time: at, SensorID: tagEddystone, Metric: wardwatch.MetricTemperature, Value: 23.5},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("reading %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if rs := (TLM{BatteryMV: 0xFFFF}).Readings(tagEddystone, at); len(rs) != 0 {
		t.Errorf("implausible battery gave %+v", rs)
	}
	if rs := (TLM{}).Readings(tagEddystone, at); len(rs) != 0 {
		t.Errorf("empty TLM gave %+v", rs)
	}
}

func TestDecodeHex(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string
	}{
		{in: "0A1b", want: "\x0a\x1b"},
		{in: "0x0a1B", want: "\x0a\x1b"},
		{in: "0XFF", want: "\xff"},
		{in: "", wantErr: "empty"},
		{in: "0x", wantErr: "empty"},
		{in: "abc", wantErr: "odd"},
		{in: "zz", wantErr: "non-hex"},
		{in: "0 1", wantErr: "odd"},
		{in: "0g", wantErr: "non-hex"},
		{in: strings.Repeat("00", MaxAdvertisementBytes+1), wantErr: "too long"},
	}
	for _, tt := range tests {
		got, err := DecodeHex(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("DecodeHex(%.20q) err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("DecodeHex(%q) = %x, %v; want %x", tt.in, got, err, tt.want)
		}
	}
}
