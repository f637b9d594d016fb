package wardwatch_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/wardwatch/wardwatch"
)

func TestErrorCodeAndMessage(t *testing.T) {
	notFound := wardwatch.Errorf(wardwatch.ENOTFOUND, "floor %d not found", 7)
	wrapped := fmt.Errorf("load floor: %w", notFound)
	withCause := &wardwatch.Error{Code: wardwatch.EUNAVAILABLE, Message: "database unreachable", Err: errors.New("dial tcp: refused")}
	tests := []struct {
		name        string
		err         error
		code, msg   string
		errContains string
	}{
		{"nil", nil, "", "", ""},
		{"plain error hides internals", errors.New("pq: password authentication failed"), wardwatch.EINTERNAL, "Internal error.", ""},
		{"domain error", notFound, wardwatch.ENOTFOUND, "floor 7 not found", "not_found: floor 7 not found"},
		{"wrapped domain error", wrapped, wardwatch.ENOTFOUND, "floor 7 not found", "load floor: not_found"},
		{"cause stays in the log text only", withCause, wardwatch.EUNAVAILABLE, "database unreachable", "dial tcp: refused"},
	}
	for _, tt := range tests {
		if got := wardwatch.ErrorCode(tt.err); got != tt.code {
			t.Errorf("%s: ErrorCode = %q, want %q", tt.name, got, tt.code)
		}
		if got := wardwatch.ErrorMessage(tt.err); got != tt.msg {
			t.Errorf("%s: ErrorMessage = %q, want %q", tt.name, got, tt.msg)
		}
		if tt.errContains != "" && !strings.Contains(tt.err.Error(), tt.errContains) {
			t.Errorf("%s: Error() = %q, want it to contain %q", tt.name, tt.err.Error(), tt.errContains)
		}
	}
	if !errors.Is(withCause, withCause.Err) {
		t.Error("Unwrap does not expose the cause")
	}
}

func TestKindsAndRoles(t *testing.T) {
	for _, k := range []wardwatch.ZoneKind{wardwatch.ZoneRoom, wardwatch.ZoneCorridor, wardwatch.ZoneLift, wardwatch.ZoneStairs} {
		if !k.Valid() {
			t.Errorf("zone kind %q should be valid", k)
		}
	}
	if wardwatch.ZoneKind("ballroom").Valid() {
		t.Error("unknown zone kind accepted")
	}
	if got := wardwatch.AssetInfusionPump.Label(); got != "Infusion pump" {
		t.Errorf("Label = %q", got)
	}
	if got := wardwatch.AssetKind("toaster").Label(); got != "Other" || wardwatch.AssetKind("toaster").Valid() {
		t.Errorf("unknown asset kind: Label %q, Valid %v", got, wardwatch.AssetKind("toaster").Valid())
	}
	if !wardwatch.RoleNurse.Valid() || wardwatch.Role("root").Valid() {
		t.Error("role validation is wrong")
	}
}
