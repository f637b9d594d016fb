package web

import (
	"testing"
)

func FuzzZoneFromForm(f *testing.F) {
	f.Add(`[[0,0],[1,0],[1,1]]`)
	f.Add(`[{"X":0,"Y":0}]`)
	f.Add(`[[1e309,0]]`)
	f.Fuzz(func(t *testing.T, poly string) {
		_, _ = zoneFromForm(map[string]string{"name": "z", "kind": "room", "polygon": poly})
	})
}
