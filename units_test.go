package wardwatch_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/wardwatch/wardwatch"
)

func TestUserInScope(t *testing.T) {
	for _, tc := range []struct {
		units  []string
		role   wardwatch.Role
		unit   string
		in     bool
		scoped bool
	}{
		{nil, wardwatch.RoleNurse, "4B", true, false},
		{nil, wardwatch.RoleNurse, "", true, false},
		{[]string{"4B"}, wardwatch.RoleNurse, "4B", true, true},
		{[]string{"4B"}, wardwatch.RoleNurse, "5B", false, true},
		{[]string{"4B", "ICU"}, wardwatch.RoleNurse, "ICU", true, true},
		{[]string{"4B"}, wardwatch.RoleNurse, "4b", false, true},
		{[]string{"4B"}, wardwatch.RoleAdmin, "5B", false, false},
	} {
		u := wardwatch.User{Role: tc.role, Units: tc.units}
		if got := u.InScope(tc.unit); got != tc.in {
			t.Errorf("User{Units: %q}.InScope(%q) = %v, want %v", tc.units, tc.unit, got, tc.in)
		}
		if got := u.Scoped(); got != tc.scoped {
			t.Errorf("User{%s %q}.Scoped() = %v, want %v", tc.role, tc.units, got, tc.scoped)
		}
	}
}

func TestCheckCareUnit(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{"  4B ", "4B", true},
		{"Pharmacy", "Pharmacy", true},
		{"Ward 4_B-1.2", "Ward 4_B-1.2", true},
		{"Station Ü", "Station Ü", true},
		{strings.Repeat("u", 64), strings.Repeat("u", 64), true},
		{strings.Repeat("u", 65), "", false},
		{"4B;5B", "", false},
		{"<b>", "", false},
		{"4B\n", "4B", true},
		{"4\tB", "", false},
	} {
		got, err := wardwatch.CheckCareUnit(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("CheckCareUnit(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Errorf("CheckCareUnit(%q) error code %q, want %q", tc.in, wardwatch.ErrorCode(err), wardwatch.EINVALID)
		}
	}
	got, err := wardwatch.CheckCareUnits([]string{"5B", " 4B", "", "4B"})
	if err != nil || !slices.Equal(got, []string{"4B", "5B"}) {
		t.Errorf("CheckCareUnits = %q, %v", got, err)
	}
	if _, err := wardwatch.CheckCareUnits([]string{"4B", "x|y"}); err == nil {
		t.Errorf("CheckCareUnits accepted a bad unit")
	}
	if b, err := wardwatch.CheckBuilding(" East wing "); err != nil || b != "East wing" {
		t.Errorf("CheckBuilding = %q, %v", b, err)
	}
	if _, err := wardwatch.CheckBuilding("a\x07"); err == nil {
		t.Errorf("CheckBuilding accepted a control character")
	}
}
