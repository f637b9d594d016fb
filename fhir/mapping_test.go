package fhir

import (
	"strings"
	"testing"
	"time"
)

func TestIDSafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"cabinet", "cabinet"},
		{"air temp", "air-20temp"},
		{"a-b", "a-2Db"},
		{"a.b", "a-2Eb"},
		{"é", "-C3-A9"},
	}
	for _, tt := range tests {
		if got := idSafe(tt.in, 64); got != tt.want {
			t.Errorf("idSafe(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := idSafe(strings.Repeat("x", 30), maxChannelPart)
	if len(long) != maxChannelPart || !strings.HasPrefix(long, "--") {
		t.Errorf("long name: %q", long)
	}
	if idSafe("", 10) == "" {
		t.Error("empty name gives an empty id part")
	}
	// Distinct inputs give distinct ids, and every id is a valid FHIR id.
	seen := map[string]string{}
	for _, s := range []string{"a-b", "a_b", "a b", "a-2Db", "a--b", "", "x", strings.Repeat("y", 40), strings.Repeat("y", 41)} {
		for _, id := range []string{channelRID(1<<62, s), pumpRID(s), observationRID(channelKey(1<<62, s), -1<<40)} {
			if !idRE.MatchString(id) {
				t.Errorf("%q: id %q is not a valid FHIR id", s, id)
			}
			if prev, dup := seen[id]; dup && prev != s {
				t.Errorf("%q and %q share id %q", prev, s, id)
			}
			seen[id] = s
		}
	}
}

func TestObservationRID(t *testing.T) {
	key := channelKey(12, "air temp")
	id := observationRID(key, 1773143995000)
	k, ms, ok := parseObservationRID(id)
	if !ok || k != key || ms != 1773143995000 {
		t.Fatalf("round trip of %q: %q %d %v", id, k, ms, ok)
	}
	for _, bad := range []string{"obs-", "obs-1", "obs-1.x", "obs-1.x.y", "asset-1", "obs-.5"} {
		if _, _, ok := parseObservationRID(bad); ok {
			t.Errorf("%q parsed as an observation id", bad)
		}
	}
}

func TestCalibration(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		due       time.Time
		state     string
		extension bool
	}{
		{time.Time{}, "unspecified", false},
		{now.Add(time.Hour), "calibrated", true},
		{now, "calibration-required", true},
		{now.AddDate(-1, 0, 0), "calibration-required", true},
	}
	for _, tt := range tests {
		c := calibration(tt.due, now)
		if len(c) != 1 || c[0].State != tt.state || (len(c[0].Extension) == 1) != tt.extension || c[0].Time != "" {
			t.Errorf("due %v: %+v, want state %s", tt.due, c, tt.state)
		}
	}
}

func TestQuarantineText(t *testing.T) {
	if got := quarantineText("temperature"); got != "DO NOT USE — temperature excursion" {
		t.Error(got)
	}
	if got := quarantineText("humidity"); got != "DO NOT USE — relative humidity excursion" {
		t.Error(got)
	}
}
