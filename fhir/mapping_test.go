package fhir

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
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

// TestBuildings: floors name their buildings; each building is one
// Location under the site, each floor part of its own, and the unnamed
// building keeps the configured name.
func TestBuildings(t *testing.T) {
	s := newSite("General Hospital", "Main building", []wardwatch.Floor{
		{ID: 1, Name: "Ward 4", Building: "East Wing"}, {ID: 2, Name: "Ward 5", Building: "East Wing"},
		{ID: 3, Name: "Theatres", Building: "South Block (2019)"}, {ID: 4, Name: "Basement"},
	}, nil)
	locs := s.locations()
	byID := map[string]Location{}
	var buildings []string
	for _, l := range locs {
		byID[l.ID] = l
		if l.PhysicalType != nil && l.PhysicalType.Coding[0].Code == "bu" {
			buildings = append(buildings, l.Name)
			if !regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`).MatchString(l.ID) {
				t.Errorf("building id %q is not a FHIR id", l.ID)
			}
		}
	}
	if want := []string{"Main building", "East Wing", "South Block (2019)"}; !slices.Equal(buildings, want) {
		t.Fatalf("buildings %q, want %q", buildings, want)
	}
	if byID[floorRID(1)].PartOf.Reference != byID[floorRID(2)].PartOf.Reference ||
		byID[floorRID(1)].PartOf.Display != "East Wing" || byID[floorRID(4)].PartOf.Reference != "Location/"+buildingRID {
		t.Errorf("floors' buildings: %+v %+v %+v", byID[floorRID(1)].PartOf, byID[floorRID(2)].PartOf, byID[floorRID(4)].PartOf)
	}
	if buildingID("East Wing") == buildingID("East-Wing") {
		t.Error("two building names that read alike share an id")
	}
}
