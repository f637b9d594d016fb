package ble

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

func FuzzParseBatch(f *testing.F) {
	seeds := []struct {
		body   string
		ndjson bool
	}{
		{`{"sightings":[{"ts":"2025-03-01T10:14:58.25Z","tag":"` + testTag + `","rssi":-67,"tx_power":-59}]}`, false},
		{`{"sightings":[{"ts":1740824098.5,"tag":"mac:AA:BB:CC:DD:EE:FF","rssi":-80},{"tag":"epc:ab","rssi":5}]}`, false},
		{`{"sightings":[]}`, false},
		{`{"sightings":[null,1,"x",[],{}]}`, false},
		{`{"sightings":[{"tag":"` + testTag + `","rssi":-1e400,"ts":1e400}]}`, false},
		{`{"sightings":null}`, false},
		{`[{"tag":"x"}]`, false},
		{`{"sightings":[]} trailing`, false},
		{``, false},
		{"{\"tag\":\"eddystone:EDD1EBEAC04E5DEFA017:0BDB87539B67\",\"rssi\":-58}\n{\"tag\":\"x\"}\nnot json\n", true},
		{"\n\n", true},
		{"{\"ts\":\"NaN\",\"tag\":\"ibeacon:5B1E0A7C3D2F4E6A9C1B7A8D2E4F6C30:1:2\",\"rssi\":-60}\r\n", true},
	}
	for _, s := range seeds {
		f.Add([]byte(s.body), s.ndjson)
	}
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		ct := ctJSON
		if ndjson {
			ct = ctNDJSON
		}
		got, errs, err := ParseBatch(body, ct, testGW, testNow)
		if err != nil {
			if got != nil || errs != nil {
				t.Fatalf("ParseBatch returned results alongside an error: %v", err)
			}
			return
		}
		for _, s := range got {
			if s.RSSI < minRSSI || s.RSSI > maxRSSI {
				t.Fatalf("accepted rssi %v out of range", s.RSSI)
			}
			if s.TxPower < minTxPower || s.TxPower > maxTxPower {
				t.Fatalf("accepted tx_power %v out of range", s.TxPower)
			}
			if canon, err := NormalizeTagID(s.TagID); err != nil || canon != s.TagID {
				t.Fatalf("accepted tag %q is not canonical (%q, %v)", s.TagID, canon, err)
			}
			if d := s.Time.Sub(testNow); d > MaxFuture || d < -MaxPast {
				t.Fatalf("accepted time %v outside the window", s.Time)
			}
			if s.GatewayID != testGW.ID {
				t.Fatalf("gateway id %d, want %d", s.GatewayID, testGW.ID)
			}
		}
		last := -1
		for _, e := range errs {
			if e.Index <= last {
				t.Fatalf("item errors not in increasing index order: %+v", errs)
			}
			last = e.Index
			if e.Reason == "" {
				t.Fatalf("item error %d without a reason", e.Index)
			}
		}
		if n, ok := itemCount(body, ndjson); ok && len(got)+len(errs) != n {
			t.Fatalf("accepted %d + rejected %d != %d items", len(got), len(errs), n)
		}
	})
}

// itemCount counts the items of a well-formed container independently of
// the parser: the elements of the "sightings" array, or the non-blank
// lines of an NDJSON body.
func itemCount(body []byte, ndjson bool) (int, bool) {
	if ndjson {
		n := 0
		for line := range bytes.SplitSeq(body, []byte("\n")) {
			if len(bytes.TrimSpace(line)) > 0 {
				n++
			}
		}
		return n, true
	}
	var env struct {
		Sightings []any `json:"sightings"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return 0, false
	}
	return len(env.Sightings), true
}

func FuzzNormalizeTagID(f *testing.F) {
	for _, s := range []string{
		testTag,
		"ibeacon:5B1E0A7C3D2F4E6A9C1B7A8D2E4F6C30:0004:65535",
		"ibeacon:5b1e0a7c-3d2f-4e6a-9c1b-7a8d2e4f6c30:1:65536",
		"eddystone:EDD1EBEAC04E5DEFA017:0BDB87539B67",
		"epc:3034257BF7194E4000001A85",
		"mac:C0:FF:EE:00:00:01",
		"mac:c0-ff-ee-00-00-01",
		"MAC:c0ffee000001",
		"",
		":",
		"ibeacon:::",
		"epc:" + strings.Repeat("f", 124),
		"mac:\xff\xfe",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeTagID(s)
		if err != nil {
			if got != "" {
				t.Fatalf("NormalizeTagID(%q) = %q alongside error %v", s, got, err)
			}
			return
		}
		if got != strings.ToLower(got) {
			t.Fatalf("NormalizeTagID(%q) = %q is not lowercase", s, got)
		}
		again, err := NormalizeTagID(got)
		if err != nil || again != got {
			t.Fatalf("NormalizeTagID(%q) = %q, but that normalises to %q, %v", s, got, again, err)
		}
		scheme, _, _ := strings.Cut(got, ":")
		switch scheme {
		case "ibeacon", "eddystone", "epc", "mac":
		default:
			t.Fatalf("NormalizeTagID(%q) = %q has scheme %q", s, got, scheme)
		}
	})
}

func FuzzPushHandler(f *testing.F) {
	f.Add(testGW.Key, "Bearer "+goodToken, ctJSON, "", []byte(batch(item(-60), item(3))))
	f.Add(testGW.Key, "Bearer "+goodToken, ctNDJSON, "", []byte(item(-60)+"\n{\n"))
	f.Add(testGW.Key, "Bearer "+goodToken, "application/json; charset=\"", "", []byte(`{}`))
	f.Add(testGW.Key, "Bearer "+goodToken, ctJSON, "gzip", []byte{0x1f, 0x8b})
	f.Add("f1-gw-%ff", "Bearer", "", "", []byte(nil))
	f.Add(noTokenGW, "bearer  x ", "text/plain", "", []byte("x"))
	f.Fuzz(func(t *testing.T, gateway, authz, contentType, encoding string, body []byte) {
		hash := sha256.Sum256([]byte(goodToken))
		gws := &fakeGateways{byKey: map[string]wardwatch.Gateway{
			testGW.Key: {ID: testGW.ID, Key: testGW.Key, TokenHash: hash[:]},
			noTokenGW:  {ID: 8, Key: noTokenGW},
		}}
		sink := &fakeSink{}
		h := NewPushHandler(gws, sink, nil, nil, PushHandlerOptions{MaxBodyBytes: 1 << 16, Now: func() time.Time { return testNow }})
		req := httptest.NewRequest(http.MethodPost, "/ingest/v1/gateways/x/sightings", bytes.NewReader(body))
		req.SetPathValue("gateway", gateway)
		req.Header.Set("Authorization", authz)
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Content-Encoding", encoding)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusAccepted, http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		var resp map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("response is not JSON: %v: %s", err, rec.Body)
		}
		if rec.Code != http.StatusAccepted && len(sink.all()) > 0 {
			t.Fatalf("status %d but sightings reached the sink", rec.Code)
		}
		if rec.Code == http.StatusAccepted && resp["accepted"] != float64(len(sink.all())) {
			t.Fatalf("accepted %v but the sink got %d", resp["accepted"], len(sink.all()))
		}
	})
}
