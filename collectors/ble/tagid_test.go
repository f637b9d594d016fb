package ble

import (
	"strings"
	"testing"

	"github.com/wardwatch/wardwatch"
)

func TestNormalizeTagID(t *testing.T) {
	const canonUUID = "5b1e0a7c-3d2f-4e6a-9c1b-7a8d2e4f6c30"
	tests := []struct {
		in, want string // want "" means an error is expected
	}{
		// iBeacon
		{"ibeacon:" + canonUUID + ":4:12", "ibeacon:" + canonUUID + ":4:12"},
		{"ibeacon:5b1e0a7c3d2f4e6a9c1b7a8d2e4f6c30:4:12", "ibeacon:" + canonUUID + ":4:12"},
		{"iBeacon:5B1E0A7C-3D2F-4E6A-9C1B-7A8D2E4F6C30:00004:0012", "ibeacon:" + canonUUID + ":4:12"},
		{"  IBEACON:5B1E0A7C3D2F4E6A9C1B7A8D2E4F6C30:0:65535 ", "ibeacon:" + canonUUID + ":0:65535"},
		{"ibeacon:" + canonUUID + ":4:65536", ""},
		{"ibeacon:" + canonUUID + ":-1:2", ""},
		{"ibeacon:" + canonUUID + ":+1:2", ""},
		{"ibeacon:" + canonUUID + ":1", ""},
		{"ibeacon:" + canonUUID + ":1:2:3", ""},
		{"ibeacon:" + canonUUID + "::2", ""},
		{"ibeacon:5b1e0a7c3d2f4e6a9c1b7a8d2e4f6c3:4:12", ""},        // 31 hex
		{"ibeacon:5b1e0a7c3d2f4e6a9c1b7a8d2e4f6c300:4:12", ""},      // 33 hex
		{"ibeacon:5b1e0a7c-3d2f4e6a-9c1b-7a8d2e4f6c30-:4:12", ""},   // dashes misplaced
		{"ibeacon:5b1e0a7c-3d2f-4e6a-9c1b-7a8d2e4f6c3g:4:12", ""},   // not hex
		{"ibeacon:{5b1e0a7c-3d2f-4e6a-9c1b-7a8d2e4f6c30}:4:12", ""}, // braces
		// Eddystone
		{"eddystone:EDD1EBEAC04E5DEFA017:0BDB87539B67", "eddystone:edd1ebeac04e5defa017:0bdb87539b67"},
		{"Eddystone:edd1ebeac04e5defa017:0bdb87539b67", "eddystone:edd1ebeac04e5defa017:0bdb87539b67"},
		{"eddystone:edd1ebeac04e5defa01:0bdb87539b67", ""},
		{"eddystone:edd1ebeac04e5defa017:0bdb87539b6", ""},
		{"eddystone:edd1ebeac04e5defa017", ""},
		{"eddystone:edd1ebeac04e5defa017:0bdb87539b67:00", ""},
		// EPC
		{"epc:3034257BF7194E4000001A85", "epc:3034257bf7194e4000001a85"},
		{"EPC:ab", "epc:ab"},
		{"epc:", ""},
		{"epc:abc", ""},
		{"epc:xyz0", ""},
		{"epc:" + strings.Repeat("a", 124), "epc:" + strings.Repeat("a", 124)},
		{"epc:" + strings.Repeat("a", 126), ""},
		// MAC
		{"mac:C0FFEE000001", "mac:c0ffee000001"},
		{"mac:C0:FF:EE:00:00:01", "mac:c0ffee000001"},
		{"mac:c0-ff-ee-00-00-01", "mac:c0ffee000001"},
		{"mac:c0:ff-ee:00:00:01", ""},
		{"mac:c0ffee00000", ""},
		{"mac:c0ffee0000011", ""},
		{"mac:c0ffee00000g", ""},
		{"mac:c0.ff.ee.00.00.01", ""},
		// no or unknown scheme
		{"", ""},
		{"   ", ""},
		{"c0ffee000001", ""},
		{"ble:c0ffee000001", ""},
		{":", ""},
		{"ibeacon", ""},
		{strings.Repeat("x", 300), ""},
		{"mac:c0ffee00000\u00e9", ""},
	}
	for _, tt := range tests {
		got, err := NormalizeTagID(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("NormalizeTagID(%q) = %q, want an error", tt.in, got)
				continue
			}
			if code := wardwatch.ErrorCode(err); code != wardwatch.EINVALID {
				t.Errorf("NormalizeTagID(%q) error code = %q, want %q", tt.in, code, wardwatch.EINVALID)
			}
			if msg := wardwatch.ErrorMessage(err); len(msg) > 250 {
				t.Errorf("NormalizeTagID(%q) error message is %d bytes long; it must stay short", tt.in, len(msg))
			}
			continue
		}
		if err != nil {
			t.Errorf("NormalizeTagID(%q) error: %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("NormalizeTagID(%q) = %q, want %q", tt.in, got, tt.want)
		}
		// Canonical forms are fixed points.
		if again, err := NormalizeTagID(got); err != nil || again != got {
			t.Errorf("NormalizeTagID(%q) = %q, %v; canonical form must map to itself", got, again, err)
		}
	}
}
