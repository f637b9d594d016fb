package alerts

import (
	"slices"
	"testing"
)

func TestExpand(t *testing.T) {
	contacts := []Contact{
		{Name: "Pharmacy on shift", Group: GroupTeam, Team: TeamPharmacy, Email: "rx@h.example", Webhook: "pager", Enabled: true},
		{Name: "4B pharmacist", Group: GroupTeam, Team: TeamPharmacy, UnitID: 4, Email: "4b@h.example", Enabled: true},
		{Name: "Other unit", Group: GroupTeam, Team: TeamPharmacy, UnitID: 5, Email: "5@h.example", Enabled: true},
		{Name: "Duplicate", Group: GroupTeam, Team: TeamPharmacy, Email: "rx@h.example", Enabled: true},
		{Name: "Disabled", Group: GroupTeam, Team: TeamPharmacy, Email: "off@h.example"},
		{Name: "Supervisor", Group: GroupSupervisor, Team: TeamPharmacy, Email: "sup@h.example", Enabled: true},
		{Name: "Facilities", Group: GroupTeam, Team: TeamFacilities, Email: "fac@h.example", Enabled: true},
	}
	addrs := func(ns []Notification) []string {
		var out []string
		for _, n := range ns {
			out = append(out, n.Address)
		}
		return out
	}
	base := Notification{ID: "n1", Group: GroupTeam, Team: TeamPharmacy, UnitID: 4}
	tests := []struct {
		name string
		n    Notification
		want []string
	}{
		{"email to the team and the unit's own", with(base, ChannelEmail), []string{"rx@h.example", "4b@h.example"}},
		{"webhook by endpoint name", with(base, ChannelWebhook), []string{"pager"}},
		{"in-app unchanged", with(base, ChannelInApp), []string{""}},
		{"fixed address unchanged", func() Notification { n := with(base, ChannelEmail); n.Address = "x@h.example"; return n }(), []string{"x@h.example"}},
		{"nobody in the group", func() Notification { n := with(base, ChannelEmail); n.Group = GroupOnCall; return n }(), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Expand(tt.n, contacts)
			if !slices.Equal(addrs(got), tt.want) {
				t.Fatalf("Expand = %q, want %q", addrs(got), tt.want)
			}
			for _, n := range got {
				if tt.n.Address == "" && n.Channel != ChannelInApp && n.ID == tt.n.ID {
					t.Errorf("expanded notification keeps the group's ID %q", n.ID)
				}
			}
		})
	}
}

func with(n Notification, c Channel) Notification { n.Channel = c; return n }

func TestContactValidate(t *testing.T) {
	ok := Contact{Name: "A", Group: GroupTeam, Team: TeamBiomed, Email: "a@h.example"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Contact{
		{Group: GroupTeam, Team: TeamBiomed, Email: "a@h.example"},
		{Name: "A", Group: "boss", Team: TeamBiomed, Email: "a@h.example"},
		{Name: "A", Group: GroupTeam, Team: "x", Email: "a@h.example"},
		{Name: "A", Group: GroupTeam, Team: TeamBiomed},
		{Name: "A", Group: GroupTeam, Team: TeamBiomed, Email: "nope"},
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}
