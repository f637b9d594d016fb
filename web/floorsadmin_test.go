package web

import (
	"bytes"
	"image"
	"image/png"
	"testing"

	"github.com/wardwatch/wardwatch"
)

func pngOf(w, h int) []byte {
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h)))
	return buf.Bytes()
}

func TestCheckPlan(t *testing.T) {
	for _, c := range []struct {
		name   string
		data   []byte
		ct     string
		aspect float64
		ok     bool
	}{
		{"png", pngOf(400, 200), "image/png", 0.5, true},
		{"svg viewBox", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 60 14"/>`), "image/svg+xml", 14.0 / 60, true},
		{"svg size", []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="200px" height="100px"></svg>`), "image/svg+xml", 0.5, true},
		{"svg without size", []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`), "", 0, false},
		{"html", []byte(`<html><script>alert(1)</script></html>`), "", 0, false},
		{"text", []byte("hello"), "", 0, false},
		{"huge png", pngOf(13000, 1), "", 0, false},
	} {
		ct, aspect, err := checkPlan(c.data)
		if (err == nil) != c.ok || ct != c.ct || (c.ok && aspect != c.aspect) {
			t.Errorf("%s: %q %v %v; want %q %v ok=%v", c.name, ct, aspect, err, c.ct, c.aspect, c.ok)
		}
		if err != nil && wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Errorf("%s: error code %q, want invalid", c.name, wardwatch.ErrorCode(err))
		}
	}
}

func FuzzCheckPlan(f *testing.F) {
	f.Add(pngOf(4, 2))
	f.Add([]byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 60 14"/>`))
	f.Add([]byte(`<svg width="1e308" height="-1"/>`))
	f.Add([]byte("\xff\xd8\xff\xe0"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ct, aspect, err := checkPlan(data)
		if err == nil && (ct == "" || !(aspect > 0)) {
			t.Fatalf("accepted %q with aspect %v", ct, aspect)
		}
	})
}

func FuzzZoneFromForm(f *testing.F) {
	f.Add(`[[0,0],[1,0],[1,1]]`)
	f.Add(`[{"X":0,"Y":0}]`)
	f.Add(`[[1e309,0]]`)
	f.Fuzz(func(t *testing.T, poly string) {
		_, _ = zoneFromForm(map[string]string{"name": "z", "kind": "room", "polygon": poly})
	})
}
