package fhir

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

func TestParseQuery(t *testing.T) {
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		resource, query string
		check           func(t *testing.T, q Query)
		err             string // substring of the error; "" for none
	}{
		{"Device", "", func(t *testing.T, q Query) {
			if q.Count != DefaultCount || q.Offset != 0 || len(q.Params) != 0 {
				t.Errorf("%+v", q)
			}
		}, ""},
		{"Device", "_count=7&_offset=14", func(t *testing.T, q Query) {
			if q.Count != 7 || q.Offset != 14 {
				t.Errorf("%+v", q)
			}
		}, ""},
		{"Device", "_count=501", func(t *testing.T, q Query) {
			if q.Count != MaxCount {
				t.Errorf("count %d", q.Count)
			}
		}, ""},
		{"Device", "identifier=sys|a\\,b,c", func(t *testing.T, q Query) {
			vs := q.Params[0].Values
			if len(vs) != 2 || vs[0].System != "sys" || vs[0].Code != "a,b" || !vs[0].HasSystem || vs[1].Code != "c" || vs[1].HasSystem {
				t.Errorf("%+v", vs)
			}
		}, ""},
		{"Device", "identifier=a\\|b", func(t *testing.T, q Query) {
			if v := q.Params[0].Values[0]; v.HasSystem || v.Code != "a|b" {
				t.Errorf("%+v", v)
			}
		}, ""},
		{"Device", "identifier=sys|", func(t *testing.T, q Query) {
			if v := q.Params[0].Values[0]; !v.HasSystem || v.System != "sys" || v.Code != "" {
				t.Errorf("%+v", v)
			}
		}, ""},
		{"Device", "identifier=|", nil, "neither a system nor a code"},
		{"Device", "location=Location/zone-1&location=zone-2", func(t *testing.T, q Query) {
			if len(q.Params) != 2 || q.Params[0].Values[0].ResourceType != "Location" || q.Params[0].Values[0].ID != "zone-1" ||
				q.Params[1].Values[0].ResourceType != "" || q.Params[1].Values[0].ID != "zone-2" {
				t.Errorf("%+v", q.Params)
			}
		}, ""},
		{"Device", "location=https://x.example/fhir/r4/Location/zone-9/", func(t *testing.T, q Query) {
			if v := q.Params[0].Values[0]; v.ResourceType != "Location" || v.ID != "zone-9" {
				t.Errorf("%+v", v)
			}
		}, ""},
		{"Device", "location=Location/", nil, "not a valid id"},
		{"Device", "location=location/zone-1", nil, "not a reference"},
		{"Device", "location=zone_1", nil, "not a valid id"},
		{"Observation", "location=Location/zone-40,floor-1", func(t *testing.T, q Query) {
			if p := q.Params[0]; p.Type != typeReference || len(p.Values) != 2 || p.Values[0].ID != "zone-40" || p.Values[1].ResourceType != "" {
				t.Errorf("%+v", p)
			}
		}, ""},
		{"Observation", "location:below=zone-40", nil, "modifiers"},
		{"DeviceMetric", "location=zone-40", nil, "not supported for DeviceMetric"},
		{"Observation", "date=ge2026-03-10", func(t *testing.T, q Query) {
			v := q.Params[0].Values[0]
			if v.Prefix != "ge" || !v.From.Equal(day) || !v.To.Equal(day.AddDate(0, 0, 1)) {
				t.Errorf("%+v", v)
			}
		}, ""},
		{"Observation", "date=2026", func(t *testing.T, q Query) {
			v := q.Params[0].Values[0]
			if v.Prefix != "eq" || v.From.Year() != 2026 || v.To.Year() != 2027 {
				t.Errorf("%+v", v)
			}
		}, ""},
		{"Observation", "date=lt2026-03-10T12:00:00.5%2B01:00", func(t *testing.T, q Query) {
			v := q.Params[0].Values[0]
			want := time.Date(2026, 3, 10, 11, 0, 0, 500e6, time.UTC)
			if v.Prefix != "lt" || !v.From.Equal(want) || v.To.Sub(v.From) != 100*time.Millisecond {
				t.Errorf("%+v", v)
			}
		}, ""},
		{"Observation", "date=le2026-03-10T12:00Z", nil, "is not a date"},
		{"Observation", "date=2026-13-01", nil, "is not a date"},
		{"Observation", "date=2026-03-10T12:00:00", nil, "time zone"},
		{"Observation", "date=sa2026", nil, "not supported"},
		{"Location", "name=Corr%C3%89", func(t *testing.T, q Query) {
			if v := q.Params[0].Values[0]; v.Text != "corré" {
				t.Errorf("%+v", v)
			}
		}, ""},
		{"Device", "_count=1&_count=2", nil, "once"},
		{"Device", "_offset=2000000", nil, "at most"},
		{"Device", "_pretty=yes", nil, "true or false"},
		{"Device", "_summary=count", nil, "not supported"},
		{"Device", "type:text=pump", nil, "modifiers"},
		{"Device", "location.name=4B", nil, "chained"},
		{"Device", "foo=bar", nil, "not supported for Device"},
		{"Patient", "", nil, "not supported"},
		{"Device", "identifier=" + strings.Repeat("a", 600), nil, "longer than"},
		{"Device", "identifier=" + strings.Repeat("a,", 70), nil, "at most"},
		{"Device", "identifier=&type=", func(t *testing.T, q Query) {
			if len(q.Params) != 0 {
				t.Errorf("empty values should be ignored: %+v", q.Params)
			}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.resource+"?"+tt.query, func(t *testing.T) {
			v, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			q, err := ParseQuery(tt.resource, v)
			if tt.err != "" {
				if err == nil || !strings.Contains(wardwatch.ErrorMessage(err), tt.err) {
					t.Fatalf("error %v, want one mentioning %q", err, tt.err)
				}
				if code := wardwatch.ErrorCode(err); code != wardwatch.EINVALID && code != wardwatch.ENOTFOUND {
					t.Fatalf("error code %s", code)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			tt.check(t, q)
		})
	}
}

func TestMatchDate(t *testing.T) {
	from := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	v := Value{From: from, To: from.AddDate(0, 0, 1)}
	tests := []struct {
		prefix string
		at     time.Time
		want   bool
	}{
		{"eq", from, true}, {"eq", from.Add(-time.Nanosecond), false}, {"eq", from.AddDate(0, 0, 1), false},
		{"ge", from, true}, {"ge", from.Add(-time.Nanosecond), false},
		{"gt", from.Add(23 * time.Hour), false}, {"gt", from.AddDate(0, 0, 1), true},
		{"le", from.Add(23 * time.Hour), true}, {"le", from.AddDate(0, 0, 1), false},
		{"lt", from.Add(-time.Nanosecond), true}, {"lt", from, false},
	}
	for _, tt := range tests {
		v.Prefix = tt.prefix
		if got := matchDate(v, tt.at); got != tt.want {
			t.Errorf("%s %s at %s: %v, want %v", tt.prefix, from.Format(time.DateOnly), tt.at, got, tt.want)
		}
		// dateBounds must agree with matchDate.
		lo, hi := dateBounds(Query{Params: []Param{{Name: "date", Type: typeDate, Values: []Value{v}}}},
			time.Unix(0, 0), time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))
		if in := !tt.at.Before(lo) && tt.at.Before(hi); in != tt.want {
			t.Errorf("%s: dateBounds [%s, %s) disagrees at %s", tt.prefix, lo, hi, tt.at)
		}
	}
}

// FuzzParseQuery feeds arbitrary query strings to the parser: it must
// never panic, and what it accepts must respect the limits.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		"", "_count=10&_offset=20", "identifier=http://x|A1,B2", "identifier=a\\|b\\,c\\\\",
		"location=Location/zone-1", "location=https://h/fhir/Location/x", "date=ge2026-03-10T12:00:00.123%2B02:00",
		"date=le2026&date=gt2025-12", "type=|", "name=%FF%FE", "_format=application/fhir%2Bjson;charset=utf-8",
		"_pretty=true&_total=none", "code=a|b|c", "device:missing=true", "a.b=c", "date=eq2026-02-30",
		"_count=99999999999999999999", "identifier=\\", "identifier=,,,", "subject=Location/",
	} {
		for _, typ := range resourceTypes {
			f.Add(typ, s)
		}
	}
	f.Fuzz(func(t *testing.T, typ, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := ParseQuery(typ, v)
		if err != nil {
			if code := wardwatch.ErrorCode(err); code != wardwatch.EINVALID && code != wardwatch.ENOTFOUND {
				t.Fatalf("error code %s: %v", code, err)
			}
			return
		}
		if q.Count < 0 || q.Count > MaxCount || q.Offset < 0 || q.Offset > maxOffset {
			t.Fatalf("paging out of bounds: %+v", q)
		}
		n := 0
		for _, p := range q.Params {
			n += len(p.Values)
			for _, v := range p.Values {
				if p.Type == typeReference && !idRE.MatchString(v.ID) {
					t.Fatalf("reference with invalid id %q accepted", v.ID)
				}
				if p.Type == typeDate && !v.From.Before(v.To) {
					t.Fatalf("empty date range accepted: %+v", v)
				}
			}
		}
		if n > maxValues {
			t.Fatalf("%d values accepted", n)
		}
	})
}
